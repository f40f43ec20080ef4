//! `bench [--smoke | --soak | --soak-seconds N]`: runs the benchmark suite (or the soak alone)
//! and writes `results.json` with its schema, `results.schema.json` (`bench/render.py` renders
//! them). Exits 1 when a scenario failed or the soak's verdict is not met (not when another
//! target is missed). `bench --schema` prints the schema.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let opts = bench::suite::Options::parse();
    if opts.schema {
        let schema = serde_json::to_string_pretty(&bench::report::schema())?;
        println!("{schema}");
        return Ok(ExitCode::SUCCESS);
    }
    let results = bench::suite::run(&opts).await;
    bench::report::write(&results, &opts.out)?;
    Ok(if results.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
