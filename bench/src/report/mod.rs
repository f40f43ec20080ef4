//! The results of a run: their types, `results.json` and its JSON Schema (generated from the
//! types: each doc is a description), which `bench/render.py` validates and renders.

use std::path::Path;

use schemars::JsonSchema;
use serde::Serialize;

use crate::load::Report;

mod names;

pub use names::{FaultKind, FrontEnd, Mode, Process, System, Tool};

/// The results' file name in the output directory.
pub const RESULTS_FILE: &str = "results.json";
/// The schema's file name, beside the results (their `$schema`).
pub const SCHEMA_FILE: &str = "results.schema.json";
/// The version of the results' form: raised when a field is removed, renamed or changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// `results.json`: one benchmark run's results, with the schema they follow.
#[derive(Serialize, JsonSchema)]
#[schemars(title = "superpower benchmark results")]
pub struct Document<'a> {
    /// The schema, relative to this file: `results.schema.json` beside it.
    #[serde(rename = "$schema")]
    pub schema: &'a str,
    /// The version of the results' form.
    #[schemars(extend("const" = SCHEMA_VERSION))]
    pub schema_version: u32,
    /// What the run measured.
    #[serde(flatten)]
    pub results: &'a Results,
}

/// The JSON Schema of `results.json` ([`Document`]), as the bench writes it.
pub fn schema() -> schemars::Schema {
    schemars::generate::SchemaSettings::default()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<Document<'static>>()
}

/// Writes `results.json` and `results.schema.json` into `out` (errors: when they cannot be).
pub fn write(results: &Results, out: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let doc = Document {
        schema: SCHEMA_FILE,
        schema_version: SCHEMA_VERSION,
        results,
    };
    std::fs::write(out.join(RESULTS_FILE), pretty(&doc)?)?;
    std::fs::write(out.join(SCHEMA_FILE), pretty(&schema())?)
}

/// `v` as indented JSON with a final newline.
fn pretty(v: &impl Serialize) -> std::io::Result<String> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(std::io::Error::other)
}

/// Everything one run measured.
#[derive(Debug, Default, Serialize, JsonSchema)]
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
    /// superpower with and without `--no-promise-tracking`, same run.
    pub tracking: Option<Tracking>,
    /// nginx and HAProxy beside superpower, in front of the same powersources.
    pub peers: Option<Peers>,
    /// One of three powersources killed and restarted under load.
    pub failover: Option<Failover>,
    /// How cost grows with powersources and with distinct users.
    pub scaling: Option<Scaling>,
    /// The whole fleet down.
    pub lose_all: Option<LoseAll>,
    /// Returning users for minutes while powersources fail (`bench --soak` only).
    pub soak: Option<Soak>,
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
#[derive(Debug, Default, Serialize, JsonSchema)]
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
#[derive(Debug, Serialize, JsonSchema)]
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

/// Maximum throughput of superpower as shipped ("on") and `--no-promise-tracking` ("off").
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Tracking {
    /// Rounds (each one run per side).
    pub rounds: usize,
    /// Answers per second of each "on" run.
    pub on_rps: Vec<f64>,
    /// Answers per second of each "off" run.
    pub off_rps: Vec<f64>,
    /// The best "on" run.
    pub on_best_rps: f64,
    /// The best "off" run.
    pub off_best_rps: f64,
    /// `on_best_rps / off_best_rps`: 1.0 means the tracking costs nothing measurable.
    pub on_vs_off: f64,
    /// CPU microseconds per request of the "on" superpower process, each run.
    pub on_cpu_us_per_request: Vec<f64>,
    /// The same of the "off" one.
    pub off_cpu_us_per_request: Vec<f64>,
    /// The median of `on_cpu_us_per_request`.
    pub on_median_cpu_us: f64,
    /// The median of `off_cpu_us_per_request`.
    pub off_median_cpu_us: f64,
    /// Identity checks the "on" side made (its warm-up included).
    pub identity_checks: u64,
    /// Identity changes it saw (must be 0: the whole fleet is up).
    pub identity_changes: u64,
}

