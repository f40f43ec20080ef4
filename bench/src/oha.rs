//! oha, the reference load tool: runs it with JSON output and reads its figures, to check the
//! benchmark's own generator against it on the same server in the same run.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{ensure, Context};
use serde::Deserialize;

use crate::load::{Latency, Report, REQUEST_TIMEOUT};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Output {
    summary: Summary,
    latency_percentiles: BTreeMap<String, Option<f64>>,
    #[serde(default)]
    status_code_distribution: BTreeMap<String, u64>,
    #[serde(default)]
    error_distribution: BTreeMap<String, u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    requests_per_sec: f64,
    total: f64,
    slowest: Option<f64>,
    average: Option<f64>,
}

/// Runs oha: `GET http://addr/path` as JSON (with `cookie`), at `rate` (latency-corrected).
/// Errors: oha could not run, failed, or wrote no JSON.
pub async fn run(
    addr: SocketAddr,
    path: &str,
    cookie: Option<&str>,
    connections: usize,
    duration: Duration,
    rate: Option<f64>,
) -> anyhow::Result<Report> {
    let mut cmd = tokio::process::Command::new("oha");
    cmd.args(["--no-tui", "--output-format", "json", "-w"])
        .args(["-t", &format!("{}ms", REQUEST_TIMEOUT.as_millis())])
        .args(["-c", &connections.to_string()])
        .args(["-z", &format!("{}ms", duration.as_millis())])
        .args(["-H", "Accept: application/json"]);
    if let Some(c) = cookie {
        cmd.args(["-H", &format!("Cookie: {c}")]);
    }
    if let Some(r) = rate {
        cmd.args(["-q", &format!("{r}"), "--latency-correction"]);
    }
    cmd.arg(format!("http://{addr}{path}"))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = cmd.output().await;
    let out = out.context("cannot run oha (install it: cargo install --locked oha)")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.success(),
        "oha exited with {}: {stderr}",
        out.status
    );
    let o: Output = serde_json::from_slice(&out.stdout).context("unreadable oha output")?;
    let ms = |k: &str| {
        o.latency_percentiles
            .get(k)
            .copied()
            .flatten()
            .unwrap_or(0.0)
            * 1000.0
    };
    let mut unexpected = BTreeMap::new();
    let mut expected = 0;
    for (k, v) in &o.status_code_distribution {
        match k.parse::<u16>() {
            Ok(200) => expected += v,
            Ok(s) => {
                unexpected.insert(s, *v);
            }
            Err(_) => {
                unexpected.insert(0, *v);
            }
        }
    }
    let requests = o.status_code_distribution.values().sum::<u64>()
        + o.error_distribution.values().sum::<u64>();
    Ok(Report {
        requests,
        expected,
        unexpected_status: unexpected,
        errors: o.error_distribution,
        rate,
        rps: o.summary.requests_per_sec,
        elapsed_s: o.summary.total,
        latency: Latency {
            p50_ms: ms("p50"),
            p90_ms: ms("p90"),
            p99_ms: ms("p99"),
            max_ms: o.summary.slowest.unwrap_or(0.0) * 1000.0,
            mean_ms: o.summary.average.unwrap_or(0.0) * 1000.0,
        },
        ..Report::default()
    })
}
