//! What every request handler of superpower shares.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use service::http::auth::AdminToken;
use tokio_util::sync::DropGuard;

use crate::answers::Answers;
use crate::cache::ImageCache;
use crate::catalog::Catalog;
use crate::peers::Peers;
use crate::powersource::Powersource;
use crate::promises::Promises;
use crate::remembered::Keys;
use crate::switches::Switches;

/// The shared state of superpower, built by [`Application`](crate::Application) and read by
/// every handler.
pub struct State {
    /// The powersource API, through the fleet's ring.
    pub powersource: Arc<Powersource>,
    /// Character answers already decoded and rendered, by body and instance.
    pub answers: Answers,
    /// The resilience switches.
    pub switches: Arc<Switches>,
    /// The keys of the `superpower_last` cookie (each user's last known character).
    pub keys: Keys,
    /// Every character this replica may have to render degraded.
    pub catalog: Arc<Catalog>,
    /// The other replicas of the front end, and this one's identity among them.
    pub peers: Arc<Peers>,
    /// Both promises, measured live.
    pub promises: Arc<Promises>,
    /// Recently served images.
    pub images: ImageCache,
    /// The Prometheus recorder's handle, for `/metrics`.
    pub metrics: PrometheusHandle,
    /// The admin token; admin routes are off without one.
    pub admin_token: Option<AdminToken>,
    /// Shutting down, in the lame duck (`--lame-duck-ms`): `/health` fails and every answer
    /// closes its connection.
    pub draining: AtomicBool,
    /// How long a client gets to send a request body (`--client-timeout-ms`).
    pub client_timeout: Duration,
    /// Stops the background tasks when the state is dropped.
    pub(crate) _tasks: DropGuard,
}
