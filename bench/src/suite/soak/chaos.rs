//! The soak's fault schedule: which powersource is killed, frozen or restarted, and when.
//!
//! The schedule is planned in full before the run, from a seeded generator, so the same seed
//! gives the same faults at the same offsets (what a run did can be done again), and the
//! invariants can be checked without running anything: at most [`Spec::max_impaired`] of the
//! instances are impaired at any time (never all of them), every kill and freeze is recovered,
//! and nothing happens in the quiet edges of the run.
//!
//! An instance counts as impaired from its fault until [`Spec::settle`] after its recovery:
//! superpower ejects an instance that failed a request for its eject cool-down (5 s) and
//! re-admits it on the next good health check (every 1 s), so without the settle the plan could
//! think two were impaired while superpower had none left on its ring.

use std::time::Duration;

use rand::{Rng, SeedableRng};

use crate::report::FaultKind;

/// The shape of a schedule.
#[derive(Clone, Debug)]
pub(super) struct Spec {
    /// Instances faults are injected into.
    pub(super) instances: usize,
    /// At most this many impaired at once (below `instances`: one always serves).
    pub(super) max_impaired: usize,
    /// No fault before this offset.
    pub(super) quiet_start: Duration,
    /// Every fault is recovered this long before the end of the run.
    pub(super) quiet_end: Duration,
    /// The pause between two fault draws, uniform in this range (a draw with no instance free
    /// to impair injects nothing).
    pub(super) gap: (Duration, Duration),
    /// How long a killed instance stays down before it is started again.
    pub(super) kill_down: (Duration, Duration),
    /// How long a frozen instance stays frozen.
    pub(super) freeze_for: (Duration, Duration),
    /// After its recovery an instance still counts as impaired this long (see the module doc).
    pub(super) settle: Duration,
}

/// The soak's schedule: a draw every 1 to 4 s, each fault 1 to 5 s long, 2 of 3 at most.
pub(super) const SOAK: Spec = Spec {
    instances: 3,
    max_impaired: 2,
    quiet_start: Duration::from_secs(3),
    quiet_end: Duration::from_secs(5),
    gap: (Duration::from_secs(1), Duration::from_secs(4)),
    kill_down: (Duration::from_secs(1), Duration::from_secs(5)),
    freeze_for: (Duration::from_secs(1), Duration::from_secs(5)),
    settle: Duration::from_secs(6),
};

/// What is done to an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Action {
    /// Inject the fault: SIGKILL, SIGSTOP, or SIGTERM and start again (a restart is one action:
    /// the instance is started again as soon as it has exited).
    Fault(FaultKind),
    /// Undo a kill (start again) or a freeze (SIGCONT).
    Recover(FaultKind),
}

/// One step of the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Event {
    /// Offset from the start of the run.
    pub(super) at: Duration,
    /// Which instance (0-based).
    pub(super) instance: usize,
    /// What is done to it.
    pub(super) action: Action,
}

/// The schedule of a run of `length`, from `seed`, sorted by time.
///
/// # Panics
/// When `spec.max_impaired` is not below `spec.instances` (all of them could be down).
pub(super) fn plan(spec: &Spec, length: Duration, seed: u64) -> Vec<Event> {
    assert!(
        spec.max_impaired < spec.instances,
        "at least one instance must always serve"
    );
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let last = length.saturating_sub(spec.quiet_end);
    // when each instance stops counting as impaired
    let mut free_at = vec![Duration::ZERO; spec.instances];
    let mut events = Vec::new();
    let mut t = spec.quiet_start;
    while t < last {
        let free: Vec<usize> = (0..spec.instances).filter(|&i| free_at[i] <= t).collect();
        if spec.instances - free.len() < spec.max_impaired && !free.is_empty() {
            let instance = free[rng.random_range(0..free.len())];
            let kind = FaultKind::ALL[rng.random_range(0..FaultKind::ALL.len())];
            let len = match kind {
                FaultKind::Kill => between(&mut rng, spec.kill_down),
                FaultKind::Freeze => between(&mut rng, spec.freeze_for),
                FaultKind::Restart => Duration::ZERO,
            };
            if t + len <= last {
                events.push(Event {
                    at: t,
                    instance,
                    action: Action::Fault(kind),
                });
                if kind != FaultKind::Restart {
                    events.push(Event {
                        at: t + len,
                        instance,
                        action: Action::Recover(kind),
                    });
                }
                free_at[instance] = t + len + spec.settle;
            }
        }
        t += between(&mut rng, spec.gap);
    }
    // stable: a recovery and a fault at the same offset keep the order they were planned in
    events.sort_by_key(|e| e.at);
    events
}

