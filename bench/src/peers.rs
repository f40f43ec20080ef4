//! The peers: what a user who only wants "the same back end for the same cookie" would put in
//! front of the powersources instead of superpower. nginx (`hash $cookie_superpower_id
//! consistent`, proxying `/assignments/{cookie}`) and HAProxy (`balance hash
//! req.cook(superpower_id)`, `hash-type consistent`, the path rewritten the same way), from
//! Debian's packages, configured as fairly as superpower is run:
//!
//! - keep-alive to the back ends, 2 workers (nginx) or 2 threads (HAProxy): the machine's cores;
//! - superpower's timeouts: 100 ms to connect, 300 ms for an attempt, 800 ms for the whole
//!   request, and the next instance tried on a connection error, a timeout or a 5xx (nginx
//!   `proxy_next_upstream`, HAProxy `retry-on` + `option redispatch`);
//! - an instance that failed is avoided for 5 s (superpower's eject cool-down: nginx
//!   `max_fails=1 fail_timeout=5s`); HAProxy also checks `/health` every second, as
//!   superpower does (nginx has no active checks outside nginx Plus);
//! - an access log line per request, written as the request ends (nginx `combined` to a file,
//!   HAProxy `option httplog` to its standard output, a file);
//! - HAProxy's `maxconn` 4000 (the benchmark's file-descriptor limit is 20,000).
//!
//! Each config is written into its own folder, the process runs in the foreground in its own
//! process group (stopped by its pid, workers included), as `nobody` when the benchmark runs as
//! root: never the system services.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::report::FrontEnd;

/// The cookie both peers hash, superpower's identity cookie.
pub use service::promise::ID_COOKIE as COOKIE;
/// The unprivileged user (and group) a peer runs as when the benchmark is root: `nobody`.
pub const NOBODY: (u32, u32) = (65534, 65534);
/// HAProxy's `maxconn` (the file-descriptor limit is 20,000; two per proxied connection).
pub const HAPROXY_MAXCONN: u32 = 4000;
/// nginx's `worker_connections` per worker.
pub const NGINX_WORKER_CONNECTIONS: u32 = 4096;
/// Idle keep-alive connections each nginx worker keeps to the back ends.
pub const NGINX_KEEPALIVE: u32 = 64;

/// superpower's timeouts, which the peers are given too (its defaults).
pub struct Timeouts {
    /// `--connect-timeout-ms`.
    pub connect_ms: u64,
    /// `--attempt-timeout-ms`.
    pub attempt_ms: u64,
    /// `--deadline-ms`.
    pub deadline_ms: u64,
    /// `--eject-cooldown-ms`.
    pub eject_ms: u64,
    /// `--health-interval-ms`.
    pub health_interval_ms: u64,
    /// `--health-timeout-ms`.
    pub health_timeout_ms: u64,
}

/// superpower's defaults (see `superpower --help`).
pub const SUPERPOWER_TIMEOUTS: Timeouts = Timeouts {
    connect_ms: 100,
    attempt_ms: 300,
    deadline_ms: 800,
    eject_ms: 5000,
    health_interval_ms: 1000,
    health_timeout_ms: 400,
};

/// How to start one peer: its program, arguments and the files it writes.
pub struct Launch {
    /// The program (`nginx`, `haproxy`).
    pub program: PathBuf,
    /// Its arguments (foreground, the config written).
    pub args: Vec<String>,
    /// Its access log.
    pub access_log: PathBuf,
}

/// Whether this process runs as root (`/proc/self/status`'s effective uid is 0).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// The nginx config: listening on `listen`, hashing over `backs`, every file in `dir`.
pub fn nginx_config(listen: SocketAddr, backs: &[SocketAddr], dir: &Path, t: &Timeouts) -> String {
    let d = dir.display();
    let mut servers = String::new();
    for b in backs {
        let _ = writeln!(
            servers,
            "        server {b} max_fails=1 fail_timeout={}s;",
            t.eject_ms.div_ceil(1000)
        );
    }
    format!(
        r#"# written by the benchmark (bench/src/peers.rs)
worker_processes 2;
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
worker_rlimit_nofile 10000;
events {{
    worker_connections {wc};
}}
http {{
    access_log {d}/access.log combined;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    keepalive_requests 1000000;
    upstream powersources {{
        hash $cookie_{COOKIE} consistent;
{servers}        keepalive {ka};
        keepalive_requests 1000000;
    }}
    server {{
        listen {listen};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_connect_timeout {c}ms;
        proxy_read_timeout {a}ms;
        proxy_send_timeout {a}ms;
        proxy_next_upstream error timeout http_500 http_502 http_503 http_504;
        proxy_next_upstream_tries 3;
        proxy_next_upstream_timeout {dl}ms;
        location = / {{
            proxy_pass http://powersources/assignments/$cookie_{COOKIE};
        }}
        location = /health {{
            proxy_pass http://powersources/health;
        }}
    }}
}}
"#,
        wc = NGINX_WORKER_CONNECTIONS,
        ka = NGINX_KEEPALIVE,
        c = t.connect_ms,
        a = t.attempt_ms,
        dl = t.deadline_ms,
    )
}

