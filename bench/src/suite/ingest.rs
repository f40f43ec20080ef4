//! The ingest scenario: `loader sample` once (kept under the output folder), then `loader
//! ingest` into a fresh store, timed from process start to exit.

use std::path::Path;

use anyhow::Context;

use super::options::Options;
use super::programs::{bin, run_logged};
use super::timing::Timing;
use crate::report::Ingest;

/// The size of each generated image.
const IMAGE_KIB: u32 = 50;

/// Bytes of the files under `dir`, recursively.
fn dir_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let m = e.metadata()?;
        total += if m.is_dir() {
            dir_bytes(&e.path())?
        } else {
            m.len()
        };
    }
    Ok(total)
}

/// Runs the ingest scenario.
pub(super) async fn ingest(opts: &Options, t: &Timing) -> anyhow::Result<Ingest> {
    let loader = bin(opts, "loader")?;
    let log = opts.out.join("logs").join("ingest.log");
    let data = opts
        .out
        .join(format!("dataset-{}x{IMAGE_KIB}k", t.ingest_characters));
    let done = data.join(".complete");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&data);
        let args = vec![
            "sample".into(),
            "--out".into(),
            data.display().to_string(),
            "--count".into(),
            t.ingest_characters.to_string(),
            "--image-kib".into(),
            IMAGE_KIB.to_string(),
            "--no-placeholders".into(),
        ];
        run_logged(&loader, &args, &log).await?;
        std::fs::write(&done, b"")?;
    }
    let image_bytes =
        dir_bytes(&data.join("images")).context("cannot size the dataset's images")?;
    let mut runs = Vec::new();
    for run in 1..=t.ingest_runs {
        let store = opts.out.join(format!("ingest-store-{run}"));
        let _ = std::fs::remove_dir_all(&store);
        let args = vec![
            "ingest".into(),
            "--data".into(),
            data.display().to_string(),
            "--store".into(),
            store.display().to_string(),
        ];
        let took = run_logged(&loader, &args, &log).await?;
        runs.push(took.as_secs_f64());
        let _ = std::fs::remove_dir_all(&store);
    }
    let mut sorted = runs.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    Ok(Ingest {
        characters: t.ingest_characters,
        image_bytes,
        runs_s: runs,
        median_s: median,
        characters_per_s: t.ingest_characters as f64 / median,
        mb_per_s: image_bytes as f64 / 1e6 / median,
    })
}
