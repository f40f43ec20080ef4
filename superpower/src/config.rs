//! Settings of the superpower service, from flags and environment variables.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

/// How superpower runs. Every flag has an environment variable; tests build it in code with
/// [`Settings::for_urls`].
#[derive(Args, Clone, Debug)]
pub struct Settings {
    /// Address to listen on (the original demo's address is the default).
    #[arg(long, env = "SUPERPOWER_LISTEN", default_value = "127.0.0.1:30280")]
    pub listen: SocketAddr,

    /// Base URL of a powersource instance; repeat the flag, or give a comma-separated list in
    /// the environment variable.
    #[arg(
        long = "powersource",
        env = "POWERSOURCE_URLS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:6061",
        conflicts_with = "powersource_dns"
    )]
    pub powersources: Vec<String>,

    /// A DNS name and port (`host:port`) whose every address is a powersource; re-resolved every
    /// `--dns-interval-ms`. This is how a Kubernetes headless service exposes its pods.
    #[arg(long, env = "POWERSOURCE_DNS")]
    pub powersource_dns: Option<String>,

    /// How often the DNS name is resolved again.
    #[arg(long, env = "SUPERPOWER_DNS_INTERVAL_MS", default_value_t = 3000)]
    pub dns_interval_ms: u64,

    /// How often each instance's `/health` is checked.
    #[arg(long, env = "SUPERPOWER_HEALTH_INTERVAL_MS", default_value_t = 1000)]
    pub health_interval_ms: u64,

    /// Timeout of one health check.
    #[arg(long, env = "SUPERPOWER_HEALTH_TIMEOUT_MS", default_value_t = 400)]
    pub health_timeout_ms: u64,

    /// After a passive ejection (a connection error or a timeout), an instance stays out at
    /// least this long, even if its `/health` answers: a hung instance often still does.
    #[arg(long, env = "SUPERPOWER_EJECT_COOLDOWN_MS", default_value_t = 5000)]
    pub eject_cooldown_ms: u64,

    /// Timeout of one attempt at one instance (tight deadlines on).
    #[arg(long, env = "SUPERPOWER_ATTEMPT_TIMEOUT_MS", default_value_t = 300)]
    pub attempt_timeout_ms: u64,

    /// Connect timeout (tight deadlines on).
    #[arg(long, env = "SUPERPOWER_CONNECT_TIMEOUT_MS", default_value_t = 100)]
    pub connect_timeout_ms: u64,

    /// Deadline of a whole answer, all attempts included (tight deadlines on). Below the 1 s
    /// promise, with room for rendering and the network.
    #[arg(long, env = "SUPERPOWER_DEADLINE_MS", default_value_t = 800)]
    pub deadline_ms: u64,

    /// Smallest hedge delay; the delay used is the recent p95 latency, but never below this.
    #[arg(long, env = "SUPERPOWER_HEDGE_MIN_MS", default_value_t = 20)]
    pub hedge_min_ms: u64,

    /// A fixed hedge delay; without it the delay follows the recent p95 latency (at least
    /// `--hedge-min-ms`, at most half the attempt timeout).
    #[arg(long, env = "SUPERPOWER_HEDGE_DELAY_MS")]
    pub hedge_delay_ms: Option<u64>,

    /// Users whose last known superpower is kept for fallback.
    #[arg(long, env = "SUPERPOWER_FALLBACK_USERS", default_value_t = 100_000)]
    pub fallback_users: usize,

    /// Bytes of images kept in memory.
    #[arg(long, env = "SUPERPOWER_IMAGE_CACHE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub image_cache_bytes: usize,

    /// Start with every resilience mechanism off (for teaching: see the promises break).
    #[arg(long, env = "SUPERPOWER_NAIVE")]
    pub naive: bool,

    /// Bearer token of the admin API and page; without one they are off.
    #[arg(long, env = "SUPERPOWER_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Seconds in-flight requests get to finish on shutdown.
    #[arg(long, env = "SUPERPOWER_DRAIN_TIMEOUT_MS", default_value_t = 10_000)]
    pub drain_timeout_ms: u64,
}

impl Settings {
    /// Settings with defaults and the given powersource URLs (for tests and benchmarks).
    pub fn for_urls(urls: impl IntoIterator<Item = String>) -> Self {
        Settings {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            powersources: urls.into_iter().collect(),
            powersource_dns: None,
            dns_interval_ms: 3000,
            health_interval_ms: 1000,
            health_timeout_ms: 400,
            eject_cooldown_ms: 5000,
            attempt_timeout_ms: 300,
            connect_timeout_ms: 100,
            deadline_ms: 800,
            hedge_min_ms: 20,
            hedge_delay_ms: None,
            fallback_users: 100_000,
            image_cache_bytes: 8 * 1024 * 1024,
            naive: false,
            admin_token: None,
            drain_timeout_ms: 10_000,
        }
    }

    pub(crate) fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }
}
