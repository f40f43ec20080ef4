//! The user's identity: a random 128-bit id in the `superpower_id` cookie.
//!
//! The id is the only thing that decides a user's superpower, so a malformed or hostile cookie is
//! never an error: it is replaced by a new identity.

use cookie::{Cookie, SameSite};
use http::header::COOKIE;
use http::HeaderMap;

pub use service::promise::UserId;
/// Name of the identity cookie ([`service::promise::ID_COOKIE`]).
pub use service::promise::ID_COOKIE as COOKIE_NAME;
/// How long the browser keeps the cookie: 400 days, the most browsers honour.
pub const MAX_AGE_DAYS: i64 = 400;

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
    ///
    /// The headers are read as bytes ([`cookie_values`]), not as text: another site's cookie
    /// on the same host may hold any byte (`lang=français` in UTF-8), and one such byte must
    /// not throw away a valid identity beside it.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let found = headers
            .get_all(COOKIE)
            .iter()
            .flat_map(|v| cookie_values(v.as_bytes(), COOKIE_NAME.as_bytes()))
            .find_map(|value| std::str::from_utf8(value).ok().and_then(UserId::parse));
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

/// The values of the cookies called `name` in one `Cookie` header value, in order: the header
/// split on `;`, each pair on its first `=`, names and values trimmed of spaces and tabs (and a
/// value of its double quotes, RFC 6265 §4.1.1). Pairs without `=` are skipped; no byte is an
/// error.
pub(crate) fn cookie_values<'a>(
    header: &'a [u8],
    name: &'a [u8],
) -> impl Iterator<Item = &'a [u8]> + 'a {
    header.split(|&b| b == b';').filter_map(move |pair| {
        let eq = pair.iter().position(|&b| b == b'=')?;
        let (n, v) = (trim(&pair[..eq]), trim(&pair[eq + 1..]));
        let v = v
            .strip_prefix(b"\"")
            .and_then(|v| v.strip_suffix(b"\""))
            .unwrap_or(v);
        (n == name).then_some(v)
    })
}

fn trim(bytes: &[u8]) -> &[u8] {
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |e| e + 1);
    &bytes[start..end]
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
    fn other_cookies_may_hold_any_byte() {
        let id = UserId::random();
        for raw in [
            format!("{COOKIE_NAME}={id}; lang=fran\u{e7}ais").into_bytes(),
            [
                &b"lang=\xff\xfe; "[..],
                format!("{COOKIE_NAME}={id}").as_bytes(),
            ]
            .concat(),
            [format!(" {COOKIE_NAME} =\t{id} ;").as_bytes(), b"x=\x80"].concat(),
            format!("flag; {COOKIE_NAME}=\"{id}\"").into_bytes(),
        ] {
            let ident = Identity::from_headers(&headers(&[raw.as_slice()]));
            assert_eq!(
                ident,
                Identity {
                    user: id,
                    is_new: false
                },
                "{raw:?}"
            );
        }
        // a name only starting like ours is another cookie
        let h = headers(&[format!("x{COOKIE_NAME}={id}").as_bytes()]);
        assert!(Identity::from_headers(&h).is_new);
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
