//! The two promises, measured live by superpower itself: the same superpower every time a user
//! comes back (promise 1, the identity check), and an answer in under a second (promise 2).
//!
//! The hot path only adds to cumulative atomic totals: per answer of `GET /`, one latency
//! bucket (and a count when it is a 5xx); per answer to a returning user, the comparison of the
//! character with the one their signed cookie names ([`crate::remembered`]: no memory of the user
//! here) and one count (two when it changed). No lock, no allocation, no clock read beyond the
//! answer's own timer. Once a second a background task copies the totals into a ring of the
//! last [`WINDOW_SECONDS`] + 1 snapshots, stamped with the Unix second, and adds what is new to
//! the Prometheus counters (`superpower_identity_*_total`, so they trail by at most a second).
//! [`Promises::seconds`] turns consecutive snapshots into what happened in each second;
//! [`summarize`] makes the JSON of `/promises.json` of them. With peers ([`crate::peers`]) the
//! replicas' seconds are summed second by second ([`merge`]) first, so any replica shows the
//! whole front end, with each replica's own line beside it.
//!
//! `--no-promise-tracking` turns all of it off (the benchmark's "off" side, so the cost of the
//! tracking is measured in one run, on against off).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use common::model::CharacterId;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use service::metrics::{SUPERPOWER_IDENTITY_CHANGES_TOTAL, SUPERPOWER_IDENTITY_CHECKS_TOTAL};
use tokio_util::sync::CancellationToken;

/// Seconds of history the view covers ("over the last minute").
pub const WINDOW_SECONDS: usize = 60;
/// Seconds a promise's status looks back over: a break shows within a second or two and a
/// repaired promise is green again this long after the last break.
pub const NOW_SECONDS: usize = 10;
/// Promise 2: an answer within [`LATENCY_LIMIT`], kept while at least [`LATENCY_OBJECTIVE`] of
/// the answers are good (within the limit, not a 5xx); both defined in [`service::promise`].
pub use service::promise::{LATENCY_LIMIT, LATENCY_OBJECTIVE};

/// Upper bounds of the latency buckets, in microseconds; one edge is exactly the promise
/// ([`LATENCY_LIMIT`], at [`LIMIT_BUCKET`]).
const BOUNDS_US: [u64; 26] = [
    250,
    500,
    750,
    1_000,
    1_500,
    2_000,
    3_000,
    5_000,
    7_500,
    10_000,
    15_000,
    20_000,
    30_000,
    50_000,
    75_000,
    100_000,
    150_000,
    200_000,
    300_000,
    500_000,
    750_000,
    1_000_000,
    1_500_000,
    2_500_000,
    5_000_000,
    u64::MAX,
];
const BUCKETS: usize = BOUNDS_US.len();
/// The buckets after this one hold the answers slower than [`LATENCY_LIMIT`].
const LIMIT_BUCKET: usize = 21;

/// Running totals since start, added to on the hot path.
#[derive(Default)]
struct Totals {
    failed: AtomicU64,
    degraded: AtomicU64,
    checks: AtomicU64,
    changes: AtomicU64,
    latency: [AtomicU64; BUCKETS],
}

/// The totals at one second (or, once [`Sample::since`] made it, what happened in one second),
/// and the ring's size then. Peers send each other their seconds in this form.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The Unix second the snapshot was taken in.
    t: u64,
    answers: u64,
    failed: u64,
    degraded: u64,
    checks: u64,
    changes: u64,
    latency: [u64; BUCKETS],
    ring_members: usize,
}

impl Sample {
    /// What happened between `earlier` and `self` (the time and the ring's size are `self`'s).
    fn since(&self, earlier: &Sample) -> Sample {
        Sample {
            t: self.t,
            answers: self.answers - earlier.answers,
            failed: self.failed - earlier.failed,
            degraded: self.degraded - earlier.degraded,
            checks: self.checks - earlier.checks,
            changes: self.changes - earlier.changes,
            latency: std::array::from_fn(|i| self.latency[i] - earlier.latency[i]),
            ring_members: self.ring_members,
        }
    }

