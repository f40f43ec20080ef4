//! Each cache's byte bound is counted honestly: the memory a cache really holds (jemalloc's
//! statistics, in this test binary of its own) stays close to what it counts, so
//! `--answer-cache-bytes`, `--catalog-bytes` and `--image-cache-bytes` bound memory, not just
//! lengths. (The tests of one binary run one at a time here: `allocated` is the process's.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use service::api::CharacterView;
use superpower::answers::Answers;
use superpower::cache::{CachedImage, ImageCache};
use superpower::catalog::Catalog;
use superpower::model::Character;
use tikv_jemalloc_ctl::{epoch, stats};

/// One test at a time: jemalloc's count is the whole process's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Fails when `held` is more than 1.2× `counted`, or the cache did not fill to half its `bound`.
fn check(what: &str, held: usize, counted: usize, bound: usize) {
    eprintln!(
        "{what}: holds {held} bytes and counts {counted} ({:.2}×)",
        held as f64 / counted as f64
    );
    assert!(
        counted <= bound,
        "{what}: counted {counted} over the bound {bound}"
    );
    assert!(counted > bound / 2, "{what}: filled ({counted} of {bound})");
    assert!(
        held <= counted + counted / 5,
        "{what}: holds {held} bytes but counts {counted} ({:.2}×)",
        held as f64 / counted as f64
    );
}

/// jemalloc, as superpower runs with it: its statistics say how many bytes are allocated.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Bytes allocated now (jemalloc's `stats.allocated`: the size classes the allocations use).
fn allocated() -> usize {
    epoch::advance().unwrap();
    stats::allocated::read().unwrap()
}

fn body(id: u64) -> Vec<u8> {
    serde_json::to_vec(&CharacterView {
        id,
        name: format!("Character number {id}"),
        description: "Pulls the heat out of the air, and out of anyone who stands too close."
            .repeat(4),
        image_url: format!("/characters/{id}/image"),
        learn_more_url: Some(format!("https://example.com/characters/{id}")),
    })
    .unwrap()
}

#[test]
fn the_prepared_answers_hold_about_what_they_count() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    const BOUND: usize = 4 << 20;
    let answers = Answers::new(BOUND);
    // the bodies are made first: what they take is not the cache's
    let bodies: Vec<Vec<u8>> = (0..20_000).map(body).collect();
    let before = allocated();
    for b in &bodies {
        let prepared = answers
            .prepare(b, "powersource-1", |b| serde_json::from_slice(b), |e| e)
            .unwrap();
        drop(prepared);
    }
    let held = allocated().saturating_sub(before);
    check("prepared answers", held, answers.bytes(), BOUND);
}

#[test]
fn the_catalog_holds_about_what_it_counts() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    const BOUND: usize = 2 << 20;
    let catalog = Catalog::new(BOUND);
    let before = allocated();
    // a backend that brings a new character with every answer: the catalog stays in its bound
    for id in 0..20_000u64 {
        let view: CharacterView = serde_json::from_slice(&body(id)).unwrap();
        catalog.learn(&Arc::new(Character::from(view)));
    }
    let held = allocated().saturating_sub(before);
    check("catalog", held, catalog.bytes(), BOUND);
}

#[test]
fn the_image_cache_holds_about_what_it_counts() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    const BOUND: usize = 4 << 20;
    let images = ImageCache::new(BOUND, Duration::from_secs(60));
    let before = allocated();
    for id in 0..2_000u64 {
        // small images too, where an entry's overhead counts
        let n = if id % 2 == 0 { 200 } else { 9_000 };
        images.put(
            id,
            Arc::new(CachedImage {
                content_type: http::HeaderValue::from_static("image/png"),
                etag: Some(http::HeaderValue::from_str(&format!("\"{id:016x}\"")).unwrap()),
                bytes: Bytes::from(vec![7u8; n]),
            }),
        );
    }
    let held = allocated().saturating_sub(before);
    check("images", held, images.bytes(), BOUND);
}
