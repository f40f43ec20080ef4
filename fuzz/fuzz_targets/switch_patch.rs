//! `superpower::switches::SwitchPatch`, the body of `PUT /admin/switches`, as the handler reads
//! it (`serde_json::from_slice`). Invariants: applying a patch sets exactly the fields it names;
//! the state's JSON (what `GET` answers) parses back as a state and as a patch naming them all.
#![no_main]

use libfuzzer_sys::fuzz_target;
use superpower::switches::{SwitchPatch, SwitchState, Switches};

fuzz_target!(|data: &[u8]| {
    let Ok(patch) = serde_json::from_slice::<SwitchPatch>(data) else {
        return;
    };
    for start in [SwitchState::RESILIENT, SwitchState::NAIVE] {
        let switches = Switches::new(start);
        let after = switches.apply(patch);
        assert_eq!(switches.state(), after);
        let expected = SwitchState {
            ring: patch.ring.unwrap_or(start.ring),
            failover: patch.failover.unwrap_or(start.failover),
            fallback: patch.fallback.unwrap_or(start.fallback),
            stable_assignment: patch.stable_assignment.unwrap_or(start.stable_assignment),
            deadlines: patch.deadlines.unwrap_or(start.deadlines),
            hedging: patch.hedging.unwrap_or(start.hedging),
        };
        assert_eq!(after, expected, "{patch:?}");

        let json = serde_json::to_vec(&after).unwrap();
        assert_eq!(serde_json::from_slice::<SwitchState>(&json).unwrap(), after);
        let full: SwitchPatch = serde_json::from_slice(&json).unwrap();
        assert_eq!(Switches::new(SwitchState::NAIVE).apply(full), after);
    }
});
