//! The user's identity: a random 128-bit id in the `superpower_id` cookie.
//!
//! The id is the only thing that decides a user's superpower, so a malformed or hostile cookie is
//! never an error: it is replaced by a new identity.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use cookie::{Cookie, SameSite};
use http::header::COOKIE;
use http::HeaderMap;

/// Name of the identity cookie ([`service::promise::ID_COOKIE`]).
pub use service::promise::ID_COOKIE as COOKIE_NAME;
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
        decode_16(s.as_bytes()).map(UserId)
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

/// 16 bytes from their 22 URL-safe base64 characters (no padding), in their one canonical
/// spelling: the last character's 4 unused bits zero, so one value has one spelling. `None` for
/// anything else. Both cookies carry 16 bytes this way (the user id and the signed tag); read
/// on every request, so decoded here directly rather than through the general engine.
pub(crate) fn decode_16(s: &[u8]) -> Option<[u8; 16]> {
    fn sextet(c: u8) -> Option<u32> {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        Some(u32::from(v))
    }
    if s.len() != 22 {
        return None;
    }
    let mut out = [0u8; 16];
    for (chunk, bytes) in s[..20].chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        let n = sextet(chunk[0])? << 18
            | sextet(chunk[1])? << 12
            | sextet(chunk[2])? << 6
            | sextet(chunk[3])?;
        bytes.copy_from_slice(&n.to_be_bytes()[1..]);
    }
    let (a, b) = (sextet(s[20])?, sextet(s[21])?);
    if b & 0x0f != 0 {
        return None;
    }
    out[15] = ((a << 2) | (b >> 4)) as u8;
    Some(out)
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // 16 bytes are 22 characters: encoded on the stack, no allocation per request
        let mut out = [0u8; 22];
        let n = URL_SAFE_NO_PAD
            .encode_slice(self.0, &mut out)
            .map_err(|_| std::fmt::Error)?;
        f.write_str(std::str::from_utf8(&out[..n]).map_err(|_| std::fmt::Error)?)
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
    fn decode_16_is_the_canonical_url_safe_base64_of_16_bytes() {
        use base64::Engine as _;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..2_000 {
            let mut raw = [0u8; 16];
            for b in &mut raw {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            let text = URL_SAFE_NO_PAD.encode(raw);
            assert_eq!(decode_16(text.as_bytes()), Some(raw), "{text}");
            // every other spelling of the last character, and one wrong character anywhere
            let mut bytes = text.clone().into_bytes();
            let last = bytes[21];
            for c in (0u8..=255).filter(|&c| c != last) {
                bytes[21] = c;
                let engine = URL_SAFE_NO_PAD
                    .decode(&bytes)
                    .ok()
                    .filter(|d| d.len() == 16);
                assert_eq!(decode_16(&bytes).map(|d| d.to_vec()), engine, "{c}");
            }
            let mut bad = text.into_bytes();
            bad[round % 21] = b'=';
            assert_eq!(decode_16(&bad), None);
        }
        assert_eq!(decode_16(b""), None);
        assert_eq!(decode_16(&[b'A'; 23]), None);
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
