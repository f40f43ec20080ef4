//! Settings: command-line flags with environment fallbacks (clap derive). Tests build
//! [`Settings`] in code.

use std::path::PathBuf;

use std::time::Duration;

use clap::{Args, Parser};
use service::config::{
    positive_count, positive_millis, DEFAULT_CLIENT_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS,
};

use service::api::{FaultSpec, FaultSpecError};

/// How a powersource runs.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "powersource",
    version,
    about = "superpower's back end: characters, images and stable assignments"
)]
pub struct Settings {
    /// Address to listen on (`host:port`).
    #[arg(long, env = "POWERSOURCE_LISTEN", default_value = "127.0.0.1:6061")]
    pub listen: String,

    /// The sled store to serve (written by `loader ingest`). Opened read-mostly; sled allows one
    /// process per store, so each instance has its own.
    #[arg(
        long,
        env = "POWERSOURCE_STORE",
        default_value = "var/stores/powersource"
    )]
    pub store: PathBuf,

    /// Instance name, sent in `X-Powersource-Instance` on every response (default: the listen
    /// address).
    #[arg(long, env = "POWERSOURCE_NAME")]
    pub name: Option<String>,

    /// Bearer token of the admin API (`/admin/faults`). Without one (or with an empty one) the
    /// admin API is off and answers 404. Its variable is the one superpower's
    /// `--powersource-admin-token` reads, so one setting gives both sides the same token.
    #[arg(long, env = "POWERSOURCE_ADMIN_TOKEN", hide_env_values = true, value_parser = service::config::admin_token)]
    pub admin_token: Option<String>,

    /// Connections served at once, one limit for the process. Past it, up to 64 more are
    /// accepted for probes: `/live` and `/health` answered, any other request a 503 that closes
    /// the connection; past those, a connection is closed at once.
    #[arg(long, env = "POWERSOURCE_MAX_CONNECTIONS", value_parser = positive_count, default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// A client that reads no byte of an answer for this long has its connection closed, and
    /// one that takes longer to send a request body (the admin API's) is answered 408.
    #[arg(long = "client-timeout-ms", env = "POWERSOURCE_CLIENT_TIMEOUT_MS", value_parser = positive_millis, default_value = DEFAULT_CLIENT_TIMEOUT_MS)]
    pub client_timeout: Duration,

    /// The memory this powersource may use, in MiB: its container's limit (the manifests give
    /// 128Mi). A dataset estimated to need more is still served, with a warning at start; so is
    /// one over the cgroup's own memory limit, when that is lower.
    #[arg(long, env = "POWERSOURCE_MEMORY_LIMIT_MIB", value_parser = clap::value_parser!(u64).range(1..), default_value_t = common::memory::DOCUMENTED_LIMIT_MIB)]
    pub memory_limit_mib: u64,

    /// Faults injected from start-up (the admin API can change them later).
    #[command(flatten)]
    pub faults: FaultArgs,

    /// Traces (OpenTelemetry): off without an OTLP endpoint.
    #[command(flatten)]
    pub traces: service::traces::TraceSettings,
}

/// Start-up fault flags; the same fields as the admin API's body.
#[derive(Clone, Debug, Args)]
pub struct FaultArgs {
    /// Added latency on product routes, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub fault_latency_ms: u64,

    /// Random extra latency, uniform in 0..=N milliseconds, on top of `--fault-latency-ms`.
    #[arg(long, default_value_t = 0)]
    pub fault_jitter_ms: u64,

    /// Fraction of product requests answered with HTTP 500 (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0)]
    pub fault_error_rate: f64,

    /// Accept product requests and never answer them (until shutdown).
    #[arg(long)]
    pub fault_hang: bool,

    /// Limit the faults to one route template (for example `/characters/{id}`); all product
    /// routes when absent.
    #[arg(long)]
    pub fault_route: Option<String>,
}

impl Default for FaultArgs {
    /// No fault: the flags' defaults.
    fn default() -> Self {
        service::config::defaults()
    }
}

