//! The powersource instances superpower knows, their health, and the ring of healthy ones.
//!
//! Membership comes from the configured URLs or from a DNS name resolved again every few
//! seconds (see [`crate::membership`]). Health is checked actively (`/health` about every
//! second) and passively: a connection error or a timeout on a real request ejects the instance
//! at once, for at least a cool-down, so a hung instance whose `/health` still answers does not
//! bounce straight back in. Passive ejection is capped ([`Ejection`]): it never empties the ring
//! and never takes more than a share of the instances off it, so an overload that makes every
//! instance time out does not eject them all. Every change rebuilds the ring once; requests only
//! read it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, Guard};
use http::Uri;
use service::metrics::{
    SUPERPOWER_KNOWN_INSTANCES, SUPERPOWER_POWERSOURCE_REQUEST_DURATION, SUPERPOWER_RING_MEMBERS,
};

use crate::ring::{Member, RouteRing};

/// The ring of healthy instances requests are routed over.
pub type InstanceRing = RouteRing<Instance>;

/// A bad powersource URL in the configuration. The URL it shows has any credentials replaced
/// by `***` ([`redact`]), since the error is logged.
#[derive(Debug, thiserror::Error)]
#[error("invalid powersource URL {url:?}: {why}")]
pub struct BadUrl {
    url: String,
    why: &'static str,
}

/// `url` with the user-info of its authority (`user:password@`), if any, replaced by `***`.
fn redact(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..start], &rest[at..]),
        None => url.to_owned(),
    }
}

/// One powersource instance.
#[derive(Debug)]
pub struct Instance {
    /// `host:port`: the instance's identity on the ring and in metrics.
    name: String,
    /// `http://host:port`, without a trailing slash.
    base: String,
    healthy: AtomicBool,
    /// Milliseconds since the fleet's epoch until which a passive ejection holds.
    ejected_until_ms: AtomicU64,
    /// This instance's call histograms, one per outcome, registered once (not looked up and
    /// labelled again on every call).
    calls: [metrics::Histogram; Outcome::ALL.len()],
}

/// How a call to an instance ended: the `outcome` label of
/// `superpower_powersource_request_duration_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx or 304 answer.
    Ok,
    /// A 404 answer (final: the instance is fine).
    NotFound,
    /// Another status, or a broken answer.
    Error,
    /// No complete answer in time.
    Timeout,
    /// No connection.
    ConnectError,
    /// A good answer that came after a hedge had already won.
    HedgeLost,
}

impl Outcome {
    /// Every outcome, in the order of [`Outcome::index`].
    pub const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::NotFound,
        Outcome::Error,
        Outcome::Timeout,
        Outcome::ConnectError,
        Outcome::HedgeLost,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::NotFound => "not_found",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::ConnectError => "connect_error",
            Outcome::HedgeLost => "hedge_lost",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl Instance {
    /// Parses a base URL (`http://host:port`, optionally with a trailing slash).
    ///
    /// # Errors
    /// When the URL is not plain `http://host[:port]`; credentials (`http://user:pw@host`) are
    /// refused, as the instance's name is a public `/metrics` label and is logged.
    pub fn new(url: impl Into<String>) -> Result<Self, BadUrl> {
        let raw = url.into();
        let url = redact(&raw);
        if url != raw {
            return Err(BadUrl {
                url,
                why: "credentials in the URL are not supported (they would show in /metrics and the logs)",
            });
        }
        let trimmed = url.trim().trim_end_matches('/');
        let uri: Uri = trimmed.parse().map_err(|_| BadUrl {
            url: url.clone(),
            why: "not a URL",
        })?;
        if uri.scheme_str() != Some("http") {
            return Err(BadUrl {
                url,
                why: "only http:// is supported",
            });
        }
        let Some(authority) = uri.authority() else {
            return Err(BadUrl {
                url,
                why: "no host",
            });
        };
        if uri.path() != "/" && !uri.path().is_empty() {
            return Err(BadUrl {
                url,
                why: "give the base URL without a path",
            });
        }
        let name = if authority.port().is_some() {
            authority.to_string()
        } else {
            format!("{}:80", authority.host())
        };
        let calls = Outcome::ALL.map(|outcome| {
            metrics::histogram!(SUPERPOWER_POWERSOURCE_REQUEST_DURATION, "instance" => name.clone(), "outcome" => outcome.as_str())
        });
        Ok(Instance {
            base: format!("http://{name}"),
            name,
            healthy: AtomicBool::new(false),
            ejected_until_ms: AtomicU64::new(0),
            calls,
        })
    }

    /// `host:port`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `http://host:port`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Records one call's latency under `outcome`.
    pub fn record_call(&self, outcome: Outcome, elapsed: std::time::Duration) {
        self.calls[outcome.index()].record(elapsed.as_secs_f64());
    }

    /// Whether the instance is on the ring.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }
}

impl Member for Instance {
    fn name(&self) -> &str {
        &self.name
    }
}

/// How passive ejection behaves.
#[derive(Clone, Copy, Debug)]
pub struct Ejection {
    /// How long an ejected instance stays out, whatever its `/health` says.
    pub cooldown: Duration,
    /// Most instances ejected at once, as a percentage of the known ones (at least one).
    pub max_percent: u8,
}

impl Ejection {
    /// How many of `known` instances may be ejected at once.
    fn most_at_once(&self, known: usize) -> usize {
        (known * usize::from(self.max_percent) / 100).max(1)
    }
}

/// All known instances and the ring of the healthy ones.
pub struct Fleet {
    instances: ArcSwap<Vec<Arc<Instance>>>,
    ring: ArcSwap<InstanceRing>,
    /// Serializes rebuilds, so the last one always sees the latest health.
    rebuild: Mutex<()>,
    /// Serializes passive ejections, so two at once cannot both pass the cap.
    ejecting: Mutex<()>,
    epoch: Instant,
    ejection: Ejection,
}

impl Fleet {
    /// A fleet of `instances`, all unhealthy until checked.
    pub fn new(instances: Vec<Arc<Instance>>, ejection: Ejection) -> Self {
        let fleet = Fleet {
            instances: ArcSwap::from_pointee(instances),
            ring: ArcSwap::from_pointee(RouteRing::empty()),
            rebuild: Mutex::new(()),
            ejecting: Mutex::new(()),
            epoch: Instant::now(),
            ejection,
        };
        fleet.rebuild();
        fleet
    }

