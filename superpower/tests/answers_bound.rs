//! The prepared answers' byte bound is counted honestly: the memory the cache really holds
//! (jemalloc's statistics, in this test binary of its own) stays close to what it counts, so
//! `--answer-cache-bytes` bounds memory, not just lengths.

use service::api::CharacterView;
use superpower::answers::Answers;
use tikv_jemalloc_ctl::{epoch, stats};

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
fn the_cache_holds_about_what_it_counts() {
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
    let counted = answers.bytes();
    eprintln!(
        "the cache holds {held} bytes and counts {counted} ({:.2}×)",
        held as f64 / counted as f64
    );
    assert!(counted <= BOUND, "counted {counted} over the bound {BOUND}");
    assert!(
        counted > BOUND / 2,
        "the cache filled ({counted} of {BOUND})"
    );
    assert!(
        held <= counted + counted / 5,
        "the cache holds {held} bytes but counts {counted} ({:.2}×)",
        held as f64 / counted as f64
    );
}
