//! How the suite runs: the `bench` command's options.

use std::path::PathBuf;
use std::time::Duration;

use super::timing::{SOAK_FULL, SOAK_MIN, SOAK_SEED};
use crate::report::FaultKind;

/// `bench [--smoke | --soak | --soak-seconds N]`: the benchmark suite (or the soak alone).
#[derive(Clone, Debug, clap::Parser)]
#[command(about = "superpower's benchmark suite (use bench/run.sh, which builds what it needs)")]
pub struct Options {
    /// Every scenario for a second or two: catches rot, the figures mean little.
    #[arg(long, conflicts_with_all = ["soak_full", "soak_seconds"])]
    pub smoke: bool,
    /// The soak alone, for 10 minutes: returning users at 500 req/s while powersources are
    /// killed, frozen and restarted.
    #[arg(long = "soak", conflicts_with = "soak_seconds")]
    pub soak_full: bool,
    /// The soak alone, for this many seconds (at least 30).
    #[arg(long, value_parser = soak_seconds)]
    pub soak_seconds: Option<Duration>,
    /// Only the scaling scenario (3/10/30 powersources, 1k/100k/1M users on a front end of two
    /// replicas with every powersource killed, one replica vs two, DNS membership).
    #[arg(long, conflicts_with_all = ["soak_full", "soak_seconds"])]
    pub only_scaling: bool,
    /// Only the peers' saturation runs (ingest, the fleet, nginx and HAProxy, oha with one
    /// cookie): about a minute, to A/B superpower's speed against nginx's.
    #[arg(long, conflicts_with_all = ["soak_full", "soak_seconds", "only_scaling"])]
    pub only_peers: bool,
    /// The seed of the soak's fault schedule: the same seed, the same faults at the same times.
    #[arg(long, default_value_t = SOAK_SEED)]
    pub soak_seed: u64,
    /// The faults the soak injects: verbs of the fault vocabulary (experiments/vocabulary.yaml)
    /// and restart (stop, then start); partition and drop need root.
    #[arg(long, value_delimiter = ',', default_values_t = FaultKind::SOAK_DEFAULT)]
    pub soak_faults: Vec<FaultKind>,
    /// Where results, logs, stores and the generated dataset go.
    #[arg(long, default_value = "var/bench")]
    pub out: PathBuf,
    /// Where the release binaries are.
    #[arg(long, default_value = "target/release")]
    pub bin_dir: PathBuf,
    /// Where criterion wrote its estimates; without it the micro-benchmarks are not reported.
    #[arg(long)]
    pub criterion_dir: Option<PathBuf>,
    /// An environment variable for powersource and superpower, `KEY=VALUE` (repeatable), e.g.
    /// `RUST_LOG=info,access=off` to measure the access log's cost.
    #[arg(long, value_parser = parse_env)]
    pub product_env: Vec<(String, String)>,
    /// `rustc --version`, for the machine line.
    #[arg(long, default_value = "")]
    pub rustc: String,
    /// Print the JSON Schema of `results.json` and exit.
    #[arg(long, exclusive = true)]
    pub schema: bool,
}

impl Options {
    /// How long the soak runs, when it runs (alone).
    pub fn soak(&self) -> Option<Duration> {
        self.soak_seconds.or(self.soak_full.then_some(SOAK_FULL))
    }
}

fn soak_seconds(s: &str) -> Result<Duration, String> {
    let d = Duration::from_secs(s.parse().map_err(|e| format!("{e}"))?);
    if d < SOAK_MIN {
        let min = SOAK_MIN.as_secs();
        return Err(format!(
            "at least {min} s: the RSS verdict needs samples after the warm-up"
        ));
    }
    Ok(d)
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}
