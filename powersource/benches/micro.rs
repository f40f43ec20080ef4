//! Micro-benchmark of powersource's per-request work: the assignment ring lookup over the
//! 1,500-character benchmark dataset's size.
//! Run with `cargo bench -p powersource --bench micro` (`bench/run.sh` runs it and reports it).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use powersource::assign::Assigner;
use service::api::valid_user_key;

fn assign(c: &mut Criterion) {
    let assigner = Assigner::new(1_000_000..1_001_500);
    let keys: Vec<String> = (0..1024u32)
        .map(|i| {
            format!(
                "user-{:016x}",
                u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            )
        })
        .collect();
    let mut i = 0;
    c.bench_function("assign/assign_1500", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            let key = black_box(keys[i].as_str());
            black_box(valid_user_key(key).then(|| assigner.assign(key)))
        })
    });
}

criterion_group!(benches, assign);
criterion_main!(benches);
