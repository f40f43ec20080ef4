//! `Identity::from_headers`: `Cookie` headers, one value a line (values hyper would refuse are
//! skipped). Invariants: the identity's spelling is canonical; a kept id was in a header; the
//! first valid `superpower_id` wins over anything after it; the cookie we set reads back.
#![no_main]

use http::header::{HeaderMap, HeaderValue, COOKIE};
use libfuzzer_sys::fuzz_target;
use superpower::identity::{Identity, UserId, COOKIE_NAME};
use superpower_fuzz::{headers, lines};

fuzz_target!(|data: &[u8]| {
    let map = headers(COOKIE, lines(data));
    let id = Identity::from_headers(&map);
    let spelled = id.user.to_string();
    assert_eq!(UserId::parse(&spelled), Some(id.user), "{spelled}");
    if !id.is_new {
        assert!(
            map.get_all(COOKIE)
                .iter()
                .any(|v| contains(v.as_bytes(), spelled.as_bytes())),
            "kept {spelled}, which no header holds"
        );
    }

    // a valid cookie in front wins over whatever follows
    let ours = UserId::random();
    let mut first = HeaderMap::new();
    first.append(
        COOKIE,
        HeaderValue::from_str(&format!("{COOKIE_NAME}={ours}")).unwrap(),
    );
    for v in map.get_all(COOKIE) {
        first.append(COOKIE, v.clone());
    }
    assert_eq!(
        Identity::from_headers(&first),
        Identity {
            user: ours,
            is_new: false
        }
    );

    // what Set-Cookie sends, the browser sends back (its first pair) and we read the same user
    let set = id.set_cookie();
    let pair = set.split(';').next().unwrap();
    let mut back = HeaderMap::new();
    back.insert(COOKIE, HeaderValue::from_str(pair).unwrap());
    assert_eq!(Identity::from_headers(&back).user, id.user, "{set}");

    // UserId::parse on its own: anything it accepts is the canonical spelling
    for line in lines(data) {
        if let Some(user) = std::str::from_utf8(line).ok().and_then(UserId::parse) {
            assert_eq!(user.to_string().as_bytes(), line);
        }
    }
});

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
