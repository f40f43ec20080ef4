//! `Keys::recall` and `Keys::verify`: the signed `superpower_last` cookie, from `Cookie` headers
//! one value a line. Invariants: nothing panics; a value recalled names the character it was
//! signed for, for the very user, under the key that signed it; a value signed for one user never
//! verifies for another, nor under another key; what `set_cookie` sends reads back; changing any
//! byte of a signed value never gives another character.
#![no_main]

use http::header::{HeaderMap, HeaderValue, COOKIE};
use libfuzzer_sys::fuzz_target;
use superpower::identity::UserId;
use superpower::remembered::{CookieKey, Keys, COOKIE_NAME};
use superpower_fuzz::{headers, lines};

fuzz_target!(|data: &[u8]| {
    let key = CookieKey::from_hex(&"5a".repeat(32)).unwrap();
    let other = CookieKey::from_hex(&"a5".repeat(32)).unwrap();
    let keys = Keys::new(Some(&key), None);
    let foreign = Keys::new(Some(&other), None);
    let user = UserId::parse("AAAAAAAAAAAAAAAAAAAAAA").unwrap();
    let someone = UserId::parse("BBBBBBBBBBBBBBBBBBBBBA").unwrap();

    // whatever comes in: no panic, and only a value signed under our key for this user is taken
    let map = headers(COOKIE, lines(data));
    if let Some(r) = keys.recall(&map, &user) {
        let signed = keys.sign(&user, r.id);
        assert!(
            map.get_all(COOKIE).iter().any(|v| v
                .as_bytes()
                .windows(signed.len())
                .any(|w| w == signed.as_bytes())),
            "recalled {} that no header holds as signed",
            r.id
        );
        assert!(!r.stale_key);
    }
    for line in lines(data) {
        let _ = keys.verify(&user, line);
    }

    // a character id from the input: signed, it reads back for its user only
    let id = data.iter().take(8).fold(0u64, |acc, b| {
        acc.wrapping_mul(257).wrapping_add(u64::from(*b))
    });
    let value = keys.sign(&user, id);
    assert_eq!(keys.verify(&user, value.as_bytes()).map(|r| r.id), Some(id));
    assert_eq!(keys.verify(&someone, value.as_bytes()), None);
    assert_eq!(foreign.verify(&user, value.as_bytes()), None);
    let set = keys.set_cookie(&user, id);
    let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
    let mut back = HeaderMap::new();
    back.insert(COOKIE, HeaderValue::from_str(&pair).unwrap());
    assert_eq!(keys.recall(&back, &user).map(|r| r.id), Some(id), "{pair}");
    assert!(pair.starts_with(&format!("{COOKIE_NAME}=")));

    // one byte changed by the input: never another character
    if let Some((&at, rest)) = data.split_first() {
        let mut bent = value.clone().into_bytes();
        let i = usize::from(at) % bent.len();
        bent[i] = rest.first().copied().unwrap_or(b'x');
        if let Some(r) = keys.verify(&user, &bent) {
            assert_eq!(r.id, id, "{:?}", String::from_utf8_lossy(&bent));
        }
    }
});