    /// Adds what happened in `other` (another replica's same second, or the next second).
    fn add(&mut self, other: &Sample) {
        self.answers += other.answers;
        self.failed += other.failed;
        self.degraded += other.degraded;
        self.checks += other.checks;
        self.changes += other.changes;
        for (a, b) in self.latency.iter_mut().zip(other.latency) {
            *a += b;
        }
        self.ring_members = self.ring_members.max(other.ring_members);
    }

    /// The sum of consecutive seconds (time and ring size of the last).
    fn total<'a>(seconds: impl IntoIterator<Item = &'a Sample>) -> Sample {
        let mut sum = Sample::default();
        for s in seconds {
            sum.add(s);
            sum.t = s.t;
            sum.ring_members = s.ring_members;
        }
        sum
    }

    /// Answers slower than the limit.
    fn slow(&self) -> u64 {
        self.latency[LIMIT_BUCKET + 1..].iter().sum()
    }

    /// The `q` quantile of the latency, in milliseconds, interpolated inside its bucket (as
    /// Prometheus' `histogram_quantile`); `None` without answers.
    fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = q * total as f64;
        let mut seen = 0u64;
        for (i, &c) in self.latency.iter().enumerate() {
            if c > 0 && (seen + c) as f64 >= rank {
                let lower = if i == 0 { 0 } else { BOUNDS_US[i - 1] } as f64;
                if i == BUCKETS - 1 {
                    return Some(lower / 1000.0);
                }
                let upper = BOUNDS_US[i] as f64;
                let within = ((rank - seen as f64) / c as f64).clamp(0.0, 1.0);
                return Some((lower + (upper - lower) * within) / 1000.0);
            }
            seen += c;
        }
        None
    }
}

/// The last snapshots, oldest first, in a fixed ring (no allocation once built).
struct History {
    samples: [Sample; WINDOW_SECONDS + 1],
    /// Where the next snapshot goes.
    next: usize,
    /// Snapshots held.
    len: usize,
}

impl History {
    /// The `i`-th held snapshot, oldest first.
    fn get(&self, i: usize) -> &Sample {
        let start = (self.next + self.samples.len() - self.len) % self.samples.len();
        &self.samples[(start + i) % self.samples.len()]
    }

    fn push(&mut self, s: Sample) {
        self.samples[self.next] = s;
        self.next = (self.next + 1) % self.samples.len();
        self.len = (self.len + 1).min(self.samples.len());
    }
}

/// The live measurement of both promises (see the module doc).
pub struct Promises {
    tracking: bool,
    totals: Totals,
    history: Mutex<History>,
    checks: metrics::Counter,
    changes: metrics::Counter,
}

impl Promises {
    /// The measurement, on when `tracking`. The identity counters exist at 0 from the start.
    pub fn new(tracking: bool) -> Self {
        let checks = metrics::counter!(SUPERPOWER_IDENTITY_CHECKS_TOTAL);
        let changes = metrics::counter!(SUPERPOWER_IDENTITY_CHANGES_TOTAL);
        checks.increment(0);
        changes.increment(0);
        Promises {
            tracking,
            totals: Totals::default(),
            history: Mutex::new(History {
                samples: [Sample::default(); WINDOW_SECONDS + 1],
                next: 0,
                len: 0,
            }),
            checks,
            changes,
        }
    }

    /// Whether the promises are measured (`--no-promise-tracking` turns it off).
    pub fn tracking(&self) -> bool {
        self.tracking
    }

    /// The identity check of one answer to a user: `previous` is the character superpower last
    /// gave them (none for a user it has not answered before: no check), `now` this one's.
    #[inline]
    pub fn identity(&self, previous: Option<CharacterId>, now: CharacterId) {
        if !self.tracking {
            return;
        }
        if let Some(previous) = previous {
            self.totals.checks.fetch_add(1, Relaxed);
            if previous != now {
                self.totals.changes.fetch_add(1, Relaxed);
            }
        }
    }

    /// A degraded answer (the last known character, no instance answering): a check that
    /// kept the character.
    #[inline]
    pub fn degraded(&self) {
        if !self.tracking {
            return;
        }
        self.totals.checks.fetch_add(1, Relaxed);
        self.totals.degraded.fetch_add(1, Relaxed);
    }