/// A duration uniform in `lo..=hi`, to the millisecond.
fn between(rng: &mut impl Rng, (lo, hi): (Duration, Duration)) -> Duration {
    Duration::from_millis(rng.random_range(lo.as_millis() as u64..=hi.as_millis() as u64))
}

/// Faults of each kind in `events`.
pub(super) fn count(events: &[Event]) -> std::collections::BTreeMap<FaultKind, u64> {
    let mut out: std::collections::BTreeMap<FaultKind, u64> =
        FaultKind::ALL.iter().map(|&k| (k, 0)).collect();
    for e in events {
        if let Action::Fault(k) = e.action {
            *out.entry(k).or_default() += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN_MINUTES: Duration = Duration::from_secs(600);

    /// Each instance's impaired intervals: fault to recovery plus the settle.
    fn impaired(spec: &Spec, events: &[Event]) -> Vec<(usize, Duration, Duration)> {
        let mut out = Vec::new();
        let mut open: Vec<Option<Duration>> = vec![None; spec.instances];
        for e in events {
            match e.action {
                Action::Fault(FaultKind::Restart) => {
                    assert!(open[e.instance].is_none());
                    out.push((e.instance, e.at, e.at + spec.settle));
                }
                Action::Fault(_) => {
                    assert!(open[e.instance].is_none(), "two faults at once: {e:?}");
                    open[e.instance] = Some(e.at);
                }
                Action::Recover(_) => {
                    let from = open[e.instance].take().expect("a recovery follows a fault");
                    out.push((e.instance, from, e.at + spec.settle));
                }
            }
        }
        assert!(open.iter().all(Option::is_none), "every fault is recovered");
        out
    }

    #[test]
    fn never_more_than_two_of_three_are_impaired() {
        for seed in 0..50 {
            let events = plan(&SOAK, TEN_MINUTES, seed);
            let spans = impaired(&SOAK, &events);
            for &(_, at, _) in &spans {
                let at_once = spans.iter().filter(|(_, a, b)| *a <= at && at < *b).count();
                assert!(
                    at_once <= SOAK.max_impaired,
                    "seed {seed}: {at_once} at {at:?}"
                );
            }
            for inst in 0..SOAK.instances {
                let mine: Vec<_> = spans.iter().filter(|s| s.0 == inst).collect();
                for w in mine.windows(2) {
                    assert!(
                        w[1].1 >= w[0].2,
                        "seed {seed}: {inst} faulted while impaired"
                    );
                }
            }
        }
    }

    #[test]
    fn faults_stay_inside_the_quiet_edges_and_are_sorted() {
        for seed in 0..50 {
            let events = plan(&SOAK, Duration::from_secs(60), seed);
            assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
            for e in &events {
                assert!(e.at >= SOAK.quiet_start, "{e:?}");
                assert!(e.at <= Duration::from_secs(60) - SOAK.quiet_end, "{e:?}");
                assert!(e.instance < SOAK.instances);
            }
        }
    }

    #[test]
    fn a_seed_repeats_its_schedule_and_another_changes_it() {
        assert_eq!(plan(&SOAK, TEN_MINUTES, 17), plan(&SOAK, TEN_MINUTES, 17));
        assert_ne!(plan(&SOAK, TEN_MINUTES, 17), plan(&SOAK, TEN_MINUTES, 18));
    }

    #[test]
    fn ten_minutes_bring_every_kind_every_few_seconds_to_every_instance() {
        let events = plan(&SOAK, TEN_MINUTES, 17);
        let counts = count(&events);
        let total: u64 = counts.values().sum();
        // one fault every ~3-6 s
        assert!((100..=200).contains(&total), "{counts:?}");
        for k in FaultKind::ALL {
            assert!(counts[&k] >= 20, "{counts:?}");
        }
        for i in 0..SOAK.instances {
            assert!(events.iter().any(|e| e.instance == i));
        }
        // a one-minute run still sees each kind
        let minute = count(&plan(&SOAK, Duration::from_secs(60), 17));
        assert!(minute.values().all(|&n| n >= 1), "{minute:?}");
    }
}
