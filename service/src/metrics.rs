//! Metric names, buckets and the process-wide Prometheus recorder.
//!
//! Every metric name the services emit is a `const` here. The dashboards, the Prometheus rules
//! and the experiments use the same strings, and a test in `dashboards/` checks them against a
//! live Prometheus.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram of every HTTP request a service answered; labels `method`, `route` (the route
/// template, never the raw path) and `status`. Both services emit it.
pub const HTTP_REQUEST_DURATION: &str = "http_server_request_duration_seconds";
/// Gauge: characters a powersource can serve (eligible ones in its store).
pub const POWERSOURCE_ELIGIBLE_CHARACTERS: &str = "powersource_eligible_characters";
/// Gauge: faults injected into a powersource right now; label `kind` (`latency`, `error`, `hang`).
pub const POWERSOURCE_FAULTS_ACTIVE: &str = "powersource_faults_active";
/// Histogram of superpower's calls to powersource; labels `instance` and `outcome`
/// (`ok`, `not_found`, `error`, `timeout`, `connect_error`, `hedge_lost`).
pub const SUPERPOWER_POWERSOURCE_REQUEST_DURATION: &str =
    "superpower_powersource_request_duration_seconds";
/// Gauge: healthy powersource instances on superpower's ring.
pub const SUPERPOWER_RING_MEMBERS: &str = "superpower_ring_members";
/// Gauge: powersource instances superpower knows of (healthy or not).
pub const SUPERPOWER_KNOWN_INSTANCES: &str = "superpower_known_instances";
/// Counter: requests that had to try another instance after the first one failed.
pub const SUPERPOWER_FAILOVERS_TOTAL: &str = "superpower_failovers_total";
/// Counter: answers served degraded because no instance answered: the superpower the user's
/// signed `superpower_last` cookie names, from the catalog.
pub const SUPERPOWER_FALLBACK_RESPONSES_TOTAL: &str = "superpower_fallback_responses_total";
/// Counter: requests sent a second time to another instance because the first was slow.
pub const SUPERPOWER_HEDGED_REQUESTS_TOTAL: &str = "superpower_hedged_requests_total";
/// Gauge: 1 when a resilience mechanism is on, 0 when off; label `mechanism`.
pub const SUPERPOWER_RESILIENCE_ENABLED: &str = "superpower_resilience_enabled";
/// Counter: answers of `GET /` (with a character) to a user superpower had already answered,
/// whose character was compared with the one it last gave that user (promise 1, measured
/// server-side). A degraded answer is a check that kept the character.
pub const SUPERPOWER_IDENTITY_CHECKS_TOTAL: &str = "superpower_identity_checks_total";
/// Counter: those checks whose character differed from the last one (promise 1 broken).
pub const SUPERPOWER_IDENTITY_CHANGES_TOTAL: &str = "superpower_identity_changes_total";

/// Histogram buckets, in seconds: from 1 ms to 5 s, with an edge exactly at the promise
/// ([`crate::promise::LATENCY_LIMIT`]; the recording rules select it, `le="1"`).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder once per process and returns its handle (for `/metrics`).
/// Later calls return the same handle, so tests may call it from every `spawn_app`.
///
/// # Panics
/// If another global `metrics` recorder was installed by someone else first.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("buckets are not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                })
                .expect("can spawn the metrics upkeep thread");
            describe();
            handle
        })
        .clone()
}

/// Records `seconds` in the [`HTTP_REQUEST_DURATION`] histogram of `method`, `route` and
/// `status`, through the handle the recorder gives for these labels, looked up once per thread
/// and label set, not per request (the lookup builds the key, hashes it and takes a registry
/// lock: the services record one sample per request). All three are `&'static str` from small
/// sets (methods, route templates, status labels), so the table stays small; it is keyed by the
/// strings' addresses and lengths, which is cheap, and two equal labels at different addresses
/// only cost one more entry for the same series.
///
/// Handles are kept only from the recorder [`install`] installs (no idle timeout is set on it,
/// so a series and its handle live as long as the process); before that, or without it, every
/// call asks the current recorder, as `metrics::histogram!` does. Once it is installed, a
/// recorder set for a thread with `metrics::with_local_recorder` does not see these samples.
pub fn record_http_request(
    method: &'static str,
    route: &'static str,
    status: &'static str,
    seconds: f64,
) {
    let lookup = || {
        metrics::histogram!(
            HTTP_REQUEST_DURATION,
            "method" => method,
            "route" => route,
            "status" => status,
        )
    };
    if HANDLE.get().is_none() {
        return lookup().record(seconds);
    }
    let key = [method, route, status].map(|s| (s.as_ptr() as usize, s.len()));
    HISTOGRAMS.with_borrow_mut(|table| table.entry(key).or_insert_with(lookup).record(seconds));
}

