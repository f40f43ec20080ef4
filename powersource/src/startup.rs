//! Building the application from [`Settings`] and serving it on a listener the caller bound.

use std::future::Future;
use std::sync::Arc;

use common::store::Store;
use http::header::HeaderValue;
use service::api::INSTANCE_HEADER;
use service::http::{serve, ServeOptions};
use service::metrics::POWERSOURCE_ELIGIBLE_CHARACTERS;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::admin::Admin;
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::error::StartError;
use crate::faults::Faults;
use crate::routes;
use crate::state::State;

/// A powersource ready to serve: the store is open and loaded, the listener bound.
pub struct Application {
    listener: TcpListener,
    state: Arc<State>,
    options: ServeOptions,
    shutdown: CancellationToken,
}

impl Application {
    /// Opens the store, loads the dataset, builds the assignment ring and installs the metrics
    /// recorder (once per process). A store nothing was ingested into is fine: the app starts
    /// and its `/health` answers 503. `listener` is already bound, so port 0 works in tests.
    ///
    /// # Errors
    /// When the store cannot be opened or read, the instance name is not a valid header value,
    /// or a fault flag is invalid.
    pub async fn build(settings: &Settings, listener: TcpListener) -> Result<Self, StartError> {
        let path = settings.store.clone();
        let store = tokio::task::spawn_blocking(move || Store::open(&path)).await??;
        Self::with_store(settings, store, listener).await
    }

    /// [`Application::build`] over a store that is already open (`settings.store` is then only
    /// shown in logs). Tests use it to serve the store they just ingested into without
    /// reopening it: sled's background threads may hold its lock for a moment after a drop.
    ///
    /// # Errors
    /// As [`Application::build`].
    pub async fn with_store(
        settings: &Settings,
        store: Store,
        listener: TcpListener,
    ) -> Result<Self, StartError> {
        let name = settings.instance_name().to_owned();
        let header = HeaderValue::from_str(&name).map_err(|_| StartError::BadName(name.clone()))?;
        let spec = settings.fault_spec()?;
        let metrics = service::metrics::install();
        let catalog = tokio::task::spawn_blocking(move || Catalog::load(store)).await??;
        metrics::gauge!(POWERSOURCE_ELIGIBLE_CHARACTERS).set(catalog.eligible() as f64);
        let need = catalog.need();
        match catalog.info() {
            Some((generation, info)) => tracing::info!(
                store = %settings.store.display(),
                generation,
                fingerprint = %info.fingerprint,
                eligible = catalog.eligible(),
                memory_estimate_mib = need.mib(),
                "dataset loaded"
            ),
            None => tracing::warn!(
                store = %settings.store.display(),
                "the store holds no dataset (run `loader ingest`); /health answers 503"
            ),
        }
        // the lower of --memory-limit-mib and the cgroup's limit (what the kernel enforces: a
        // container's memory limit); a warning, not a refusal, at start, rather than an OOM kill
        // under traffic that looks like chaos
        let limit = common::memory::effective_limit(
            settings.memory_limit_mib,
            common::memory::cgroup_limit_bytes(),
        );
        if let Some(over) = need.over(limit.mib) {
            tracing::warn!(
                eligible = need.eligible,
                memory_estimate_mib = need.mib(),
                memory_limit_mib = limit.mib,
                memory_limit_source = limit.source,
                "{over}"
            );
        }
        let shutdown = CancellationToken::new();
        let state = State {
            name,
            catalog,
            faults: Faults::new(spec, shutdown.clone()),
            admin: Admin::new(settings.admin_token()),
            metrics,
            client_timeout: settings.client_timeout,
        };
        let options = ServeOptions {
            headers: vec![(INSTANCE_HEADER.clone(), header)],
            route_of: routes::template_of,
            max_connections: settings.max_connections,
            client_timeout: settings.client_timeout,
            ..Default::default()
        };
        Ok(Application {
            listener,
            state: Arc::new(state),
            options,
            shutdown,
        })
    }

    /// The address the service listens on.
    ///
    /// # Errors
    /// When the OS cannot tell.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (tests read the fault state through it).
    pub fn state(&self) -> Arc<State> {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves, then drains: in-flight requests finish (hung ones
    /// answer 503 at once) within the drain timeout.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) {
        let token = self.shutdown;
        let signal = async move {
            shutdown.await;
            token.cancel();
        };
        let state = self.state;
        if let Ok(addr) = self.listener.local_addr() {
            tracing::info!(%addr, instance = %state.name, "powersource listening");
        }
        // timed faults clear themselves; the task ends with the shutdown token
        tokio::spawn({
            let state = state.clone();
            async move { state.faults.expire_when_due().await }
        });
        serve(
            self.listener,
            self.options,
            move |req| routes::route(state.clone(), req),
            signal,
        )
        .await;
        tracing::info!("powersource stopped");
    }
}