    /// One answer of `GET /`, with its status and how long it took.
    #[inline]
    pub fn answered(&self, status: StatusCode, elapsed: Duration) {
        if !self.tracking {
            return;
        }
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_US.partition_point(|&b| b < us);
        self.totals.latency[bucket.min(BUCKETS - 1)].fetch_add(1, Relaxed);
        if status.is_server_error() {
            self.totals.failed.fetch_add(1, Relaxed);
        }
    }

    /// Takes this second's snapshot of the totals (the ring has `ring_members` now) and adds
    /// the checks and changes since the last one to the Prometheus counters.
    pub fn tick(&self, ring_members: usize) {
        self.tick_at(ring_members, unix_now());
    }

    /// [`Promises::tick`] at the Unix second `now`.
    pub fn tick_at(&self, ring_members: usize, now: u64) {
        let t = &self.totals;
        let latency: [u64; BUCKETS] = std::array::from_fn(|i| t.latency[i].load(Relaxed));
        let sample = Sample {
            t: now,
            answers: latency.iter().sum(),
            failed: t.failed.load(Relaxed),
            degraded: t.degraded.load(Relaxed),
            checks: t.checks.load(Relaxed),
            changes: t.changes.load(Relaxed),
            latency,
            ring_members,
        };
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let (checks, changes) = match history.len {
            0 => (0, 0),
            n => {
                let last = history.get(n - 1);
                (last.checks, last.changes)
            }
        };
        self.checks.increment(sample.checks - checks);
        self.changes.increment(sample.changes - changes);
        history.push(sample);
    }

    /// This replica's seconds, oldest first, at most [`WINDOW_SECONDS`]: what happened in each.
    pub fn seconds(&self) -> Vec<Sample> {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        (1..history.len)
            .map(|i| history.get(i).since(history.get(i - 1)))
            .collect()
    }

    /// This replica's promises over the last minute and second by second (the JSON of
    /// `/promises.json` when it has no peers).
    pub fn view(&self, live: Live) -> View {
        summarize(&self.seconds(), self.tracking, live, Vec::new())
    }
}

/// The seconds of several replicas as one front end's: each Unix second summed over the
/// replicas, oldest first, the last [`WINDOW_SECONDS`] of them, and none after the newest second
/// every list has reached (a replica's latest second may not have come in yet: it would show
/// as a dip).
pub fn merge(lists: &[Vec<Sample>]) -> Vec<Sample> {
    let cutoff = lists.iter().filter_map(|l| l.last().map(|s| s.t)).min();
    let mut by_second: std::collections::BTreeMap<u64, Sample> = Default::default();
    for s in lists.iter().flatten() {
        if cutoff.is_some_and(|c| s.t > c) {
            continue;
        }
        let sum = by_second.entry(s.t).or_insert(Sample {
            t: s.t,
            ..Sample::default()
        });
        sum.add(s);
    }
    let merged: Vec<Sample> = by_second.into_values().collect();
    merged[merged.len().saturating_sub(WINDOW_SECONDS)..].to_vec()
}

/// The statuses of seconds, over the last [`NOW_SECONDS`] of them.
fn statuses(seconds: &[Sample], tracking: bool) -> (Status, Status, Sample) {
    let now = Sample::total(&seconds[seconds.len().saturating_sub(NOW_SECONDS)..]);
    let identity = if !tracking || now.checks == 0 {
        Status::Idle
    } else if now.changes > 0 {
        Status::Broken
    } else {
        Status::Kept
    };
    let latency = if !tracking || now.answers == 0 {
        Status::Idle
    } else if (good(&now) as f64) < LATENCY_OBJECTIVE * now.answers as f64 {
        Status::Broken
    } else {
        Status::Kept
    };
    (identity, latency, now)
}

/// Answers within the limit and not 5xx.
fn good(s: &Sample) -> u64 {
    s.answers.saturating_sub(s.slow() + s.failed)
}

/// Answers per second over the last [`NOW_SECONDS`] of `seconds`.
fn per_second(seconds: &[Sample], now: &Sample) -> f64 {
    match seconds.len().min(NOW_SECONDS) {
        0 => 0.0,
        n => now.answers as f64 / n as f64,
    }
}

/// One replica's line in the view: its own seconds, judged alone.
pub fn replica_line(seconds: &[Sample], tracking: bool, who: ReplicaWho) -> ReplicaLine {
    let (identity, latency, now) = statuses(seconds, tracking);
    ReplicaLine {
        name: who.name,
        this: who.this,
        reachable: who.error.is_none(),
        error: who.error,
        answers_per_second: per_second(seconds, &now),
        identity,
        latency,
        now_checks: now.checks,
        now_changes: now.changes,
    }
}

