//! The resilience switches: each mechanism that keeps a promise can be turned off at run time,
//! so that a presenter can show an experiment catch the break.
//!
//! Every change made here carries a [`Version`]: one more than the newest this replica has
//! seen, and this replica's id. Replicas of one front end send each other their switches
//! ([`crate::peers`]); each adopts a newer version ([`Switches::adopt`]), so the newest change
//! made on any replica wins everywhere, and a replica that starts takes the front end's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

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

impl From<SwitchState> for SwitchPatch {
    /// The patch that sets every switch as in `state`.
    fn from(state: SwitchState) -> Self {
        SwitchPatch {
            ring: Some(state.ring),
            failover: Some(state.failover),
            fallback: Some(state.fallback),
            stable_assignment: Some(state.stable_assignment),
            deadlines: Some(state.deadlines),
            hedging: Some(state.hedging),
        }
    }
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

/// Which change of the switches a state is: later changes have larger versions (the counter
/// first, then the replica that made it, so two replicas' changes are always ordered).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Version {
    /// One more than the newest change the replica that made it had seen.
    pub counter: u64,
    /// The replica that made it (its id).
    pub origin: String,
}

/// The switches with their version: what replicas send each other.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Versioned {
    /// The switches.
    pub switches: SwitchState,
    /// Their version.
    pub version: Version,
}

/// The live switches, read on every request without locking.
#[derive(Debug)]
pub struct Switches {
    /// The version of the state in force; held while a change is made, so changes are ordered.
    version: Mutex<Version>,
    /// This replica's id: the origin of its changes.
    origin: String,
    /// Told of every change made here (the peers' task sends it at once).
    changed: tokio::sync::Notify,
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
    /// Switches in the given state (and the gauge set to match), for a replica of a random id.
    pub fn new(state: SwitchState) -> Self {
        Self::for_replica(state, format!("{:016x}", rand::random::<u64>()))
    }

    /// Switches in the given state for the replica `origin`; their version is 0 until a change.
    pub fn for_replica(state: SwitchState, origin: String) -> Self {
        let s = Switches {
            version: Mutex::new(Version {
                counter: 0,
                origin: origin.clone(),
            }),
            origin,
            changed: tokio::sync::Notify::new(),
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
        self.apply(SwitchPatch::from(state))
    }

    /// The state in force and its version.
    pub fn versioned(&self) -> Versioned {
        let version = self.lock_version();
        Versioned {
            switches: self.state(),
            version: version.clone(),
        }
    }

    /// Resolves when a change has been made here since the last time it resolved.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    fn lock_version(&self) -> std::sync::MutexGuard<'_, Version> {
        self.version.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes another replica's switches when their version is newer than ours; returns whether
    /// it did.
    pub fn adopt(&self, other: &Versioned) -> bool {
        let mut version = self.lock_version();
        if other.version <= *version {
            return false;
        }
        self.store(SwitchPatch::from(other.switches));
        *version = other.version.clone();
        drop(version);
        tracing::info!(state = ?other.switches, from = %other.version.origin, "resilience switches adopted from a peer");
        self.publish();
        true
    }

    /// Applies a partial update made here (a newer version) and returns the new state.
    pub fn apply(&self, patch: SwitchPatch) -> SwitchState {
        let mut version = self.lock_version();
        self.store(patch);
        version.counter = version.counter.saturating_add(1);
        version.origin.clone_from(&self.origin);
        drop(version);
        let state = self.state();
        tracing::info!(?state, "resilience switches changed");
        self.publish();
        self.changed.notify_one();
        state
    }

    fn store(&self, patch: SwitchPatch) {
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
    fn the_newest_change_wins_on_every_replica() {
        let a = Switches::for_replica(SwitchState::RESILIENT, "a".into());
        let b = Switches::for_replica(SwitchState::RESILIENT, "b".into());
        a.apply(SwitchPatch {
            stable_assignment: Some(false),
            ..Default::default()
        });
        let from_a = a.versioned();
        assert_eq!(
            from_a.version,
            Version {
                counter: 1,
                origin: "a".into()
            }
        );
        assert!(b.adopt(&from_a), "newer: adopted");
        assert!(!b.stable_assignment());
        assert!(!b.adopt(&from_a), "the same version again: nothing to do");
        // b changes next: its version is newer than a's, and a takes it
        b.set(SwitchState::RESILIENT);
        assert_eq!(
            b.versioned().version,
            Version {
                counter: 2,
                origin: "b".into()
            }
        );
        assert!(a.adopt(&b.versioned()));
        assert!(a.stable_assignment());
        assert!(
            !b.adopt(&from_a),
            "an older change never undoes a newer one"
        );
        // two changes with the same counter are ordered by origin, the same way everywhere
        let (x, y) = (
            Versioned {
                switches: SwitchState::NAIVE,
                version: Version {
                    counter: 5,
                    origin: "x".into(),
                },
            },
            Versioned {
                switches: SwitchState::RESILIENT,
                version: Version {
                    counter: 5,
                    origin: "y".into(),
                },
            },
        );
        let (p, q) = (
            Switches::new(SwitchState::RESILIENT),
            Switches::new(SwitchState::RESILIENT),
        );
        assert!(p.adopt(&x) && p.adopt(&y));
        assert!(q.adopt(&y) && !q.adopt(&x));
        assert_eq!(p.versioned(), q.versioned());
    }

    #[tokio::test]
    async fn a_change_made_here_is_announced_an_adopted_one_is_not() {
        let s = Switches::for_replica(SwitchState::RESILIENT, "a".into());
        let other = Versioned {
            switches: SwitchState::NAIVE,
            version: Version {
                counter: 3,
                origin: "z".into(),
            },
        };
        assert!(s.adopt(&other));
        let quiet = tokio::time::timeout(std::time::Duration::from_millis(50), s.changed()).await;
        assert!(quiet.is_err(), "adopting is not a change to send on");
        s.apply(SwitchPatch {
            ring: Some(true),
            ..Default::default()
        });
        tokio::time::timeout(std::time::Duration::from_secs(1), s.changed())
            .await
            .expect("announced");
        assert_eq!(
            s.versioned().version,
            Version {
                counter: 4,
                origin: "a".into()
            }
        );
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
