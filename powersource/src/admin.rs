//! The admin API: `GET|PUT|DELETE /admin/faults`, behind `Authorization: Bearer TOKEN`.
//!
//! Off (404, like an unknown route) unless a token is configured. A missing or wrong token gets
//! 401 with no hint and changes nothing; the comparison is `service::http::auth::AdminToken`'s
//! (keyed digests compared in constant time).

use std::time::Duration;

use http::{HeaderMap, StatusCode};
use hyper::body::Incoming;
use service::api::FaultSpec;
use service::http::auth::AdminToken;
use service::http::body::{json, read_limited_within, Response};

use crate::error::ApiError;
use crate::faults::Faults;

/// Largest admin request body accepted.
pub const MAX_BODY_BYTES: usize = 4 * 1024;

/// The admin token check.
pub struct Admin {
    /// `None` turns the admin API off.
    token: Option<AdminToken>,
}

impl Admin {
    /// The check for `token`; `None` (or a blank token) turns the admin API off.
    pub fn new(token: Option<&str>) -> Self {
        Admin {
            token: AdminToken::new(token),
        }
    }

    /// Whether the admin API is on.
    pub fn enabled(&self) -> bool {
        self.token.is_some()
    }

    /// Checks the request's bearer token.
    ///
    /// # Errors
    /// [`ApiError::AdminOff`] when no token is configured, [`ApiError::Unauthorized`] when the header
    /// is missing, malformed or carries another token.
    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let token = self.token.as_ref().ok_or(ApiError::AdminOff)?;
        if token.allows(headers) {
            Ok(())
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

/// `GET /admin/faults`: the faults in force.
pub fn get_faults(faults: &Faults) -> Response {
    json(StatusCode::OK, &faults.get())
}

/// `PUT /admin/faults`: replaces the faults in force with the body's spec; answers the new spec.
/// The whole body must arrive within `timeout`.
///
/// # Errors
/// When the body is too large, late, unreadable, or not a valid [`FaultSpec`]; nothing changes
/// then.
pub async fn put_faults(
    faults: &Faults,
    body: Incoming,
    timeout: Duration,
) -> Result<Response, ApiError> {
    let bytes = read_limited_within(body, MAX_BODY_BYTES, timeout).await?;
    let spec = FaultSpec::parse(&bytes)?;
    faults.set(spec);
    Ok(get_faults(faults))
}

/// `DELETE /admin/faults`: clears every fault; answers the (empty) spec.
pub fn delete_faults(faults: &Faults) -> Response {
    faults.set(FaultSpec::default());
    get_faults(faults)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::AUTHORIZATION;
    use http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn tokens_are_checked() {
        let admin = Admin::new(Some("s3cret"));
        assert!(admin.authorize(&headers("Bearer s3cret")).is_ok());
        assert!(admin.authorize(&headers("bearer s3cret")).is_ok());
        for bad in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "Basic s3cret",
            "Bearer ",
            "s3cret",
        ] {
            assert!(
                matches!(admin.authorize(&headers(bad)), Err(ApiError::Unauthorized)),
                "{bad}"
            );
        }
        assert!(matches!(
            admin.authorize(&HeaderMap::new()),
            Err(ApiError::Unauthorized)
        ));
    }

    #[test]
    fn no_token_means_off() {
        let admin = Admin::new(None);
        assert!(!admin.enabled());
        assert!(matches!(
            admin.authorize(&headers("Bearer x")),
            Err(ApiError::AdminOff)
        ));
    }
}
