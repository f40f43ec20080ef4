//! The soak's fault schedule: which powersource gets which fault of the vocabulary, and when,
//! and the `deploy/local/fault.sh` commands that inject and end each ([`commands`]).
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
    /// How long a flap lasts (its SECONDS, whole), and each of its lives down and up.
    pub(super) flap_for: (u64, u64),
    /// A flap's DOWN and UP (whole seconds).
    pub(super) flap_down_up: (u64, u64),
    /// How long a partition, a drop, a slow or a fail lasts.
    pub(super) degrade_for: (Duration, Duration),
    /// The latency of `slow` (ms).
    pub(super) slow_ms: u64,
    /// The error rate of `fail`.
    pub(super) fail_rate: f64,
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
    flap_for: (4, 8),
    flap_down_up: (1, 2),
    degrade_for: (Duration::from_secs(1), Duration::from_secs(5)),
    // over the 1 s promise, so that only superpower's attempt timeout and hedging keep it
    slow_ms: 2000,
    fail_rate: 0.5,
    settle: Duration::from_secs(6),
};

/// What is done to an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Action {
    /// Inject the fault (a restart is one action: stop, then start again once it has exited).
    Fault(FaultKind),
    /// Undo it (the vocabulary's undo verb).
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
    /// A fault's planned length, until its recovery (zero for a restart and a recovery).
    pub(super) length: Duration,
}

