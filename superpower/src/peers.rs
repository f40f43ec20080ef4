//! The replicas of one front end act as one: they find each other (`--peer URL`, or every
//! address behind `--peers-dns HOST:PORT`, re-resolved), and every `--peer-interval-ms` each
//! replica asks each peer for its state (`GET /admin/peer`, with the admin token):
//! - its switches with their [`Version`](crate::switches::Version): a newer version is adopted
//!   here, and a peer behind ours is sent ours (`PUT /admin/peer/switches`). A change made here
//!   starts a round at once, so a change on any replica is on every replica within a round
//!   trip, and within `--peer-interval-ms` even when that first call was lost. A replica that
//!   starts asks its peers before it serves, and takes the front end's switches;
//! - its promises, second by second ([`Sample`]), which `/promises.json` sums with this
//!   replica's own ([`crate::promises::merge`]), so any replica shows the whole front end, and
//!   each replica's own line, a peer that did not answer shown as such.
//!
//! Faults need nothing here: they live on the powersource instances, which every replica asks.
//! Peer calls have short timeouts, run on their own task, and never sit on a user's request.
//! A replica recognizes itself among the addresses (its id comes back) and skips itself.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::Full;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::client::Backend;
use crate::promises::{self, Promises, Sample};
use crate::switches::{Switches, Versioned};

/// `GET` this replica's [`PeerState`].
pub const PEER_PATH: &str = "/admin/peer";
/// `PUT` [`Versioned`] switches to a replica.
pub const PEER_SWITCHES_PATH: &str = "/admin/peer/switches";
/// How long one call to a peer may take.
const PEER_TIMEOUT: Duration = Duration::from_millis(400);
/// Largest peer state read: 61 seconds of samples are about 20 KB.
const MAX_PEER_BYTES: usize = 256 * 1024;

/// Who a replica is: a random id (made at start, so a restarted replica is a new one) and the
/// name it shows (`--replica-name`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replica {
    /// 16 hex digits.
    pub id: String,
    /// Its name on the control page and in `/promises.json`.
    pub name: String,
}

/// The JSON of `GET /admin/peer`: what a replica tells its peers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerState {
    /// Who answers.
    pub replica: Replica,
    /// Its switches and their version.
    pub switches: Versioned,
    /// Whether it measures the promises.
    pub tracking: bool,
    /// What happened in each of its last seconds, oldest first.
    pub seconds: Vec<Sample>,
    /// Its clock when it answered (Unix seconds): the asker shifts the seconds by the
    /// difference with its own, so replicas whose clocks disagree still add up second by second.
    pub now: u64,
}

/// Where the peers are.
#[derive(Clone, Debug)]
enum Targets {
    /// Base URLs, as configured.
    Urls(Vec<String>),
    /// Every address behind a name (`host:port`).
    Dns(String),
}

/// What this replica last heard from one peer address.
#[derive(Clone, Debug)]
pub struct PeerView {
    /// The base URL asked.
    pub url: String,
    /// Its last answer, when the last call had one (its seconds shifted to this replica's
    /// clock).
    pub state: Option<PeerState>,
    /// Why the last call had none.
    pub error: Option<String>,
}

struct Resolved {
    urls: Vec<String>,
    at: Option<Instant>,
}

/// The peers of this replica (see the module doc).
pub struct Peers {
    me: Replica,
    targets: Option<Targets>,
    interval: Duration,
    dns_interval: Duration,
    authorization: Option<HeaderValue>,
    backend: Backend,
    resolved: tokio::sync::Mutex<Resolved>,
    views: Mutex<Vec<PeerView>>,
}

