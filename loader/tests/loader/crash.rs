//! The crash test: `kill -9` of `loader ingest` at random moments never leaves a store unreadable
//! or mixed. Two datasets are ingested alternately, so the store must always hold exactly the
//! previous one or the new one, complete.

use std::time::Instant;

use common::store::Store;
use loader::dataset::Dataset;
use rand::{Rng, SeedableRng};

use crate::support::*;

/// How many kills.
const KILLS: usize = 24;

#[test]
fn kill_9_during_ingest_leaves_one_complete_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    // big enough that an ingest takes about a second with the debug binary
    let a = tmp.path().join("a");
    loader::sample::write_with(
        &a,
        &loader::sample::Options {
            count: 300,
            seed: 41,
            image_kib: Some(64),
            placeholders: true,
        },
    )
    .unwrap();
    // b: the same images, other records (changed descriptions, 20 fewer characters)
    let b = tmp.path().join("b");
    copy_dataset(&a, &b);
    let mut chars = characters(&b);
    chars.truncate(chars.len() - 20);
    for c in &mut chars {
        c["description"] = format!("(b) {}", c["description"].as_str().unwrap()).into();
    }
    write_characters(&b, &chars);
    let datasets = [Dataset::load(&a).unwrap(), Dataset::load(&b).unwrap()];
    assert_ne!(datasets[0].fingerprint(), datasets[1].fingerprint());

    // a first, complete ingest gives the store its "previous" dataset and the time an ingest takes
    let store = tmp.path().join("store");
    let started = Instant::now();
    ingest_ok(&a, &store);
    let full = started.elapsed();

    let seed = std::env::var("LOADER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("crash test: seed {seed} (set LOADER_CRASH_SEED to repeat), full ingest {full:?}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);

    let mut previous = 0; // index into datasets of what the store holds
    let (mut interrupted, mut kept_old, mut got_new) = (0, 0, 0);
    for round in 0..KILLS {
        let target = 1 - previous;
        let dir = if target == 0 { &a } else { &b };
        let mut child = loader()
            .args(["ingest", "--data", s(dir), "--store", s(&store)])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // the random moment of the kill is the point of this test, not a readiness wait
        let delay = full.mul_f64(rng.random_range(0.0..1.25));
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let opened = Store::open(&store)
            .unwrap_or_else(|e| panic!("round {round}: store does not open: {e}"));
        let snap = opened
            .current()
            .unwrap_or_else(|e| panic!("round {round}: {e}"))
            .unwrap_or_else(|| panic!("round {round}: store is empty"));
        let fp = snap.info().fingerprint.clone();
        drop(snap);
        let holds = datasets
            .iter()
            .position(|d| d.fingerprint() == fp)
            .unwrap_or_else(|| panic!("round {round}: unknown fingerprint {fp}"));
        assert!(holds == previous || holds == target);
        assert_holds(&opened, &datasets[holds]);
        if holds == previous {
            kept_old += 1;
        } else {
            got_new += 1;
        }
        eprintln!(
            "round {round}: killed after {delay:?}, store holds {}",
            if holds == target {
                "the new dataset"
            } else {
                "the previous dataset"
            }
        );
        previous = holds;
    }
    eprintln!("crash test: {interrupted} of {KILLS} kills interrupted an ingest; previous kept {kept_old}, new complete {got_new}");
    assert!(
        interrupted >= KILLS / 4,
        "too few kills landed during an ingest ({interrupted}); the test did not test"
    );
}
