//! The admin API's bearer token, shared by both services.
//!
//! The admin API is off unless a token is configured. A request must carry
//! `Authorization: Bearer TOKEN` (the scheme is case-insensitive). Both the configured and the
//! presented token are hashed with SipHash-1-3-128 under a key drawn at start-up, and the
//! digests compared with `subtle`, so neither the token's bytes nor its length leak through
//! timing; a failure says nothing about why (missing, malformed or wrong look alike).

use std::hash::Hasher;

use http::header::AUTHORIZATION;
use http::HeaderMap;
use siphasher::sip128::{Hasher128, SipHasher13};
use subtle::ConstantTimeEq;

/// The configured admin token, kept only as a keyed digest.
#[derive(Clone)]
pub struct AdminToken {
    digest: [u8; 16],
    key: (u64, u64),
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(***)")
    }
}

impl AdminToken {
    /// A token from configuration; `None` (admin off) for a missing or blank one.
    pub fn new(token: Option<&str>) -> Option<Self> {
        let token = token.map(str::trim).filter(|t| !t.is_empty())?;
        let key = (rand::random(), rand::random());
        Some(AdminToken {
            digest: digest(key, token.as_bytes()),
            key,
        })
    }

    /// Whether `headers` carry this token as a bearer token.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .unwrap_or("");
        bool::from(digest(self.key, presented.as_bytes()).ct_eq(&self.digest))
            && !presented.is_empty()
    }
}

/// The token of an `Authorization: Bearer TOKEN` value.
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

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let t = AdminToken::new(Some("s3cret")).unwrap();
        assert!(t.allows(&headers("Bearer s3cret")));
        assert!(t.allows(&headers("bearer s3cret")));
        for bad in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "s3cret",
            "Bearer ",
            "Basic s3cret",
            "Bearer",
        ] {
            assert!(!t.allows(&headers(bad)), "{bad}");
        }
        assert!(!t.allows(&HeaderMap::new()));
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn a_blank_token_means_admin_off() {
        assert!(AdminToken::new(None).is_none());
        assert!(AdminToken::new(Some("  ")).is_none());
    }
}
