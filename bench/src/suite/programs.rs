//! The release binaries the suite runs: where they are, and running one to completion with its
//! output in a log.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};

use super::options::Options;

/// The path of the release binary `name`; fails when it was not built.
pub(super) fn bin(opts: &Options, name: &str) -> anyhow::Result<PathBuf> {
    let p = opts.bin_dir.join(name);
    ensure!(
        p.is_file(),
        "{} is missing: build it (cargo build --release -p powersource -p superpower -p loader -p bench)",
        p.display()
    );
    Ok(p)
}

/// Runs a program to completion, its output appended to `log`; fails on a non-zero exit.
pub(super) async fn run_logged(
    program: &Path,
    args: &[String],
    log: &Path,
) -> anyhow::Result<Duration> {
    let file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    let start = Instant::now();
    let status = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .kill_on_drop(true)
        .status()
        .await
        .with_context(|| format!("cannot run {}", program.display()))?;
    let took = start.elapsed();
    ensure!(
        status.success(),
        "{} {} exited with {status} (see {})",
        program.display(),
        args.join(" "),
        log.display()
    );
    Ok(took)
}
