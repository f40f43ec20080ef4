//! The admin API: read and flip the resilience switches. Off (404) unless an admin token is
//! configured; every call needs `Authorization: Bearer TOKEN`.

use common::http::body::{json, read_limited, BodyError, Response};
use http::{HeaderMap, StatusCode};
use hyper::body::Incoming;

use crate::app::App;
use crate::error::AppError;
use crate::negotiate::Format;
use crate::switches::SwitchPatch;

/// Largest admin request body.
const BODY_LIMIT: usize = 16 * 1024;

/// Checks the token: [`AppError::NotFound`] when admin is off, [`AppError::Unauthorized`] on a
/// missing or wrong token.
///
/// # Errors
/// As above; nothing has changed when it fails.
pub fn authorize(app: &App, headers: &HeaderMap) -> Result<(), AppError> {
    match &app.admin_token {
        None => Err(AppError::NotFound),
        Some(token) if token.allows(headers) => Ok(()),
        Some(_) => Err(AppError::Unauthorized),
    }
}

/// `GET /admin/switches`.
pub fn get_switches(app: &App) -> Response {
    json(StatusCode::OK, &app.switches.state())
}

/// `PUT /admin/switches` with a subset of the switches.
pub async fn put_switches(app: &App, body: Incoming) -> Response {
    let bytes = match read_limited(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(BodyError::TooLarge(_)) => return AppError::TooLarge.into_response(Format::Json),
        Err(BodyError::Read(m)) => return AppError::BadRequest(m).into_response(Format::Json),
    };
    match serde_json::from_slice::<SwitchPatch>(&bytes) {
        Ok(patch) => json(StatusCode::OK, &app.switches.apply(patch)),
        Err(e) => AppError::BadRequest(format!(
            "expected a JSON object with some of ring, failover, fallback, stable_assignment, deadlines, hedging (booleans): {e}"
        ))
        .into_response(Format::Json),
    }
}
