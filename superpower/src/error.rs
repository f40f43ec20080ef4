//! Errors of superpower's handlers, and the one place that turns them into HTTP answers.

use common::http::body::{error_json, full, Response};
use common::telemetry::error_chain;
use http::header::{HeaderValue, CACHE_CONTROL, RETRY_AFTER};
use http::StatusCode;

use crate::negotiate::Format;
use crate::render::html;
use crate::routing::RouteError;

/// What can go wrong while answering.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
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
    /// No powersource answered and there is nothing to fall back on.
    #[error("no powersource answered")]
    Unavailable(#[source] RouteError),
    /// A powersource answered something that makes no sense.
    #[error("bad answer from powersource {instance}: {detail}")]
    BadUpstream {
        /// Who answered.
        instance: String,
        /// What was wrong.
        detail: String,
    },
}

impl AppError {
    /// The answer for this error, in the format the client wants. Logs the cause once; never
    /// puts internal details in the body.
    pub fn into_response(self, format: Format) -> Response {
        let status = match &self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::BadUpstream { .. } => StatusCode::BAD_GATEWAY,
        };
        if status.is_server_error() {
            tracing::warn!(error = %error_chain(&self), "answering {status}");
        }
        let message = match &self {
            AppError::BadRequest(m) => m.clone(),
            AppError::Unavailable(_) => {
                "no power source can answer right now; try again in a few seconds".into()
            }
            AppError::BadUpstream { .. } => "a power source gave a bad answer".into(),
            other => other.to_string(),
        };
        let mut resp = match format {
            Format::Json => error_json(status, &message),
            Format::Html => {
                let page = match self {
                    AppError::Unavailable(_) => html::unavailable_page(),
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
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}