/// The HAProxy config: listening on `listen`, hashing over `backs` (named `powersource-N`).
pub fn haproxy_config(listen: SocketAddr, backs: &[SocketAddr], t: &Timeouts) -> String {
    let mut servers = String::new();
    for (i, b) in backs.iter().enumerate() {
        let _ = writeln!(
            servers,
            "    server powersource-{} {b} check inter {}ms fall 2 rise 1",
            i + 1,
            t.health_interval_ms
        );
    }
    format!(
        r#"# written by the benchmark (bench/src/peers.rs)
global
    nbthread 2
    maxconn {mc}
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    option http-keep-alive
    http-reuse always
    timeout connect {c}ms
    timeout server {a}ms
    timeout queue {dl}ms
    timeout client 30s
    timeout http-request 10s
    timeout http-keep-alive 30s
    timeout check {ht}ms
    retries 2
    option redispatch 1
    retry-on all-retryable-errors
frontend front
    bind {listen}
    maxconn {mc}
    default_backend powersources
backend powersources
    balance hash req.cook({COOKIE})
    hash-type consistent
    option httpchk GET /health
    http-request set-path /assignments/%[req.cook({COOKIE})] if {{ path / }}
{servers}"#,
        mc = HAPROXY_MAXCONN,
        c = t.connect_ms,
        a = t.attempt_ms,
        dl = t.deadline_ms,
        ht = t.health_timeout_ms,
    )
}

/// Writes `peer`'s config into `dir` (created, and handed to `owner` when given, so an
/// unprivileged peer can write its logs and temporary files there) and says how to start it.
///
/// # Errors
/// When the folder or the config cannot be written.
pub fn prepare(
    peer: FrontEnd,
    listen: SocketAddr,
    backs: &[SocketAddr],
    dir: &Path,
    owner: Option<(u32, u32)>,
) -> std::io::Result<Launch> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("tmp"))?;
    let t = &SUPERPOWER_TIMEOUTS;
    let launch = match peer {
        FrontEnd::Nginx => {
            let conf = dir.join("nginx.conf");
            std::fs::write(&conf, nginx_config(listen, backs, dir, t))?;
            Launch {
                program: "nginx".into(),
                args: vec![
                    "-e".into(),
                    dir.join("error.log").display().to_string(),
                    "-p".into(),
                    dir.display().to_string(),
                    "-c".into(),
                    conf.display().to_string(),
                ],
                access_log: dir.join("access.log"),
            }
        }
        FrontEnd::Haproxy => {
            let conf = dir.join("haproxy.cfg");
            std::fs::write(&conf, haproxy_config(listen, backs, t))?;
            Launch {
                program: "haproxy".into(),
                // -db: foreground, no daemon; its access log is its standard output
                args: vec!["-db".into(), "-f".into(), conf.display().to_string()],
                access_log: PathBuf::new(),
            }
        }
        FrontEnd::Superpower => {
            return Err(std::io::Error::other("superpower is not a peer"));
        }
    };
    if let Some((uid, gid)) = owner {
        for p in [dir.to_path_buf(), dir.join("tmp")] {
            std::os::unix::fs::chown(&p, Some(uid), Some(gid))?;
        }
    }
    Ok(launch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> (SocketAddr, Vec<SocketAddr>) {
        (
            "127.0.0.1:8080".parse().unwrap(),
            vec![
                "127.0.0.1:7001".parse().unwrap(),
                "127.0.0.1:7002".parse().unwrap(),
            ],
        )
    }

    #[test]
    fn nginx_hashes_the_cookie_and_has_superpowers_timeouts() {
        let (l, b) = addrs();
        let c = nginx_config(l, &b, Path::new("/x"), &SUPERPOWER_TIMEOUTS);
        assert!(c.contains("hash $cookie_superpower_id consistent;"));
        assert!(c.contains("proxy_pass http://powersources/assignments/$cookie_superpower_id;"));
        assert!(c.contains("server 127.0.0.1:7002 max_fails=1 fail_timeout=5s;"));
        assert!(c.contains("proxy_connect_timeout 100ms;"));
        assert!(c.contains("proxy_read_timeout 300ms;"));
        assert!(c.contains("proxy_next_upstream_timeout 800ms;"));
        assert!(c.contains("access_log /x/access.log combined;"));
        assert!(c.contains("listen 127.0.0.1:8080;"));
    }

    #[test]
    fn haproxy_hashes_the_cookie_and_has_superpowers_timeouts() {
        let (l, b) = addrs();
        let c = haproxy_config(l, &b, &SUPERPOWER_TIMEOUTS);
        assert!(c.contains("balance hash req.cook(superpower_id)\n    hash-type consistent"));
        assert!(c.contains("set-path /assignments/%[req.cook(superpower_id)] if { path / }"));
        assert!(c.contains("server powersource-2 127.0.0.1:7002 check inter 1000ms"));
        assert!(c.contains("timeout connect 100ms\n    timeout server 300ms"));
        assert!(c.contains("maxconn 4000"));
        assert!(c.contains("nbthread 2"));
        assert!(c.contains("option httplog"));
    }
}
