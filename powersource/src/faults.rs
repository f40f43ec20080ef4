//! Fault injection: added latency (fixed + jitter), an error rate (HTTP 500) and hangs, on all
//! product routes or one, set from flags at start-up and through `/admin/faults` at run time.
//!
//! Faults apply to the product routes only ([`PRODUCT_ROUTES`]): never to `/health`, `/live`,
//! `/metrics` or the admin API. A hung or slow instance therefore still looks healthy to an
//! active health checker, which is exactly the failure a client's deadlines and hedging must
//! handle (and what makes the experiments interesting).
//!
//! The spec lives in an [`ArcSwap`]: the hot path is one atomic load and a branch when no fault
//! is set.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use common::http::body::{error_json, Response};
use common::metrics::POWERSOURCE_FAULTS_ACTIVE;
use http::header::{HeaderName, HeaderValue};
use http::StatusCode;
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::error::Error;

/// The route templates faults can apply to.
pub const PRODUCT_ROUTES: [&str; 4] = [
    "/characters/{id}",
    "/characters/{id}/image",
    "/assignments/{user_key}",
    "/random",
];

/// The largest latency or jitter accepted, in milliseconds (5 minutes).
pub const MAX_DELAY_MS: u64 = 300_000;

/// Header on an injected error, so nobody mistakes it for a real failure.
pub static FAULT_HEADER: HeaderName = HeaderName::from_static("x-powersource-fault");

/// The faults in force. JSON body of `GET|PUT /admin/faults`; a `PUT` sets the whole spec
/// (absent fields are zero/false/null).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSpec {
    /// Added latency, in milliseconds.
    pub latency_ms: u64,
    /// Random extra latency, uniform in `0..=jitter_ms`.
    pub jitter_ms: u64,
    /// Fraction of requests answered with HTTP 500, `0.0..=1.0`.
    pub error_rate: f64,
    /// Accept requests and never answer them (until shutdown).
    pub hang: bool,
    /// One route template from [`PRODUCT_ROUTES`], or `None` for all of them.
    pub route: Option<String>,
}

