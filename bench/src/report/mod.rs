//! The results of a benchmark run: the JSON written to `var/bench/results.json`, the targets
//! judged against them, and the markdown table printed and written to `var/bench/results.md`.
//!
//! The types and the JSON (their `Serialize` form) are here; `names` has the names of what was
//! measured (mode, systems, tools, processes), `markdown` writes the markdown, one function per
//! section. Both forms are pinned by tests against `bench/testdata/`.

use serde::Serialize;

use crate::load::Report;

mod markdown;
mod names;

pub use markdown::thousands;
pub use names::{Mode, Process, System, Tool};

/// Everything one run measured.
#[derive(Debug, Default, Serialize)]
pub struct Results {
    /// `full` or `smoke` (every scenario for a second or two: the figures mean little).
    pub mode: Mode,
    /// When the run started (HTTP date).
    pub started: String,
    /// How long the run took, in seconds.
    pub duration_s: f64,
    /// What it ran on.
    pub machine: Machine,
    /// Extra environment of powersource and superpower (`--product-env`); empty: as shipped.
    pub product_env: Vec<String>,
    /// Throughput and latency of superpower, powersource and the references.
    pub e2e: Option<E2e>,
    /// One of three powersources killed and restarted under load.
    pub failover: Option<Failover>,
    /// The whole fleet down.
    pub lose_all: Option<LoseAll>,
    /// `loader ingest` speed.
    pub ingest: Option<Ingest>,
    /// Peak resident memory of each process the benchmark started.
    pub memory: Vec<Memory>,
    /// Criterion micro-benchmarks.
    pub micro: Vec<Micro>,
    /// The targets, judged.
    pub targets: Vec<Target>,
    /// What went wrong: any entry makes the command fail.
    pub failures: Vec<String>,
}

/// The machine.
#[derive(Debug, Default, Serialize)]
pub struct Machine {
    /// Cores the process may use.
    pub cpus: usize,
    /// `/proc/cpuinfo`'s model name.
    pub cpu_model: String,
    /// `/proc/meminfo`'s MemTotal, MiB.
    pub memory_mib: u64,
    /// Kernel release.
    pub kernel: String,
    /// `rustc --version`, when known.
    pub rustc: String,
    /// `/proc/loadavg` (1, 5, 15 minutes) when the run started: other work skews the figures.
    pub load_average: String,
}

/// One load run against one system.
#[derive(Debug, Serialize)]
pub struct Row {
    /// What was loaded.
    pub system: System,
    /// `generator` (rotating cookies or ids) or `oha` (one fixed request).
    pub tool: Tool,
    /// What it measured.
    pub report: Report,
    /// CPU time (user + system) the serving processes used per request, microseconds, summed.
    pub server_cpu_us_per_request: f64,
    /// The same per process.
    pub cpu_us_per_request: std::collections::BTreeMap<String, f64>,
}

/// The end-to-end scenario.
#[derive(Debug, Default, Serialize)]
pub struct E2e {
    /// Users (cookies) the load rotates over.
    pub users: usize,
    /// Connections of the maximum-throughput runs.
    pub connections: usize,
    /// Interleaved rounds of the generator's maximum-throughput runs (the best is kept).
    pub rounds: usize,
    /// Maximum throughput (closed loop).
    pub max: Vec<Row>,
    /// Constant rates (open loop, latency from the due time).
    pub rates: Vec<Row>,
    /// The high rate used: 5,000 req/s, or 80% of superpower's maximum when lower.
    pub high_rate: f64,
    /// superpower's maximum throughput over the two-tier reference's.
    pub superpower_vs_two_tier: f64,
    /// superpower's maximum throughput over the one-tier reference's.
    pub superpower_vs_one_tier: f64,
    /// powersource's maximum throughput over the one-tier reference's.
    pub powersource_vs_one_tier: f64,
}