/// The end-to-end scenario.
#[derive(Debug, Default, Serialize, JsonSchema)]
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
    /// The report of `system` measured by `tool` at `rate` (`None`: maximum throughput).
    pub fn find(&self, system: System, tool: Tool, rate: Option<f64>) -> Option<&Report> {
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

/// nginx and HAProxy beside superpower, in front of the same 3 powersources, in the same run.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Peers {
    /// The peers' versions (`nginx -v`, `haproxy -v`).
    pub versions: std::collections::BTreeMap<FrontEnd, String>,
    /// Users the rate runs rotate over.
    pub users: usize,
    /// Every user once through each peer, checked against the character superpower gave.
    pub same_character: Vec<PeerRun>,
    /// Maximum throughput with oha (one cookie, closed loop): each front end's median round.
    pub max: Vec<PeerRun>,
    /// The paired rounds of `max` (every front end once each, the order reversed every other).
    pub max_rounds: Vec<PairedRound>,
    /// Constant rates with the generator (rotating users, each one's character checked).
    pub rates: Vec<PeerRun>,
    /// The latency fault on one powersource, ms.
    pub slow_ms: u64,
    /// One powersource slowed by `slow_ms`, at a constant rate.
    pub slow: Vec<PeerRun>,
    /// The failover windows' constant rate: the highest every front end held.
    pub failover_rate: f64,
    /// One powersource killed and restarted under a constant rate, per front end.
    pub failover: Vec<PeerFailover>,
    /// Every powersource killed: what each front end answers (known users).
    pub lose_all: Vec<PeerRun>,
}

/// One paired round of the peers' maximum throughput: superpower beside nginx.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub struct PairedRound {
    /// superpower's req/s over nginx's.
    pub rps_ratio: f64,
    /// superpower's p99 at saturation, ms.
    pub superpower_p99_ms: f64,
    /// nginx's p99 at saturation, ms.
    pub nginx_p99_ms: f64,
}

/// The medians of the rounds' req/s ratios and p99s (superpower's, nginx's); `None` without.
pub fn paired_medians(rounds: &[PairedRound]) -> Option<(f64, f64, f64)> {
    let of = |f: fn(&PairedRound) -> f64| median(&rounds.iter().map(f).collect::<Vec<_>>());
    (!rounds.is_empty()).then(|| {
        (
            of(|r| r.rps_ratio),
            of(|r| r.superpower_p99_ms),
            of(|r| r.nginx_p99_ms),
        )
    })
}

/// The median of `v` (0 for none).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// One load run against one front end of the peers scenario.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PeerRun {
    /// The front end.
    pub front_end: FrontEnd,
    /// What was measured.
    pub report: Report,
    /// CPU time (user + system) of the front end and the powersources per request, µs.
    pub server_cpu_us_per_request: f64,
}

/// One front end's failover window in the peers scenario.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PeerFailover {
    /// The front end.
    pub front_end: FrontEnd,
    /// Seconds into the window when the powersource was SIGKILLed.
    pub kill_at_s: f64,
    /// Seconds into the window when it was started again.
    pub restart_at_s: f64,
    /// The load during the window.
    pub window: Report,
    /// Users whose character changed during the window.
    pub changed_users: usize,
}

/// How cost grows: with more powersources, more distinct users, a second replica.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Scaling {
    /// One fresh fleet per size.
    pub instances: Vec<InstancesPoint>,
    /// One fresh front end of two replicas per count of users (in front of 3 powersources).
    pub users: Vec<UsersPoint>,
    /// Returning users on one replica, then both (the first users point's front end).
    pub replicas: Vec<ReplicasRun>,
    /// The largest fleet again, found through one DNS name with all its addresses.
    pub dns: Option<DnsPoint>,
    /// Why the DNS run was not measured, when it was not.
    pub dns_not_measured: Option<String>,
    /// The points that failed (each one is also a failure of the run).
    pub failures: Vec<String>,
}

/// superpower finding its powersources through one DNS name (`--powersource-dns`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct DnsPoint {
    /// Addresses behind the name (one powersource each).
    pub addresses: usize,
    /// `--dns-interval-ms`.
    pub dns_interval_ms: u64,
    /// Seconds from superpower's start until all of them were on its ring.
    pub all_on_ring_s: f64,
    /// Maximum throughput then (generator, rotating users).
    pub max: Report,
}

/// superpower in front of `powersources` instances.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InstancesPoint {
    /// Powersources on the ring.
    pub powersources: usize,
    /// Maximum throughput (generator, rotating users).
    pub max: Report,
    /// 1,000 req/s.
    pub at_rate: Report,
    /// superpower's RSS after both, MiB.
    pub superpower_rss_mib: f64,
}

/// `users` distinct users once each through replica A of a fresh front end of two, then as
/// many others; a sample of the first back with their cookies on each, every powersource dead.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct UsersPoint {
    /// Distinct users.
    pub users: usize,
    /// Throughput of the first pass.
    pub rps: f64,
    /// Its p99, ms.
    pub p99_ms: f64,
    /// Its failures.
    pub errors: u64,
    /// Each replica's RSS before the pass (warmed up), after it and after a second pass.
    pub rss: Vec<ReplicaRss>,
    /// A's RSS growth over the first pass, bytes per user (what is kept, and warm-up).
    pub first_bytes_per_user: f64,
    /// A's RSS growth over the second pass, bytes per user: what is kept (the goal: 0).
    pub bytes_per_user: f64,
    /// Returning users sampled, spread evenly over the pass.
    pub sampled: usize,
    /// The size of their `superpower_last` cookie, as their answers set it.
    pub cookie: CookieSize,
    /// The sample asked on each replica with every powersource dead.
    pub returning: Vec<ReturningRun>,
}