impl Settings {
    /// Settings for `store`, listening on `listen`, every other setting at its default (no
    /// admin token, no faults); what tests start from.
    pub fn new(listen: impl Into<String>, store: impl Into<PathBuf>) -> Self {
        Settings {
            listen: listen.into(),
            store: store.into(),
            ..service::config::defaults()
        }
    }

    /// The instance name: `--name`, else the listen address.
    pub fn instance_name(&self) -> &str {
        self.name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.listen)
    }

    /// The admin token, when one is configured and not empty.
    pub fn admin_token(&self) -> Option<&str> {
        self.admin_token.as_deref().filter(|t| !t.is_empty())
    }

    /// The start-up faults, validated like an admin `PUT`.
    ///
    /// # Errors
    /// [`FaultSpecError`] when a flag is out of range or names an unknown route.
    pub fn fault_spec(&self) -> Result<FaultSpec, FaultSpecError> {
        let f = &self.faults;
        let spec = FaultSpec {
            latency_ms: f.fault_latency_ms,
            jitter_ms: f.fault_jitter_ms,
            error_rate: f.fault_error_rate,
            hang: f.fault_hang,
            route: f.fault_route.clone(),
            duration_ms: None,
        };
        spec.validate()?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_defaults_hold() {
        let s = Settings::try_parse_from([
            "powersource",
            "--listen",
            "127.0.0.1:0",
            "--store",
            "/tmp/x",
            "--fault-latency-ms",
            "20",
            "--fault-route",
            "/random",
        ])
        .unwrap();
        assert_eq!(s.instance_name(), "127.0.0.1:0");
        assert_eq!(s.fault_spec().unwrap().latency_ms, 20);
        assert_eq!(s.admin_token(), None);
        assert_eq!(s.memory_limit_mib, 128, "the manifests' limit");
    }

    #[test]
    fn the_default_memory_limit_is_the_manifests() {
        // the warning's default limit is the container's: if one changes, so must the other
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let read = |p: &str| std::fs::read_to_string(repo.join(p)).unwrap();
        let manifest = read("deploy/kubernetes/base/powersource.yaml");
        let container = &manifest[manifest.find("- name: powersource\n").unwrap()..];
        let limits = &container[container.find("limits:").unwrap()..];
        let memory = limits.lines().find(|l| l.contains("memory:")).unwrap();
        let limit = common::memory::DOCUMENTED_LIMIT_MIB;
        assert_eq!(memory.trim(), format!("memory: {limit}Mi"));
        let compose = read("deploy/compose/compose.yaml");
        let service = &compose[compose.find("x-powersource: &powersource").unwrap()..];
        let memory = service.lines().find(|l| l.contains("mem_limit:")).unwrap();
        assert_eq!(memory.trim(), format!("mem_limit: {limit}m"));
    }

    #[test]
    fn the_admin_token_has_powersources_own_variable() {
        use clap::CommandFactory;
        let command = Settings::command();
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == "admin_token")
            .unwrap();
        assert_eq!(
            arg.get_env().and_then(|e| e.to_str()),
            Some("POWERSOURCE_ADMIN_TOKEN"),
            "what superpower's --powersource-admin-token reads too"
        );
        assert!(arg.is_hide_env_values_set());
    }

    #[test]
    fn a_token_no_client_can_send_is_refused_at_start() {
        let err = Settings::try_parse_from(["powersource", "--admin-token", "café"])
            .expect_err("a non-ASCII token")
            .to_string();
        assert!(err.contains("printable ASCII"), "{err}");
    }

    #[test]
    fn bad_fault_flags_are_refused() {
        let mut s = Settings::new("127.0.0.1:0", "/tmp/x");
        s.faults.fault_error_rate = 1.5;
        assert!(s.fault_spec().is_err());
        s.faults.fault_error_rate = 0.5;
        s.faults.fault_route = Some("/nope".into());
        assert!(s.fault_spec().is_err());
    }
}
