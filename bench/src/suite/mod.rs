//! The scenarios, in the order they run: ingest, the fleet and the references up, end to end,
//! promise tracking on vs off, the peers (nginx and HAProxy beside superpower), failover, lose
//! all, memory, scaling, micro-benchmarks (read from criterion's output), then the targets. With
//! [`Options::soak`] the soak runs instead, alone; with [`Options::only_scaling`], scaling alone;
//! with [`Options::only_peers`], ingest, the fleet and the peers' saturation runs alone.
//!
//! A scenario that cannot run, a load run with failures where none are expected, or an identity
//! change is recorded in [`Results::failures`] (the command then fails); a missed target is only
//! a figure.
//!
//! # Layout
//! [`run`] (here) runs the scenarios in order and collects their results. Each scenario has its
//! module: `ingest`, `e2e` (maximum throughput and constant rates), `tracking` (the cost of
//! measuring the promises: on vs off, same run), `peers`, `failover`, `lose_all`, `memory`,
//! `scaling` (powersources, users, replicas, DNS membership), `micro`, `soak` (with its fault
//! schedule and RSS verdict); `targets` judges the results. What they share: `options` (how the
//! suite runs), `timing` (durations, rates and sizes of each mode), `fleet` (the processes
//! loaded), `users` (the fixed users, their superpowers and the cookies they come back with),
//! `programs` (the release binaries), `machine` (what it ran on) and `progress` (the progress
//! lines).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::load;
use crate::report::{Mode, Results};

mod e2e;
mod failover;
mod fleet;
mod ingest;
mod lose_all;
mod machine;
mod memory;
mod micro;
mod options;
mod peers;
mod programs;
mod progress;
mod scaling;
mod soak;
mod targets;
mod timing;
mod tracking;
mod users;

pub use micro::MICRO;
pub use options::Options;
pub use timing::{MAX_CONNECTIONS, SOAK_FULL, SOAK_MIN, SOAK_SEED};

use progress::step;
use timing::Timing;

