//! The cost of measuring the promises live (superpower's identity check and its per-second
//! ring, `superpower/src/promises.rs`), in the same run: a second superpower with
//! `--no-promise-tracking` in front of the same 3 powersources, an A/B ([`super::ab`]).
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

use super::ab::{best, versus};
use super::fleet::Fleet;
use super::options::Options;
use super::timing::Timing;
use crate::report::median;
use crate::report::{Process, Tracking};

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

/// Runs the comparison; a load run with failures is recorded in `failures`.
pub(super) async fn tracking(
    opts: &Options,
    fleet: &Fleet,
    t: &Timing,
    users: &Arc<Vec<HeaderValue>>,
    logs: &Path,
    failures: &mut Vec<String>,
) -> anyhow::Result<Tracking> {
    let on = &fleet.superpower;
    let checks_before = counter(on.addr, "superpower_identity_checks_total").await?;
    let untracked = (Process::SuperpowerUntracked, &["--no-promise-tracking"][..]);
    let (off, s) = versus(
        opts,
        fleet,
        logs,
        untracked,
        ["on", "off"],
        users,
        t,
        failures,
    )
    .await?;
    let mut res = Tracking {
        rounds: t.tracking_rounds,
        on_rps: s.rps[0].clone(),
        off_rps: s.rps[1].clone(),
        on_cpu_us_per_request: s.cpu_us[0].clone(),
        off_cpu_us_per_request: s.cpu_us[1].clone(),
        ..Tracking::default()
    };
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
