//! `negotiate::choose`: any `Accept` value. Invariants: blank means HTML; an explicit `q=0` for
//! both HTML and JSON in front of anything means 406 (`None`); an explicit preference in front
//! decides; media types are case-insensitive and surrounding whitespace does not matter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use superpower::negotiate::{choose, Format};

fuzz_target!(|data: &[u8]| {
    let Ok(accept) = std::str::from_utf8(data) else {
        return;
    };
    let got = choose(Some(accept));
    if accept.trim().is_empty() {
        assert_eq!(got, Some(Format::Html));
    }
    // the first of equally specific ranges decides a type's weight
    assert_eq!(
        choose(Some(&format!(
            "text/html;q=0, application/json;q=0, {accept}"
        ))),
        None,
        "both refused, yet a format for {accept:?}"
    );
    assert_eq!(
        choose(Some(&format!(
            "application/json, text/html;q=0.5, {accept}"
        ))),
        Some(Format::Json)
    );
    assert_eq!(
        choose(Some(&format!("text/html, application/json, {accept}"))),
        Some(Format::Html),
        "a tie prefers HTML"
    );
    assert_eq!(choose(Some(&format!(" \t{accept} "))), got);
    assert_eq!(
        choose(Some(&accept.to_ascii_uppercase())),
        got,
        "case changed the answer for {accept:?}"
    );
});