/// The view of `seconds` (one replica's, or the front end's [`merge`]), with the replicas' own
/// lines.
pub fn summarize(
    seconds: &[Sample],
    tracking: bool,
    live: Live,
    replicas: Vec<ReplicaLine>,
) -> View {
    let minute = Sample::total(seconds);
    let (identity_status, latency_status, now) = statuses(seconds, tracking);
    let ratio = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
    View {
        tracking,
        window_seconds: WINDOW_SECONDS,
        now_seconds: NOW_SECONDS,
        identity: IdentityView {
            status: identity_status,
            checks: minute.checks,
            changes: minute.changes,
            kept_ratio: ratio(minute.checks - minute.changes, minute.checks),
            now_checks: now.checks,
            now_changes: now.changes,
        },
        latency: LatencyView {
            status: latency_status,
            limit_ms: service::promise::LATENCY_LIMIT_MS,
            objective: LATENCY_OBJECTIVE,
            answers: minute.answers,
            slow: minute.slow(),
            failed: minute.failed,
            good_ratio: ratio(good(&minute), minute.answers),
            p50_ms: minute.quantile_ms(0.5),
            p99_ms: minute.quantile_ms(0.99),
            now_good_ratio: ratio(good(&now), now.answers),
        },
        answers_per_second: per_second(seconds, &now),
        degraded: minute.degraded,
        ring_members: live.ring_members,
        known_instances: live.known_instances,
        stable_assignment: live.stable_assignment,
        replicas,
        seconds: seconds
            .iter()
            .map(|s| Second {
                t: s.t,
                answers: s.answers,
                checks: s.checks,
                changes: s.changes,
                degraded: s.degraded,
                failed: s.failed,
                slow: s.slow(),
                p50_ms: s.quantile_ms(0.5),
                p99_ms: s.quantile_ms(0.99),
                ring_members: s.ring_members,
            })
            .collect(),
    }
}

/// Another replica's seconds, stamped by its clock (which read `their_now` when it answered),
/// shifted to this replica's clock; only the last [`WINDOW_SECONDS`] + 1 are kept, and none
/// stamped in the future here.
pub fn on_our_clock(mut seconds: Vec<Sample>, their_now: u64) -> Vec<Sample> {
    let now = unix_now();
    let extra = seconds.len().saturating_sub(WINDOW_SECONDS + 1);
    seconds.drain(..extra);
    seconds.retain_mut(|s| {
        s.t = s.t.saturating_add(now).saturating_sub(their_now);
        s.t <= now
    });
    seconds
}

/// The current Unix second.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Takes a snapshot every second until `cancel` fires; `ring_members` tells the ring's size.
pub fn spawn_ticker(
    promises: std::sync::Arc<Promises>,
    ring_members: impl Fn() -> usize + Send + 'static,
    cancel: CancellationToken,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => promises.tick(ring_members()),
                () = cancel.cancelled() => return,
            }
        }
    });
}

/// What the view shows of the fleet and switches right now.
#[derive(Clone, Copy, Debug)]
pub struct Live {
    /// Healthy instances on the ring.
    pub ring_members: usize,
    /// Instances known.
    pub known_instances: usize,
    /// The stable-assignment switch.
    pub stable_assignment: bool,
}

/// Whether a promise is kept now (over the last [`NOW_SECONDS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Kept by every answer that could break it.
    Kept,
    /// Broken at least once (promise 1) or for more than the budget (promise 2).
    Broken,
    /// Nothing to judge: no answers (or no returning users), or tracking off.
    Idle,
}

