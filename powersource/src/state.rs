//! What every request handler of a powersource shares.

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::admin::Admin;
use crate::catalog::Catalog;
use crate::faults::Faults;

/// The shared state of one powersource, built by [`Application`](crate::Application) and read
/// by every handler.
pub struct State {
    /// The instance name (`X-Powersource-Instance`).
    pub name: String,
    /// The dataset.
    pub catalog: Catalog,
    /// The faults in force.
    pub faults: Faults,
    /// The admin token check.
    pub admin: Admin,
    /// The Prometheus recorder, for `/metrics`.
    pub metrics: PrometheusHandle,
    /// How long a client gets to send a request body (`--client-timeout-ms`).
    pub client_timeout: Duration,
}
