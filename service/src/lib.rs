//! The service kit powersource and superpower are both built on, and the wire contract between
//! them.
//!
//! # Layout
//! - [`api`]: the superpower ↔ powersource contract: route paths and templates, header names,
//!   the JSON of every powersource answer, the fault spec, and the image answer.
//! - [`config`]: settings helpers: defaults stated once, durations in milliseconds.
//! - [`http`]: the hyper 1.x scaffolding both services share: accept loop with graceful drain,
//!   access log and request metrics, body helpers, the admin token, and the `/health`, `/live`,
//!   `/metrics` answers.
//! - [`metrics`]: metric names (the dashboards and rules use the same strings), buckets, and the
//!   once-per-process Prometheus recorder.
//! - [`promise`]: the product's two promises, defined once: the latency limit and objective, the
//!   identity objective, and the names of the two cookies.
//! - [`telemetry`]: the once-per-process tracing subscriber; [`log_format`], its JSON line (the
//!   access line written directly); [`log_writer`], the batching writer its lines go through.
//! - [`traces`]: OpenTelemetry: settings, OTLP export, W3C propagation, the server span.
//! - [`shutdown`]: the future that resolves on Ctrl-C or SIGTERM.

pub mod api;
pub mod config;
pub mod http;
pub mod log_format;
pub mod log_writer;
pub mod metrics;
pub mod promise;
pub mod shutdown;
pub mod telemetry;
pub mod traces;