impl E2e {
    /// The row of `system` measured by `tool` at `rate` (`None`: maximum throughput).
    pub fn row(&self, system: System, tool: Tool, rate: Option<f64>) -> Option<&Row> {
        let rows = if rate.is_some() {
            &self.rates
        } else {
            &self.max
        };
        rows.iter()
            .find(|r| r.system == system && r.tool == tool && r.report.rate == rate)
    }

    /// The report of [`E2e::row`].
    pub fn find(&self, system: System, tool: Tool, rate: Option<f64>) -> Option<&Report> {
        self.row(system, tool, rate).map(|r| &r.report)
    }
}

/// The failover scenario.
#[derive(Debug, Default, Serialize)]
pub struct Failover {
    /// The constant rate.
    pub rate: f64,
    /// Seconds into the window when the powersource was SIGKILLed.
    pub kill_at_s: f64,
    /// Seconds into the window when it was started again.
    pub restart_at_s: f64,
    /// Seconds after the restart until superpower had it back on the ring.
    pub back_on_ring_s: f64,
    /// The load during the window.
    pub window: Report,
    /// Every user once, after the window with the fleet whole again.
    pub after: Report,
    /// Users whose superpower changed during or after the window.
    pub changed_users: usize,
    /// `superpower probe identity` recorded before and checked after: exit status 0.
    pub probe_ok: bool,
}

/// The lose-all scenario.
#[derive(Debug, Default, Serialize)]
pub struct LoseAll {
    /// Known users (answered from the fallback cache): should all be 200, degraded.
    pub known: Report,
    /// Known users whose fallback superpower differed from theirs.
    pub changed_users: usize,
    /// Unknown users (no cookie): should all be 503.
    pub unknown: Report,
}

/// The ingest scenario.
#[derive(Debug, Default, Serialize)]
pub struct Ingest {
    /// Characters in the dataset.
    pub characters: usize,
    /// Bytes of images in the dataset.
    pub image_bytes: u64,
    /// Wall time of each `loader ingest` run (process start to exit), seconds.
    pub runs_s: Vec<f64>,
    /// Their median.
    pub median_s: f64,
    /// Characters per second over the median.
    pub characters_per_s: f64,
    /// Image megabytes (10^6) per second over the median.
    pub mb_per_s: f64,
}

/// Peak memory of one process.
#[derive(Debug, Serialize)]
pub struct Memory {
    /// The process.
    #[serde(rename = "name")]
    pub process: Process,
    /// `VmHWM`, MiB (the largest over its lives, for a restarted process).
    pub peak_rss_mib: f64,
}

/// One criterion benchmark.
#[derive(Debug, Serialize)]
pub struct Micro {
    /// Its id (`group/function`).
    pub id: String,
    /// Mean time per iteration, nanoseconds.
    pub mean_ns: f64,
}

/// A target and whether the run met it.
#[derive(Debug, Serialize)]
pub struct Target {
    /// What is measured.
    pub what: String,
    /// The target.
    pub target: String,
    /// The figure.
    pub figure: String,
    /// Met; `None` when it could not be judged (scenario failed, or smoke mode's small dataset).
    pub pass: Option<bool>,
}

/// Prints the markdown and writes `results.json` and `results.md` into `out`.
///
/// # Errors
/// When the files cannot be written.
pub fn write(results: &Results, out: &std::path::Path) -> std::io::Result<()> {
    let md = results.markdown();
    println!("{md}");
    std::fs::create_dir_all(out)?;
    let json = serde_json::to_string_pretty(results).map_err(std::io::Error::other)?;
    std::fs::write(out.join("results.json"), json + "\n")?;
    std::fs::write(out.join("results.md"), md)?;
    Ok(())
}

#[cfg(test)]
mod sample;

#[cfg(test)]
mod tests {
    #[test]
    fn the_json_of_a_full_run_is_unchanged() {
        let json = serde_json::to_string_pretty(&super::sample::results()).unwrap() + "\n";
        assert_eq!(json, include_str!("../../testdata/results.json"));
    }
}