/// The schedule of a run of `length` with faults of `kinds`, from `seed`, sorted by time. The
/// kinds are drawn in [`FaultKind`]'s order whatever the order given, so
/// [`FaultKind::SOAK_DEFAULT`] draws what the kill, freeze and restart soak always drew.
///
/// # Panics
/// When `spec.max_impaired` is not below `spec.instances` (all of them could be down), or
/// `kinds` is empty.
pub(super) fn plan(spec: &Spec, kinds: &[FaultKind], length: Duration, seed: u64) -> Vec<Event> {
    assert!(
        spec.max_impaired < spec.instances,
        "at least one instance must always serve"
    );
    let mut kinds = kinds.to_vec();
    kinds.sort_unstable();
    kinds.dedup();
    assert!(!kinds.is_empty(), "a soak needs a fault to inject");
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
            let kind = kinds[rng.random_range(0..kinds.len())];
            let (down, up) = spec.flap_down_up;
            let len = match kind {
                FaultKind::Kill => between(&mut rng, spec.kill_down),
                FaultKind::Freeze => between(&mut rng, spec.freeze_for),
                FaultKind::Restart => Duration::ZERO,
                // it may end a cycle late: its planned length has one more down and up
                FaultKind::Flap => Duration::from_secs(
                    rng.random_range(spec.flap_for.0..=spec.flap_for.1) + down + up,
                ),
                FaultKind::Partition | FaultKind::Drop | FaultKind::Slow | FaultKind::Fail => {
                    between(&mut rng, spec.degrade_for)
                }
            };
            if t + len <= last {
                events.push(Event {
                    at: t,
                    instance,
                    action: Action::Fault(kind),
                    length: len,
                });
                if kind != FaultKind::Restart {
                    events.push(Event {
                        at: t + len,
                        instance,
                        action: Action::Recover(kind),
                        length: Duration::ZERO,
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

/// The `deploy/local/fault.sh` commands (verb and arguments) that carry out `e`, in order.
pub(super) fn commands(spec: &Spec, e: &Event) -> Vec<Vec<String>> {
    let words = |w: &[&str]| w.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
    let (down, up) = spec.flap_down_up;
    match e.action {
        Action::Fault(FaultKind::Restart) => vec![words(&["stop"]), words(&["start"])],
        Action::Fault(FaultKind::Flap) => {
            let seconds = e.length.as_secs().saturating_sub(down + up).max(1);
            let args = [seconds, down, up].map(|n| n.to_string());
            vec![words(&["flap", &args[0], &args[1], &args[2]])]
        }
        Action::Fault(FaultKind::Slow) => vec![words(&["slow", &spec.slow_ms.to_string()])],
        Action::Fault(FaultKind::Fail) => vec![words(&["fail", &spec.fail_rate.to_string()])],
        Action::Fault(kind) => vec![vec![kind.to_string()]],
        Action::Recover(kind) => kind.undo().map(|u| words(&[u])).into_iter().collect(),
    }
}

/// Faults of each kind in `events`, every kind of `kinds` listed.
pub(super) fn count(
    kinds: &[FaultKind],
    events: &[Event],
) -> std::collections::BTreeMap<FaultKind, u64> {
    let mut out: std::collections::BTreeMap<FaultKind, u64> =
        kinds.iter().map(|&k| (k, 0)).collect();
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
    const DEFAULT: [FaultKind; 3] = FaultKind::SOAK_DEFAULT;
    const ALL: [FaultKind; 8] = [
        FaultKind::Restart,
        FaultKind::Fail,
        FaultKind::Slow,
        FaultKind::Flap,
        FaultKind::Drop,
        FaultKind::Partition,
        FaultKind::Freeze,
        FaultKind::Kill,
    ];

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
            let events = plan(&SOAK, &ALL, TEN_MINUTES, seed);
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
            let events = plan(&SOAK, &ALL, Duration::from_secs(60), seed);
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
        assert_eq!(
            plan(&SOAK, &DEFAULT, TEN_MINUTES, 17),
            plan(&SOAK, &DEFAULT, TEN_MINUTES, 17)
        );
        assert_ne!(
            plan(&SOAK, &DEFAULT, TEN_MINUTES, 17),
            plan(&SOAK, &DEFAULT, TEN_MINUTES, 18)
        );
    }

    #[test]
    fn ten_minutes_bring_every_kind_every_few_seconds_to_every_instance() {
        let events = plan(&SOAK, &ALL, TEN_MINUTES, 17);
        let counts = count(&ALL, &events);
        let total: u64 = counts.values().sum();
        // one fault every ~3-6 s
        assert!((80..=200).contains(&total), "{counts:?}");
        for k in ALL {
            assert!(counts[&k] >= 5, "{counts:?}");
        }
        for i in 0..SOAK.instances {
            assert!(events.iter().any(|e| e.instance == i));
        }
        // a one-minute run of the default still sees each kind
        let minute = count(
            &DEFAULT,
            &plan(&SOAK, &DEFAULT, Duration::from_secs(60), 17),
        );
        assert!(minute.values().all(|&n| n >= 1), "{minute:?}");
    }

    #[test]
    fn the_default_draws_the_schedule_seed_17_always_drew() {
        // the figures of docs/performance.md's last soak runs, from before the vocabulary
        let counts = |length| {
            let c = count(&DEFAULT, &plan(&SOAK, &DEFAULT, length, 17));
            c.values().copied().collect::<Vec<_>>()
        };
        assert_eq!(counts(TEN_MINUTES), [39, 50, 32]);
        assert_eq!(counts(Duration::from_secs(60)), [1, 4, 7]);
        // the order given does not matter
        let reversed = [FaultKind::Restart, FaultKind::Freeze, FaultKind::Kill];
        assert_eq!(
            plan(&SOAK, &reversed, TEN_MINUTES, 17),
            plan(&SOAK, &DEFAULT, TEN_MINUTES, 17)
        );
    }

    #[test]
    fn each_fault_is_carried_out_by_its_verb_and_ended_by_its_undo() {
        let cmds = |action, secs| {
            let e = Event {
                at: Duration::ZERO,
                instance: 0,
                action,
                length: Duration::from_secs(secs),
            };
            commands(&SOAK, &e)
        };
        let w = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(cmds(Action::Fault(FaultKind::Kill), 3), [w("kill")]);
        assert_eq!(cmds(Action::Recover(FaultKind::Kill), 0), [w("start")]);
        assert_eq!(
            cmds(Action::Fault(FaultKind::Restart), 0),
            [w("stop"), w("start")]
        );
        assert_eq!(cmds(Action::Fault(FaultKind::Flap), 9), [w("flap 6 1 2")]);
        assert_eq!(cmds(Action::Recover(FaultKind::Flap), 0), [w("start")]);
        assert_eq!(cmds(Action::Fault(FaultKind::Slow), 2), [w("slow 2000")]);
        assert_eq!(cmds(Action::Fault(FaultKind::Fail), 2), [w("fail 0.5")]);
        assert_eq!(cmds(Action::Recover(FaultKind::Fail), 0), [w("clear")]);
        assert_eq!(cmds(Action::Recover(FaultKind::Drop), 0), [w("undrop")]);
        assert!(cmds(Action::Recover(FaultKind::Restart), 0).is_empty());
    }
}
