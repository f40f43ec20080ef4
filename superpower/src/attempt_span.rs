//! The client span of one attempt at a powersource instance (when traces are on): which
//! instance, why it was asked (the first attempt, a failover after a failure, or a hedge while
//! an earlier attempt was still out), and how it ended. Every attempt of a request is a child of
//! the request's server span, so a trace shows them side by side; the `traceparent` sent with
//! the attempt makes powersource's server span its child.
//!
//! With traces off, or for a request that is not sampled, every method here does nothing (the
//! span is none).

use http::{HeaderMap, StatusCode};
use service::traces::{self, KeyValue, TraceSpan};

use crate::fleet::{Instance, Outcome};

/// Why an attempt was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The first instance the key routes to.
    First,
    /// The earlier attempts failed: the next instance on the ring.
    Failover,
    /// The earlier attempt is slow (past the hedge delay): the next instance, racing it.
    Hedge,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::First => "first",
            Reason::Failover => "failover",
            Reason::Hedge => "hedge",
        }
    }
}

/// The outcome of an attempt that the overall deadline cut short.
const DEADLINE: &str = "deadline";

/// One attempt's span; records `deadline` as its outcome when dropped unfinished (the request's
/// deadline passed and the attempt was abandoned).
pub struct AttemptSpan {
    span: TraceSpan,
    finished: bool,
}

impl AttemptSpan {
    /// Starts the span of attempt number `n` (1 for the first) at `inst`, and writes its
    /// `traceparent` into the attempt's `headers`. Only under the request's own (sampled) span:
    /// an unsampled request makes no span at all.
    pub fn start(inst: &Instance, n: usize, reason: Reason, headers: &mut HeaderMap) -> Self {
        if !traces::enabled() {
            return AttemptSpan {
                span: TraceSpan::none(),
                finished: true,
            };
        }
        let span = traces::client_span(
            || format!("GET {} ({})", inst.name(), reason.as_str()),
            vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("server.address", inst.name().to_owned()),
                KeyValue::new("superpower.attempt", i64::try_from(n).unwrap_or(i64::MAX)),
                KeyValue::new("superpower.attempt.reason", reason.as_str()),
            ],
        );
        span.inject(headers);
        let finished = span.is_none();
        AttemptSpan { span, finished }
    }

    /// The attempt got an answer with `status`, counted as `outcome`.
    pub fn answered(mut self, status: StatusCode, outcome: Outcome) {
        if self.finished {
            return;
        }
        self.span
            .set("http.response.status_code", i64::from(status.as_u16()));
        self.finish(outcome.as_str(), status.is_server_error());
    }

    /// The attempt ended without an answer: `outcome` (timeout, connect error…), `error` says
    /// why.
    pub fn failed(mut self, outcome: Outcome, error: &dyn std::fmt::Display) {
        if self.finished {
            return;
        }
        self.span.set("error.type", error.to_string());
        self.finish(outcome.as_str(), true);
    }

    fn finish(&mut self, outcome: &'static str, error: bool) {
        self.finished = true;
        self.span.set("superpower.attempt.outcome", outcome);
        if error {
            self.span.fail();
        }
        self.span.end();
    }
}

impl Drop for AttemptSpan {
    fn drop(&mut self) {
        if !self.finished {
            self.finish(DEADLINE, true);
        }
    }
}