/// One replica's RSS around the two passes of new users.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReplicaRss {
    /// The replica.
    pub replica: Process,
    /// Before the first pass, MiB.
    pub before_mib: f64,
    /// After it, MiB.
    pub after_mib: f64,
    /// After the second, MiB.
    pub after_second_mib: f64,
}

/// The size of the `superpower_last` cookie (the largest of a sample).
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct CookieSize {
    /// Its value, `ID.TAG`, bytes.
    pub value_bytes: usize,
    /// The whole `Set-Cookie: …` header line with its CRLF, bytes.
    pub set_cookie_bytes: usize,
    /// What it adds to every later request's `Cookie` header, bytes.
    pub request_bytes: usize,
}

/// Returning users asked once on one replica, every powersource dead.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReturningRun {
    /// The replica asked.
    pub replica: Process,
    /// Answered 200 with the superpower recorded for them.
    pub kept: u64,
    /// Answered 200 with another one (must be 0).
    pub changed: u64,
    /// Not answered 200.
    pub failed: u64,
    /// The load.
    pub report: Report,
}

/// Maximum throughput of returning users on `replicas` replicas of one front end.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReplicasRun {
    /// 1: every connection to replica A (B idle); 2: the connections spread over A and B.
    pub replicas: usize,
    /// Connections of the load.
    pub connections: usize,
    /// The best round (closed loop).
    pub max: Report,
    /// Each round's answers per second.
    pub rounds_rps: Vec<f64>,
    /// CPU time of the replicas loaded and the powersources per request in the best round, µs.
    pub server_cpu_us_per_request: f64,
}

/// The failover scenario.
#[derive(Debug, Default, Serialize, JsonSchema)]
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
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct LoseAll {
    /// Known users (identity and signed cookie): should all be 200, degraded, their superpower.
    pub known: Report,
    /// Known users answered another superpower than theirs.
    pub changed_users: usize,
    /// Unknown users (no cookie): should all be 503.
    pub unknown: Report,
}

/// The soak: returning users at a constant rate for minutes, while the powersources are
/// killed, frozen and restarted at random on a seeded schedule.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Soak {
    /// Seconds of load asked.
    pub seconds: f64,
    /// The constant rate.
    pub rate: f64,
    /// Returning users: fixed cookies, each one back every `users / rate` seconds.
    pub users: usize,
    /// The seed of the fault schedule: the same seed gives the same faults at the same times.
    pub seed: u64,
    /// Answers slower than this (ms) are listed among the load's incidents, with the failed
    /// and wrongly named ones.
    pub slow_ms: f64,
    /// At most this many of the 3 powersources are impaired at once (from a fault until it is
    /// recovered and superpower has had time to take the instance back): never all three.
    pub max_impaired: usize,
    /// Faults injected, by kind.
    pub faults: std::collections::BTreeMap<FaultKind, u64>,
    /// Restarts whose SIGTERM did not stop the powersource within the grace (then SIGKILLed).
    pub slow_stops: usize,
    /// The load over the whole run.
    pub load: Report,
    /// Every user once after the run, the fleet whole again.
    pub after: Report,
    /// Users whose superpower differed from the one recorded at the start, during or after.
    pub changed_users: usize,
    /// Processes that exited without being told to (a crash), with when and how; each
    /// powersource among them was started again so the run could go on.
    pub unexpected_exits: Vec<String>,
    /// How the RSS figures are taken and judged.
    pub rss_rule: RssRule,
    /// RSS of superpower and of each powersource.
    pub rss: Vec<Rss>,
    /// Every fault, in order.
    pub fault_log: Vec<Fault>,
}

/// One fault the soak injected.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Fault {
    /// Seconds into the run when it was injected.
    pub at_s: f64,
    /// The powersource.
    pub process: Process,
    /// What was done to it.
    pub kind: FaultKind,
    /// Seconds into the run when it was running again (started again, or sent SIGCONT).
    pub recovered_at_s: f64,
}

