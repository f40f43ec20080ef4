//! The peers: what a user who only wants "the same back end for the same cookie" would put in
//! front of the powersources instead of superpower, from Debian's packages: nginx (`hash
//! $cookie_superpower_id consistent`) and HAProxy (`balance hash req.cook(superpower_id)`,
//! `hash-type consistent`), both proxying `/assignments/{cookie}`. Their configs
//! (`peers/nginx.conf`, `peers/haproxy.cfg`) run them as fairly as superpower is run:
//!
//! - keep-alive to the back ends, 2 workers (nginx) or 2 threads (HAProxy): the machine's cores;
//! - superpower's default timeouts (`superpower --help`): 100 ms to connect, 300 ms for an
//!   attempt, 800 ms for the whole request, the next instance tried on a connection error, a
//!   timeout or a 5xx; an instance that failed avoided for 5 s (its eject cool-down); HAProxy
//!   also checks `/health` every second, as superpower does (nginx has no active checks);
//! - an access log line per request (nginx `combined` to a file, HAProxy `option httplog` to its
//!   standard output, a file); HAProxy's `maxconn` 4000 (the file-descriptor limit is 20,000).
//!
//! Each runs in the foreground in its own process group, from its own folder, as `nobody` when
//! the benchmark runs as root: never the system services.

use std::net::SocketAddr;
use std::path::Path;

use crate::report::FrontEnd;

/// The cookie both peers hash, superpower's identity cookie.
pub use service::promise::ID_COOKIE as COOKIE;
/// The unprivileged user (and group) a peer runs as when the benchmark is root: `nobody`.
pub const NOBODY: (u32, u32) = (65534, 65534);

/// Whether this process runs as root (`/proc/self/status`'s effective uid is 0).
pub fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"));
    uid.and_then(|v| v.split_whitespace().nth(1)) == Some("0")
}

/// `peer`'s config: listening on `listen`, hashing the cookie over `backs`, its files in `dir`.
pub fn config(peer: FrontEnd, listen: SocketAddr, backs: &[SocketAddr], dir: &Path) -> String {
    let (template, server) = match peer {
        FrontEnd::Haproxy => (
            include_str!("peers/haproxy.cfg"),
            "    server powersource-{n} {back} check inter 1000ms fall 2 rise 1\n",
        ),
        _ => (
            include_str!("peers/nginx.conf"),
            "        server {back} max_fails=1 fail_timeout=5s;\n",
        ),
    };
    let servers: String = (1..)
        .zip(backs)
        .map(|(n, b)| {
            server
                .replace("{n}", &format!("{n}"))
                .replace("{back}", &b.to_string())
        })
        .collect();
    template
        .replace("{dir}", &dir.display().to_string())
        .replace("{listen}", &listen.to_string())
        .replace("{cookie}", COOKIE)
        .replace("{servers}", &servers)
}

/// Writes `peer`'s config into `dir` (created, and handed to `owner` when given, so an
/// unprivileged peer can write its logs and temporary files there): its program and arguments.
pub fn prepare(
    peer: FrontEnd,
    listen: SocketAddr,
    backs: &[SocketAddr],
    dir: &Path,
    owner: Option<(u32, u32)>,
) -> std::io::Result<(&'static str, Vec<String>)> {
    let (program, file) = match peer {
        FrontEnd::Nginx => ("nginx", "nginx.conf"),
        FrontEnd::Haproxy => ("haproxy", "haproxy.cfg"),
        FrontEnd::Superpower => return Err(std::io::Error::other("superpower is not a peer")),
    };
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("tmp"))?;
    let conf = dir.join(file);
    std::fs::write(&conf, config(peer, listen, backs, dir))?;
    if let Some((uid, gid)) = owner {
        for p in [dir.to_path_buf(), dir.join("tmp")] {
            std::os::unix::fs::chown(&p, Some(uid), Some(gid))?;
        }
    }
    let path = |p: &Path| p.display().to_string();
    let args = match peer {
        // -db: foreground, no daemon; its access log is its standard output
        FrontEnd::Haproxy => vec!["-db".into(), "-f".into(), path(&conf)],
        _ => [
            "-e",
            &path(&dir.join("error.log")),
            "-p",
            &path(dir),
            "-c",
            &path(&conf),
        ]
        .map(String::from)
        .to_vec(),
    };
    Ok((program, args))
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
        let c = config(FrontEnd::Nginx, l, &b, Path::new("/x"));
        assert!(c.contains("hash $cookie_superpower_id consistent;"));
        assert!(c.contains("proxy_pass http://powersources/assignments/$cookie_superpower_id;"));
        assert!(c.contains("server 127.0.0.1:7002 max_fails=1 fail_timeout=5s;"));
        assert!(c.contains("proxy_connect_timeout 100ms;"));
        assert!(c.contains("proxy_read_timeout 300ms;"));
        assert!(c.contains("proxy_next_upstream_timeout 800ms;"));
        assert!(c.contains("access_log /x/access.log combined;"));
        assert!(c.contains("listen 127.0.0.1:8080;"));
        assert_eq!(
            c.matches("server 127.0.0.1:700").count(),
            2,
            "one line per back end"
        );
        for p in ["{dir}", "{listen}", "{cookie}", "{servers}"] {
            assert!(!c.contains(p), "{p} is filled in");
        }
    }

    #[test]
    fn haproxy_hashes_the_cookie_and_has_superpowers_timeouts() {
        let (l, b) = addrs();
        let c = config(FrontEnd::Haproxy, l, &b, Path::new("/x"));
        assert!(c.contains("balance hash req.cook(superpower_id)\n    hash-type consistent"));
        assert!(c.contains("set-path /assignments/%[req.cook(superpower_id)] if { path / }"));
        assert!(c.contains("server powersource-2 127.0.0.1:7002 check inter 1000ms"));
        assert!(c.contains("timeout connect 100ms\n    timeout server 300ms"));
        assert!(c.contains("maxconn 4000"));
        assert!(c.contains("nbthread 2"));
        assert!(c.contains("option httplog"));
        assert_eq!(
            c.matches(" 127.0.0.1:700").count(),
            2,
            "one line per back end"
        );
        assert!(c.ends_with("fall 2 rise 1\n"));
    }
}
