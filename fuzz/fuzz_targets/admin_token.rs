//! `service::http::auth::AdminToken`: a configured token, then a NUL and `Authorization`
//! headers, one value a line. Invariants: a blank token turns admin off; no header is refused;
//! `Bearer TOKEN` (any case of the scheme) is allowed for an ASCII token; what is allowed
//! carries the token.
#![no_main]

use http::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use libfuzzer_sys::fuzz_target;
use service::http::auth::AdminToken;
use superpower_fuzz::{headers, lines, split_nul};

fuzz_target!(|data: &[u8]| {
    let (token, header_text) = split_nul(data);
    let Ok(token) = std::str::from_utf8(token) else {
        return;
    };
    let Some(admin) = AdminToken::new(Some(token)) else {
        assert!(token.trim().is_empty(), "token {token:?} refused");
        return;
    };
    let token = token.trim();
    assert!(!admin.allows(&HeaderMap::new()));

    let map = headers(AUTHORIZATION, lines(header_text.unwrap_or_default()));
    if admin.allows(&map) {
        let presented = map[AUTHORIZATION].to_str().unwrap();
        let (scheme, rest) = presented.split_once(' ').unwrap();
        assert!(scheme.eq_ignore_ascii_case("bearer"), "{presented:?}");
        assert_eq!(rest.trim(), token, "{presented:?} let in for {token:?}");
    }

    // A non-ASCII token is accepted as configuration, but no client can present it: a header
    // value with bytes over 0x7f is valid HTTP (obs-text), yet `HeaderValue::to_str` refuses it,
    // so such a token is refused like a wrong one. Only ASCII tokens can be presented.
    if !token.is_ascii() {
        return;
    }
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let Ok(value) = HeaderValue::from_str(&format!("{scheme} {token}")) else {
            continue; // a token no header can carry
        };
        let mut m = HeaderMap::new();
        m.insert(AUTHORIZATION, value);
        assert!(admin.allows(&m), "{scheme} {token:?} refused");
    }
});