/// How RSS is sampled and when it counts as flat.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct RssRule {
    /// `VmRSS` of every process is read this often (seconds).
    pub sample_every_s: f64,
    /// Samples in the first seconds (caches and pools filling) are not judged.
    pub warm_up_s: f64,
    /// `start` is the median of this many samples right after the warm-up, `end` of the last
    /// this many.
    pub edge_samples: usize,
    /// Flat: `end ≤ start + max(tolerance_pct % of start, tolerance_mib)`, and ...
    pub tolerance_pct: f64,
    /// ... (the absolute floor of the tolerance, MiB) ...
    pub tolerance_mib: f64,
    /// ... the samples after the warm-up, cut into this many equal windows, do not have
    /// medians that rise from each window to the next by more than `step_pct` % of `start`
    /// each time (steady growth, however small the total).
    pub windows: usize,
    /// The rise per window that counts as growth, % of `start`.
    pub step_pct: f64,
}

/// The RSS of one process over the soak.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Rss {
    /// The process.
    pub process: Process,
    /// Times it was started (a powersource killed or restarted has several lives).
    pub lives: usize,
    /// Samples taken while it ran.
    pub samples: usize,
    /// MiB right after the warm-up (median of [`RssRule::edge_samples`]).
    pub start_mib: f64,
    /// The largest `VmHWM` of its lives, or the largest sample if higher, MiB.
    pub peak_mib: f64,
    /// MiB at the end (median of the last samples).
    pub end_mib: f64,
    /// The median of each window after the warm-up, MiB.
    pub window_mib: Vec<f64>,
    /// Judged flat by [`RssRule`].
    pub flat: bool,
    /// Why not, when not.
    pub why: Option<String>,
}

/// The ingest scenario.
#[derive(Debug, Default, Serialize, JsonSchema)]
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
#[derive(Debug, Serialize, JsonSchema)]
pub struct Memory {
    /// The process.
    #[serde(rename = "name")]
    pub process: Process,
    /// `VmHWM`, MiB (the largest over its lives, for a restarted process).
    pub peak_rss_mib: f64,
}

/// The criterion benchmark of signing the `superpower_last` cookie, quoted by the scaling section.
pub const MICRO_SIGN: &str = "promises/sign";
/// The one of reading and verifying it with the identity check (quoted beside it).
pub const MICRO_RECALL: &str = "promises/recall_tracked";

/// One criterion benchmark.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Micro {
    /// Its id (`group/function`).
    pub id: String,
    /// Mean time per iteration, nanoseconds.
    pub mean_ns: f64,
}

/// A target and whether the run met it.
#[derive(Debug, Serialize, JsonSchema)]
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON of a run that measured nothing, and the schema.
    fn minimal() -> (serde_json::Value, serde_json::Value) {
        let results = Results::default();
        let doc = Document {
            schema: SCHEMA_FILE,
            schema_version: SCHEMA_VERSION,
            results: &results,
        };
        (
            serde_json::to_value(&doc).unwrap(),
            serde_json::to_value(schema()).unwrap(),
        )
    }

    #[test]
    fn a_minimal_run_has_the_fields_the_schema_names() {
        let (doc, schema) = minimal();
        assert_eq!(doc["$schema"], SCHEMA_FILE);
        assert_eq!(doc["schema_version"], SCHEMA_VERSION);
        assert_eq!(
            schema["properties"]["schema_version"]["const"],
            SCHEMA_VERSION
        );
        let fields: Vec<&String> = doc.as_object().unwrap().keys().collect();
        let mut properties: Vec<&String> =
            schema["properties"].as_object().unwrap().keys().collect();
        properties.sort();
        let mut sorted = fields.clone();
        sorted.sort();
        assert_eq!(sorted, properties);
        for required in schema["required"].as_array().unwrap() {
            assert!(
                fields.iter().any(|f| *f == required),
                "{required} is missing"
            );
        }
    }

    #[test]
    fn the_docs_are_the_descriptions() {
        let (_, schema) = minimal();
        assert_eq!(
            schema["properties"]["duration_s"]["description"],
            "How long the run took, in seconds."
        );
        assert_eq!(
            schema["$defs"]["Latency"]["properties"]["p99_ms"]["description"],
            "99th percentile."
        );
    }

    /// render.py names what the bench writes: its file names, the criterion ids it quotes and
    /// a label for every system and front end.
    #[test]
    fn render_py_uses_the_names_of_the_json() {
        let py = include_str!("../../render.py");
        for file in [RESULTS_FILE, SCHEMA_FILE] {
            assert!(py.contains(file), "render.py does not name {file}");
        }
        let quoted =
            |s: String| assert!(py.contains(&format!("\"{s}\"")), "render.py lacks \"{s}\"");
        for s in [MICRO_SIGN, MICRO_RECALL] {
            quoted(s.into());
        }
        for s in [
            System::OneTier,
            System::TwoTier,
            System::Superpower,
            System::Powersource,
        ] {
            quoted(s.to_string());
        }
        for f in FrontEnd::ALL {
            quoted(f.to_string());
        }
    }
}