impl FaultSpec {
    /// Parses and validates an admin request body.
    ///
    /// # Errors
    /// [`Error::BadFaults`] with a message saying what is wrong.
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        let spec: FaultSpec = serde_json::from_slice(body)
            .map_err(|e| Error::BadFaults(format!("invalid fault spec: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks ranges and the route.
    ///
    /// # Errors
    /// [`Error::BadFaults`] naming the first bad field.
    pub fn validate(&self) -> Result<(), Error> {
        if self.latency_ms > MAX_DELAY_MS {
            return Err(Error::BadFaults(format!(
                "latency_ms must be at most {MAX_DELAY_MS}"
            )));
        }
        if self.jitter_ms > MAX_DELAY_MS {
            return Err(Error::BadFaults(format!(
                "jitter_ms must be at most {MAX_DELAY_MS}"
            )));
        }
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(Error::BadFaults(
                "error_rate must be between 0.0 and 1.0".into(),
            ));
        }
        if let Some(route) = &self.route {
            if !PRODUCT_ROUTES.contains(&route.as_str()) {
                return Err(Error::BadFaults(format!(
                    "route must be null or one of {}",
                    PRODUCT_ROUTES.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Whether any fault is set.
    pub fn is_active(&self) -> bool {
        self.latency_ms > 0 || self.jitter_ms > 0 || self.error_rate > 0.0 || self.hang
    }

    fn applies_to(&self, route: &str) -> bool {
        self.is_active() && self.route.as_deref().is_none_or(|r| r == route)
    }

    fn delay(&self) -> Duration {
        let jitter = if self.jitter_ms > 0 {
            rand::rng().random_range(0..=self.jitter_ms)
        } else {
            0
        };
        Duration::from_millis(self.latency_ms + jitter)
    }
}

/// The fault state of one powersource.
pub struct Faults {
    spec: ArcSwap<FaultSpec>,
    /// Requests being delayed or hung right now (tests wait on it instead of sleeping).
    held: AtomicUsize,
    /// Cancelled when shutdown starts, so hung requests end and the drain does not wait for
    /// them.
    shutdown: CancellationToken,
    /// Woken on every change, so clearing a hang releases the requests it holds.
    changed: Notify,
}

impl Faults {
    /// Fault state starting with `spec` (assumed valid); hung requests end when `shutdown` is
    /// cancelled.
    pub fn new(spec: FaultSpec, shutdown: CancellationToken) -> Self {
        let faults = Faults {
            spec: ArcSwap::from_pointee(FaultSpec::default()),
            held: AtomicUsize::new(0),
            shutdown,
            changed: Notify::new(),
        };
        faults.set(spec);
        faults
    }

    /// The faults in force.
    pub fn get(&self) -> FaultSpec {
        FaultSpec::clone(&self.spec.load())
    }

    /// Replaces the faults in force (the spec must be valid) and updates the gauge.
    pub fn set(&self, spec: FaultSpec) {
        for (kind, on) in [
            ("latency", spec.latency_ms > 0 || spec.jitter_ms > 0),
            ("error", spec.error_rate > 0.0),
            ("hang", spec.hang),
        ] {
            metrics::gauge!(POWERSOURCE_FAULTS_ACTIVE, "kind" => kind).set(f64::from(u8::from(on)));
        }
        if spec.is_active() {
            tracing::warn!(
                latency_ms = spec.latency_ms,
                jitter_ms = spec.jitter_ms,
                error_rate = spec.error_rate,
                hang = spec.hang,
                route = spec.route.as_deref().unwrap_or("all"),
                "faults set"
            );
        } else if self.spec.load().is_active() {
            tracing::info!("faults cleared");
        }
        self.spec.store(Arc::new(spec));
        self.changed.notify_waiters();
    }

    /// Requests being delayed or hung right now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Applies the faults in force to a request on `route`: waits out the latency, hangs, or
    /// answers an injected error. `None` means "go on and answer normally".
    pub async fn apply(&self, route: &'static str) -> Option<Response> {
        if !self.spec.load().applies_to(route) {
            return None;
        }
        let spec = self.spec.load_full();
        let _held = Held::new(&self.held);
        if spec.hang {
            return self.hang(route).await;
        }
        let delay = spec.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if spec.error_rate > 0.0 && rand::rng().random_bool(spec.error_rate) {
            let mut resp = error_json(StatusCode::INTERNAL_SERVER_ERROR, "injected fault");
            resp.headers_mut()
                .insert(FAULT_HEADER.clone(), HeaderValue::from_static("error"));
            return Some(resp);
        }
        None
    }
}

impl Faults {
    /// Holds a request while a hang applies to `route`. Shutdown ends it with 503 (so the drain
    /// does not wait for it); a change of faults that lifts the hang lets it be answered.
    async fn hang(&self, route: &'static str) -> Option<Response> {
        loop {
            // register for the wake-up before looking, so a change in between is not missed
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let spec = self.spec.load();
            if !(spec.hang && spec.applies_to(route)) {
                return None;
            }
            drop(spec);
            tokio::select! {
                () = self.shutdown.cancelled() => {
                    return Some(error_json(StatusCode::SERVICE_UNAVAILABLE, "shutting down"));
                }
                () = &mut changed => {}
            }
        }
    }
}

/// Counts a request in [`Faults::held`] while it lives, also when the client goes away and the
/// request future is dropped.
struct Held<'a>(&'a AtomicUsize);

impl<'a> Held<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Held(counter)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_validate() {
        let s = FaultSpec::parse(br#"{"latency_ms": 20, "route": "/random"}"#).unwrap();
        assert_eq!(s.latency_ms, 20);
        assert!(s.applies_to("/random"));
        assert!(!s.applies_to("/characters/{id}"));
        assert!(FaultSpec::parse(b"{}").unwrap() == FaultSpec::default());
        for bad in [
            &br#"{"error_rate": 1.5}"#[..],
            br#"{"error_rate": -0.1}"#,
            br#"{"latency_ms": -1}"#,
            br#"{"latency_ms": 300001}"#,
            br#"{"route": "/health"}"#,
            br#"{"latncy_ms": 5}"#,
            b"not json",
        ] {
            let err = FaultSpec::parse(bad).unwrap_err();
            assert!(matches!(err, Error::BadFaults(_)), "{err:?}");
        }
    }

    #[tokio::test]
    async fn no_fault_means_no_effect_and_error_rate_one_always_fails() {
        let f = Faults::new(FaultSpec::default(), CancellationToken::new());
        assert!(f.apply("/random").await.is_none());
        f.set(FaultSpec {
            error_rate: 1.0,
            ..Default::default()
        });
        let resp = f.apply("/random").await.unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(f.held(), 0);
    }

    #[test]
    fn the_gauge_shows_the_faults_in_force() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let f = Faults::new(FaultSpec::default(), CancellationToken::new());
        let value = |kind: &str| {
            let needle = format!("{POWERSOURCE_FAULTS_ACTIVE}{{kind=\"{kind}\"}} ");
            let text = handle.render();
            let line = text
                .lines()
                .find(|l| l.starts_with(&needle))
                .unwrap_or_else(|| panic!("{needle} in {text}"));
            line[needle.len()..].parse::<f64>().unwrap()
        };
        metrics::with_local_recorder(&recorder, || {
            f.set(FaultSpec {
                hang: true,
                jitter_ms: 3,
                ..Default::default()
            })
        });
        assert_eq!(
            (value("latency"), value("error"), value("hang")),
            (1.0, 0.0, 1.0)
        );
        metrics::with_local_recorder(&recorder, || {
            f.set(FaultSpec {
                error_rate: 0.1,
                ..Default::default()
            })
        });
        assert_eq!(
            (value("latency"), value("error"), value("hang")),
            (0.0, 1.0, 0.0)
        );
        metrics::with_local_recorder(&recorder, || f.set(FaultSpec::default()));
        assert_eq!(
            (value("latency"), value("error"), value("hang")),
            (0.0, 0.0, 0.0)
        );
    }

    #[tokio::test]
    async fn hangs_end_at_shutdown() {
        let token = CancellationToken::new();
        let f = Arc::new(Faults::new(
            FaultSpec {
                hang: true,
                ..Default::default()
            },
            token.clone(),
        ));
        let task = tokio::spawn({
            let f = f.clone();
            async move { f.apply("/random").await }
        });
        while f.held() == 0 {
            tokio::task::yield_now().await;
        }
        token.cancel();
        let resp = task.await.unwrap().unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(f.held(), 0);
    }
}