    /// The ring as it is now.
    pub fn ring(&self) -> Guard<Arc<InstanceRing>> {
        self.ring.load()
    }

    /// Every known instance.
    pub fn instances(&self) -> Arc<Vec<Arc<Instance>>> {
        self.instances.load_full()
    }

    /// Passive ejection after a connection error or timeout; returns whether it took effect.
    /// An instance already ejected has its cool-down extended. A new ejection is refused when it
    /// would leave the ring empty or eject more instances at once than [`Ejection`] allows.
    pub fn eject(&self, inst: &Instance) -> bool {
        let _one_at_a_time = self.ejecting.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.now_ms();
        let cooldown_ms = self.ejection.cooldown.as_millis() as u64;
        if inst.ejected_until_ms.load(Ordering::Acquire) <= now {
            let all = self.instances();
            let ejected = all
                .iter()
                .filter(|i| i.ejected_until_ms.load(Ordering::Acquire) > now)
                .count();
            let others_on_ring = self
                .ring()
                .members()
                .iter()
                .filter(|m| m.name() != inst.name())
                .count();
            if others_on_ring == 0 || ejected >= self.ejection.most_at_once(all.len()) {
                tracing::debug!(
                    instance = inst.name(),
                    ejected,
                    others_on_ring,
                    "passive ejection refused (cap)"
                );
                return false;
            }
        }
        inst.ejected_until_ms
            .fetch_max(now + cooldown_ms, Ordering::AcqRel);
        if inst.healthy.swap(false, Ordering::AcqRel) {
            tracing::warn!(instance = inst.name(), cooldown_ms, "instance ejected");
            self.rebuild();
        }
        true
    }

    /// Records an active health check; returns true when the instance's state changed (the
    /// caller rebuilds once after a round).
    pub fn record_check(&self, inst: &Instance, ok: bool) -> bool {
        let ok = ok && inst.ejected_until_ms.load(Ordering::Acquire) <= self.now_ms();
        let was = inst.healthy.swap(ok, Ordering::AcqRel);
        if was != ok {
            if ok {
                tracing::info!(instance = inst.name(), "instance healthy, on the ring");
            } else {
                tracing::warn!(instance = inst.name(), "instance unhealthy, off the ring");
            }
        }
        was != ok
    }

    /// Replaces the membership (DNS): keeps known instances (with their health) that are still
    /// listed, adds new ones (unhealthy until checked), drops the rest. Returns the new ones.
    pub fn set_members(&self, names: &[String]) -> Vec<Arc<Instance>> {
        let current = self.instances();
        let mut next = Vec::with_capacity(names.len());
        let mut added = Vec::new();
        for name in names {
            if let Some(known) = current.iter().find(|i| i.name() == name) {
                next.push(known.clone());
            } else if let Ok(inst) = Instance::new(format!("http://{name}")) {
                let inst = Arc::new(inst);
                tracing::info!(instance = inst.name(), "instance discovered");
                added.push(inst.clone());
                next.push(inst);
            }
        }
        let removed = current
            .iter()
            .filter(|i| !names.iter().any(|n| n == i.name()))
            .count();
        if !added.is_empty() || removed > 0 {
            if removed > 0 {
                tracing::info!(removed, "instances gone from DNS");
            }
            self.instances.store(Arc::new(next));
            self.rebuild();
        }
        added
    }

