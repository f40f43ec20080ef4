//! The cost of measuring the promises live (superpower's identity check and its per-second
//! ring, `superpower/src/promises.rs`), in the same run: a second superpower with
//! `--no-promise-tracking` in front of the same 3 powersources, both loaded at maximum
//! throughput by the same users, in interleaved rounds whose order alternates (on, off; off,
//! on; …), so a burst of other work on the machine hurts both sides alike. Each side is
//! charged the CPU time of its superpower process only (the powersources serve both alike).
//!
//! The users are returning ones (their identity and the signed `superpower_last` cookie, which
//! both superpowers verify: they share the bench's cookie key), so every answer of the "on"
//! side is an identity check. It must have checked identities
//! (`superpower_identity_checks_total` > 0) and seen no change: otherwise the comparison would
//! measure nothing, or a broken promise.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{ensure, Context};
use http::header::HeaderValue;

use super::fleet::{start_superpower, Fleet};
use super::options::Options;
use super::progress::step;
use super::timing::{Timing, MAX_CONNECTIONS, RECORD_LIMIT};
use super::users::{cookies, every_user_once};
use crate::load::{self, Names, Plan};
use crate::procs::{Proc, MICROS_PER_TICK};
use crate::report::{Process, Tracking};

/// One maximum-throughput run at `p`: its answers per second and the CPU microseconds its
/// process used per request.
async fn run_once(
    p: &Proc,
    users: &Arc<Vec<HeaderValue>>,
    t: &Timing,
    failures: &mut Vec<String>,
    what: &str,
) -> anyhow::Result<(f64, f64)> {
    let mut plan = Plan::new(p.addr, "/", MAX_CONNECTIONS, t.max);
    plan.rotation = cookies(users);
    let before = p.cpu_ticks();
    let r = load::run(plan).await?;
    let after = p.cpu_ticks();
    if r.failures() > 0 {
        failures.push(format!("{what}: {}", r.failure_summary()));
    }
    let cpu = match (before, after) {
        (Some(b), Some(a)) => (a - b) as f64 * MICROS_PER_TICK / r.requests.max(1) as f64,
        _ => 0.0,
    };
    Ok((r.rps, cpu))
}

/// The value of counter `name` in `addr`'s `/metrics`.
async fn counter(addr: SocketAddr, name: &str) -> anyhow::Result<u64> {
    let client: hyper_util::client::legacy::Client<_, http_body_util::Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let resp = client
        .get(format!("http://{addr}/metrics").parse()?)
        .await?;
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await?
        .to_bytes();
    let text = String::from_utf8_lossy(&body);
    let line = text
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .with_context(|| format!("{name} not in /metrics of {addr}"))?;
    Ok(line[name.len()..].trim().parse::<f64>()? as u64)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Runs the comparison; a load run with failures is recorded in `failures`.
pub(super) async fn tracking(
    opts: &Options,
    fleet: &Fleet,
    t: &Timing,
    users: &Arc<Vec<HeaderValue>>,
    logs: &Path,
    failures: &mut Vec<String>,
) -> anyhow::Result<Tracking> {
    let off = start_superpower(
        opts,
        logs,
        Process::SuperpowerUntracked,
        &fleet.powersources,
        &["--no-promise-tracking".to_owned()],
    )
    .await?;
    let on = &fleet.superpower;
    // both warmed by every user once (pools, prepared answers)
    for p in [on, &off] {
        let r = load::run(every_user_once(p.addr, users, Names::Ignore, RECORD_LIMIT)).await?;
        ensure!(
            r.failures() == 0,
            "warming {}: {}",
            p.name(),
            r.failure_summary()
        );
    }
    let checks_before = counter(on.addr, "superpower_identity_checks_total").await?;
    let mut res = Tracking {
        rounds: t.tracking_rounds,
        ..Tracking::default()
    };
    for round in 0..t.tracking_rounds {
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for tracked in order {
            let (p, side) = if tracked { (on, "on") } else { (&off, "off") };
            step(&format!("promise tracking, round {}: {side}", round + 1));
            let what = format!("max throughput, promise tracking {side}");
            let (rps, cpu) = run_once(p, users, t, failures, &what).await?;
            if tracked {
                res.on_rps.push(rps);
                res.on_cpu_us_per_request.push(cpu);
            } else {
                res.off_rps.push(rps);
                res.off_cpu_us_per_request.push(cpu);
            }
        }
    }
    res.identity_checks =
        counter(on.addr, "superpower_identity_checks_total").await? - checks_before;
    res.identity_changes = counter(on.addr, "superpower_identity_changes_total").await?;
    let off_checks = counter(off.addr, "superpower_identity_checks_total").await?;
    ensure!(
        off_checks == 0,
        "the untracked superpower counted {off_checks} identity checks"
    );
    if res.identity_checks == 0 {
        failures.push("promise tracking on: no identity was checked".into());
    }
    if res.identity_changes > 0 {
        failures.push(format!(
            "promise tracking on: {} identity changes with the whole fleet up",
            res.identity_changes
        ));
    }
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    res.on_best_rps = best(&res.on_rps);
    res.off_best_rps = best(&res.off_rps);
    res.on_vs_off = if res.off_best_rps > 0.0 {
        res.on_best_rps / res.off_best_rps
    } else {
        0.0
    };
    res.on_median_cpu_us = median(&res.on_cpu_us_per_request);
    res.off_median_cpu_us = median(&res.off_cpu_us_per_request);
    Ok(res)
}
