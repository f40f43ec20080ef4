//! `service::api::FaultSpec::parse`: any admin body. Invariants: an accepted spec is valid, its
//! JSON (what `GET /admin/faults` answers) parses back to it, and it applies exactly where it
//! says (powersource asks only for product routes); a refused body gets a message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use service::api::{FaultSpec, MAX_DELAY_MS, MAX_FAULT_DURATION_MS, PRODUCT_ROUTES};

fuzz_target!(|data: &[u8]| {
    let spec = match FaultSpec::parse(data) {
        Ok(spec) => spec,
        Err(e) => {
            assert!(!e.0.is_empty());
            return;
        }
    };
    spec.validate().expect("parse accepted an invalid spec");
    assert!(spec.latency_ms <= MAX_DELAY_MS && spec.jitter_ms <= MAX_DELAY_MS);
    assert!((0.0..=1.0).contains(&spec.error_rate));
    assert!(spec
        .duration_ms
        .is_none_or(|d| (1..=MAX_FAULT_DURATION_MS).contains(&d)));

    let json = serde_json::to_vec(&spec).unwrap();
    let back = FaultSpec::parse(&json).expect("the answer of GET does not parse as a PUT");
    // serde_json reads floats to within one ulp (no `float_roundtrip`), so compare those loosely
    assert!((back.error_rate - spec.error_rate).abs() <= f64::EPSILON);
    assert_eq!(
        FaultSpec {
            error_rate: spec.error_rate,
            ..back
        },
        spec
    );

    for route in PRODUCT_ROUTES {
        let expected = spec.is_active() && spec.route.as_deref().is_none_or(|r| r == route);
        assert_eq!(spec.applies_to(route), expected, "{route}");
    }
});
