//! Building the application from [`Settings`] and serving it on a listener the caller bound.

use std::future::Future;
use std::sync::Arc;

use common::http::{serve, ServeOptions};
use common::metrics::POWERSOURCE_ELIGIBLE_CHARACTERS;
use common::store::Store;
use http::header::{HeaderName, HeaderValue};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::admin::Admin;
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::error::Error;
use crate::faults::Faults;
use crate::routes;

/// The header naming the instance on every response.
pub static INSTANCE_HEADER: HeaderName = HeaderName::from_static("x-powersource-instance");

/// What every request handler shares.
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
}

/// A powersource ready to serve: the store is open and loaded.
pub struct App {
    state: Arc<State>,
    options: ServeOptions,
    shutdown: CancellationToken,
}

impl App {
    /// Opens the store, loads the dataset, builds the assignment ring and installs the metrics
    /// recorder (once per process). A store nothing was ingested into is fine: the app starts
    /// and its `/health` answers 503.
    ///
    /// # Errors
    /// When the store cannot be opened or read, the instance name is not a valid header value,
    /// or a fault flag is invalid.
    pub async fn build(settings: &Settings) -> Result<Self, Error> {
        let path = settings.store.clone();
        let store = tokio::task::spawn_blocking(move || Store::open(&path)).await??;
        Self::with_store(settings, store).await
    }

    /// [`App::build`] over a store that is already open (`settings.store` is then only shown in
    /// logs). Tests use it to serve the store they just ingested into without reopening it:
    /// sled's background threads may hold its lock for a moment after a drop.
    ///
    /// # Errors
    /// As [`App::build`].
    pub async fn with_store(settings: &Settings, store: Store) -> Result<Self, Error> {
        let name = settings.instance_name().to_owned();
        let header = HeaderValue::from_str(&name).map_err(|_| Error::BadName(name.clone()))?;
        let spec = settings.fault_spec()?;
        let metrics = common::metrics::install();
        let catalog = tokio::task::spawn_blocking(move || Catalog::load(store)).await??;
        metrics::gauge!(POWERSOURCE_ELIGIBLE_CHARACTERS).set(catalog.eligible() as f64);
        match catalog.info() {
            Some((generation, info)) => tracing::info!(
                store = %settings.store.display(),
                generation,
                fingerprint = %info.fingerprint,
                eligible = catalog.eligible(),
                "dataset loaded"
            ),
            None => tracing::warn!(
                store = %settings.store.display(),
                "the store holds no dataset (run `loader ingest`); /health answers 503"
            ),
        }
        let shutdown = CancellationToken::new();
        let state = State {
            name,
            catalog,
            faults: Faults::new(spec, shutdown.clone()),
            admin: Admin::new(settings.admin_token()),
            metrics,
        };
        let options = ServeOptions {
            headers: vec![(INSTANCE_HEADER.clone(), header)],
            route_of: routes::template_of,
            ..Default::default()
        };
        Ok(App {
            state: Arc::new(state),
            options,
            shutdown,
        })
    }

    /// The shared state (tests read the fault state through it).
    pub fn state(&self) -> Arc<State> {
        self.state.clone()
    }

    /// Serves on `listener` until `shutdown` resolves, then drains: in-flight requests finish
    /// (hung ones answer 503 at once) within the drain timeout.
    pub async fn run(self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let token = self.shutdown;
        let signal = async move {
            shutdown.await;
            token.cancel();
        };
        let state = self.state;
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, instance = %state.name, "powersource listening");
        }
        serve(
            listener,
            self.options,
            move |req| routes::route(state.clone(), req),
            signal,
        )
        .await;
        tracing::info!("powersource stopped");
    }
}

/// Builds the app from `settings` and serves it on `listener` until `shutdown` resolves.
///
/// # Errors
/// As [`App::build`].
pub async fn run(
    listener: TcpListener,
    settings: &Settings,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    App::build(settings).await?.run(listener, shutdown).await;
    Ok(())
}
