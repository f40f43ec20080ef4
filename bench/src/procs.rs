//! The processes the benchmark starts: loopback ports it picks itself, logs under its output
//! folder, readiness by polling `/health`, peak memory from `/proc`, and a kill on drop so that
//! an error never leaves one behind. Only processes started here are ever signalled.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;

/// Ports the local fleet (`deploy/local`) uses: never picked.
pub const RESERVED_PORTS: &[u16] = &[
    6061, 6062, 6063, 6064, 6065, 6066, 6067, 6068, 6069, 30280, 9090,
];

/// Microseconds per clock tick of `/proc/PID/stat` (`USER_HZ`, 100 on Linux).
pub const MICROS_PER_TICK: f64 = 10_000.0;

/// How long one readiness request may take.
const READY_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);
/// The pause between readiness requests.
const READY_POLL: Duration = Duration::from_millis(20);

/// What went wrong with a process.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// It could not be started.
    #[error("cannot start {name} ({program}): {source}")]
    Spawn {
        /// Its name in the benchmark.
        name: String,
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// It exited or never answered `/health`.
    #[error("{name} is not ready: {why}; its log ends with:\n{log}")]
    NotReady {
        /// Its name in the benchmark.
        name: String,
        /// What was seen.
        why: String,
        /// The end of its log.
        log: String,
    },
    /// Any other I/O error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A free loopback port, never one of [`RESERVED_PORTS`].
///
/// # Errors
/// When no port can be bound.
pub fn free_port() -> std::io::Result<u16> {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if !RESERVED_PORTS.contains(&port) {
            return Ok(port);
        }
    }
}

/// A process the benchmark started; killed (SIGKILL) when dropped.
pub struct Proc {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
    env: Vec<(String, String)>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Peak RSS (KiB) of earlier lives of this process (before a kill and restart).
    earlier_hwm_kib: u64,
}

impl Proc {
    /// Starts `program args` (with `env` added to its environment) listening on `addr`, its
    /// stdout and stderr appended to `log_dir/NAME.log`.
    ///
    /// # Errors
    /// [`ProcError::Spawn`] when the program cannot be run.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(String, String)],
        addr: SocketAddr,
        log_dir: &Path,
    ) -> Result<Self, ProcError> {
        let mut p = Proc {
            name: name.to_owned(),
            program: program.to_owned(),
            args: args.to_vec(),
            log: log_dir.join(format!("{name}.log")),
            child: None,
            env: env.to_vec(),
            addr,
            earlier_hwm_kib: 0,
        };
        p.start()?;
        Ok(p)
    }

    fn start(&mut self) -> Result<(), ProcError> {
        let spawn_err = |source| ProcError::Spawn {
            name: self.name.clone(),
            program: self.program.display().to_string(),
            source,
        };
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(spawn_err)?;
        let child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(spawn_err)?)
            .stderr(log)
            .spawn()
            .map_err(spawn_err)?;
        self.child = Some(child);
        Ok(())
    }

    /// Its name in the benchmark.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends SIGKILL and reaps it (a no-op when it is not running).
    pub fn kill(&mut self) {
        self.earlier_hwm_kib = self.earlier_hwm_kib.max(self.peak_rss_kib().unwrap_or(0));
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again with the same arguments (after [`Proc::kill`]).
    ///
    /// # Errors
    /// [`ProcError::Spawn`].
    pub fn restart(&mut self) -> Result<(), ProcError> {
        self.kill();
        self.start()
    }

    /// Peak resident memory (`VmHWM`, KiB) of the running process, or of earlier lives when it
    /// is not running.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let now = self.pid().and_then(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        });
        match (now, self.earlier_hwm_kib) {
            (Some(n), e) => Some(n.max(e)),
            (None, 0) => None,
            (None, e) => Some(e),
        }
    }

    /// CPU time (user + system) it has used, in clock ticks (see [`MICROS_PER_TICK`]), while
    /// it runs.
    pub fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()?)).ok()?;
        // fields after the command name, which is in parentheses and may hold spaces
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Waits until `GET path` answers 200 with a body that satisfies `ready` (or `timeout`
    /// passes, or the process exits).
    ///
    /// # Errors
    /// [`ProcError::NotReady`] with the end of its log.
    pub async fn wait_ready(
        &mut self,
        path: &str,
        ready: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Result<(), ProcError> {
        let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let uri: http::Uri = format!("http://{}{path}", self.addr)
            .parse()
            .expect("a valid URI");
        let deadline = Instant::now() + timeout;
        let mut last = String::from("no answer");
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(self.not_ready(format!("it exited with {status}")));
                }
            } else {
                return Err(self.not_ready("it is not running".into()));
            }
            let attempt = tokio::time::timeout(READY_ATTEMPT_TIMEOUT, async {
                let resp = client.get(uri.clone()).await.ok()?;
                let status = resp.status();
                let body = resp.into_body().collect().await.ok()?.to_bytes();
                Some((status, String::from_utf8_lossy(&body).into_owned()))
            })
            .await;
            if let Ok(Some((status, body))) = attempt {
                if status == http::StatusCode::OK && ready(&body) {
                    return Ok(());
                }
                last = format!("{status} {body}");
            }
            if Instant::now() >= deadline {
                return Err(self.not_ready(format!(
                    "GET {path} not ready after {timeout:?} (last answer: {last})"
                )));
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    fn not_ready(&self, why: String) -> ProcError {
        ProcError::NotReady {
            name: self.name.clone(),
            why,
            log: self.log_tail(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `127.0.0.1:port` address on a free port.
///
/// # Errors
/// When no port can be bound.
pub fn free_addr() -> std::io::Result<SocketAddr> {
    Ok(SocketAddr::from(([127, 0, 0, 1], free_port()?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_avoid_the_fleet() {
        for _ in 0..20 {
            let p = free_port().unwrap();
            assert!(!RESERVED_PORTS.contains(&p));
            assert_ne!(p, 0);
        }
    }
}