impl Peers {
    /// The peers of replica `me`: the URLs, or the addresses behind `dns` (one of the two, or
    /// neither: a front end of one), asked every `interval` with `admin_token`.
    pub fn new(
        me: Replica,
        urls: &[String],
        dns: Option<&str>,
        interval: Duration,
        dns_interval: Duration,
        admin_token: Option<&str>,
    ) -> Self {
        let urls: Vec<String> = urls
            .iter()
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty())
            .collect();
        // (an empty list, as `SUPERPOWER_PEERS=` gives, is no peer)
        let targets = match (dns.filter(|d| !d.trim().is_empty()), urls.is_empty()) {
            (Some(d), _) => Some(Targets::Dns(d.trim().to_owned())),
            (None, true) => None,
            (None, false) => Some(Targets::Urls(urls)),
        };
        Peers {
            me,
            targets,
            interval,
            dns_interval,
            authorization: admin_token
                .and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok()),
            backend: Backend::new(PEER_TIMEOUT),
            resolved: tokio::sync::Mutex::new(Resolved {
                urls: Vec::new(),
                at: None,
            }),
            views: Mutex::new(Vec::new()),
        }
    }

    /// This replica.
    pub fn me(&self) -> &Replica {
        &self.me
    }

    /// Whether any peer is configured.
    pub fn configured(&self) -> bool {
        self.targets.is_some()
    }

    /// What each peer address answered last (this replica's own address left out).
    pub fn views(&self) -> Vec<PeerView> {
        self.views.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The peers' base URLs now: the configured ones, or the addresses behind the name
    /// (resolved again once `--dns-interval-ms` has passed; the last answer while a lookup
    /// fails).
    async fn urls(&self) -> Vec<String> {
        match &self.targets {
            None => Vec::new(),
            Some(Targets::Urls(urls)) => urls.clone(),
            Some(Targets::Dns(target)) => {
                let mut resolved = self.resolved.lock().await;
                if resolved
                    .at
                    .is_none_or(|at| at.elapsed() >= self.dns_interval)
                {
                    match tokio::time::timeout(
                        PEER_TIMEOUT * 5,
                        tokio::net::lookup_host(target.as_str()),
                    )
                    .await
                    {
                        Ok(Ok(addrs)) => {
                            let mut urls: Vec<String> =
                                addrs.map(|a| format!("http://{a}")).collect();
                            urls.sort();
                            urls.dedup();
                            resolved.urls = urls;
                        }
                        Ok(Err(err)) => {
                            tracing::debug!(%target, error = %err, "peers not resolved")
                        }
                        Err(_) => tracing::debug!(%target, "peers: the lookup timed out"),
                    }
                    resolved.at = Some(Instant::now());
                }
                resolved.urls.clone()
            }
        }
    }

    fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(auth) = &self.authorization {
            h.insert(AUTHORIZATION, auth.clone());
        }
        h
    }

    /// `GET /admin/peer` of one peer.
    async fn ask(&self, url: &str) -> Result<PeerState, String> {
        let reply = self
            .backend
            .get_with(
                url,
                PEER_PATH,
                &self.headers(),
                PEER_TIMEOUT,
                true,
                MAX_PEER_BYTES,
            )
            .await
            .map_err(|e| e.to_string())?;
        if reply.status != StatusCode::OK {
            return Err(match reply.status {
                StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND => format!(
                    "answered {} (every replica needs the same --admin-token)",
                    reply.status
                ),
                other => format!("answered {other}"),
            });
        }
        serde_json::from_slice(&reply.body).map_err(|e| format!("not a peer state: {e}"))
    }

    /// `PUT /admin/peer/switches` of one peer.
    async fn send_switches(&self, url: &str, switches: &Versioned) -> Result<(), String> {
        let mut req = Request::builder()
            .method(Method::PUT)
            .uri(format!("{url}{PEER_SWITCHES_PATH}"))
            .header(CONTENT_TYPE, "application/json");
        for (name, value) in &self.headers() {
            req = req.header(name, value);
        }
        let body = serde_json::to_vec(switches).map_err(|e| e.to_string())?;
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let reply = self
            .backend
            .send(req, PEER_TIMEOUT, true, MAX_PEER_BYTES)
            .await
            .map_err(|e| e.to_string())?;
        (reply.status == StatusCode::OK)
            .then_some(())
            .ok_or_else(|| format!("answered {}", reply.status))
    }

    /// One round: asks every peer, adopts newer switches, sends ours to the peers behind, keeps
    /// what each answered.
    pub async fn round(&self, switches: &Switches) {
        let urls = self.urls().await;
        let answers = futures_util::future::join_all(urls.iter().map(|u| self.ask(u))).await;
        let mut views = Vec::with_capacity(urls.len());
        for (url, answer) in urls.into_iter().zip(answers) {
            match answer {
                Ok(state) if state.replica.id == self.me.id => {}
                Ok(mut state) => {
                    switches.adopt(&state.switches);
                    state.seconds = promises::on_our_clock(state.seconds, state.now);
                    views.push(PeerView {
                        url,
                        state: Some(state),
                        error: None,
                    });
                }
                Err(error) => views.push(PeerView {
                    url,
                    state: None,
                    error: Some(error),
                }),
            }
        }
        let ours = switches.versioned();
        let behind = views.iter().filter(|v| {
            v.state
                .as_ref()
                .is_some_and(|s| s.switches.version < ours.version)
        });
        let sends = behind.map(|v| async {
            if let Err(error) = self.send_switches(&v.url, &ours).await {
                tracing::debug!(peer = %v.url, %error, "switches not sent");
            }
        });
        futures_util::future::join_all(sends).await;
        *self.views.lock().unwrap_or_else(|p| p.into_inner()) = views;
    }

    /// This replica's state, as its peers ask for it.
    pub fn state(&self, switches: &Switches, promises: &Promises) -> PeerState {
        PeerState {
            replica: self.me.clone(),
            switches: switches.versioned(),
            tracking: promises.tracking(),
            seconds: promises.seconds(),
            now: promises::unix_now(),
        }
    }
}

/// Runs a round every `--peer-interval-ms`, and at once after a change made here, until
/// cancelled.
pub fn spawn(peers: Arc<Peers>, switches: Arc<Switches>, cancel: CancellationToken) {
    if !peers.configured() {
        return;
    }
    tokio::spawn(peers.backend.clone().sweep_until(cancel.clone()));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = switches.changed() => {}
                () = tokio::time::sleep(peers.interval) => {}
            }
            peers.round(&switches).await;
        }
    });
}

/// A new replica id: 16 random hex digits.
pub fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(urls: &[&str], dns: Option<&str>) -> Peers {
        let me = Replica {
            id: new_id(),
            name: "me".into(),
        };
        let urls: Vec<String> = urls.iter().map(|u| (*u).to_owned()).collect();
        let second = Duration::from_secs(1);
        Peers::new(me, &urls, dns, second, second, Some("t"))
    }

    #[tokio::test]
    async fn blank_settings_are_no_peers_and_urls_are_tidied() {
        assert!(!peers(&[], None).configured());
        assert!(
            !peers(&["", "  "], None).configured(),
            "SUPERPOWER_PEERS= is no peer"
        );
        assert!(!peers(&[], Some(" ")).configured());
        let p = peers(&[" http://10.0.0.1:30280/ ", ""], None);
        assert!(p.configured());
        assert_eq!(p.urls().await, ["http://10.0.0.1:30280"]);
        assert!(peers(&[], Some("superpower-peers:30280")).configured());
    }
}
