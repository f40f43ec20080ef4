//! The cost of measuring the promises live (superpower's identity check and its per-second
//! ring), in the same run: an A/B of the fleet's superpower and a second one with
//! `--no-promise-tracking` in front of the same 3 powersources, at maximum throughput, the same
//! returning users, in interleaved rounds whose order alternates (so a burst of other work on the
//! machine hurts both sides alike); each side is charged its own superpower's CPU time only.
//!
//! Every answer of the "on" side is an identity check (the users send their signed cookie, and
//! both superpowers share the bench's cookie key): it must have checked identities and seen no
//! change, otherwise the comparison would measure nothing, or a broken promise.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{ensure, Context};
use http::header::HeaderValue;

use super::fleet::{get, measure, start_superpower, Fleet};
use super::options::Options;
use super::progress::step;
use super::timing::{Timing, MAX_CONNECTIONS, RECORD_LIMIT};
use super::users::every_user_once;
use crate::load::{self, Names, Plan};
use crate::report::{median, Process, Tracking};

/// The value of counter `name` in `addr`'s `/metrics`.
async fn counter(addr: SocketAddr, name: &str) -> anyhow::Result<u64> {
    let (_, body) = get(addr, "/metrics").await?;
    let text = String::from_utf8_lossy(&body);
    let line = text
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .with_context(|| format!("{name} not in /metrics of {addr}"))?;
    Ok(line[name.len()..].trim().parse::<f64>()? as u64)
}

/// The best of `v` (0 for none).
fn best(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
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
    const CHECKS: &str = "superpower_identity_checks_total";
    let on = &fleet.superpower;
    let checks_before = counter(on.addr, CHECKS).await?;
    let flags = ["--no-promise-tracking".to_owned()];
    let process = Process::SuperpowerUntracked;
    let off = start_superpower(opts, logs, process, &fleet.powersources, &flags).await?;
    let sides = [(on, "on"), (&off, "off")];
    // both warmed with every user once (pools, prepared answers)
    for (p, _) in sides {
        let r = load::run(every_user_once(p.addr, users, Names::Ignore, RECORD_LIMIT)).await?;
        ensure!(
            r.failures() == 0,
            "warming {}: {}",
            p.name(),
            r.failure_summary()
        );
    }
    let mut res = Tracking {
        rounds: t.tracking_rounds,
        ..Tracking::default()
    };
    for round in 0..t.tracking_rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            let (p, name) = sides[side];
            step(&format!("on vs off, round {}: {name}", round + 1));
            let plan = Plan::new(p.addr, "/", MAX_CONNECTIONS, t.max).users(users);
            let m = measure(&[p], load::run(plan)).await?;
            failures.extend(
                m.report
                    .failed(&format!("max throughput, on vs off {name}")),
            );
            let (rps, cpu) = match side {
                0 => (&mut res.on_rps, &mut res.on_cpu_us_per_request),
                _ => (&mut res.off_rps, &mut res.off_cpu_us_per_request),
            };
            rps.push(m.report.rps);
            cpu.push(m.cpu_total());
        }
    }
    res.identity_checks = counter(on.addr, CHECKS).await? - checks_before;
    res.identity_changes = counter(on.addr, "superpower_identity_changes_total").await?;
    let off_checks = counter(off.addr, CHECKS).await?;
    ensure!(
        off_checks == 0,
        "the untracked superpower counted {off_checks} identity checks"
    );
    if res.identity_checks == 0 {
        failures.push("promise tracking on: no identity was checked".into());
    }
    if res.identity_changes > 0 {
        let n = res.identity_changes;
        failures.push(format!(
            "promise tracking on: {n} identity changes with the whole fleet up"
        ));
    }
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
