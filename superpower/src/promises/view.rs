//! The JSON view of `/promises.json`: a replica's seconds (or the front end's, [`merge`]d over
//! the replicas) summed over the window, judged over the last [`NOW_SECONDS`] ([`Status`]), with
//! each replica's own line.

use serde::Serialize;

use super::ticker::Sample;
use super::{Promises, LATENCY_OBJECTIVE, NOW_SECONDS, WINDOW_SECONDS};

impl Promises {
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
    use std::time::Duration;

    use http::StatusCode;

    use super::super::ticker::{on_our_clock, unix_now};
    use super::super::LIVE;
    use super::*;

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
}
