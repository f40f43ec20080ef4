//! Fault injection: added latency (fixed + jitter), an error rate (HTTP 500) and hangs, on all
//! product routes or one, set from flags at start-up and through `/admin/faults` at run time.
//!
//! Faults apply to the product routes only ([`service::api::PRODUCT_ROUTES`]): never to `/health`, `/live`,
//! `/metrics` or the admin API. A hung or slow instance therefore still looks healthy to an
//! active health checker, which is exactly the failure a client's deadlines and hedging must
//! handle (and what makes the experiments interesting).
//!
//! The spec lives in an [`ArcSwap`]: the hot path is one atomic load and a branch when no fault
//! is set.
//!
//! A spec with a `duration_ms` is cleared by the instance itself when it is due
//! ([`Faults::expire_when_due`], one task per instance), unless another spec replaced it first.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use arc_swap::ArcSwap;
use http::header::HeaderValue;
use http::StatusCode;
use rand::Rng;
use service::http::body::{error_json, Response};
use service::metrics::POWERSOURCE_FAULTS_ACTIVE;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use service::api::{FaultSpec, FAULT_HEADER};

/// A spec's delay for one request: the latency plus a uniform jitter.
fn delay(spec: &FaultSpec) -> Duration {
    let jitter = if spec.jitter_ms > 0 {
        rand::rng().random_range(0..=spec.jitter_ms)
    } else {
        0
    };
    Duration::from_millis(spec.latency_ms + jitter)
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
    /// When the spec in force clears itself (its `duration_ms` after it was set); written
    /// with the spec under this lock, so an expiry never clears a newer spec.
    until: Mutex<Option<Instant>>,
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
            until: Mutex::new(None),
        };
        faults.set(spec);
        faults
    }

    /// When the faults in force clear themselves, if they do.
    pub fn until(&self) -> Option<Instant> {
        *self.until.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Clears the faults each time their duration is over, until shutdown. Runs for the life of
    /// the instance (the application spawns it).
    pub async fn expire_when_due(&self) {
        loop {
            // register for the wake-up before looking, so a change in between is not missed
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let due = self.until();
            let sleep = async {
                match due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sleep => {
                    let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
                    if *until == due {
                        *until = None;
                        tracing::info!("faults expired (their duration_ms is over)");
                        self.install(FaultSpec::default());
                    }
                }
                () = &mut changed => {}
                () = self.shutdown.cancelled() => return,
            }
        }
    }

    /// The faults in force.
    pub fn get(&self) -> FaultSpec {
        FaultSpec::clone(&self.spec.load())
    }

    /// Replaces the faults in force (the spec must be valid) and updates the gauge; with a
    /// `duration_ms`, they clear themselves that long from now.
    pub fn set(&self, spec: FaultSpec) {
        let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        *until = spec
            .duration_ms
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        self.install(spec);
    }

    /// Puts `spec` in force (the caller holds `until`), updates the gauge and wakes the
    /// waiters.
    fn install(&self, spec: FaultSpec) {
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
                duration_ms = spec.duration_ms,
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
    ///
    /// Faults end when shutdown starts: a request arriving during the drain gets none, a
    /// latency being waited out ends at once and the request is answered normally (no injected
    /// error either), so the drain finishes real work instead of cutting a delayed request at
    /// its deadline without an answer. A hang ends with 503 ([`Faults::hang`]).
    pub async fn apply(&self, route: &'static str) -> Option<Response> {
        if !self.spec.load().applies_to(route) || self.shutdown.is_cancelled() {
            return None;
        }
        let spec = self.spec.load_full();
        let _held = Held::new(&self.held);
        if spec.hang {
            return self.hang(route).await;
        }
        let delay = delay(&spec);
        if !delay.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.shutdown.cancelled() => return None,
            }
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
    use service::api::MAX_DELAY_MS;

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

    /// Faults `spec`, and a request on `/random` they hold (returned once it is held).
    async fn held_request(
        spec: FaultSpec,
    ) -> (
        Arc<Faults>,
        CancellationToken,
        tokio::task::JoinHandle<Option<Response>>,
    ) {
        let token = CancellationToken::new();
        let f = Arc::new(Faults::new(spec, token.clone()));
        let task = tokio::spawn({
            let f = f.clone();
            async move { f.apply("/random").await }
        });
        while f.held() == 0 {
            tokio::task::yield_now().await;
        }
        (f, token, task)
    }

    #[tokio::test]
    async fn latency_ends_at_shutdown_and_no_fault_applies_after() {
        let (f, token, task) = held_request(FaultSpec {
            latency_ms: MAX_DELAY_MS,
            error_rate: 1.0,
            ..Default::default()
        })
        .await;
        token.cancel();
        let answer = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the latency ended with the shutdown")
            .unwrap();
        assert!(answer.is_none(), "answered normally");
        assert!(
            f.apply("/random").await.is_none(),
            "no fault during the drain"
        );
        assert_eq!(f.held(), 0);
    }

    #[tokio::test]
    async fn a_timed_fault_clears_itself_and_releases_what_it_holds() {
        let (f, token, task) = held_request(FaultSpec {
            hang: true,
            duration_ms: Some(150),
            ..Default::default()
        })
        .await;
        let expiry = tokio::spawn({
            let f = f.clone();
            async move { f.expire_when_due().await }
        });
        assert!(f.get().hang, "not yet due");
        let answer = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("released when due")
            .unwrap();
        assert!(answer.is_none(), "released and answered normally");
        assert_eq!(f.get(), FaultSpec::default());
        assert_eq!(f.until(), None);
        // a newer spec set before the old one was due is not cleared by the old deadline
        f.set(FaultSpec {
            latency_ms: 5,
            duration_ms: Some(50),
            ..Default::default()
        });
        f.set(FaultSpec {
            latency_ms: 7,
            ..Default::default()
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(f.get().latency_ms, 7, "the untimed spec stays");
        token.cancel();
        tokio::time::timeout(Duration::from_secs(5), expiry)
            .await
            .expect("the expiry task ends at shutdown")
            .unwrap();
    }

    #[tokio::test]
    async fn hangs_end_at_shutdown() {
        let (f, token, task) = held_request(FaultSpec {
            hang: true,
            ..Default::default()
        })
        .await;
        token.cancel();
        let resp = task.await.unwrap().unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(f.held(), 0);
    }
}
