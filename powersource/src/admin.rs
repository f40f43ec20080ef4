//! The admin API: `GET|PUT|DELETE /admin/faults`, behind `Authorization: Bearer TOKEN`.
//!
//! Off (404, like an unknown route) unless a token is configured. A missing or wrong token gets
//! 401 with no hint and changes nothing. Tokens are compared in constant time: both sides are
//! hashed with SipHash-1-3-128 under a key drawn at start-up, and the digests compared with
//! `subtle`, so neither the token's bytes nor its length leak through timing.

use std::hash::Hasher;

use common::http::body::{json, read_limited, Response};
use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};
use hyper::body::Incoming;
use siphasher::sip128::{Hasher128, SipHasher13};
use subtle::ConstantTimeEq;

use crate::error::Error;
use crate::faults::{FaultSpec, Faults};

/// Largest admin request body accepted.
pub const MAX_BODY_BYTES: usize = 4 * 1024;

/// The admin token check.
pub struct Admin {
    /// Digest of the configured token; `None` turns the admin API off.
    digest: Option<[u8; 16]>,
    key: (u64, u64),
}

impl Admin {
    /// The check for `token`; `None` turns the admin API off.
    pub fn new(token: Option<&str>) -> Self {
        let key = (rand::random(), rand::random());
        Admin {
            digest: token.map(|t| digest(key, t.as_bytes())),
            key,
        }
    }

    /// Whether the admin API is on.
    pub fn enabled(&self) -> bool {
        self.digest.is_some()
    }

    /// Checks the request's bearer token.
    ///
    /// # Errors
    /// [`Error::AdminOff`] when no token is configured, [`Error::Unauthorized`] when the header
    /// is missing, malformed or carries another token.
    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), Error> {
        let expected = self.digest.as_ref().ok_or(Error::AdminOff)?;
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .ok_or(Error::Unauthorized)?;
        let got = digest(self.key, presented.as_bytes());
        if bool::from(got.ct_eq(expected)) {
            Ok(())
        } else {
            Err(Error::Unauthorized)
        }
    }
}

/// The token of an `Authorization: Bearer TOKEN` value (the scheme is case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn digest(key: (u64, u64), bytes: &[u8]) -> [u8; 16] {
    let mut h = SipHasher13::new_with_keys(key.0, key.1);
    h.write(bytes);
    h.finish128().as_bytes()
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
