//! The failover scenario: one of the 3 powersources SIGKILLed and restarted under a constant
//! rate, then every user once, with `superpower probe identity` before and after.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use http::header::HeaderValue;

use super::fleet::{ring_is, Fleet};
use super::options::Options;
use super::programs::{bin, run_logged};
use super::timing::{
    Timing, AFTER_FAILOVER_LIMIT, FAILOVER_RATE, PROBE_USERS, PRODUCT_READY, RATE_CONNECTIONS,
};
use super::users::every_user_once;
use crate::load::{self, Names, Plan, Report};
use crate::procs::Proc;
use crate::report::Failover;

/// `superpower probe identity` at `addr` (records `state`, then checks it): whether it exited 0.
async fn probe(opts: &Options, addr: std::net::SocketAddr, state: &Path) -> anyhow::Result<bool> {
    let args = vec![
        "probe".into(),
        "identity".into(),
        "--url".into(),
        format!("http://{addr}/"),
        "--users".into(),
        PROBE_USERS.to_string(),
        "--state".into(),
        state.display().to_string(),
        "--timeout-ms".into(),
        service::promise::LATENCY_LIMIT_MS.to_string(),
    ];
    let log = opts.out.join("logs").join("probe.log");
    Ok(run_logged(&bin(opts, "superpower")?, &args, &log)
        .await
        .is_ok())
}

/// A load with a powersource SIGKILLed in it: when, and the load's report.
pub(super) struct Window {
    pub(super) start: Instant,
    pub(super) kill_at: Duration,
    pub(super) restart_at: Duration,
    pub(super) load: Report,
}

/// Runs `plan`, SIGKILLs `victim` `t.kill_at` into it and starts it again at `t.restart_at`.
pub(super) async fn window(victim: &mut Proc, plan: Plan, t: &Timing) -> anyhow::Result<Window> {
    let start = Instant::now();
    let load = tokio::spawn(load::run(plan));
    tokio::time::sleep_until((start + t.kill_at).into()).await;
    victim.inject(&["kill"]).await?;
    let kill_at = start.elapsed();
    tokio::time::sleep_until((start + t.restart_at).into()).await;
    // when the start began, as when it was a spawn (the engine's start returns once healthy)
    let restart_at = start.elapsed();
    victim.inject(&["start"]).await?;
    let load = load.await.context("the load task")??;
    Ok(Window {
        start,
        kill_at,
        restart_at,
        load,
    })
}

/// Runs the failover scenario (powersource 2 is the one killed).
pub(super) async fn failover(
    opts: &Options,
    fleet: &mut Fleet,
    t: &Timing,
    users: &Arc<Vec<HeaderValue>>,
    names: &Arc<Vec<String>>,
) -> anyhow::Result<Failover> {
    let sp = fleet.superpower.addr;
    let state = opts.out.join("probe-identity.json");
    let _ = std::fs::remove_file(&state);
    let probe_before = probe(opts, sp, &state).await?;

    let plan = Plan::new(sp, "/", RATE_CONNECTIONS, t.failover).at(FAILOVER_RATE);
    let w = window(
        &mut fleet.powersources[1],
        plan.users(users).check(names),
        t,
    )
    .await?;
    fleet
        .superpower
        .wait_ready("/health", ring_is(3), PRODUCT_READY)
        .await
        .context("superpower did not take the restarted powersource back")?;
    let back_on_ring = w.start.elapsed() - w.restart_at;

    let plan = every_user_once(sp, users, Names::Check(names.clone()), AFTER_FAILOVER_LIMIT);
    let after = load::run(plan).await?;
    let probe_after = probe(opts, sp, &state).await?;
    let changed = w.load.changed_users.union(&after.changed_users).count();
    Ok(Failover {
        rate: FAILOVER_RATE,
        kill_at_s: w.kill_at.as_secs_f64(),
        restart_at_s: w.restart_at.as_secs_f64(),
        back_on_ring_s: back_on_ring.as_secs_f64(),
        changed_users: changed,
        window: w.load,
        after,
        probe_ok: probe_before && probe_after,
    })
}

/// What went wrong: failures in or after the window, identity changes, a failed probe.
pub(super) fn failures(f: &Failover) -> Vec<String> {
    let changed = f.changed_users;
    let probe = "`superpower probe identity` failed (see var/bench/logs/probe.log)";
    [
        f.window.failed("failover"),
        f.after.failed("failover, after"),
        (changed > 0).then(|| format!("failover: {changed} users got another superpower")),
        (!f.probe_ok).then(|| format!("failover: {probe}")),
    ]
    .into_iter()
    .flatten()
    .collect()
}
