//! The results of a benchmark run: the JSON written to `var/bench/results.json`, the targets
//! judged against them, and the markdown table printed and written to `var/bench/results.md`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::load::Report;

/// Everything one run measured.
#[derive(Debug, Default, Serialize)]
pub struct Results {
    /// `full` or `smoke` (every scenario for a second or two: the figures mean little).
    pub mode: String,
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
    pub system: String,
    /// `generator` (rotating cookies or ids) or `oha` (one fixed request).
    pub tool: String,
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
    pub fn find(&self, system: &str, tool: &str, rate: Option<f64>) -> Option<&Report> {
        let rows = if rate.is_some() {
            &self.rates
        } else {
            &self.max
        };
        rows.iter()
            .find(|r| r.system == system && r.tool == tool && r.report.rate == rate)
            .map(|r| &r.report)
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
    pub name: String,
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

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// `12345.6` → `12,346`.
pub fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn failures_cell(r: &Report) -> String {
    let f = r.failures();
    if f == 0 {
        "0".into()
    } else {
        let mut parts: Vec<String> = r
            .unexpected_status
            .iter()
            .map(|(s, n)| format!("{n}×{s}"))
            .collect();
        parts.extend(r.errors.iter().map(|(e, n)| format!("{n}× {e}")));
        format!("{f} ({})", parts.join(", "))
    }
}

/// CPU per request, shown only when the run was long enough for the clock ticks (10 ms) and
/// the background work (health checks) to be small next to it.
fn cpu_cell(r: &Row) -> String {
    if r.report.requests >= 10_000 {
        format!("{:.1}", r.server_cpu_us_per_request)
    } else {
        "—".into()
    }
}

impl Results {
    /// The markdown form.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let m = &self.machine;
        let _ = writeln!(
            s,
            "## Benchmark results ({} run, {})\n\nMachine: {} CPUs ({}), {} MiB RAM, Linux {}, {}; \
             load average {} at the start. Everything (servers and load generator) shares these \
             CPUs. Run took {:.0} s.\n",
            self.mode,
            self.started,
            m.cpus,
            m.cpu_model,
            m.memory_mib,
            m.kernel,
            m.rustc,
            m.load_average,
            self.duration_s
        );
        if !self.product_env.is_empty() {
            let _ = writeln!(
                s,
                "**powersource and superpower ran with `{}`** (not as shipped).\n",
                self.product_env.join(" ")
            );
        }
        if let Some(e) = &self.e2e {
            let _ = writeln!(
                s,
                "### Maximum throughput (closed loop, {} connections; `GET /` as JSON, {} rotating users; generator: best of {} interleaved rounds)\n",
                e.connections, e.users, e.rounds
            );
            let _ = writeln!(
                s,
                "| system | tool | req/s | p50 ms | p99 ms | max ms | errors | server CPU µs/req |"
            );
            let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|");
            for r in &e.max {
                let l = &r.report.latency;
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    r.system,
                    r.tool,
                    thousands(r.report.rps),
                    ms(l.p50_ms),
                    ms(l.p99_ms),
                    ms(l.max_ms),
                    failures_cell(&r.report),
                    cpu_cell(r)
                );
            }
            let _ = writeln!(
                s,
                "\nsuperpower = **{:.3}×** the two-tier reference and **{:.3}×** the one-tier one; \
                 powersource = **{:.3}×** the one-tier reference (maximum throughput, generator).\n",
                e.superpower_vs_two_tier, e.superpower_vs_one_tier, e.powersource_vs_one_tier
            );
            let cpu = |prefix: &str| {
                e.rates
                    .iter()
                    .find(|r| {
                        r.system.starts_with(prefix)
                            && r.tool == "generator"
                            && r.report.rate == Some(e.high_rate)
                    })
                    .map(|r| {
                        let parts: Vec<String> = r
                            .cpu_us_per_request
                            .iter()
                            .map(|(k, v)| format!("{k} {v:.1}"))
                            .collect();
                        format!(
                            "**{:.1} µs** ({})",
                            r.server_cpu_us_per_request,
                            parts.join(", ")
                        )
                    })
                    .unwrap_or_else(|| "not measured".into())
            };
            let _ = writeln!(
                s,
                "CPU per request at {} req/s (what the throughput ratio comes from): superpower \
                 and its powersources {}; the two-tier reference {}; the one-tier reference {}.\n",
                thousands(e.high_rate),
                cpu("superpower"),
                cpu("two-tier"),
                cpu("one-tier")
            );
            let _ = writeln!(
                s,
                "### Constant rate (open loop; latency counted from when each request was due)\n"
            );
            let _ = writeln!(
                s,
                "| system | tool | asked req/s | got req/s | p50 ms | p99 ms | max ms | errors | server CPU µs/req |"
            );
            let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
            for r in &e.rates {
                let l = &r.report.latency;
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    r.system,
                    r.tool,
                    thousands(r.report.rate.unwrap_or(0.0)),
                    thousands(r.report.rps),
                    ms(l.p50_ms),
                    ms(l.p99_ms),
                    ms(l.max_ms),
                    failures_cell(&r.report),
                    cpu_cell(r)
                );
            }
            s.push('\n');
        }
        if let Some(f) = &self.failover {
            let w = &f.window;
            let _ = writeln!(
                s,
                "### Failover ({} req/s for {:.0} s; one of 3 powersources SIGKILLed at {:.1} s, restarted at {:.1} s)\n",
                thousands(f.rate), w.elapsed_s, f.kill_at_s, f.restart_at_s
            );
            let _ = writeln!(s, "| requests | errors | degraded | p50 ms | p99 ms | max ms | identity changes | back on ring after restart | probe identity |");
            let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|---|");
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {:.1} s | {} |\n",
                thousands(w.requests as f64),
                failures_cell(w),
                w.degraded,
                ms(w.latency.p50_ms),
                ms(w.latency.p99_ms),
                ms(w.latency.max_ms),
                f.changed_users,
                f.back_on_ring_s,
                if f.probe_ok { "OK" } else { "FAILED" }
            );
        }
        if let Some(l) = &self.lose_all {
            let _ = writeln!(s, "### Lose all (every powersource SIGKILLed)\n");
            let _ = writeln!(
                s,
                "| users | req/s | expected answer | got it | p50 ms | p99 ms | max ms | other |"
            );
            let _ = writeln!(s, "|---|---:|---|---:|---:|---:|---:|---:|");
            for (who, want, r) in [
                ("known (fallback)", "200, degraded", &l.known),
                ("unknown", "503", &l.unknown),
            ] {
                let _ = writeln!(
                    s,
                    "| {who} | {} | {want} | {} | {} | {} | {} | {} |",
                    thousands(r.rate.unwrap_or(0.0)),
                    thousands(r.expected as f64),
                    ms(r.latency.p50_ms),
                    ms(r.latency.p99_ms),
                    ms(r.latency.max_ms),
                    failures_cell(r)
                );
            }
            let _ = writeln!(
                s,
                "\nKnown users answered degraded: {} of {}; whose fallback superpower differed: {}.\n",
                l.known.degraded, l.known.requests, l.changed_users
            );
        }
        if let Some(i) = &self.ingest {
            let _ = writeln!(
                s,
                "### Ingest (`loader ingest`, {} characters, {:.1} MB of images)\n\n\
                 | runs (s) | median s | characters/s | MB/s |\n|---|---:|---:|---:|\n| {} | {:.2} | {} | {:.0} |\n",
                thousands(i.characters as f64),
                i.image_bytes as f64 / 1e6,
                i.runs_s.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", "),
                i.median_s,
                thousands(i.characters_per_s),
                i.mb_per_s
            );
        }
        if !self.memory.is_empty() {
            let _ = writeln!(s, "### Peak memory (VmHWM, after all the load)\n");
            let _ = writeln!(s, "| process | peak RSS MiB |\n|---|---:|");
            for m in &self.memory {
                let _ = writeln!(s, "| {} | {:.1} |", m.name, m.peak_rss_mib);
            }
            s.push('\n');
        }
        if !self.micro.is_empty() {
            let _ = writeln!(s, "### Micro-benchmarks (criterion, mean per call)\n");
            let _ = writeln!(s, "| benchmark | ns |\n|---|---:|");
            for m in &self.micro {
                let _ = writeln!(s, "| {} | {:.0} |", m.id, m.mean_ns);
            }
            s.push('\n');
        }
        let _ = writeln!(
            s,
            "### Targets\n\n| what | target | figure | verdict |\n|---|---|---|---|"
        );
        for t in &self.targets {
            let verdict = match t.pass {
                Some(true) => "PASS",
                Some(false) => "MISS",
                None => "—",
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {verdict} |",
                t.what, t.target, t.figure
            );
        }
        if !self.failures.is_empty() {
            let _ = writeln!(s, "\n### Errors\n");
            for f in &self.failures {
                let _ = writeln!(s, "- {}", f.replace('\n', " "));
            }
        }
        s
    }
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
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1234567.0), "1,234,567");
        assert_eq!(thousands(-4500.0), "-4,500");
    }

    #[test]
    fn a_miss_and_an_error_show_in_the_markdown() {
        let r = Results {
            mode: "smoke".into(),
            targets: vec![Target {
                what: "x".into(),
                target: "< 1".into(),
                figure: "2".into(),
                pass: Some(false),
            }],
            failures: vec!["scenario y failed".into()],
            ..Results::default()
        };
        let md = r.markdown();
        assert!(md.contains("| x | < 1 | 2 | MISS |"));
        assert!(md.contains("- scenario y failed"));
    }
}
