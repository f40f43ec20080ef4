//! Promise 1 without per-user memory: each user's last known character travels with the user,
//! in the `superpower_last` cookie, authenticated with HMAC-SHA256 under a key every replica of
//! the front end shares (`--cookie-key`).
//!
//! The value is `ID.TAG`: the character id in decimal, and the first 16 bytes of
//! `HMAC-SHA256(key, "superpower-last-v1" ‖ user id (16 bytes) ‖ character id (8 bytes, big
//! endian))` in URL-safe base64 (22 characters). The user id is inside the MAC, so a value
//! cannot be moved to another user; the id is inside it, so it cannot be changed. A value that
//! is forged, another user's, signed under a key this replica does not hold, or malformed is
//! ignored — the user simply has no last known character here — never an error.
//!
//! A second key (`--cookie-key-previous`) is accepted on reading and never used for signing, so
//! the key can be rotated: deploy the new key with the old one as previous. A value signed under
//! the previous key is signed anew under the current one at the user's next answer
//! ([`Keys::needs_cookie`]); once the returning users have been back, the previous key can go.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::model::CharacterId;
use cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use sha2::Sha256;

use crate::identity::{cookie_values, UserId, MAX_AGE_DAYS};

/// Name of the cookie ([`service::promise::LAST_COOKIE`]).
pub use service::promise::LAST_COOKIE as COOKIE_NAME;
/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;
/// Bytes of the MAC kept in the cookie (128 bits).
const TAG_BYTES: usize = 16;
/// Characters of the tag in URL-safe base64 without padding.
const TAG_CHARS: usize = 22;
/// Domain separation: a MAC for this cookie is never one for anything else.
const CONTEXT: &[u8] = b"superpower-last-v1";

/// A cookie key: at least [`MIN_KEY_BYTES`] bytes, given in hex. Its bytes never appear in
/// `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct CookieKey(Vec<u8>);

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CookieKey({} bytes)", self.0.len())
    }
}

impl CookieKey {
    /// Parses a key written in hex (the flag's form).
    ///
    /// # Errors
    /// A message naming what is wrong: not hex, an odd number of digits, too short.
    pub fn from_hex(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.len() % 2 != 0 {
            return Err(format!(
                "a cookie key is hex, two digits a byte; this one has {} digits",
                s.len()
            ));
        }
        let bytes = s
            .as_bytes()
            .chunks(2)
            .map(|pair| {
                let digit = |b: u8| (b as char).to_digit(16);
                match (digit(pair[0]), digit(pair[1])) {
                    (Some(hi), Some(lo)) => Ok((hi * 16 + lo) as u8),
                    _ => Err("a cookie key is hex (0-9, a-f), and this one is not".to_owned()),
                }
            })
            .collect::<Result<Vec<u8>, String>>()?;
        if bytes.len() < MIN_KEY_BYTES {
            return Err(format!(
                "a cookie key needs at least {MIN_KEY_BYTES} bytes ({} hex digits); this one has {} \
                 (make one with: head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n')",
                MIN_KEY_BYTES * 2,
                bytes.len()
            ));
        }
        Ok(CookieKey(bytes))
    }

    /// A random key (a process without `--cookie-key`).
    pub fn random() -> Self {
        CookieKey((0..MIN_KEY_BYTES).map(|_| rand::random::<u8>()).collect())
    }
}

/// The `value_parser` of the key flags: an empty value means no key (as an empty admin token
/// means none), so `SUPERPOWER_COOKIE_KEY=` in a compose file that passes an unset variable on
/// starts the replica with a random key and a warning rather than not at all.
///
/// # Errors
/// As [`CookieKey::from_hex`].
pub fn parse_key(s: &str) -> Result<CookieKey, String> {
    if s.trim().is_empty() {
        return Ok(CookieKey(Vec::new()));
    }
    CookieKey::from_hex(s)
}

/// What a request's cookie says of the user's last known character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recalled {
    /// The character.
    pub id: CharacterId,
    /// Signed under the previous key: sign it again under the current one.
    pub stale_key: bool,
}

/// The keys of one replica: the current one signs and verifies, the previous one only verifies.
pub struct Keys {
    current: Hmac<Sha256>,
    previous: Option<Hmac<Sha256>>,
    random: bool,
}

