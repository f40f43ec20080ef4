//! Ingest speed: 1,500 characters with ~50 KiB images into one fresh store (target: < 3 s on the
//! 2-core machine). Run with `cargo bench -p loader --bench ingest`.
//!
//! Prints, per run, the time to load and validate the dataset (`Dataset::load`: JSON, every
//! image's header and digest), the time to ingest it (`ingest::ingest`: write, flush, switch),
//! and the total, with characters/s and MB/s of image data over the total.

use std::time::{Duration, Instant};

use common::store::Store;
use loader::dataset::Dataset;
use loader::{ingest, sample};

const CHARACTERS: usize = 1500;
const IMAGE_KIB: u32 = 50;
const RUNS: usize = 3;
const TARGET: Duration = Duration::from_secs(3);

fn main() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let t = Instant::now();
    let options = sample::Options {
        count: CHARACTERS,
        seed: 7,
        image_kib: Some(IMAGE_KIB),
        placeholders: false,
    };
    let written = sample::write_with(&data, &options).expect("sample");
    println!(
        "setup: {} characters, {} images, {:.1} MiB of images, generated in {:.2}s",
        written.characters,
        written.images,
        written.image_bytes as f64 / 1048576.0,
        t.elapsed().as_secs_f64()
    );

    let mut totals = Vec::new();
    for run in 1..=RUNS {
        let store_path = tmp.path().join(format!("store-{run}"));
        let t = Instant::now();
        let dataset = Dataset::load(&data).expect("dataset loads");
        let load = t.elapsed();
        let store = Store::open(&store_path).expect("store opens");
        let t = Instant::now();
        let report = ingest::ingest(&dataset, &store, &ingest::Options::default()).expect("ingest");
        let write = t.elapsed();
        let total = load + write;
        let mb = report.info.image_bytes as f64 / 1e6;
        println!(
            "run {run}: load+validate {:.3}s, ingest {:.3}s, total {:.3}s: {:.0} characters/s, {:.1} MB/s",
            load.as_secs_f64(),
            write.as_secs_f64(),
            total.as_secs_f64(),
            CHARACTERS as f64 / total.as_secs_f64(),
            mb / total.as_secs_f64()
        );
        // and again: the same dataset is recognised and nothing is written
        let t = Instant::now();
        let again =
            ingest::ingest(&dataset, &store, &ingest::Options::default()).expect("re-ingest");
        assert!(matches!(
            again.outcomes[0],
            ingest::Outcome::Unchanged { .. }
        ));
        println!(
            "run {run}: re-ingest of the same dataset (unchanged) {:.3}s",
            t.elapsed().as_secs_f64()
        );
        totals.push(total);
        drop(store);
        std::fs::remove_dir_all(&store_path).ok();
    }
    totals.sort();
    let median = totals[RUNS / 2];
    println!(
        "ingest of {CHARACTERS} characters with ~{IMAGE_KIB} KiB images: median {:.3}s ({:.0} characters/s), target < {}s: {}",
        median.as_secs_f64(),
        CHARACTERS as f64 / median.as_secs_f64(),
        TARGET.as_secs(),
        if median < TARGET { "met" } else { "MISSED" }
    );
}
