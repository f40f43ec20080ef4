//! The ticker with its history: once a second a snapshot of the totals ([`Sample`]) goes into
//! a ring of the last [`WINDOW_SECONDS`] + 1, and what is new goes to the Prometheus counters;
//! consecutive snapshots make what happened in each second, on this replica's clock.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::counters::{BOUNDS_US, BUCKETS, LIMIT_BUCKET};
use super::{Promises, WINDOW_SECONDS};

/// The totals at one second (or, once [`Sample::since`] made it, what happened in one second),
/// and the ring's size then. Peers send each other their seconds in this form.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The Unix second the snapshot was taken in.
    pub(super) t: u64,
    pub(super) answers: u64,
    pub(super) failed: u64,
    pub(super) degraded: u64,
    pub(super) checks: u64,
    pub(super) changes: u64,
    pub(super) latency: [u64; BUCKETS],
    pub(super) ring_members: usize,
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
    pub(super) fn add(&mut self, other: &Sample) {
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
    pub(super) fn total<'a>(seconds: impl IntoIterator<Item = &'a Sample>) -> Sample {
        let mut sum = Sample::default();
        for s in seconds {
            sum.add(s);
            sum.t = s.t;
            sum.ring_members = s.ring_members;
        }
        sum
    }

    /// Answers slower than the limit.
    pub(super) fn slow(&self) -> u64 {
        self.latency[LIMIT_BUCKET + 1..].iter().sum()
    }

    /// The `q` quantile of the latency, in milliseconds, interpolated inside its bucket (as
    /// Prometheus' `histogram_quantile`); `None` without answers.
    pub(super) fn quantile_ms(&self, q: f64) -> Option<f64> {
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
pub(super) struct History {
    samples: [Sample; WINDOW_SECONDS + 1],
    /// Where the next snapshot goes.
    next: usize,
    /// Snapshots held.
    len: usize,
}

impl History {
    /// An empty ring.
    pub(super) fn new() -> Self {
        History {
            samples: [Sample::default(); WINDOW_SECONDS + 1],
            next: 0,
            len: 0,
        }
    }

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

impl Promises {
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
