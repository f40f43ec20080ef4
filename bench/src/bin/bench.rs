//! `bench [--smoke]`: runs the benchmark suite, prints the markdown table and writes
//! `results.json` and `results.md`. Exits 1 when a scenario failed (not when a target is missed).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(about = "superpower's benchmark suite (use bench/run.sh, which builds what it needs)")]
struct Cli {
    /// Every scenario for a second or two: catches rot, the figures mean little.
    #[arg(long)]
    smoke: bool,
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
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let opts = bench::suite::Options {
        smoke: cli.smoke,
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

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}