    /// Rebuilds the ring from the healthy instances and updates the gauges.
    pub fn rebuild(&self) {
        let _one_at_a_time = self.rebuild.lock().unwrap_or_else(|p| p.into_inner());
        let all = self.instances();
        let healthy: Vec<_> = all.iter().filter(|i| i.is_healthy()).cloned().collect();
        let ring = RouteRing::build(healthy);
        metrics::gauge!(SUPERPOWER_RING_MEMBERS).set(ring.len() as f64);
        metrics::gauge!(SUPERPOWER_KNOWN_INSTANCES).set(all.len() as f64);
        self.ring.store(Arc::new(ring));
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_validated_and_normalized() {
        assert_eq!(
            Instance::new("http://127.0.0.1:6061/").unwrap().base(),
            "http://127.0.0.1:6061"
        );
        assert_eq!(
            Instance::new("http://powersource").unwrap().name(),
            "powersource:80"
        );
        for bad in [
            "",
            "127.0.0.1:6061",
            "https://x:1",
            "http://x:1/path",
            "ftp://x",
        ] {
            assert!(Instance::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_in_a_url_are_refused_and_never_shown() {
        for url in [
            "http://user:s3cret@127.0.0.1:6061",
            "http://user@127.0.0.1:6061/",
            "http://:s3cret@powersource",
        ] {
            let err = Instance::new(url).expect_err(url).to_string();
            assert!(err.contains("credentials"), "{url}: {err}");
            assert!(!err.contains("s3cret") && !err.contains("user"), "{err}");
        }
    }

    #[test]
    fn redaction_hides_only_the_user_info() {
        assert_eq!(redact("http://u:p@h:1/x@y"), "http://***@h:1/x@y");
        assert_eq!(redact("http://h:1/x@y"), "http://h:1/x@y");
        assert_eq!(redact("u:p@h"), "***@h");
        assert_eq!(redact(""), "");
    }

    #[test]
    fn outcomes_index_their_own_histogram() {
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(o.index(), i, "{}", o.as_str());
        }
    }

    fn healthy_fleet(n: usize, max_percent: u8) -> (Fleet, Vec<Arc<Instance>>) {
        let instances: Vec<_> = (0..n)
            .map(|i| Arc::new(Instance::new(format!("http://127.0.0.1:{}", 7000 + i)).unwrap()))
            .collect();
        let ejection = Ejection {
            cooldown: Duration::from_secs(60),
            max_percent,
        };
        let fleet = Fleet::new(instances.clone(), ejection);
        for inst in &instances {
            assert!(fleet.record_check(inst, true));
        }
        fleet.rebuild();
        assert_eq!(fleet.ring().len(), n);
        (fleet, instances)
    }

    #[test]
    fn ejection_holds_for_the_cooldown() {
        let (fleet, instances) = healthy_fleet(2, 50);
        assert!(fleet.eject(&instances[0]));
        assert_eq!(fleet.ring().len(), 1);
        assert!(
            !fleet.record_check(&instances[0], true),
            "a healthy check does not end the cooldown"
        );
        assert!(!instances[0].is_healthy());
        assert!(
            fleet.eject(&instances[0]),
            "an ejected instance's cool-down is extended"
        );
    }

    #[test]
    fn passive_ejection_never_empties_the_ring() {
        let (fleet, instances) = healthy_fleet(1, 100);
        assert!(!fleet.eject(&instances[0]));
        assert_eq!(fleet.ring().len(), 1, "the last instance stays on the ring");
        let (fleet, instances) = healthy_fleet(3, 100);
        assert!(fleet.eject(&instances[0]));
        assert!(fleet.eject(&instances[1]));
        assert!(
            !fleet.eject(&instances[2]),
            "the last one on the ring stays"
        );
        assert_eq!(fleet.ring().len(), 1);
        assert!(
            fleet.record_check(&instances[2], false),
            "the active health check still takes it off"
        );
    }

    #[test]
    fn passive_ejection_is_capped_at_a_share_of_the_instances() {
        let (fleet, instances) = healthy_fleet(3, 50);
        assert!(fleet.eject(&instances[0]));
        assert!(!fleet.eject(&instances[1]), "50% of 3 is one at a time");
        assert_eq!(fleet.ring().len(), 2);
        let (fleet, instances) = healthy_fleet(10, 50);
        let ejected = instances.iter().filter(|i| fleet.eject(i)).count();
        assert_eq!(ejected, 5);
        assert_eq!(fleet.ring().len(), 5);
        let (fleet, instances) = healthy_fleet(4, 0);
        assert!(fleet.eject(&instances[0]), "at least one may always go");
        assert!(!fleet.eject(&instances[1]));
    }

    #[test]
    fn dns_membership_keeps_known_instances() {
        let ejection = Ejection {
            cooldown: Duration::from_secs(1),
            max_percent: 50,
        };
        let fleet = Fleet::new(Vec::new(), ejection);
        let added = fleet.set_members(&["127.0.0.2:6061".into(), "127.0.0.3:6061".into()]);
        assert_eq!(added.len(), 2);
        fleet.record_check(&added[0], true);
        let added = fleet.set_members(&["127.0.0.2:6061".into()]);
        assert!(added.is_empty());
        assert_eq!(fleet.instances().len(), 1);
        assert!(
            fleet.instances()[0].is_healthy(),
            "health survives a re-resolution"
        );
    }
}
