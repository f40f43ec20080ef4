//! superpower's two error types: [`StartError`] (why it cannot start; no HTTP status) and
//! [`ApiError`] (why a request gets no superpower), with the one place an `ApiError` becomes an
//! HTTP answer in the negotiated format ([`ApiError::into_response`], called by the route layer
//! only).

use http::header::{HeaderValue, CACHE_CONTROL, RETRY_AFTER};
use http::StatusCode;
use service::http::body::{error_json, full, Response};
use service::telemetry::error_chain;

use crate::fleet::BadUrl;
use crate::negotiate::Format;
use crate::powersource::UpstreamError;
use crate::render::html;
use crate::routing::RouteError;

/// Why superpower cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configured URL is not usable.
    #[error(transparent)]
    BadUrl(#[from] BadUrl),
    /// Neither URLs nor a DNS name.
    #[error("no powersource configured: give --powersource URL or --powersource-dns HOST:PORT")]
    NoPowersource,
    /// The DNS target is not `host:port`.
    #[error("--powersource-dns must be HOST:PORT, got {0:?}")]
    BadDnsTarget(String),
}

/// What can go wrong while answering.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The path names nothing.
    #[error("not found")]
    NotFound,
    /// The client accepts neither HTML nor JSON.
    #[error("not acceptable")]
    NotAcceptable,
    /// A malformed request (bad JSON body, bad id).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Admin call without the right token.
    #[error("unauthorized")]
    Unauthorized,
    /// The request body is over the limit.
    #[error("payload too large")]
    TooLarge,
    /// The request body did not arrive within the client timeout.
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// No powersource answered and there is nothing to fall back on.
    #[error("no powersource answered")]
    Unavailable(#[source] RouteError),
    /// The memory set aside for something (images on their way to clients) is in use.
    #[error("busy: {0}")]
    Busy(&'static str),
    /// A powersource answered something that makes no sense.
    #[error("bad answer from powersource {instance}: {detail}")]
    BadUpstream {
        /// Who answered.
        instance: String,
        /// What was wrong.
        detail: String,
    },
}

impl From<UpstreamError> for ApiError {
    fn from(err: UpstreamError) -> Self {
        match err {
            UpstreamError::Unavailable(err) => ApiError::Unavailable(err),
            UpstreamError::BadAnswer { instance, detail } => {
                ApiError::BadUpstream { instance, detail }
            }
        }
    }
}

impl ApiError {
    /// The answer for this error, in the format the client wants. Logs the cause once; never
    /// puts internal details in the body.
    pub fn into_response(self, format: Format) -> Response {
        let status = match &self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unavailable(_) | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BadUpstream { .. } => StatusCode::BAD_GATEWAY,
        };
        if status.is_server_error() {
            tracing::warn!(error = %error_chain(&self), "answering {status}");
        }
        let message = match &self {
            ApiError::BadRequest(m) => m.clone(),
            ApiError::Unavailable(_) => {
                "no power source can answer right now; try again in a few seconds".into()
            }
            ApiError::BadUpstream { .. } => "a power source gave a bad answer".into(),
            ApiError::Busy(_) => "too busy right now; try again in a moment".into(),
            other => other.to_string(),
        };
        let mut resp = match format {
            Format::Json => error_json(status, &message),
            Format::Html => {
                let page = match self {
                    ApiError::Unavailable(_) => html::unavailable_page(),
                    _ => html::message_page(status.canonical_reason().unwrap_or("Error"), &message),
                };
                full(status, "text/html; charset=utf-8", page)
            }
        };
        resp.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("2"));
        }
        if status == StatusCode::REQUEST_TIMEOUT {
            // the rest of the body may still come: this connection cannot carry another request
            resp.headers_mut()
                .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}