/// The JSON of `/promises.json`.
#[derive(Debug, Serialize)]
pub struct View {
    /// False with `--no-promise-tracking`: nothing is measured.
    pub tracking: bool,
    /// Seconds the totals cover.
    pub window_seconds: usize,
    /// Seconds the statuses look back over.
    pub now_seconds: usize,
    /// Promise 1.
    pub identity: IdentityView,
    /// Promise 2.
    pub latency: LatencyView,
    /// Answers of `GET /` per second, over the last [`NOW_SECONDS`].
    pub answers_per_second: f64,
    /// Degraded answers (the last known superpower, no instance answering) in the window.
    pub degraded: u64,
    /// Healthy instances on the ring now.
    pub ring_members: usize,
    /// Instances known now.
    pub known_instances: usize,
    /// The stable-assignment switch now.
    pub stable_assignment: bool,
    /// Each replica of the front end, this one first; empty for a replica without peers.
    pub replicas: Vec<ReplicaLine>,
    /// Second by second, oldest first, at most [`WINDOW_SECONDS`].
    pub seconds: Vec<Second>,
}

/// Who a [`ReplicaLine`] is about.
#[derive(Clone, Debug)]
pub struct ReplicaWho {
    /// Its name.
    pub name: String,
    /// True for the replica that answers.
    pub this: bool,
    /// Why it could not be asked for its seconds; `None` when it answered.
    pub error: Option<String>,
}

/// One replica in the view, judged on its own answers.
#[derive(Debug, Serialize)]
pub struct ReplicaLine {
    /// The replica's name (`--replica-name`).
    pub name: String,
    /// True for the replica that answered this view.
    pub this: bool,
    /// False when it did not answer its peer's last call: its seconds are not in the sums.
    pub reachable: bool,
    /// Why it is not reachable.
    pub error: Option<String>,
    /// Its answers per second.
    pub answers_per_second: f64,
    /// Promise 1 on its answers.
    pub identity: Status,
    /// Promise 2 on its answers.
    pub latency: Status,
    /// Its identity checks over the last [`NOW_SECONDS`].
    pub now_checks: u64,
    /// Its identity changes over the last [`NOW_SECONDS`].
    pub now_changes: u64,
}

/// Promise 1 in the view.
#[derive(Debug, Serialize)]
pub struct IdentityView {
    /// Over the last [`NOW_SECONDS`].
    pub status: Status,
    /// Checks in the window.
    pub checks: u64,
    /// Changes in the window.
    pub changes: u64,
    /// Kept / checks in the window; null without checks.
    pub kept_ratio: Option<f64>,
    /// Checks in the last [`NOW_SECONDS`].
    pub now_checks: u64,
    /// Changes in the last [`NOW_SECONDS`].
    pub now_changes: u64,
}

/// Promise 2 in the view.
#[derive(Debug, Serialize)]
pub struct LatencyView {
    /// Over the last [`NOW_SECONDS`].
    pub status: Status,
    /// The promise, in milliseconds ([`service::promise::LATENCY_LIMIT_MS`]).
    pub limit_ms: u64,
    /// The fraction of good answers the promise needs.
    pub objective: f64,
    /// Answers in the window.
    pub answers: u64,
    /// Answers over the limit in the window.
    pub slow: u64,
    /// 5xx answers in the window.
    pub failed: u64,
    /// Good (within the limit, not 5xx) / answers in the window; null without answers.
    pub good_ratio: Option<f64>,
    /// The window's median latency, ms.
    pub p50_ms: Option<f64>,
    /// The window's 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// Good / answers over the last [`NOW_SECONDS`].
    pub now_good_ratio: Option<f64>,
}

/// One second in the view.
#[derive(Debug, Serialize)]
pub struct Second {
    /// The Unix second.
    pub t: u64,
    /// Answers of `GET /`.
    pub answers: u64,
    /// Identity checks.
    pub checks: u64,
    /// Identity changes.
    pub changes: u64,
    /// Degraded answers.
    pub degraded: u64,
    /// 5xx answers.
    pub failed: u64,
    /// Answers over the limit.
    pub slow: u64,
    /// Median latency, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// Ring members at the end of the second.
    pub ring_members: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: Live = Live {
        ring_members: 3,
        known_instances: 3,
        stable_assignment: true,
    };

