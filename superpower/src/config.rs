//! Settings of the superpower service, from flags and environment variables.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use crate::remembered::CookieKey;
use service::config::{
    millis, positive_count, positive_millis, DEFAULT_CLIENT_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS,
};

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
    #[arg(long = "dns-interval-ms", env = "SUPERPOWER_DNS_INTERVAL_MS", value_parser = positive_millis, default_value = "3000")]
    pub dns_interval: Duration,

    /// How often each instance's `/health` is checked.
    #[arg(long = "health-interval-ms", env = "SUPERPOWER_HEALTH_INTERVAL_MS", value_parser = positive_millis, default_value = "1000")]
    pub health_interval: Duration,

    /// Timeout of one health check.
    #[arg(long = "health-timeout-ms", env = "SUPERPOWER_HEALTH_TIMEOUT_MS", value_parser = positive_millis, default_value = "400")]
    pub health_timeout: Duration,

    /// After a passive ejection (a connection error or a timeout), an instance stays out at
    /// least this long, even if its `/health` answers: a hung instance often still does.
    #[arg(long = "eject-cooldown-ms", env = "SUPERPOWER_EJECT_COOLDOWN_MS", value_parser = millis, default_value = "5000")]
    pub eject_cooldown: Duration,

    /// Passive ejections never take more than this share of the known instances off the ring at
    /// once (at least one), and never the last instance on it: when every instance times out (an
    /// overload, a slow network) the ring stays, and the active health check decides.
    #[arg(long = "max-ejection-percent", env = "SUPERPOWER_MAX_EJECTION_PERCENT", value_parser = clap::value_parser!(u8).range(0..=100), default_value = "50")]
    pub max_ejection_percent: u8,

    /// Timeout of one attempt at one instance (tight deadlines on).
    #[arg(long = "attempt-timeout-ms", env = "SUPERPOWER_ATTEMPT_TIMEOUT_MS", value_parser = positive_millis, default_value = "300")]
    pub attempt_timeout: Duration,

    /// Connect timeout (tight deadlines on).
    #[arg(long = "connect-timeout-ms", env = "SUPERPOWER_CONNECT_TIMEOUT_MS", value_parser = positive_millis, default_value = "100")]
    pub connect_timeout: Duration,

    /// Deadline of a whole answer, all attempts included (tight deadlines on). Below the 1 s
    /// promise, with room for rendering and the network.
    #[arg(long = "deadline-ms", env = "SUPERPOWER_DEADLINE_MS", value_parser = positive_millis, default_value = "800")]
    pub deadline: Duration,

    /// Smallest hedge delay; the delay used is the recent p95 latency, but never below this.
    #[arg(long = "hedge-min-ms", env = "SUPERPOWER_HEDGE_MIN_MS", value_parser = millis, default_value = "20")]
    pub hedge_min: Duration,

    /// A fixed hedge delay; without it the delay follows the recent p95 latency (at least
    /// `--hedge-min-ms`, at most half the attempt timeout).
    #[arg(long = "hedge-delay-ms", env = "SUPERPOWER_HEDGE_DELAY_MS", value_parser = millis)]
    pub hedge_delay: Option<Duration>,

    /// The key of the `superpower_last` cookie (each user's last known character, signed with
    /// HMAC-SHA256): hex, at least 32 bytes, the same on every replica of the front end. Without
    /// one, a random key per process (and a warning): a user's cookie is then good only on the
    /// replica that signed it, until it restarts.
    #[arg(long, env = "SUPERPOWER_COOKIE_KEY", hide_env_values = true, value_parser = crate::remembered::parse_key)]
    pub cookie_key: Option<CookieKey>,

    /// A previous cookie key, still accepted (never used to sign): for rotating the key.
    #[arg(long, env = "SUPERPOWER_COOKIE_KEY_PREVIOUS", hide_env_values = true, value_parser = crate::remembered::parse_key)]
    pub cookie_key_previous: Option<CookieKey>,

    /// Bytes of characters kept to render degraded answers (the whole dataset: the sample's 250
    /// characters take about 150 KB, so the default holds some 13,000 of their size).
    #[arg(long, env = "SUPERPOWER_CATALOG_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub catalog_bytes: usize,

    /// How often the catalog asks a powersource whether the dataset changed (one conditional
    /// request, 304 while it has not).
    #[arg(long = "catalog-interval-ms", env = "SUPERPOWER_CATALOG_INTERVAL_MS", value_parser = positive_millis, default_value = "5000")]
    pub catalog_interval: Duration,

    /// Base URL of another replica of this front end (switches and promises are shared with
    /// it); repeat the flag, or give a comma-separated list in the environment variable.
    #[arg(
        long = "peer",
        env = "SUPERPOWER_PEERS",
        value_delimiter = ',',
        conflicts_with = "peers_dns"
    )]
    pub peers: Vec<String>,

    /// A DNS name and port (`host:port`) whose every address is a replica of this front end (a
    /// Kubernetes headless Service); re-resolved every `--dns-interval-ms`, at most 3 s; this
    /// replica recognizes and skips itself.
    #[arg(long, env = "SUPERPOWER_PEERS_DNS")]
    pub peers_dns: Option<String>,

    /// How often each peer is asked for its switches and promises.
    #[arg(long = "peer-interval-ms", env = "SUPERPOWER_PEER_INTERVAL_MS", value_parser = positive_millis, default_value = "500")]
    pub peer_interval: Duration,

    /// This replica's name on the control page and in `/promises.json` (Kubernetes: the pod's
    /// name); by default the listen address.
    #[arg(long, env = "SUPERPOWER_REPLICA_NAME")]
    pub replica_name: Option<String>,

    /// Bytes of prepared answers (a powersource answer decoded, its JSON and HTML rendered)
    /// kept by the process, each worker thread its equal share, so a repeated answer is not
    /// decoded and rendered again; 0 turns this off. An entry of the sample dataset is about
    /// 2.5 KB, so the default holds some 6,500 in all (3,300 per worker thread on 2 cores).
    #[arg(long, env = "SUPERPOWER_ANSWER_CACHE_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub answer_cache_bytes: usize,

    /// Bytes of images kept in memory.
    #[arg(long, env = "SUPERPOWER_IMAGE_CACHE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub image_cache_bytes: usize,

    /// How long a cached image is served without asking powersource again; after that it is
    /// revalidated with its ETag (a 304 keeps it), so a re-ingested image shows within this.
    #[arg(long = "image-ttl-ms", env = "SUPERPOWER_IMAGE_TTL_MS", value_parser = millis, default_value = "5000")]
    pub image_ttl: Duration,

    /// Start with every resilience mechanism off (for teaching: see the promises break).
    #[arg(long, env = "SUPERPOWER_NAIVE")]
    pub naive: bool,

    /// Do not measure the promises live (the identity check, the per-second latency ring of
    /// `/promises`): the benchmark's "off" side, to show what the measurement costs.
    #[arg(long, env = "SUPERPOWER_NO_PROMISE_TRACKING")]
    pub no_promise_tracking: bool,

    /// Bearer token of the admin API and page; without one they are off.
    #[arg(long, env = "SUPERPOWER_ADMIN_TOKEN", hide_env_values = true, value_parser = service::config::admin_token)]
    pub admin_token: Option<String>,

    /// Bearer token superpower sends to each powersource's admin API (`/admin/faults`) when the
    /// control room reads or sets faults; without one, the admin token above.
    #[arg(long, env = "POWERSOURCE_ADMIN_TOKEN", hide_env_values = true, value_parser = service::config::admin_token)]
    pub powersource_admin_token: Option<String>,

    /// Connections served at once, one limit for the process. Past it, up to 64 more are
    /// accepted for probes: `/live` and `/health` answered, any other request a 503 that closes
    /// the connection; past those, a connection is closed at once.
    #[arg(long, env = "SUPERPOWER_MAX_CONNECTIONS", value_parser = positive_count, default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// A client that reads no byte of an answer for this long has its connection closed, and
    /// one that takes longer to send a request body (the admin API's) is answered 408.
    #[arg(long = "client-timeout-ms", env = "SUPERPOWER_CLIENT_TIMEOUT_MS", value_parser = positive_millis, default_value = DEFAULT_CLIENT_TIMEOUT_MS)]
    pub client_timeout: Duration,

    /// Worker threads serving requests, each with its own single-threaded runtime, accept loop
    /// and connection pool to powersource (thread per core); by default one per core.
    #[arg(long, env = "SUPERPOWER_WORKERS", value_parser = positive_count)]
    pub workers: Option<usize>,

    /// Milliseconds of lame duck on SIGTERM before the drain: `/health` answers 503 (so a balancer
    /// or a Service takes the replica out) while every request is still served, each answer
    /// closing its connection (so keep-alive clients reconnect elsewhere). 0: drain at once. Set it
    /// to the time the balancer in front needs to see the replica fail (`deploy/` sets it).
    #[arg(long = "lame-duck-ms", env = "SUPERPOWER_LAME_DUCK_MS", value_parser = millis, default_value = "0")]
    pub lame_duck: Duration,

    /// Milliseconds in-flight requests get to finish on shutdown.
    #[arg(long = "drain-timeout-ms", env = "SUPERPOWER_DRAIN_TIMEOUT_MS", value_parser = millis, default_value = "10000")]
    pub drain_timeout: Duration,

    /// Traces (OpenTelemetry): off without an OTLP endpoint.
    #[command(flatten)]
    pub traces: service::traces::TraceSettings,
}

