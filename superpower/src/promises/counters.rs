//! The request path: the cumulative atomic totals each answer adds to (one latency bucket, a
//! 5xx, an identity check and change, a degraded answer). No lock, no allocation, no clock read
//! beyond the answer's own timer; the ticker reads them once a second.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use common::model::CharacterId;
use http::StatusCode;

use super::Promises;

/// Upper bounds of the latency buckets, in microseconds; one edge is exactly the promise
/// ([`LATENCY_LIMIT`](super::LATENCY_LIMIT), at [`LIMIT_BUCKET`]).
pub(super) const BOUNDS_US: [u64; 26] = [
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
pub(super) const BUCKETS: usize = BOUNDS_US.len();
/// The buckets after this one hold the answers slower than
/// [`LATENCY_LIMIT`](super::LATENCY_LIMIT).
pub(super) const LIMIT_BUCKET: usize = 21;

/// Running totals since start, added to on the hot path.
#[derive(Default)]
pub(super) struct Totals {
    pub(super) failed: AtomicU64,
    pub(super) degraded: AtomicU64,
    pub(super) checks: AtomicU64,
    pub(super) changes: AtomicU64,
    pub(super) latency: [AtomicU64; BUCKETS],
}

impl Promises {
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
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::StatusCode;

    use super::super::{Promises, Status, LATENCY_LIMIT, LIVE};
    use super::{BOUNDS_US, LIMIT_BUCKET};

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
