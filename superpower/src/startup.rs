//! Building and running the superpower service: state, background tasks, and the server.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use std::time::Duration;

use service::http::auth::AdminToken;
use service::http::ServeOptions;
use service::metrics::{
    SUPERPOWER_FAILOVERS_TOTAL, SUPERPOWER_FALLBACK_RESPONSES_TOTAL,
    SUPERPOWER_HEDGED_REQUESTS_TOTAL,
};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::answers::Answers;
use crate::cache::ImageCache;
use crate::catalog::{self, Catalog};
use crate::client::Backend;
use crate::config::Settings;
use crate::error::StartError;
use crate::fleet::{Ejection, Fleet, Instance};
use crate::membership;
use crate::peers::{self, Peers, Replica};
use crate::powersource::Powersource;
use crate::promises::{self, Promises};
use crate::remembered::Keys;
use crate::render::security_headers;
use crate::routing::Router;
use crate::state::State;
use crate::switches::{SwitchState, Switches};

/// `host:port`, as `--powersource-dns` and `--peers-dns` take it.
fn valid_dns_target(target: &str) -> bool {
    target
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
}

/// A built service, ready to run on its listener.
pub struct Application {
    listener: TcpListener,
    state: Arc<State>,
    drain: Duration,
    lame_duck: Duration,
    max_connections: usize,
    client_timeout: Duration,
    workers: usize,
}

