//! The admin API: `GET|PUT|DELETE /admin/faults`, behind `Authorization: Bearer TOKEN`.
//!
//! Off (404, like an unknown route) unless a token is configured. A missing or wrong token gets
//! 401 with no hint and changes nothing; the comparison is `common::http::auth::AdminToken`'s
//! (keyed digests compared in constant time).

use common::http::auth::AdminToken;
use common::http::body::{json, read_limited, Response};
use http::{HeaderMap, StatusCode};
use hyper::body::Incoming;

use crate::error::Error;
use crate::faults::{FaultSpec, Faults};

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
    /// [`Error::AdminOff`] when no token is configured, [`Error::Unauthorized`] when the header
    /// is missing, malformed or carries another token.
    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), Error> {
        let token = self.token.as_ref().ok_or(Error::AdminOff)?;
        if token.allows(headers) {
            Ok(())
        } else {
            Err(Error::Unauthorized)
        }
    }
}

/// `GET /admin/faults`: the faults in force.
pub fn get_faults(faults: &Faults) -> Response {
    json(StatusCode::OK, &faults.get())
}

/// `PUT /admin/faults`: replaces the faults in force with the body's spec; answers the new spec.
///
/// # Errors
/// When the body is too large, unreadable, or not a valid [`FaultSpec`]; nothing changes then.
pub async fn put_faults(faults: &Faults, body: Incoming) -> Result<Response, Error> {
    let bytes = read_limited(body, MAX_BODY_BYTES).await?;
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
                matches!(admin.authorize(&headers(bad)), Err(Error::Unauthorized)),
                "{bad}"
            );
        }
        assert!(matches!(
            admin.authorize(&HeaderMap::new()),
            Err(Error::Unauthorized)
        ));
    }

    #[test]
    fn no_token_means_off() {
        let admin = Admin::new(None);
        assert!(!admin.enabled());
        assert!(matches!(
            admin.authorize(&headers("Bearer x")),
            Err(Error::AdminOff)
        ));
    }
}
