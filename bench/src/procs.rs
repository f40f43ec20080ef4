//! The processes the benchmark starts: loopback ports it picks itself, logs under its output
//! folder, readiness by polling `/health`, memory from `/proc` (peak and current), the signals
//! the soak sends (SIGSTOP/SIGCONT to freeze and thaw, SIGTERM for a graceful stop), and a kill
//! on drop so that an error never leaves one behind. Only processes started here are ever
//! signalled, by the pid of a child not yet reaped (so the pid cannot have been reused).

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
/// The pause between checks that a process sent SIGTERM has exited.
const EXIT_POLL: Duration = Duration::from_millis(10);

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
    /// A signal could not be sent.
    #[error("cannot send SIG{signal} to {name}: {why}")]
    Signal {
        /// Its name in the benchmark.
        name: String,
        /// The signal, without `SIG`.
        signal: &'static str,
        /// Why.
        why: String,
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
    // the kernel may offer a port again once its listener is closed: never hand one out twice
    // (30 powersources started in a row otherwise collide now and then)
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if RESERVED_PORTS.contains(&port) {
            continue;
        }
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        if !given.contains(&port) {
            given.push(port);
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
    /// Sent SIGSTOP and not SIGCONT yet: it must be thawed before SIGTERM can do anything, and
    /// is thawed before SIGKILL too (see [`Proc::kill`]).
    frozen: bool,
    /// Times it was started.
    lives: usize,
    /// Started in its own process group and killed as a group (a server with worker
    /// processes, nginx), as this user and group when set (a peer run unprivileged).
    group: Option<Option<(u32, u32)>>,
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
        Proc::launch(name, program, args, env, addr, log_dir, None)
    }

    fn launch(
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(String, String)],
        addr: SocketAddr,
        log_dir: &Path,
        group: Option<Option<(u32, u32)>>,
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
            frozen: false,
            lives: 0,
            group,
        };
        p.start()?;
        Ok(p)
    }

    /// As [`Proc::spawn`], but the process leads its own process group, which [`Proc::kill`]
    /// kills whole (its workers too), and runs as `user` (uid, gid) when given.
    ///
    /// # Errors
    /// [`ProcError::Spawn`].
    pub fn spawn_group(
        name: &str,
        program: &Path,
        args: &[String],
        addr: SocketAddr,
        log_dir: &Path,
        user: Option<(u32, u32)>,
    ) -> Result<Self, ProcError> {
        Proc::launch(name, program, args, &[], addr, log_dir, Some(user))
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
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(spawn_err)?)
            .stderr(log);
        if let Some(user) = self.group {
            use std::os::unix::process::CommandExt as _;
            cmd.process_group(0);
            if let Some((uid, gid)) = user {
                cmd.uid(uid).gid(gid);
            }
        }
        let child = cmd.spawn().map_err(spawn_err)?;
        self.child = Some(child);
        self.lives += 1;
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

    /// Whether it exited on its own since the last look: its exit status, once (it is then
    /// no longer running, and [`Proc::restart`] starts it again).
    pub fn try_exited(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        self.frozen = false;
        Some(status)
    }

    /// How many times it was started (1 until a restart).
    pub fn lives(&self) -> usize {
        self.lives
    }

    /// Whether it was frozen ([`Proc::freeze`]) and not thawed since.
    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// Sends SIGKILL and reaps it (a no-op when it is not running). A frozen process is sent
    /// SIGCONT first: Linux kills a stopped process anyway, but nothing is left stopped should
    /// the kill fail, and the order is the one `podman` uses for a paused container.
    pub fn kill(&mut self) {
        self.earlier_hwm_kib = self.earlier_hwm_kib.max(self.peak_rss_kib().unwrap_or(0));
        let _ = self.thaw();
        if self.group.is_some() && self.child.is_some() {
            // the whole group: a master's workers would otherwise keep the port
            let _ = self.signal_group("KILL");
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes it with SIGSTOP: it accepts nothing (the kernel still completes TCP handshakes
    /// into its backlog) and answers nothing, as a paused container. A no-op when it is not
    /// running or already frozen.
    ///
    /// # Errors
    /// [`ProcError::Signal`].
    pub fn freeze(&mut self) -> Result<(), ProcError> {
        if self.frozen || self.child.is_none() {
            return Ok(());
        }
        self.signal("STOP")?;
        self.frozen = true;
        Ok(())
    }

    /// Thaws it with SIGCONT (a no-op unless it is frozen).
    ///
    /// # Errors
    /// [`ProcError::Signal`].
    pub fn thaw(&mut self) -> Result<(), ProcError> {
        if !self.frozen {
            return Ok(());
        }
        if self.child.is_some() {
            self.signal("CONT")?;
        }
        self.frozen = false;
        Ok(())
    }

    /// Stops it gracefully: SIGCONT when frozen, SIGTERM, then waits up to `grace` for it to
    /// exit, and sends SIGKILL if it has not. Returns whether it exited within `grace` (`true`
    /// when it was not running).
    ///
    /// # Errors
    /// [`ProcError::Signal`] when SIGTERM cannot be sent (it is then killed).
    pub async fn terminate(&mut self, grace: Duration) -> Result<bool, ProcError> {
        if self.child.is_none() {
            return Ok(true);
        }
        self.earlier_hwm_kib = self.earlier_hwm_kib.max(self.peak_rss_kib().unwrap_or(0));
        if let Err(e) = self.thaw().and_then(|()| self.signal("TERM")) {
            self.kill();
            return Err(e);
        }
        let deadline = Instant::now() + grace;
        loop {
            let exited = self
                .child
                .as_mut()
                .is_none_or(|c| !matches!(c.try_wait(), Ok(None)));
            if exited {
                self.child = None;
                return Ok(true);
            }
            if Instant::now() >= deadline {
                self.kill();
                return Ok(false);
            }
            tokio::time::sleep(EXIT_POLL).await;
        }
    }

    /// Sends `SIG<signal>` to its process group (see [`Proc::spawn_group`]).
    fn signal_group(&self, signal: &'static str) -> Result<(), ProcError> {
        let pid = self.pid().ok_or_else(|| ProcError::Signal {
            name: self.name.clone(),
            signal,
            why: "it is not running".into(),
        })?;
        Command::new("kill")
            .args(["-s", signal, "--", &format!("-{pid}")])
            .stdin(Stdio::null())
            .output()?;
        Ok(())
    }

    /// Sends `SIG<signal>` with `kill(1)`: the workspace forbids `unsafe` (so no `libc::kill`),
    /// and a signal every few seconds does not need a dependency to avoid one process start.
    fn signal(&self, signal: &'static str) -> Result<(), ProcError> {
        let err = |why: String| ProcError::Signal {
            name: self.name.clone(),
            signal,
            why,
        };
        let pid = self.pid().ok_or_else(|| err("it is not running".into()))?;
        let out = Command::new("kill")
            .args(["-s", signal, &pid.to_string()])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| err(format!("cannot run kill(1): {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(err(format!(
                "kill(1) exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )))
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

    /// A `kB` field of `/proc/PID/status` (`VmHWM`, `VmRSS`) of the running process.
    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    }

    /// Resident memory now (`VmRSS`, KiB), while it runs (frozen included).
    pub fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS")
    }

    /// Peak resident memory (`VmHWM`, KiB) of the running process, or of earlier lives when it
    /// is not running.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let now = self.status_kib("VmHWM");
        match (now, self.earlier_hwm_kib) {
            (Some(n), e) => Some(n.max(e)),
            (None, 0) => None,
            (None, e) => Some(e),
        }
    }

    /// CPU time (user + system) it has used, in clock ticks (see [`MICROS_PER_TICK`]), while
    /// it runs; for a group ([`Proc::spawn_group`]), that of every process in the group now.
    pub fn cpu_ticks(&self) -> Option<u64> {
        let pid = self.pid()?;
        if self.group.is_none() {
            return stat_ticks(pid).map(|(ticks, _)| ticks);
        }
        let mut sum = 0;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some((ticks, pgrp)) = stat_ticks(p) {
                if pgrp == pid {
                    sum += ticks;
                }
            }
        }
        Some(sum)
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

/// CPU ticks (user + system) and process group of process `pid`, from `/proc/PID/stat`.
fn stat_ticks(pid: u32) -> Option<(u64, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // fields after the command name, which is in parentheses and may hold spaces
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // pgrp is field 5 of the line, utime and stime 14 and 15: 3, 12 and 13 after the name
    let pgrp: u32 = fields.get(2)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime, pgrp))
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

    /// The state letter of `/proc/PID/stat` (`S` sleeping, `T` stopped), `None` once reaped.
    fn state(pid: u32) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat[stat.rfind(')')? + 1..].trim_start().chars().next()
    }

    /// Waits (2 s at most) until `pid`'s state is `want`: a signal is delivered when the
    /// target next runs, not when kill(1) returns.
    fn wait_state(pid: u32, want: Option<char>) -> Option<char> {
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        loop {
            let now = state(pid);
            if now == want || std::time::Instant::now() >= deadline {
                return now;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn sleeper(dir: &Path) -> Proc {
        let args = ["60".to_owned()];
        let addr = free_addr().unwrap();
        Proc::spawn("sleeper", Path::new("sleep"), &args, &[], addr, dir).unwrap()
    }

    #[test]
    fn a_frozen_process_is_stopped_thawed_and_reaped_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = sleeper(dir.path());
        let pid = p.pid().unwrap();
        p.freeze().unwrap();
        assert!(p.is_frozen());
        assert_eq!(wait_state(pid, Some('T')), Some('T'));
        assert!(
            p.rss_kib().is_some_and(|k| k > 0),
            "RSS is readable while frozen"
        );
        p.thaw().unwrap();
        assert_eq!(wait_state(pid, Some('S')), Some('S'));
        p.freeze().unwrap();
        drop(p);
        assert_eq!(state(pid), None, "killed and reaped, though frozen");
    }

    #[tokio::test]
    async fn terminate_thaws_first_and_a_restart_is_a_new_life() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = sleeper(dir.path());
        let first = p.pid().unwrap();
        p.freeze().unwrap();
        // sleep(1) dies on SIGTERM, which a stopped process only gets once continued
        assert!(p.terminate(Duration::from_secs(5)).await.unwrap());
        assert_eq!(state(first), None);
        assert!(!p.is_frozen());
        p.restart().unwrap();
        assert_eq!(p.lives(), 2);
        assert_ne!(p.pid(), Some(first));
    }

    #[test]
    fn free_ports_avoid_the_fleet() {
        for _ in 0..20 {
            let p = free_port().unwrap();
            assert!(!RESERVED_PORTS.contains(&p));
            assert_ne!(p, 0);
        }
    }
}
