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
//!
//! Layout, along the seams (each depends only on the ones after it):
//! - `view`: the JSON view: [`summarize`], [`merge`], the replicas' lines, [`View`] and its parts.
//! - `ticker`: the ticker with its history: [`Sample`], the ring, [`spawn_ticker`], the clocks.
//! - `counters`: the request path: the atomic totals and [`Promises::answered`] and its kin.
//!
//! This module holds the targets, the windows, and [`Promises`], which ties the request path's
//! totals to the ticker's history.

use std::sync::Mutex;

use service::metrics::{SUPERPOWER_IDENTITY_CHANGES_TOTAL, SUPERPOWER_IDENTITY_CHECKS_TOTAL};

mod counters;
mod ticker;
mod view;

pub use ticker::{on_our_clock, spawn_ticker, unix_now, Sample};
pub use view::{
    merge, replica_line, summarize, IdentityView, LatencyView, Live, ReplicaLine, ReplicaWho,
    Second, Status, View,
};

/// Seconds of history the view covers ("over the last minute").
pub const WINDOW_SECONDS: usize = 60;
/// Seconds a promise's status looks back over: a break shows within a second or two and a
/// repaired promise is green again this long after the last break.
pub const NOW_SECONDS: usize = 10;
/// Promise 2: an answer within [`LATENCY_LIMIT`], kept while at least [`LATENCY_OBJECTIVE`] of
/// the answers are good (within the limit, not a 5xx); both defined in [`service::promise`].
pub use service::promise::{LATENCY_LIMIT, LATENCY_OBJECTIVE};

/// The live measurement of both promises (see the module doc).
pub struct Promises {
    tracking: bool,
    totals: counters::Totals,
    history: Mutex<ticker::History>,
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
            totals: counters::Totals::default(),
            history: Mutex::new(ticker::History::new()),
            checks,
            changes,
        }
    }
}

/// What the tests' views show of the fleet.
#[cfg(test)]
const LIVE: Live = Live {
    ring_members: 3,
    known_instances: 3,
    stable_assignment: true,
};