impl Settings {
    /// This replica's name (`--replica-name` when not blank, else `or()`: its listen address):
    /// on the control page, in `/promises.json` and as the spans' `service.instance.id`.
    pub fn replica_name_or(&self, or: impl FnOnce() -> String) -> String {
        self.replica_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(or)
    }

    /// Settings with defaults (as the flags state them) and the given powersource URLs,
    /// listening on port 0: for tests and benchmarks.
    pub fn for_urls(urls: impl IntoIterator<Item = String>) -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            powersources: urls.into_iter().collect(),
            ..service::config::defaults()
        }
    }

    /// The token superpower sends to powersource's admin API: `--powersource-admin-token`,
    /// else its own admin token.
    pub fn powersource_admin_token(&self) -> Option<&str> {
        self.powersource_admin_token
            .as_deref()
            .or(self.admin_token.as_deref())
            .filter(|t| !t.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_flags_defaults() {
        let s = Settings::for_urls(["http://127.0.0.1:1".to_owned()]);
        assert_eq!(s.attempt_timeout, Duration::from_millis(300));
        assert_eq!(s.deadline, Duration::from_millis(800));
        assert!(
            s.deadline < service::promise::LATENCY_LIMIT,
            "below the promise"
        );
        assert_eq!(s.drain_timeout, Duration::from_secs(10));
        assert_eq!(s.hedge_delay, None);
        assert_eq!(s.cookie_key, None);
        assert_eq!(s.catalog_bytes, 8 * 1024 * 1024);
        assert_eq!(s.peer_interval, Duration::from_millis(500));
        assert!(s.peers.is_empty() && s.peers_dns.is_none());
        assert_eq!(s.answer_cache_bytes, 16 * 1024 * 1024);
        assert_eq!(s.max_connections, 1_000);
        assert_eq!(s.client_timeout, Duration::from_secs(10));
        assert_eq!(s.listen.port(), 0);
        assert_eq!(s.powersources, ["http://127.0.0.1:1"]);
    }

    #[test]
    fn a_token_no_client_can_send_is_refused_at_start() {
        use clap::Parser;
        for flag in ["--admin-token", "--powersource-admin-token"] {
            let err = crate::cli::Cli::try_parse_from(["superpower", flag, "café"])
                .expect_err(flag)
                .to_string();
            assert!(err.contains("printable ASCII"), "{flag}: {err}");
            assert!(crate::cli::Cli::try_parse_from(["superpower", flag, "cafe"]).is_ok());
        }
    }

    #[test]
    fn zero_intervals_and_timeouts_are_refused_clearly() {
        use clap::Parser;
        for flag in [
            "--health-interval-ms",
            "--dns-interval-ms",
            "--health-timeout-ms",
            "--attempt-timeout-ms",
            "--connect-timeout-ms",
            "--deadline-ms",
        ] {
            let err = crate::cli::Cli::try_parse_from(["superpower", flag, "0"])
                .expect_err(flag)
                .to_string();
            assert!(
                err.contains(flag) && err.contains("at least 1 millisecond"),
                "{flag}: {err}"
            );
            assert!(crate::cli::Cli::try_parse_from(["superpower", flag, "1"]).is_ok());
        }
    }

    #[test]
    fn a_bad_cookie_key_is_refused_at_start() {
        use clap::Parser;
        let err = crate::cli::Cli::try_parse_from(["superpower", "--cookie-key", "abcd"])
            .expect_err("too short")
            .to_string();
        assert!(err.contains("at least 32 bytes"), "{err}");
        let ok = crate::cli::Cli::try_parse_from(["superpower", "--cookie-key", &"0f".repeat(32)]);
        assert!(ok.is_ok());
    }

    #[test]
    fn the_powersource_token_falls_back_to_the_admin_token() {
        let mut s = Settings::for_urls([]);
        assert_eq!(s.powersource_admin_token(), None);
        s.admin_token = Some("a".into());
        assert_eq!(s.powersource_admin_token(), Some("a"));
        s.powersource_admin_token = Some("p".into());
        assert_eq!(s.powersource_admin_token(), Some("p"));
    }
}
