//! The user's identity: a random 128-bit id in the `superpower_id` cookie.
//!
//! The id is the only thing that decides a user's superpower, so a malformed or hostile cookie is
//! never an error: it is replaced by a new identity.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use cookie::{Cookie, SameSite};
use http::header::COOKIE;
use http::HeaderMap;

/// Name of the identity cookie.
pub const COOKIE_NAME: &str = "superpower_id";
/// How long the browser keeps the cookie: 400 days, the most browsers honour.
pub const MAX_AGE_DAYS: i64 = 400;

/// A user id: 16 random bytes, written as 22 characters of URL-safe base64 without padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserId([u8; 16]);

impl UserId {
    /// A fresh random id.
    pub fn random() -> Self {
        UserId(rand::random())
    }

    /// Parses the cookie form; `None` for anything that is not exactly 22 URL-safe base64
    /// characters encoding 16 bytes.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 22 {
            return None;
        }
        let mut out = [0u8; 16];
        match URL_SAFE_NO_PAD.decode_slice(s.as_bytes(), &mut out) {
            Ok(16) => {
                let id = UserId(out);
                // reject non-canonical encodings (trailing bits set), so one id has one spelling
                (id.to_string() == s).then_some(id)
            }
            _ => None,
        }
    }

    /// The raw bytes (what the ring hashes).
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The id as a `u128` (compact cache key).
    pub fn as_u128(&self) -> u128 {
        u128::from_be_bytes(self.0)
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

/// The identity of a request: the cookie's id when valid, or a new one that must be set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The user.
    pub user: UserId,
    /// True when the id was just made and a `Set-Cookie` must go out.
    pub is_new: bool,
}

impl Identity {
    /// Reads the identity from the request's `Cookie` headers. Any malformed header or value is
    /// ignored; the first valid `superpower_id` wins.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let found = headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .filter(|c| c.name() == COOKIE_NAME)
            .find_map(|c| UserId::parse(c.value()));
        match found {
            Some(user) => Identity {
                user,
                is_new: false,
            },
            None => Identity {
                user: UserId::random(),
                is_new: true,
            },
        }
    }

    /// The `Set-Cookie` value for a new identity.
    pub fn set_cookie(&self) -> String {
        Cookie::build((COOKIE_NAME, self.user.to_string()))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .max_age(cookie::time::Duration::days(MAX_AGE_DAYS))
            .build()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(COOKIE, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn ids_round_trip_and_are_22_url_safe_chars() {
        for _ in 0..100 {
            let id = UserId::random();
            let s = id.to_string();
            assert_eq!(s.len(), 22);
            assert!(s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(UserId::parse(&s), Some(id));
        }
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "short",
            "AAAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAA+/",
            "../../etc/passwd/aaaa",
            "AAAAAAAAAAAAAAAAAAAAA\u{e9}",
            "AAAAAAAAAAAAAAAAAAAAAB",
        ] {
            assert_eq!(UserId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_valid_cookie_is_kept() {
        let id = UserId::random();
        let h = headers(&[format!("a=b; {COOKIE_NAME}={id}; c=d").as_bytes()]);
        assert_eq!(
            Identity::from_headers(&h),
            Identity {
                user: id,
                is_new: false
            }
        );
    }

    #[test]
    fn hostile_cookies_get_a_new_identity() {
        let id = UserId::random();
        for raw in [
            &b"superpower_id=<script>alert(1)</script>"[..],
            b"superpower_id=",
            b";;;===;;",
            b"superpower_id=\xff\xfe",
            b"superpower_id=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            let ident = Identity::from_headers(&headers(&[raw]));
            assert!(ident.is_new, "{raw:?}");
            assert_ne!(ident.user, id);
        }
        // a bad one first, a good one in a second header: the good one wins
        let h = headers(&[
            b"superpower_id=nope",
            format!("superpower_id={id}").as_bytes(),
        ]);
        assert_eq!(Identity::from_headers(&h).user, id);
    }

    #[test]
    fn the_cookie_is_locked_down() {
        let c = Identity {
            user: UserId::random(),
            is_new: true,
        }
        .set_cookie();
        for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=34560000"] {
            assert!(c.contains(part), "{c}");
        }
    }
}
