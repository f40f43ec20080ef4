//! `service::http::body::if_none_match`: `If-None-Match` headers, one value a line, then a NUL
//! and our ETag (`"abc"` without one). Invariants: no header never matches; `*` always does;
//! our own tag (strong or weak) always does; adding headers never turns a match into none.
#![no_main]

use http::header::{HeaderValue, IF_NONE_MATCH};
use libfuzzer_sys::fuzz_target;
use service::http::body::if_none_match;
use superpower_fuzz::{headers, lines, split_nul};

fuzz_target!(|data: &[u8]| {
    let (header_text, etag) = split_nul(data);
    let Ok(etag) = HeaderValue::from_bytes(etag.unwrap_or(b"\"abc\"")) else {
        return;
    };
    let map = headers(IF_NONE_MATCH, lines(header_text));
    let matched = if_none_match(&map, &etag);
    assert!(!if_none_match(&Default::default(), &etag));

    let with = |extra: &str| {
        let mut m = map.clone();
        m.append(IF_NONE_MATCH, HeaderValue::from_str(extra).unwrap());
        if_none_match(&m, &etag)
    };
    assert!(with("*"));
    assert!(!matched || with("\"unrelated\""), "a header undid a match");
    if let Ok(ours) = etag.to_str() {
        let plain = !ours.is_empty()
            && ours.trim() == ours
            && !ours.contains(',')
            && !ours.starts_with("W/");
        if plain {
            assert!(with(ours), "our own tag {ours:?} did not match");
            assert!(
                with(&format!("W/{ours}")),
                "our weak tag {ours:?} did not match"
            );
            assert!(
                with(&format!("\"x\", {ours}")),
                "{ours:?} in a list did not match"
            );
        }
    }
});
