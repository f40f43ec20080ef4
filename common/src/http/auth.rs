//! The admin API's bearer token, shared by both services.
//!
//! The admin API is off unless a token is configured. A request must carry
//! `Authorization: Bearer TOKEN`; the comparison takes the same time whatever the bytes given,
//! and a failure says nothing about why (missing, malformed or wrong look alike).

use http::header::AUTHORIZATION;
use http::HeaderMap;
use subtle::ConstantTimeEq;

/// The configured admin token.
#[derive(Clone)]
pub struct AdminToken(Vec<u8>);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(***)")
    }
}

impl AdminToken {
    /// A token from configuration; `None` (admin off) for a missing or blank one.
    pub fn new(token: Option<&str>) -> Option<Self> {
        token
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| AdminToken(t.as_bytes().to_vec()))
    }

    /// Whether `headers` carry this token as a bearer token.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let given = headers
            .get(AUTHORIZATION)
            .map(|v| v.as_bytes())
            .and_then(|v| v.strip_prefix(b"Bearer ".as_slice()))
            .unwrap_or(b"");
        // Compare against a same-length buffer so the time depends only on the token's length.
        let mut padded = vec![0u8; self.0.len()];
        let n = given.len().min(padded.len());
        padded[..n].copy_from_slice(&given[..n]);
        let same_len = given.len().ct_eq(&self.0.len());
        bool::from(padded.ct_eq(&self.0) & same_len)
    }
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
        for bad in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "bearer s3cret",
            "s3cret",
            "Bearer ",
            "Basic s3cret",
        ] {
            assert!(!t.allows(&headers(bad)), "{bad}");
        }
        assert!(!t.allows(&HeaderMap::new()));
    }

    #[test]
    fn a_blank_token_means_admin_off() {
        assert!(AdminToken::new(None).is_none());
        assert!(AdminToken::new(Some("  ")).is_none());
    }
}
