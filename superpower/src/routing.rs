//! One answer from the fleet: choose instances on the ring, fail over, hedge, and keep every
//! answer inside the deadline.
//!
//! The order of instances comes from [`RouteRing::candidates`](crate::ring::RouteRing): the
//! key's owner, then the next distinct instance clockwise, then one more. With tight deadlines
//! each attempt has its own timeout and all attempts share one overall deadline below the 1 s
//! promise. With hedging, when the current attempt has not answered within the hedge delay
//! (recent p95, at least `hedge_min_ms`), the next candidate is asked too and the first good
//! answer wins.
//!
//! With traces on, each attempt has its client span ([`crate::attempt_span`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use http::{HeaderMap, StatusCode};
use service::metrics::{SUPERPOWER_FAILOVERS_TOTAL, SUPERPOWER_HEDGED_REQUESTS_TOTAL};

use crate::attempt_span::{AttemptSpan, Reason};
use crate::client::{Backend, CallError, Reply};
use crate::config::Settings;
use crate::fleet::{Fleet, Instance, Outcome};
use crate::latency::LatencyTracker;
use crate::switches::Switches;

/// The original demo's read timeout, used when tight deadlines are off.
const NAIVE_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Why no instance gave an answer.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// No healthy instance on the ring.
    #[error("no powersource instance is healthy")]
    NoInstance,
    /// Every attempt failed or the deadline passed.
    #[error("no powersource instance answered in time ({attempts} attempts)")]
    Exhausted {
        /// Attempts made.
        attempts: usize,
    },
}

/// A good answer and the instance that gave it.
#[derive(Debug)]
pub struct Routed {
    /// The answer (2xx, 304 or 404: the instance is fine, the answer is final).
    pub reply: Reply,
    /// Who answered.
    pub instance: Arc<Instance>,
}

/// Sends requests to the fleet.
pub struct Router {
    fleet: Arc<Fleet>,
    backend: Backend,
    switches: Arc<Switches>,
    latency: LatencyTracker,
    attempt_timeout: Duration,
    deadline: Duration,
    hedge_min: Duration,
    hedge_fixed: Option<Duration>,
}

type Attempt = Pin<
    Box<
        dyn Future<
                Output = (
                    Arc<Instance>,
                    Instant,
                    AttemptSpan,
                    Result<Reply, CallError>,
                ),
            > + Send,
    >,
>;

impl Router {
    /// A router over `fleet`.
    pub fn new(
        fleet: Arc<Fleet>,
        backend: Backend,
        switches: Arc<Switches>,
        settings: &Settings,
    ) -> Self {
        Router {
            fleet,
            backend,
            switches,
            latency: LatencyTracker::default(),
            attempt_timeout: settings.attempt_timeout,
            deadline: settings.deadline,
            hedge_min: settings.hedge_min,
            hedge_fixed: settings.hedge_delay,
        }
    }

    /// The fleet this router sends to.
    pub fn fleet(&self) -> &Arc<Fleet> {
        &self.fleet
    }

    /// The HTTP client (admin calls go through it too).
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// `GET path` from the instances `key` routes to; `limit` caps the body.
    ///
    /// # Errors
    /// [`RouteError`] when no instance gave a final answer in time.
    pub async fn get(&self, key: &[u8], path: &str, limit: usize) -> Result<Routed, RouteError> {
        self.get_with(key, path, &HeaderMap::new(), limit).await
    }

    /// [`Router::get`] with request `headers` on every attempt (an `If-None-Match`, say).
    ///
    /// # Errors
    /// As [`Router::get`].
    pub async fn get_with(
        &self,
        key: &[u8],
        path: &str,
        headers: &HeaderMap,
        limit: usize,
    ) -> Result<Routed, RouteError> {
        let ring = self.fleet.ring();
        let candidates = if self.switches.ring() {
            ring.candidates(key)
        } else {
            ring.round_robin()
        };
        drop(ring);
        if candidates.is_empty() {
            return Err(RouteError::NoInstance);
        }
        let tight = self.switches.deadlines();
        let max_attempts = if self.switches.failover() {
            candidates.len()
        } else {
            1
        };
        let hedging = self.switches.hedging() && max_attempts > 1;
        let attempt_timeout = if tight {
            self.attempt_timeout
        } else {
            NAIVE_READ_TIMEOUT
        };
        let start = Instant::now();
        let deadline = tight.then(|| start + self.deadline);

        // `now`: when the attempt starts (the request's start for the first: one clock read
        // serves the deadline, the attempt's timeout and its latency)
        let launch = |i: usize, reason: Reason, now: Instant| -> Attempt {
            let inst = candidates.get(i).expect("index below max_attempts").clone();
            let timeout = match deadline {
                Some(d) => attempt_timeout.min(d.saturating_duration_since(now)),
                None => attempt_timeout,
            };
            let backend = self.backend.clone();
            let path = path.to_owned();
            let mut headers = headers.clone();
            let span = AttemptSpan::start(&inst, i + 1, reason, &mut headers);
            Box::pin(async move {
                let r = backend
                    .get_until(inst.base(), &path, &headers, now + timeout, tight, limit)
                    .await;
                (inst, now, span, r)
            })
        };
        let mut first = launch(0, Reason::First, start);
        let mut launched = 1;
        let mut inflight: FuturesUnordered<Attempt> = FuturesUnordered::new();

        // The common case: the first attempt answers before a hedge is due. It is awaited alone,
        // with the hedge's timer only (its own timeout ends it by the deadline), so a request
        // that needs no second attempt pays for no set of attempts and no deadline timer.
        let hedge_first = (hedging && launched < max_attempts).then(|| self.hedge_delay());
        let first_result = match hedge_first {
            Some(delay) => tokio::time::timeout_at((start + delay).into(), &mut first)
                .await
                .ok(),
            None => Some((&mut first).await),
        };
        match first_result {
            Some((inst, t0, span, result)) => {
                if let Some(routed) = self.settle(&inst, t0, span, result) {
                    return Ok(Routed {
                        reply: routed,
                        instance: inst,
                    });
                }
                if launched >= max_attempts || deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(RouteError::Exhausted { attempts: launched });
                }
                metrics::counter!(SUPERPOWER_FAILOVERS_TOTAL).increment(1);
                inflight.push(launch(launched, Reason::Failover, Instant::now()));
                launched += 1;
            }
            None => {
                metrics::counter!(SUPERPOWER_HEDGED_REQUESTS_TOTAL).increment(1);
                inflight.push(first);
                inflight.push(launch(launched, Reason::Hedge, Instant::now()));
                launched += 1;
            }
        }

