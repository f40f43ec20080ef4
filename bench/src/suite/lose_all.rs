//! The lose-all scenario: every powersource SIGKILLed; known users (back with their identity and
//! their signed `superpower_last` cookie) should get their superpower, degraded, unknown ones a
//! 503.

use std::sync::Arc;

use anyhow::bail;
use http::header::HeaderValue;
use http::StatusCode;

use super::fleet::Fleet;
use super::timing::{Timing, FAILOVER_RATE, RATE_CONNECTIONS, UNKNOWN_RATE};
use crate::load::{self, Plan};
use crate::report::LoseAll;

/// Runs the lose-all scenario (the powersources stay down).
pub(super) async fn lose_all(
    fleet: &mut Fleet,
    t: &Timing,
    users: &Arc<Vec<HeaderValue>>,
    names: &Arc<Vec<String>>,
) -> anyhow::Result<LoseAll> {
    for p in &mut fleet.powersources {
        p.inject(&["kill"]).await?;
    }
    let sp = fleet.superpower.addr;
    let plan = || Plan::new(sp, "/", RATE_CONNECTIONS, t.lose_all);
    let known = load::run(plan().at(FAILOVER_RATE).users(users).check(names)).await?;
    let mut unknown = plan().at(UNKNOWN_RATE);
    unknown.expect = StatusCode::SERVICE_UNAVAILABLE;
    let unknown = load::run(unknown).await?;
    if known.requests == 0 || unknown.requests == 0 {
        bail!("no request was made");
    }
    Ok(LoseAll {
        changed_users: known.changed_users.len(),
        known,
        unknown,
    })
}

/// What went wrong: known users not answered or changed, unknown ones not answered 503.
pub(super) fn failures(l: &LoseAll) -> Vec<String> {
    let changed = l.changed_users;
    let wrong = "known users got another superpower (degraded)";
    [
        l.known.failed("lose all, known users"),
        (changed > 0).then(|| format!("lose all: {changed} {wrong}")),
        l.unknown.failed("lose all, unknown users (503 expected)"),
    ]
    .into_iter()
    .flatten()
    .collect()
}
