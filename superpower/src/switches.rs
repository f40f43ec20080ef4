//! The resilience switches: each mechanism that keeps a promise can be turned off at run time,
//! so that a presenter can show an experiment catch the break.

use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use service::metrics::SUPERPOWER_RESILIENCE_ENABLED;

/// The state of every switch (the body of `GET /admin/switches`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchState {
    /// Consistent-hash routing; off: any instance, round robin.
    pub ring: bool,
    /// Failover to the next instance; off: one attempt.
    pub failover: bool,
    /// Last-known-good fallback; off: no answer when no instance answers.
    pub fallback: bool,
    /// Stable assignment; off: a random character per visit (the original's lost session).
    pub stable_assignment: bool,
    /// Tight deadlines; off: the original's 2 s connect and 5 s read timeouts, no overall deadline.
    pub deadlines: bool,
    /// Hedged requests to a second instance when the first is slow.
    pub hedging: bool,
}

impl SwitchState {
    /// Everything on: the default.
    pub const RESILIENT: SwitchState = SwitchState {
        ring: true,
        failover: true,
        fallback: true,
        stable_assignment: true,
        deadlines: true,
        hedging: true,
    };
    /// Everything off: `--naive`.
    pub const NAIVE: SwitchState = SwitchState {
        ring: false,
        failover: false,
        fallback: false,
        stable_assignment: false,
        deadlines: false,
        hedging: false,
    };
}

/// A partial update (the body of `PUT /admin/switches`): absent fields stay as they are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchPatch {
    /// See [`SwitchState::ring`].
    pub ring: Option<bool>,
    /// See [`SwitchState::failover`].
    pub failover: Option<bool>,
    /// See [`SwitchState::fallback`].
    pub fallback: Option<bool>,
    /// See [`SwitchState::stable_assignment`].
    pub stable_assignment: Option<bool>,
    /// See [`SwitchState::deadlines`].
    pub deadlines: Option<bool>,
    /// See [`SwitchState::hedging`].
    pub hedging: Option<bool>,
}

impl SwitchPatch {
    /// Parses the body of `PUT /admin/switches`.
    ///
    /// # Errors
    /// When the body is not a JSON object of known switches with boolean values (an array of
    /// booleans, which serde alone would take field by field, is refused).
    pub fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        service::http::body::json_object(body)
    }
}

/// The live switches, read on every request without locking.
#[derive(Debug)]
pub struct Switches {
    ring: AtomicBool,
    failover: AtomicBool,
    fallback: AtomicBool,
    stable_assignment: AtomicBool,
    deadlines: AtomicBool,
    hedging: AtomicBool,
}

macro_rules! getters {
    ($($name:ident),*) => {$(
        #[doc = concat!("Whether `", stringify!($name), "` is on.")]
        pub fn $name(&self) -> bool {
            self.$name.load(Ordering::Relaxed)
        }
    )*};
}

impl Switches {
    /// Switches in the given state (and the gauge set to match).
    pub fn new(state: SwitchState) -> Self {
        let s = Switches {
            ring: AtomicBool::new(state.ring),
            failover: AtomicBool::new(state.failover),
            fallback: AtomicBool::new(state.fallback),
            stable_assignment: AtomicBool::new(state.stable_assignment),
            deadlines: AtomicBool::new(state.deadlines),
            hedging: AtomicBool::new(state.hedging),
        };
        s.publish();
        s
    }

    getters!(
        ring,
        failover,
        fallback,
        stable_assignment,
        deadlines,
        hedging
    );

    /// The current state.
    pub fn state(&self) -> SwitchState {
        SwitchState {
            ring: self.ring(),
            failover: self.failover(),
            fallback: self.fallback(),
            stable_assignment: self.stable_assignment(),
            deadlines: self.deadlines(),
            hedging: self.hedging(),
        }
    }

    /// Sets every switch to `state` (the control room's reset: [`SwitchState::RESILIENT`]).
    pub fn set(&self, state: SwitchState) -> SwitchState {
        self.apply(SwitchPatch {
            ring: Some(state.ring),
            failover: Some(state.failover),
            fallback: Some(state.fallback),
            stable_assignment: Some(state.stable_assignment),
            deadlines: Some(state.deadlines),
            hedging: Some(state.hedging),
        })
    }

    /// Applies a partial update and returns the new state.
    pub fn apply(&self, patch: SwitchPatch) -> SwitchState {
        let set = |flag: &AtomicBool, v: Option<bool>| {
            if let Some(v) = v {
                flag.store(v, Ordering::Relaxed);
            }
        };
        set(&self.ring, patch.ring);
        set(&self.failover, patch.failover);
        set(&self.fallback, patch.fallback);
        set(&self.stable_assignment, patch.stable_assignment);
        set(&self.deadlines, patch.deadlines);
        set(&self.hedging, patch.hedging);
        let state = self.state();
        tracing::info!(?state, "resilience switches changed");
        self.publish();
        state
    }

    fn publish(&self) {
        let s = self.state();
        for (mechanism, on) in [
            ("ring", s.ring),
            ("failover", s.failover),
            ("fallback", s.fallback),
            ("stable_assignment", s.stable_assignment),
            ("deadlines", s.deadlines),
            ("hedging", s.hedging),
        ] {
            metrics::gauge!(SUPERPOWER_RESILIENCE_ENABLED, "mechanism" => mechanism).set(if on {
                1.0
            } else {
                0.0
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let s = Switches::new(SwitchState::RESILIENT);
        let after = s.apply(SwitchPatch {
            failover: Some(false),
            ..Default::default()
        });
        assert_eq!(
            after,
            SwitchState {
                failover: false,
                ..SwitchState::RESILIENT
            }
        );
    }

    #[test]
    fn set_puts_every_switch_back() {
        let s = Switches::new(SwitchState::NAIVE);
        assert_eq!(s.set(SwitchState::RESILIENT), SwitchState::RESILIENT);
        assert_eq!(s.state(), SwitchState::RESILIENT);
    }

    #[test]
    fn a_patch_is_an_object_never_an_array() {
        for bad in [
            &b"[true, true, true, true, true, false]"[..],
            b"[]",
            b"null",
        ] {
            assert!(SwitchPatch::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            SwitchPatch::parse(br#" {"ring": false}"#).unwrap(),
            SwitchPatch {
                ring: Some(false),
                ..SwitchPatch::default()
            }
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<SwitchPatch>(r#"{"rings": false}"#).is_err());
        assert!(serde_json::from_str::<SwitchPatch>(r#"{"ring": "no"}"#).is_err());
        assert_eq!(
            serde_json::from_str::<SwitchPatch>("{}").unwrap(),
            SwitchPatch::default()
        );
    }
}
