//! powersource's two error types: [`StartError`] (why it cannot start; no HTTP status) and
//! [`ApiError`] (why a request is refused), with the one place an `ApiError` becomes an HTTP
//! answer ([`ApiError::into_response`], called by the route layer only).

use common::store::StoreError;
use http::header::{HeaderValue, CONNECTION, WWW_AUTHENTICATE};
use http::StatusCode;
use service::api::FaultSpecError;
use service::http::body::{error_json, BodyError, Response};
use service::telemetry::error_chain;

/// Why a powersource cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking store read did not finish (it panicked or the runtime is shutting down).
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
    /// The instance name cannot be an HTTP header value.
    #[error("instance name {0:?} is not a valid header value (use printable ASCII)")]
    BadName(String),
    /// A start-up fault flag is out of range or names an unknown route.
    #[error("invalid fault flags: {0}")]
    BadFaults(#[from] FaultSpecError),
}

/// Why a request is refused.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `/characters/{id}` with an id that is not a non-negative integer.
    #[error("character id must be a non-negative integer")]
    BadId,
    /// No eligible character has this id.
    #[error("no character with this id")]
    NotFound,
    /// A user key outside `[A-Za-z0-9._~-]{1,128}`.
    #[error("user key must be 1 to 128 characters from A-Z a-z 0-9 . _ ~ -")]
    BadUserKey,
    /// The store holds no eligible character, so nothing can be served.
    #[error("no characters available")]
    NoCharacters,
    /// The admin API is off (no token configured): answered like an unknown route.
    #[error("admin API is off")]
    AdminOff,
    /// A missing or wrong admin token.
    #[error("unauthorized")]
    Unauthorized,
    /// An admin body that is not a valid fault spec.
    #[error(transparent)]
    BadFaults(#[from] FaultSpecError),
    /// An admin body that could not be read.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// An image could not be read from the store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking store read did not finish.
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
}

impl ApiError {
    /// The HTTP status for this error: chosen here and nowhere else.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Store(_) | ApiError::Task(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::BadId | ApiError::BadUserKey | ApiError::BadFaults(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::NotFound | ApiError::AdminOff => StatusCode::NOT_FOUND,
            ApiError::NoCharacters => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Body(BodyError::TooLarge(_)) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Body(BodyError::Read(_)) => StatusCode::BAD_REQUEST,
            ApiError::Body(BodyError::Timeout(_)) => StatusCode::REQUEST_TIMEOUT,
        }
    }

    /// The JSON answer for this error. Server errors are logged with their cause chain and
    /// answered with a generic message, so internal text never reaches a client.
    pub fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %error_chain(&self), "request failed");
            let message = if status == StatusCode::SERVICE_UNAVAILABLE {
                "no characters available"
            } else {
                "internal error"
            };
            return error_json(status, message);
        }
        tracing::debug!(error = %self, %status, "request refused");
        let message = match &self {
            ApiError::AdminOff => "not found".to_owned(),
            other => other.to_string(),
        };
        let mut resp = error_json(status, &message);
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::REQUEST_TIMEOUT {
            // the rest of the body may still come: this connection cannot carry another request
            resp.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn server_errors_hide_their_cause() {
        let err = ApiError::Store(StoreError::Corrupt {
            what: "secret-tree".into(),
            detail: "x".into(),
        });
        assert!(error_chain(&err).contains("secret-tree"));
        let resp = err.into_response();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert!(!String::from_utf8_lossy(&body).contains("secret"));
    }

    #[test]
    fn statuses() {
        assert_eq!(ApiError::BadId.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ApiError::AdminOff.status(), StatusCode::NOT_FOUND);
        assert_eq!(ApiError::Unauthorized.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            ApiError::NoCharacters.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ApiError::Body(BodyError::TooLarge(4)).status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
}
