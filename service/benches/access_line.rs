//! What the server records per request, old way against new, measured in the same run:
//! - `access_line/*`: one access-log event through a subscriber writing to `io::sink`, with
//!   tracing-subscriber's JSON formatter (`stock`) and with [`service::log_format`] (`ours`);
//! - `request_histogram/*`: one latency sample, the handle looked up with `metrics::histogram!`
//!   (`macro`) and from the per-thread table (`cached`), into the installed Prometheus recorder.
//!
//! `cargo bench -p service --bench access_line` (the ratios are printed at the end).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use tracing_subscriber::layer::SubscriberExt;

fn access_event(path: &str, trace_id: Option<&str>) {
    tracing::info!(
        target: service::log_format::ACCESS_TARGET,
        method = "GET",
        path = %path,
        route = "/",
        status = 200u16,
        duration_us = 1234u64,
        trace_id,
    );
}

fn stock() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_writer(std::io::sink),
    )
}

fn ours() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(service::log_format::layer(std::io::sink))
}

/// Nanoseconds per call of `f`, best of a few rounds (for the ratio line).
fn per_call(mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let n = 200_000;
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_nanos() as f64 / f64::from(n)
        })
        .fold(f64::INFINITY, f64::min)
}

/// One latency sample, the handle looked up by the macro (what the server did before).
fn macro_record() {
    metrics::histogram!(
        service::metrics::HTTP_REQUEST_DURATION,
        "method" => black_box("GET"),
        "route" => black_box("/"),
        "status" => black_box("200"),
    )
    .record(0.001);
}

/// One latency sample through the per-thread table.
fn cached_record() {
    service::metrics::record_http_request(black_box("GET"), black_box("/"), "200", 0.001);
}

fn bench(c: &mut Criterion) {
    let path = "/characters/1010925/fraulein-quartzmantle";
    let tid = Some("4bf92f3577b34da6a3ce929d0e0e4736");
    let stock = tracing::Dispatch::new(stock());
    let ours = tracing::Dispatch::new(ours());
    let mut g = c.benchmark_group("access_line");
    for (name, dispatch, trace_id) in [
        ("stock", &stock, None),
        ("ours", &ours, None),
        ("stock_with_trace_id", &stock, tid),
        ("ours_with_trace_id", &ours, tid),
    ] {
        g.bench_function(name, |b| {
            tracing::dispatcher::with_default(dispatch, || {
                b.iter(|| access_event(black_box(path), black_box(trace_id)))
            })
        });
    }
    g.finish();

    let _handle = service::metrics::install();
    let mut g = c.benchmark_group("request_histogram");
    g.bench_function("macro", |b| b.iter(macro_record));
    g.bench_function("cached", |b| b.iter(cached_record));
    g.finish();

    let line = |d: &tracing::Dispatch| {
        tracing::dispatcher::with_default(d, || per_call(|| access_event(black_box(path), None)))
    };
    let (s, o) = (line(&stock), line(&ours));
    println!(
        "access line: stock {s:.0} ns, ours {o:.0} ns: {:.2}x faster",
        s / o
    );
    let (m, k) = (per_call(macro_record), per_call(cached_record));
    println!(
        "request histogram: macro {m:.0} ns, cached {k:.0} ns: {:.2}x faster",
        m / k
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
