//! Building and running the superpower service: state, background tasks, and the server.

use std::future::Future;
use std::sync::Arc;

use common::http::auth::AdminToken;
use common::http::ServeOptions;
use common::metrics::{
    SUPERPOWER_FAILOVERS_TOTAL, SUPERPOWER_FALLBACK_RESPONSES_TOTAL,
    SUPERPOWER_HEDGED_REQUESTS_TOTAL,
};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::cache::{Fallback, ImageCache};
use crate::client::Backend;
use crate::config::Settings;
use crate::fleet::{BadUrl, Fleet, Instance};
use crate::membership;
use crate::render::security_headers;
use crate::routing::Router;
use crate::switches::{SwitchState, Switches};

/// Everything a request handler needs.
pub struct App {
    /// Sends requests to the fleet.
    pub router: Router,
    /// The resilience switches.
    pub switches: Arc<Switches>,
    /// Each user's last known character.
    pub fallback: Fallback,
    /// Recently served images.
    pub images: ImageCache,
    /// The Prometheus recorder's handle, for `/metrics`.
    pub metrics: PrometheusHandle,
    /// The admin token; admin routes are off without one.
    pub admin_token: Option<AdminToken>,
    /// Stops the background tasks when the app is dropped.
    _tasks: DropGuard,
}

/// Why superpower cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configured URL is not usable.
    #[error(transparent)]
    BadUrl(#[from] BadUrl),
    /// Neither URLs nor a DNS name.
    #[error("no powersource configured: give --powersource URL or --powersource-dns HOST:PORT")]
    NoPowersource,
    /// The DNS target is not `host:port`.
    #[error("--powersource-dns must be HOST:PORT, got {0:?}")]
    BadDnsTarget(String),
}

/// A built service, ready to run on its listener.
pub struct Application {
    listener: TcpListener,
    app: Arc<App>,
    drain: std::time::Duration,
}

impl Application {
    /// Builds the app: membership (first DNS resolution), one round of health checks, the
    /// background tasks. `listener` is already bound, so port 0 works in tests.
    ///
    /// # Errors
    /// [`StartError`] for unusable configuration.
    pub async fn build(settings: Settings, listener: TcpListener) -> Result<Self, StartError> {
        let metrics = common::metrics::install();
        // Counters exist from the start at 0, so dashboards and rate() see them before the first
        // failover, fallback or hedge.
        for counter in [
            SUPERPOWER_FAILOVERS_TOTAL,
            SUPERPOWER_FALLBACK_RESPONSES_TOTAL,
            SUPERPOWER_HEDGED_REQUESTS_TOTAL,
        ] {
            metrics::counter!(counter).increment(0);
        }
        let backend = Backend::new(Settings::ms(settings.connect_timeout_ms));
        let cancel = CancellationToken::new();
        let cooldown = Settings::ms(settings.eject_cooldown_ms);
        let health_timeout = Settings::ms(settings.health_timeout_ms);

        let fleet = match &settings.powersource_dns {
            Some(target) => {
                if !target
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
                {
                    return Err(StartError::BadDnsTarget(target.clone()));
                }
                let fleet = Arc::new(Fleet::new(Vec::new(), cooldown));
                membership::refresh_dns(&fleet, target).await;
                membership::spawn_dns(
                    fleet.clone(),
                    backend.clone(),
                    target.clone(),
                    Settings::ms(settings.dns_interval_ms),
                    health_timeout,
                    cancel.clone(),
                );
                fleet
            }
            None => {
                let urls: Vec<&String> = settings
                    .powersources
                    .iter()
                    .filter(|u| !u.trim().is_empty())
                    .collect();
                if urls.is_empty() {
                    return Err(StartError::NoPowersource);
                }
                let instances = urls
                    .into_iter()
                    .map(|u| Instance::new(u.clone()).map(Arc::new))
                    .collect::<Result<_, _>>()?;
                Arc::new(Fleet::new(instances, cooldown))
            }
        };
        membership::check_all(&fleet, &backend, &fleet.instances(), health_timeout).await;
        membership::spawn_health_checks(
            fleet.clone(),
            backend.clone(),
            Settings::ms(settings.health_interval_ms),
            health_timeout,
            cancel.clone(),
        );
        tracing::info!(
            ring_members = fleet.ring().len(),
            known = fleet.instances().len(),
            naive = settings.naive,
            "powersource fleet"
        );

        let switches = Arc::new(Switches::new(if settings.naive {
            SwitchState::NAIVE
        } else {
            SwitchState::RESILIENT
        }));
        let app = App {
            router: Router::new(fleet, backend, switches.clone(), &settings),
            switches,
            fallback: Fallback::new(settings.fallback_users),
            images: ImageCache::new(settings.image_cache_bytes),
            metrics,
            admin_token: AdminToken::new(settings.admin_token.as_deref()),
            _tasks: cancel.drop_guard(),
        };
        Ok(Application {
            listener,
            app: Arc::new(app),
            drain: Settings::ms(settings.drain_timeout_ms),
        })
    }

    /// The address the service listens on.
    ///
    /// # Errors
    /// When the OS cannot tell.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (tests inspect it).
    pub fn app(&self) -> Arc<App> {
        self.app.clone()
    }

    /// Serves until `shutdown` resolves, then drains.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) {
        let options = ServeOptions {
            headers: security_headers(),
            drain_timeout: self.drain,
            route_of: crate::routes::template_of,
            ..ServeOptions::default()
        };
        let app = self.app;
        tracing::info!(addr = %self.listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "superpower listening");
        common::http::serve(
            self.listener,
            options,
            move |req| {
                let app = app.clone();
                async move { crate::routes::route(&app, req).await }
            },
            shutdown,
        )
        .await;
    }
}
