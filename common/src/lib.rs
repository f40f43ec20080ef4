//! Shared pieces of superpower, written once and used by the three binaries.
//!
//! # Layout
//! - [`model`]: the character and image records, and the JSON view powersource answers with.
//! - [`store`]: the sled store format (trees, keys, versioned bincode records, atomic generations),
//!   owned here so that the loader (writer) and powersource (reader) cannot drift apart.
//! - [`hashing`]: the fixed-key hash behind every consistent-hash ring, stable across machines,
//!   restarts and compiler versions.
//! - [`http`]: the hyper 1.x scaffolding both services share: accept loop with graceful drain,
//!   access log and request metrics, body helpers, and the `/health`, `/live`, `/metrics` answers.
//! - [`metrics`]: metric names (the dashboards and rules use the same strings), buckets, and the
//!   once-per-process Prometheus recorder.
//! - [`telemetry`]: the once-per-process tracing subscriber.
//! - [`shutdown`]: the future that resolves on Ctrl-C or SIGTERM.

pub mod hashing;
pub mod http;
pub mod metrics;
pub mod model;
pub mod shutdown;
pub mod store;
pub mod telemetry;