/// Runs every scenario (or the soak alone) and judges the targets.
pub async fn run(opts: &Options) -> Results {
    let t0 = Instant::now();
    let t = Timing::of(opts.smoke);
    let mut res = Results {
        mode: Mode::of(opts.smoke, opts.soak.is_some()),
        started: httpdate::fmt_http_date(SystemTime::now()),
        machine: machine::machine(&opts.rustc),
        product_env: opts
            .product_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        ..Results::default()
    };
    let logs = opts.out.join("logs");
    let _ = std::fs::remove_dir_all(&logs);
    if let Err(e) = std::fs::create_dir_all(&logs) {
        res.failures
            .push(format!("cannot create {}: {e}", logs.display()));
        return res;
    }

    if let Some(length) = opts.soak {
        match soak::soak(opts, &logs, length, opts.soak_seed).await {
            Ok(s) => {
                res.failures.extend(soak::failures(&s));
                res.soak = Some(s);
            }
            Err(e) => res.failures.push(format!("soak: {e:#}")),
        }
        finish(&mut res, t0);
        return res;
    }

    if opts.only_scaling {
        let ids = Arc::new(load::identities(t.users, 2024));
        step("scaling: powersources, distinct users and replicas (alone)");
        run_scaling(opts, &t, &ids, &logs, &mut res).await;
        read_micro(opts, &mut res);
        finish(&mut res, t0);
        return res;
    }

    step("ingest");
    match ingest::ingest(opts, &t).await {
        Ok(i) => res.ingest = Some(i),
        Err(e) => res.failures.push(format!("ingest: {e:#}")),
    }

    step("starting 3 powersources, superpower and the two references");
    let mut fleet = match fleet::start(opts, &logs).await {
        Ok(f) => f,
        Err(e) => {
            res.failures.push(format!("cannot start the fleet: {e:#}"));
            finish(&mut res, t0);
            return res;
        }
    };

    let ids = Arc::new(load::identities(t.users, 2024));
    step(&format!(
        "recording the superpower and the cookies of {} users",
        ids.len()
    ));
    // from here on the users come back as a browser does: their identity and the signed
    // `superpower_last` cookie their first answer set
    let (users, names) = match users::record(fleet.superpower.addr, &ids).await {
        Ok(r) => (Arc::new(r.returning), Arc::new(r.names)),
        Err(e) => {
            res.failures.push(format!("cannot record the users: {e:#}"));
            finish(&mut res, t0);
            return res;
        }
    };

    if opts.only_peers {
        step("peers: saturation only");
        run_peers(opts, &mut fleet, &t, &users, &names, &logs, &mut res).await;
        res.memory = memory::peak(&fleet);
        drop(fleet);
        finish(&mut res, t0);
        return res;
    }

    match e2e::e2e(&fleet, &t, &users, &mut res.failures).await {
        Ok(e) => res.e2e = Some(e),
        Err(e) => res.failures.push(format!("end to end: {e:#}")),
    }

    step("promise tracking, on vs off");
    match tracking::tracking(opts, &fleet, &t, &users, &logs, &mut res.failures).await {
        Ok(k) => res.tracking = Some(k),
        Err(e) => res.failures.push(format!("promise tracking: {e:#}")),
    }

    step("peers: nginx and HAProxy in front of the same powersources");
    run_peers(opts, &mut fleet, &t, &users, &names, &logs, &mut res).await;

    step("failover");
    match failover::failover(opts, &mut fleet, &t, &users, &names).await {
        Ok(f) => {
            res.failures.extend(failover::failures(&f));
            res.failover = Some(f);
        }
        Err(e) => res.failures.push(format!("failover: {e:#}")),
    }

    step("lose all");
    match lose_all::lose_all(&mut fleet, &t, &users, &names).await {
        Ok(l) => {
            res.failures.extend(lose_all::failures(&l));
            res.lose_all = Some(l);
        }
        Err(e) => res.failures.push(format!("lose all: {e:#}")),
    }

    res.memory = memory::peak(&fleet);
    drop(fleet);

    step("scaling: powersources, distinct users and replicas");
    run_scaling(opts, &t, &ids, &logs, &mut res).await;

    read_micro(opts, &mut res);
    finish(&mut res, t0);
    res
}

/// Reads criterion's estimates into `res` when the run has them (`--criterion-dir`; the
/// scaling section quotes the signing cost from them).
fn read_micro(opts: &Options, res: &mut Results) {
    if let Some(dir) = &opts.criterion_dir {
        match micro::micro(dir) {
            Ok(m) => res.micro = m,
            Err(e) => res.failures.push(format!("micro-benchmarks: {e:#}")),
        }
    }
}

/// Runs the peers scenario into `res` (its figures, or why it could not run).
async fn run_peers(
    opts: &Options,
    fleet: &mut fleet::Fleet,
    t: &Timing,
    users: &Arc<Vec<http::HeaderValue>>,
    names: &Arc<Vec<String>>,
    logs: &std::path::Path,
    res: &mut Results,
) {
    match peers::peers(opts, fleet, t, users, names, logs).await {
        Ok(p) => {
            res.failures.extend(peers::failures(&p));
            res.peers = Some(p);
        }
        Err(e) => res.failures.push(format!("peers: {e:#}")),
    }
}

/// Runs the scaling scenario into `res` (its figures and its points' failures, or why it could
/// not run).
async fn run_scaling(
    opts: &Options,
    t: &Timing,
    ids: &Arc<Vec<http::HeaderValue>>,
    logs: &std::path::Path,
    res: &mut Results,
) {
    match scaling::scaling(opts, t, ids, logs).await {
        Ok(s) => {
            res.failures
                .extend(s.failures.iter().map(|f| format!("scaling: {f}")));
            res.scaling = Some(s);
        }
        Err(e) => res.failures.push(format!("scaling: {e:#}")),
    }
}

/// Judges the targets and records how long the run took.
fn finish(res: &mut Results, t0: Instant) {
    res.targets = targets::targets(res);
    res.duration_s = t0.elapsed().as_secs_f64();
}