        loop {
            let hedge_at = (hedging && inflight.len() == 1 && launched < max_attempts)
                .then(|| self.hedge_delay());
            let hedge = async {
                match hedge_at {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            let overall = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some((inst, t0, span, result)) = inflight.next() => {
                    if let Some(reply) = self.settle(&inst, t0, span, result) {
                        if !inflight.is_empty() {
                            self.finish_in_background(inflight);
                        }
                        return Ok(Routed { reply, instance: inst });
                    }
                    if inflight.is_empty() {
                        if launched >= max_attempts {
                            break;
                        }
                        metrics::counter!(SUPERPOWER_FAILOVERS_TOTAL).increment(1);
                        inflight.push(launch(launched, Reason::Failover, Instant::now()));
                        launched += 1;
                    }
                }
                () = hedge => {
                    metrics::counter!(SUPERPOWER_HEDGED_REQUESTS_TOTAL).increment(1);
                    inflight.push(launch(launched, Reason::Hedge, Instant::now()));
                    launched += 1;
                }
                () = overall => break,
            }
        }
        Err(RouteError::Exhausted { attempts: launched })
    }

    /// Records an attempt's end: its answer when final (2xx, 304, 404), else `None` and the
    /// failure counted; the answer's latency feeds the hedge delay.
    fn settle(
        &self,
        inst: &Arc<Instance>,
        t0: Instant,
        span: AttemptSpan,
        result: Result<Reply, CallError>,
    ) -> Option<Reply> {
        let (reply, elapsed) = end_attempt(&self.fleet, inst, t0, span, result, false)?;
        self.latency.record(elapsed);
        Some(reply)
    }

    /// The fixed hedge delay when configured, else the recent p95 within its bounds.
    fn hedge_delay(&self) -> Duration {
        self.hedge_fixed.unwrap_or_else(|| {
            self.latency
                .hedge_delay(self.hedge_min, self.attempt_timeout / 2)
        })
    }

    /// Lets the attempts a hedge beat run to their end in the background, so that a hung
    /// instance still times out, is counted and gets ejected, instead of being abandoned
    /// unnoticed on every request.
    fn finish_in_background(&self, mut inflight: FuturesUnordered<Attempt>) {
        let fleet = self.fleet.clone();
        tokio::spawn(async move {
            while let Some((inst, t0, span, result)) = inflight.next().await {
                end_attempt(&fleet, &inst, t0, span, result, true);
            }
        });
    }
}

/// Records an attempt's end: a final answer (2xx, 304, 404) is returned with the call's
/// latency (counted as `HedgeLost` when `lost`: it ran on after another attempt answered), any
/// other end is counted as a failure (the instance ejected when the failure says it is gone or
/// hung).
fn end_attempt(
    fleet: &Fleet,
    inst: &Instance,
    t0: Instant,
    span: AttemptSpan,
    result: Result<Reply, CallError>,
    lost: bool,
) -> Option<(Reply, Duration)> {
    let elapsed = t0.elapsed();
    match result {
        Ok(reply) if is_final(reply.status) => {
            let outcome = if lost {
                Outcome::HedgeLost
            } else {
                outcome_of(reply.status)
            };
            span.answered(reply.status, outcome);
            inst.record_call(outcome, elapsed);
            Some((reply, elapsed))
        }
        Ok(reply) => {
            span.answered(reply.status, Outcome::Error);
            record_failure(fleet, inst, elapsed, Err(reply.status));
            None
        }
        Err(err) => {
            span.failed(err.outcome(), &err);
            record_failure(fleet, inst, elapsed, Ok(&err));
            None
        }
    }
}

/// Counts a failed attempt (an error status, or a call error) and ejects the instance when the
/// failure says it is gone or hung.
fn record_failure(
    fleet: &Fleet,
    inst: &Instance,
    elapsed: Duration,
    failure: Result<&CallError, StatusCode>,
) {
    match failure {
        Err(status) => {
            inst.record_call(Outcome::Error, elapsed);
            tracing::debug!(
                instance = inst.name(),
                status = status.as_u16(),
                "powersource error"
            );
        }
        Ok(err) => {
            inst.record_call(err.outcome(), elapsed);
            tracing::debug!(instance = inst.name(), %err, "powersource call failed");
            if err.ejects() {
                fleet.eject(inst);
            }
        }
    }
}

/// An answer that ends the search: success, not modified, or a definite "no such thing".
fn is_final(status: StatusCode) -> bool {
    status.is_success() || status == StatusCode::NOT_MODIFIED || status == StatusCode::NOT_FOUND
}

fn outcome_of(status: StatusCode) -> Outcome {
    if status == StatusCode::NOT_FOUND {
        Outcome::NotFound
    } else {
        Outcome::Ok
    }
}