type LabelKey = [(usize, usize); 3];

thread_local! {
    static HISTOGRAMS: std::cell::RefCell<std::collections::HashMap<LabelKey, metrics::Histogram, foldhash::fast::FixedState>> =
        std::cell::RefCell::new(std::collections::HashMap::default());
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "HTTP requests answered, by route template"
    );
    describe_gauge!(
        POWERSOURCE_ELIGIBLE_CHARACTERS,
        "Characters this powersource can serve"
    );
    describe_gauge!(
        POWERSOURCE_FAULTS_ACTIVE,
        "Faults injected into this powersource, by kind"
    );
    describe_histogram!(
        SUPERPOWER_POWERSOURCE_REQUEST_DURATION,
        Unit::Seconds,
        "Calls from superpower to a powersource instance, by outcome"
    );
    describe_gauge!(
        SUPERPOWER_RING_MEMBERS,
        "Healthy powersource instances on the ring"
    );
    describe_gauge!(
        SUPERPOWER_KNOWN_INSTANCES,
        "Powersource instances known, healthy or not"
    );
    describe_counter!(
        SUPERPOWER_FAILOVERS_TOTAL,
        "Requests retried on another instance"
    );
    describe_counter!(
        SUPERPOWER_FALLBACK_RESPONSES_TOTAL,
        "Answers with the superpower the user's signed cookie names (no instance answered)"
    );
    describe_counter!(
        SUPERPOWER_HEDGED_REQUESTS_TOTAL,
        "Requests hedged to a second instance"
    );
    describe_gauge!(
        SUPERPOWER_RESILIENCE_ENABLED,
        "1 when a resilience mechanism is on"
    );
    describe_counter!(
        SUPERPOWER_IDENTITY_CHECKS_TOTAL,
        "Answers to returning users whose character was compared with the last one"
    );
    describe_counter!(
        SUPERPOWER_IDENTITY_CHANGES_TOTAL,
        "Answers to returning users whose character changed (promise 1 broken)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_promise_is_a_bucket_edge() {
        let limit = crate::promise::LATENCY_LIMIT.as_secs_f64();
        assert!(LATENCY_BUCKETS.contains(&limit));
        assert!(LATENCY_BUCKETS.windows(2).all(|w| w[0] < w[1]));
        assert!(LATENCY_BUCKETS[0] <= 0.001);
    }

    #[test]
    fn cached_histograms_are_the_series_the_macro_records_into() {
        let handle = install();
        let route = "/cached-histogram-test";
        // one series through the macro, then through the cache (twice: the second is a hit)
        metrics::histogram!(HTTP_REQUEST_DURATION, "method" => "GET", "route" => route, "status" => "200")
            .record(0.001);
        record_http_request("GET", route, "200", 0.002);
        record_http_request("GET", route, "200", 0.003);
        // an equal label at another address is the same series
        let other: &'static str = String::from("GET").leak();
        record_http_request(other, route, "200", 0.004);
        // another label set is another series
        record_http_request("GET", route, "404", 0.005);
        let text = handle.render();
        let count = |status: &str| {
            text.lines()
                .find(|l| {
                    l.starts_with("http_server_request_duration_seconds_count")
                        && l.contains(route)
                        && l.contains(&format!("status=\"{status}\""))
                })
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
        };
        assert_eq!(count("200"), Some(4), "{text}");
        assert_eq!(count("404"), Some(1), "{text}");
        let series = text
            .lines()
            .filter(|l| {
                l.starts_with("http_server_request_duration_seconds_count") && l.contains(route)
            })
            .count();
        assert_eq!(series, 2, "{text}");
    }

    #[test]
    fn install_twice_returns_one_recorder() {
        let a = install();
        metrics::counter!(SUPERPOWER_FAILOVERS_TOTAL).increment(1);
        let b = install();
        assert!(b.render().contains(SUPERPOWER_FAILOVERS_TOTAL));
        drop(a);
    }
}
