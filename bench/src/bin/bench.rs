//! `bench [--smoke | --soak | --soak-seconds N]`: runs the benchmark suite (or the soak alone)
//! and writes `results.json` with its schema, `results.schema.json` (`bench/render.py` renders
//! them). Exits 1 when a scenario failed or the soak's verdict is not met (not when another
//! target is missed). `bench --schema` prints the schema.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

#[derive(Parser)]
#[command(about = "superpower's benchmark suite (use bench/run.sh, which builds what it needs)")]
struct Cli {
    /// Every scenario for a second or two: catches rot, the figures mean little.
    #[arg(long, conflicts_with_all = ["soak", "soak_seconds"])]
    smoke: bool,
    /// The soak alone, for 10 minutes: returning users at 500 req/s while powersources are
    /// killed, frozen and restarted.
    #[arg(long, conflicts_with = "soak_seconds")]
    soak: bool,
    /// The soak alone, for this many seconds (at least 30).
    #[arg(long, value_parser = soak_seconds)]
    soak_seconds: Option<Duration>,
    /// Only the scaling scenario (3/10/30 powersources, 1k/100k/1M users on a front end of two
    /// replicas with every powersource killed, one replica vs two, DNS membership).
    #[arg(long, conflicts_with_all = ["soak", "soak_seconds"])]
    only_scaling: bool,
    /// Only the peers' saturation runs (ingest, the fleet, nginx and HAProxy, oha with one
    /// cookie): about a minute, to A/B superpower's speed against nginx's.
    #[arg(long, conflicts_with_all = ["soak", "soak_seconds", "only_scaling"])]
    only_peers: bool,
    /// The seed of the soak's fault schedule: the same seed, the same faults at the same times.
    #[arg(long, default_value_t = bench::suite::SOAK_SEED)]
    soak_seed: u64,
    /// Where results, logs, stores and the generated dataset go.
    #[arg(long, default_value = "var/bench")]
    out: PathBuf,
    /// Where the release binaries are.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Where criterion wrote its estimates; without it the micro-benchmarks are not reported.
    #[arg(long)]
    criterion_dir: Option<PathBuf>,
    /// An environment variable for powersource and superpower, `KEY=VALUE` (repeatable), e.g.
    /// `RUST_LOG=info,access=off` to measure the access log's cost.
    #[arg(long, value_parser = parse_env)]
    product_env: Vec<(String, String)>,
    /// `rustc --version`, for the machine line.
    #[arg(long, default_value = "")]
    rustc: String,
    /// Print the JSON Schema of `results.json` and exit.
    #[arg(long, exclusive = true)]
    schema: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    if cli.schema {
        println!(
            "{}",
            serde_json::to_string_pretty(&bench::report::schema())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let opts = bench::suite::Options {
        smoke: cli.smoke,
        soak: cli
            .soak_seconds
            .or(cli.soak.then_some(bench::suite::SOAK_FULL)),
        only_scaling: cli.only_scaling,
        only_peers: cli.only_peers,
        soak_seed: cli.soak_seed,
        out: cli.out,
        bin_dir: cli.bin_dir,
        criterion_dir: cli.criterion_dir,
        rustc: cli.rustc,
        product_env: cli.product_env,
    };
    let results = bench::suite::run(&opts).await;
    bench::report::write(&results, &opts.out)?;
    Ok(if results.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn soak_seconds(s: &str) -> Result<Duration, String> {
    let n: u64 = s.parse().map_err(|e| format!("{e}"))?;
    let d = Duration::from_secs(n);
    if d < bench::suite::SOAK_MIN {
        return Err(format!(
            "at least {} s: the RSS verdict needs samples after the warm-up",
            bench::suite::SOAK_MIN.as_secs()
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