    #[test]
    fn the_limit_bucket_ends_at_one_second() {
        assert_eq!(BOUNDS_US[LIMIT_BUCKET], LATENCY_LIMIT.as_micros() as u64);
        assert!(BOUNDS_US.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn checks_count_only_known_users_and_changes_only_differences() {
        let p = Promises::new(true);
        p.tick(3);
        p.identity(None, 7);
        p.identity(Some(7), 7);
        p.identity(Some(7), 8);
        p.degraded();
        p.tick(3);
        let v = p.view(LIVE);
        assert_eq!((v.identity.checks, v.identity.changes), (3, 1));
        assert_eq!(v.identity.status, Status::Broken);
        assert_eq!(v.degraded, 1);
        assert_eq!(v.seconds.len(), 1);
        assert_eq!(v.seconds[0].changes, 1);
    }

    #[test]
    fn replicas_add_up_second_by_second_whatever_their_clocks_say() {
        let sample = |t: u64, answers: u64| Sample {
            t,
            answers,
            ..Sample::default()
        };
        let now = unix_now();
        // a peer whose clock runs 30 s behind ours: its last second is our last second
        let theirs = on_our_clock(vec![sample(now - 32, 5), sample(now - 31, 7)], now - 30);
        assert_eq!(
            theirs.iter().map(|s| s.t).collect::<Vec<_>>(),
            [now - 2, now - 1]
        );
        let ours = vec![sample(now - 2, 1), sample(now - 1, 1), sample(now, 1)];
        let merged = merge(&[ours, theirs]);
        // summed per second, and not past the newest second both have reached
        assert_eq!(
            merged.iter().map(|s| (s.t, s.answers)).collect::<Vec<_>>(),
            [(now - 2, 6), (now - 1, 8)]
        );
        // a peer's seconds stamped in the future here, or too many of them, are dropped
        let ahead = on_our_clock(vec![sample(now + 10, 1)], now);
        assert!(ahead.is_empty());
        let many = on_our_clock((0..500).map(|i| sample(now - 500 + i, 1)).collect(), now);
        assert_eq!(many.len(), WINDOW_SECONDS + 1);
        assert_eq!(many.last().unwrap().t, now - 1, "the newest are kept");
    }

    #[test]
    fn a_break_ages_out_of_the_status_but_not_of_the_minute() {
        let p = Promises::new(true);
        p.tick(3);
        p.identity(Some(1), 2);
        p.tick(3);
        assert_eq!(p.view(LIVE).identity.status, Status::Broken);
        for _ in 0..NOW_SECONDS {
            p.identity(Some(1), 1);
            p.tick(3);
        }
        let v = p.view(LIVE);
        assert_eq!(v.identity.status, Status::Kept);
        assert_eq!(v.identity.changes, 1, "still in the minute");
        for _ in 0..WINDOW_SECONDS {
            p.tick(2);
        }
        let v = p.view(LIVE);
        assert_eq!((v.identity.checks, v.identity.changes), (0, 0));
        assert_eq!(v.identity.status, Status::Idle);
        assert_eq!(v.seconds.len(), WINDOW_SECONDS);
        assert_eq!(v.seconds.last().unwrap().ring_members, 2);
    }

    #[test]
    fn latency_quantiles_and_the_second_promise() {
        let p = Promises::new(true);
        p.tick(3);
        for _ in 0..98 {
            p.answered(StatusCode::OK, Duration::from_millis(2));
        }
        p.answered(StatusCode::OK, Duration::from_millis(1200));
        p.answered(StatusCode::SERVICE_UNAVAILABLE, Duration::from_millis(1));
        p.tick(3);
        let v = p.view(LIVE);
        assert_eq!(v.latency.answers, 100);
        assert_eq!((v.latency.slow, v.latency.failed), (1, 1));
        let p50 = v.latency.p50_ms.unwrap();
        assert!((1.5..=2.0).contains(&p50), "{p50}");
        assert_eq!(v.latency.status, Status::Broken, "98% good is below 99%");
        assert_eq!(v.answers_per_second, 100.0);
        for _ in 0..1000 {
            p.answered(StatusCode::OK, Duration::from_millis(2));
        }
        p.tick(3);
        assert_eq!(p.view(LIVE).latency.status, Status::Kept);
    }

    #[test]
    fn off_means_nothing_is_counted() {
        let p = Promises::new(false);
        p.tick(3);
        p.identity(Some(1), 2);
        p.degraded();
        p.answered(StatusCode::OK, Duration::from_millis(1));
        p.tick(3);
        let v = p.view(LIVE);
        assert!(!v.tracking);
        assert_eq!((v.identity.checks, v.latency.answers), (0, 0));
        assert_eq!(v.identity.status, Status::Idle);
    }
}