impl Keys {
    /// Keys from the flags; without a current key, a random one for this process (see
    /// [`Keys::is_random`]).
    pub fn new(current: Option<&CookieKey>, previous: Option<&CookieKey>) -> Self {
        // (an empty key is the flag given empty: no key)
        let current = current.filter(|k| !k.0.is_empty());
        let previous = previous.filter(|k| !k.0.is_empty());
        let random = current.is_none();
        let current = current.cloned().unwrap_or_else(CookieKey::random);
        let mac = |k: &CookieKey| {
            <Hmac<Sha256> as Mac>::new_from_slice(&k.0).expect("HMAC takes a key of any length")
        };
        Keys {
            current: mac(&current),
            previous: previous.map(mac),
            random,
        }
    }

    /// True when no key was configured: the cookies this replica signs are valid only here and
    /// until it restarts.
    pub fn is_random(&self) -> bool {
        self.random
    }

    fn tag(mac: &Hmac<Sha256>, user: &UserId, id: CharacterId) -> Hmac<Sha256> {
        let mut mac = mac.clone();
        mac.update(CONTEXT);
        mac.update(user.as_bytes());
        mac.update(&id.to_be_bytes());
        mac
    }

    /// The cookie value of `user`'s character `id`: `ID.TAG`.
    pub fn sign(&self, user: &UserId, id: CharacterId) -> String {
        let tag = Self::tag(&self.current, user, id).finalize().into_bytes();
        let mut out = itoa::Buffer::new().format(id).to_owned();
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&tag[..TAG_BYTES], &mut out);
        out
    }

    /// The character of a cookie value, when it was signed for `user` under one of the keys.
    pub fn verify(&self, user: &UserId, value: &[u8]) -> Option<Recalled> {
        let value = std::str::from_utf8(value).ok()?;
        let (id, tag) = value.split_once('.')?;
        // one spelling per id: digits only, no sign, no leading zero
        if id.is_empty()
            || id.len() > 20
            || !id.bytes().all(|b| b.is_ascii_digit())
            || (id.len() > 1 && id.starts_with('0'))
            || tag.len() != TAG_CHARS
        {
            return None;
        }
        let id: CharacterId = id.parse().ok()?;
        let raw = service::promise::decode_16(tag.as_bytes())?;
        let tag = &raw[..TAG_BYTES];
        if Self::tag(&self.current, user, id)
            .verify_truncated_left(tag)
            .is_ok()
        {
            return Some(Recalled {
                id,
                stale_key: false,
            });
        }
        let previous = self.previous.as_ref()?;
        Self::tag(previous, user, id)
            .verify_truncated_left(tag)
            .is_ok()
            .then_some(Recalled {
                id,
                stale_key: true,
            })
    }

    /// The user's last known character, from the request's cookies: the first value that
    /// verifies (a client may send several); `None` when none does.
    pub fn recall(&self, headers: &HeaderMap, user: &UserId) -> Option<Recalled> {
        headers
            .get_all(COOKIE)
            .iter()
            .flat_map(|v| cookie_values(v.as_bytes(), COOKIE_NAME.as_bytes()))
            .find_map(|value| self.verify(user, value))
    }

    /// Whether an answer of character `id` must set the cookie: it is missing, names another
    /// character, or was signed under the previous key.
    pub fn needs_cookie(recalled: Option<Recalled>, id: CharacterId) -> bool {
        !matches!(recalled, Some(r) if r.id == id && !r.stale_key)
    }

    /// The `Set-Cookie` value remembering `id` for `user`.
    pub fn set_cookie(&self, user: &UserId, id: CharacterId) -> HeaderValue {
        let cookie = Cookie::build((COOKIE_NAME, self.sign(user, id)))
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .max_age(cookie::time::Duration::days(MAX_AGE_DAYS))
            .build()
            .to_string();
        HeaderValue::from_str(&cookie)
            .expect("digits, base64url and cookie attributes are valid header text")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CookieKey {
        CookieKey(vec![byte; MIN_KEY_BYTES])
    }

    fn cookie_header(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn a_signed_value_round_trips_for_its_user_only() {
        let keys = Keys::new(Some(&key(1)), None);
        let (alice, bob) = (UserId::random(), UserId::random());
        for id in [0, 7, 1_010_281, u64::MAX] {
            let v = keys.sign(&alice, id);
            assert!(v.len() <= 20 + 1 + TAG_CHARS, "{v}");
            assert_eq!(
                keys.verify(&alice, v.as_bytes()),
                Some(Recalled {
                    id,
                    stale_key: false
                })
            );
            assert_eq!(
                keys.verify(&bob, v.as_bytes()),
                None,
                "moved to another user"
            );
        }
    }

    #[test]
    fn forged_changed_and_malformed_values_are_ignored() {
        let keys = Keys::new(Some(&key(1)), None);
        let user = UserId::random();
        let good = keys.sign(&user, 1_010_281);
        let (_, tag) = good.split_once('.').unwrap();
        let mut flipped = tag.as_bytes().to_vec();
        flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
        for bad in [
            format!("1010282.{tag}"),
            format!("01010281.{tag}"),
            format!("+1010281.{tag}"),
            format!("1010281.{}", String::from_utf8(flipped).unwrap()),
            format!("1010281.{tag}A"),
            format!("1010281.{}", &tag[..21]),
            format!("1010281{tag}"),
            "1010281.".into(),
            ".".into(),
            String::new(),
            format!("99999999999999999999999.{tag}"),
            format!("1010281.{}", "=".repeat(22)),
        ] {
            assert_eq!(keys.verify(&user, bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(keys.verify(&user, b"\xff\xfe.\x80"), None);
        let other = Keys::new(Some(&key(2)), None);
        assert_eq!(other.verify(&user, good.as_bytes()), None, "a foreign key");
    }

    #[test]
    fn the_previous_key_verifies_and_asks_for_a_new_cookie() {
        let old = Keys::new(Some(&key(1)), None);
        let rotated = Keys::new(Some(&key(2)), Some(&key(1)));
        let user = UserId::random();
        let r = rotated
            .verify(&user, old.sign(&user, 42).as_bytes())
            .unwrap();
        assert_eq!(
            r,
            Recalled {
                id: 42,
                stale_key: true
            }
        );
        assert!(
            Keys::needs_cookie(Some(r), 42),
            "re-signed under the current key"
        );
        let fresh = rotated.verify(&user, rotated.sign(&user, 42).as_bytes());
        assert!(!Keys::needs_cookie(fresh, 42), "unchanged: no cookie");
        assert!(Keys::needs_cookie(fresh, 43), "another character");
        assert!(Keys::needs_cookie(None, 43), "none yet");
        // the previous key never signs
        assert_eq!(old.verify(&user, rotated.sign(&user, 42).as_bytes()), None);
    }

    #[test]
    fn the_cookie_is_read_among_others_and_locked_down() {
        let keys = Keys::new(Some(&key(9)), None);
        let user = UserId::random();
        let v = keys.sign(&user, 5);
        let h = cookie_header(&format!("{COOKIE_NAME}=junk; lang=fr; {COOKIE_NAME}={v}"));
        assert_eq!(
            keys.recall(&h, &user).map(|r| r.id),
            Some(5),
            "the first valid one"
        );
        assert_eq!(keys.recall(&cookie_header("lang=fr"), &user), None);
        let set = keys.set_cookie(&user, 5);
        let set = set.to_str().unwrap();
        for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=34560000", &v] {
            assert!(set.contains(part), "{set}");
        }
    }

    #[test]
    fn keys_are_hex_and_long_enough() {
        assert!(CookieKey::from_hex(&"ab".repeat(32)).is_ok());
        assert!(CookieKey::from_hex(&format!(" {} ", "AB".repeat(40))).is_ok());
        for (bad, says) in [
            ("ab".repeat(31), "at least 32 bytes"),
            ("abc".into(), "two digits a byte"),
            ("zz".repeat(32), "hex"),
            (String::new(), "at least 32 bytes"),
        ] {
            let err = CookieKey::from_hex(&bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
        assert!(
            !format!("{:?}", key(7)).contains('7'),
            "no key bytes in Debug"
        );
        assert!(Keys::new(None, None).is_random());
        let empty = parse_key(" ").unwrap();
        assert!(
            Keys::new(Some(&empty), Some(&empty)).is_random(),
            "empty means none"
        );
        assert!(parse_key("abcd").is_err(), "a key given must be a good one");
        assert!(!Keys::new(Some(&key(1)), None).is_random());
    }
}