impl Application {
    /// Builds the app: membership (first DNS resolution), one round of health checks, the
    /// background tasks. `listener` is already bound, so port 0 works in tests.
    ///
    /// # Errors
    /// [`StartError`] for unusable configuration.
    pub async fn build(settings: Settings, listener: TcpListener) -> Result<Self, StartError> {
        let metrics = service::metrics::install();
        // Counters exist from the start at 0, so dashboards and rate() see them before the first
        // failover, fallback or hedge.
        for counter in [
            SUPERPOWER_FAILOVERS_TOTAL,
            SUPERPOWER_FALLBACK_RESPONSES_TOTAL,
            SUPERPOWER_HEDGED_REQUESTS_TOTAL,
        ] {
            metrics::counter!(counter).increment(0);
        }
        let backend = Backend::for_powersource(settings.connect_timeout);
        let cancel = CancellationToken::new();
        // the main runtime's calls (health checks, the catalog, admin) have a pool of their own
        tokio::spawn(backend.clone().sweep_until(cancel.clone()));
        let ejection = Ejection {
            cooldown: settings.eject_cooldown,
            max_percent: settings.max_ejection_percent,
        };
        let health_timeout = settings.health_timeout;

        let fleet = match &settings.powersource_dns {
            Some(target) => {
                if !valid_dns_target(target) {
                    return Err(StartError::BadDnsTarget(target.clone()));
                }
                let fleet = Arc::new(Fleet::new(Vec::new(), ejection));
                membership::refresh_dns(&fleet, target).await;
                membership::spawn_dns(
                    fleet.clone(),
                    backend.clone(),
                    target.clone(),
                    settings.dns_interval,
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
                Arc::new(Fleet::new(instances, ejection))
            }
        };
        membership::check_all(&fleet, &backend, &fleet.instances(), health_timeout).await;
        membership::spawn_health_checks(
            fleet.clone(),
            backend.clone(),
            settings.health_interval,
            health_timeout,
            cancel.clone(),
        );
        tracing::info!(
            ring_members = fleet.ring().len(),
            known = fleet.instances().len(),
            naive = settings.naive,
            "powersource fleet"
        );

        let replica = Replica {
            id: peers::new_id(),
            name: settings.replica_name_or(|| {
                listener
                    .local_addr()
                    .map_or_else(|_| "superpower".into(), |a| a.to_string())
            }),
        };
        let switches = Arc::new(Switches::for_replica(
            if settings.naive {
                SwitchState::NAIVE
            } else {
                SwitchState::RESILIENT
            },
            replica.id.clone(),
        ));
        if let Some(target) = &settings.peers_dns {
            if !valid_dns_target(target) {
                return Err(StartError::BadDnsTarget(target.clone()));
            }
        }
        let peers = Arc::new(Peers::new(
            replica,
            &settings.peers,
            settings.peers_dns.as_deref(),
            settings.peer_interval,
            // peers are re-resolved at least every 3 s, also when the powersources' name is
            // re-resolved rarely (the naive fleet's hour): a replica started first must find the
            // others
            settings.dns_interval.min(std::time::Duration::from_secs(3)),
            settings.admin_token.as_deref(),
        ));
        if peers.configured() {
            if settings.admin_token.is_none() {
                tracing::warn!("peers are configured but no --admin-token: peers cannot ask this replica, and switches and promises are not shared");
            }
            // a replica that starts takes the front end's switches before it serves
            peers.round(&switches).await;
            peers::spawn(peers.clone(), switches.clone(), cancel.clone());
            tracing::info!(peers = peers.views().len(), replica = %peers.me().name, "front end peers");
        }
        let keys = Keys::new(
            settings.cookie_key.as_ref(),
            settings.cookie_key_previous.as_ref(),
        );
        if keys.is_random() {
            tracing::warn!("no --cookie-key: a random key for this process; a returning user's last known superpower is good only on this replica, until it restarts (give every replica the same key)");
        }
        let promises = Arc::new(Promises::new(!settings.no_promise_tracking));
        if promises.tracking() {
            let fleet = fleet.clone();
            promises::spawn_ticker(promises.clone(), move || fleet.ring().len(), cancel.clone());
        }
        let router = Router::new(fleet, backend, switches.clone(), &settings);
        let powersource = Arc::new(Powersource::new(router, settings.powersource_admin_token()));
        let catalog = Arc::new(Catalog::new(settings.catalog_bytes));
        // filled before the replica serves (and says it is healthy) when an instance answers, so
        // a replica that starts while users come back can answer them degraded at once
        catalog::refresh(&catalog, &powersource).await;
        catalog::spawn_refresh(
            catalog.clone(),
            powersource.clone(),
            settings.catalog_interval,
            cancel.clone(),
        );
        // the bound is the process's: each worker thread gets its share
        let workers = settings
            .workers
            .unwrap_or_else(crate::workers::default_count);
        let state = State {
            powersource,
            answers: Answers::new(settings.answer_cache_bytes / workers.max(1)),
            switches,
            keys,
            catalog,
            peers,
            promises,
            images: ImageCache::new(settings.image_cache_bytes, settings.image_ttl),
            metrics,
            admin_token: AdminToken::new(settings.admin_token.as_deref()),
            draining: AtomicBool::new(false),
            client_timeout: settings.client_timeout,
            _tasks: cancel.drop_guard(),
        };
        Ok(Application {
            listener,
            state: Arc::new(state),
            drain: settings.drain_timeout,
            lame_duck: settings.lame_duck,
            max_connections: settings.max_connections,
            client_timeout: settings.client_timeout,
            workers,
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
    pub fn state(&self) -> Arc<State> {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves, then drains: on one current-thread runtime per worker
    /// ([`crate::workers`]), `--workers` of them.
    ///
    /// # Errors
    /// When the workers cannot be started (the socket cannot be shared, no thread).
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let options = ServeOptions {
            headers: security_headers(),
            drain_timeout: self.drain,
            max_connections: self.max_connections,
            client_timeout: self.client_timeout,
            route_of: crate::routes::template_of,
            ..ServeOptions::default()
        };
        let state = self.state;
        let (lame_duck, ducking) = (self.lame_duck, state.clone());
        let shutdown = async move {
            shutdown.await;
            if !lame_duck.is_zero() {
                ducking.draining.store(true, Relaxed);
                tracing::info!(
                    lame_duck_ms = lame_duck.as_millis() as u64,
                    "lame duck: /health answers 503, every answer closes its connection"
                );
                tokio::time::sleep(lame_duck).await;
            }
        };
        if let Ok(addr) = self.listener.local_addr() {
            tracing::info!(%addr, workers = self.workers, "superpower listening");
        }
        // one limit for the process, whichever worker the kernel hands a connection to
        let options = ServeOptions {
            permits: Some(Arc::new(Semaphore::new(self.max_connections))),
            ..options
        };
        let served = crate::workers::serve(
            self.listener,
            self.workers,
            move |listener, stop| {
                // on this worker's runtime: its pool of connections to powersource is its own
                let sweeper = state.powersource.backend().clone();
                tokio::spawn(sweeper.sweep_until(stop.clone()));
                let state = state.clone();
                service::http::serve(
                    listener,
                    options.clone(),
                    move |req| {
                        let state = state.clone();
                        async move { crate::routes::route(&state, req).await }
                    },
                    stop.cancelled_owned(),
                )
            },
            shutdown,
        )
        .await;
        tracing::info!("superpower stopped");
        served
    }
}
