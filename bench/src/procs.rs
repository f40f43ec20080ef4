//! The processes the benchmark starts: loopback ports it picks itself, logs under its output
//! folder, readiness by polling `/health`, memory from `/proc` (peak and current), and a kill on
//! drop so that an error never leaves one behind.
//!
//! Faults go through the fault vocabulary's process engine, `deploy/local/fault.sh` ([`fault`]).
//! Each process is recorded as the local fleet records its own, in its log's folder (the
//! engine's `FLEET_DIR`): `NAME.cmd`, `NAME.addr`, `NAME.pid`, and [`fleet_env`]. A life the
//! engine started is followed by `NAME.pid` ([`Proc::follow`]) and signalled only while
//! `/proc/PID/cmdline` is its recorded command line; a child, by the pid of a child not reaped.

use std::fs::File;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::OpenOptionsExt as _;
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

/// How long [`Proc::inject`]'s `stop` waits for an exit before SIGKILL (fault.sh's default).
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The process engine of the fault vocabulary (experiments/vocabulary.yaml), in the source tree.
pub const FAULT_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/local/fault.sh");

/// Whether an inherited variable goes into a process's environment (and `NAME.cmd`): what the
/// binaries read and what any program needs, as deploy/local/lib.sh's `RECORDED_ENV`.
fn recorded_env(key: &str) -> bool {
    ["PATH", "HOME", "LANG", "TZ", "LOG_FORMAT"].contains(&key)
        || ["LC_", "OTEL_", "RUST_", "SUPERPOWER_", "POWERSOURCE_"]
            .iter()
            .any(|p| key.starts_with(p))
}

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
    /// The fault engine failed, or refused (exit 3: unsupported here): the command, its exit
    /// status and what it printed.
    #[error("deploy/local/fault.sh {0}")]
    Fault(String),
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
    /// Its log's folder: the fault engine's `FLEET_DIR`, with its records.
    dir: PathBuf,
    /// The life the benchmark started, until it is reaped.
    child: Option<Child>,
    /// Its whole environment (`env -i`), as recorded in `NAME.cmd`.
    env: Vec<(String, String)>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Peak RSS (KiB) of earlier lives of this process (before a kill and restart).
    earlier_hwm_kib: u64,
    /// The pid of the life last seen running ([`Proc::follow`]).
    last_pid: Option<u32>,
    /// Lives seen (started here, or by the engine and seen by [`Proc::follow`]).
    lives: usize,
    /// Started in its own process group and killed as a group (a server with worker
    /// processes, nginx), as this user and group when set (a peer run unprivileged).
    group: Option<Option<(u32, u32)>>,
}

impl Proc {
    /// Starts `program args` listening on `addr`, its stdout and stderr appended to
    /// `log_dir/NAME.log`, with `env` added to what it keeps of the bench's environment
    /// (what the binaries read and any program needs), as recorded in `log_dir/NAME.cmd`.
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
        let inherited = std::env::vars().filter(|(k, _)| recorded_env(k));
        let mut all: Vec<(String, String)> = inherited.collect();
        all.retain(|(k, _)| !env.iter().any(|(e, _)| e == k));
        all.extend(env.iter().cloned());
        let mut p = Proc {
            name: name.to_owned(),
            program: program.to_owned(),
            args: args.to_vec(),
            dir: log_dir.to_owned(),
            child: None,
            env: all,
            addr,
            earlier_hwm_kib: 0,
            last_pid: None,
            lives: 0,
            group,
        };
        p.write_records()?;
        p.start()?;
        Ok(p)
    }

    /// `DIR/NAME.EXT`, one of its records.
    fn record(&self, ext: &str) -> PathBuf {
        self.dir.join(format!("{}.{ext}", self.name))
    }

    /// Writes `NAME.cmd` (NUL-separated: `env -i`, its environment, the program, its
    /// arguments) and `NAME.addr`.
    fn write_records(&self) -> std::io::Result<()> {
        let vars = self.env.iter().map(|(k, v)| format!("{k}={v}"));
        let words = ["env".to_owned(), "-i".to_owned()].into_iter().chain(vars);
        let cmd: String = words.chain(self.argv()).map(|w| w + "\0").collect();
        write_private(&self.record("cmd"), &cmd)?;
        std::fs::write(self.record("addr"), format!("{}\n", self.addr))
    }

    /// The program and its arguments, as `/proc/PID/cmdline` shows them.
    fn argv(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::once(self.program.display().to_string()).chain(self.args.iter().cloned())
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
            .open(self.record("log"))
            .map_err(spawn_err)?;
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .env_clear()
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
        std::fs::write(self.record("pid"), format!("{}\n", child.id()))?;
        self.last_pid = Some(child.id());
        self.child = Some(child);
        self.lives += 1;
        Ok(())
    }

    /// Its name in the benchmark.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its process id, while it runs: its child's, or the life in `NAME.pid` while that pid
    /// still runs its recorded program and arguments (not a zombie, not a recycled pid).
    pub fn pid(&self) -> Option<u32> {
        if let Some(child) = &self.child {
            return Some(child.id());
        }
        let pid: u32 = std::fs::read_to_string(self.record("pid"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let argv: Vec<u8> = self
            .argv()
            .flat_map(|w| w.into_bytes().into_iter().chain([0]))
            .collect();
        (cmdline == argv).then_some(pid)
    }

    /// At each look, and after the fault engine acted on it: keeps the peak RSS of the life
    /// running, reaps a life that ended, and follows the one the engine started in its place
    /// (`NAME.pid`), counted as a new life. Returns how the life last seen running ended (its
    /// exit status, when it was the benchmark's child), once; whether that was expected is the
    /// caller's to know.
    pub fn follow(&mut self) -> Option<String> {
        self.earlier_hwm_kib = self.earlier_hwm_kib.max(self.peak_rss_kib().unwrap_or(0));
        let mut ended = None;
        if let Some(child) = self.child.as_mut() {
            ended = match child.try_wait() {
                Ok(None) => return None,
                Ok(Some(status)) => Some(status.to_string()),
                Err(e) => Some(e.to_string()),
            };
            self.child = None;
        }
        let now = self.pid();
        if now.is_some() && now != self.last_pid {
            self.lives += 1;
        }
        if let (None, None, Some(pid)) = (&ended, now, self.last_pid) {
            ended = Some(format!("pid {pid} is gone"));
        }
        self.last_pid = now;
        ended
    }

    /// How many times it was started (1 until a restart).
    pub fn lives(&self) -> usize {
        self.lives
    }

    /// Sends SIGKILL and reaps it (a no-op when it is not running); a life the fault engine
    /// started, by its pid while that is still ours ([`Proc::pid`]).
    pub fn kill(&mut self) {
        self.earlier_hwm_kib = self.earlier_hwm_kib.max(self.peak_rss_kib().unwrap_or(0));
        if self.group.is_some() && self.child.is_some() {
            // the whole group: a master's workers would otherwise keep the port
            let _ = self.signal_group("KILL");
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        } else if let Some(pid) = self.pid() {
            let _ = send_signal("KILL", &pid.to_string());
        }
        self.last_pid = None;
        let _ = std::fs::remove_file(self.record("pid"));
    }

    /// Sends `SIG<signal>` to its process group (see [`Proc::spawn_group`]).
    fn signal_group(&self, signal: &'static str) -> std::io::Result<()> {
        match self.pid() {
            Some(pid) => send_signal(signal, &format!("-{pid}")),
            None => Ok(()),
        }
    }

    /// Injects or ends a fault of the vocabulary (`words`: the verb and its arguments, e.g.
    /// `["kill"]`, `["start"]`, `["slow", "2000"]`) through [`fault`], then follows it.
    ///
    /// # Errors
    /// [`ProcError::Fault`] when the engine fails or refuses.
    pub async fn inject(&mut self, words: &[&str]) -> Result<String, ProcError> {
        let words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        let out = fault(&self.dir, &self.name, &words, STOP_TIMEOUT).await;
        self.follow();
        out
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
        let text = std::fs::read_to_string(self.record("log")).unwrap_or_default();
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
            if let Some(why) = self.follow() {
                return Err(self.not_ready(format!("it exited ({why})")));
            }
            if self.pid().is_none() {
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

/// Sends `SIG<signal>` to `target` (a pid, or `-PGID`) with `kill(1)`: the workspace forbids
/// `unsafe` (so no `libc::kill`), and a signal now and then needs no dependency.
fn send_signal(signal: &str, target: &str) -> std::io::Result<()> {
    Command::new("kill")
        .args(["-s", signal, "--", target])
        .stdin(Stdio::null())
        .output()
        .map(drop)
}

/// Writes `dir/fleet.env`, what the fault engine reads besides each process's records: the
/// admin token of the powersources' `/admin/faults`.
///
/// # Errors
/// When it cannot be written.
pub fn fleet_env(dir: &Path, admin_token: &str) -> std::io::Result<()> {
    let env = format!("SUPERPOWER_ADMIN_TOKEN={admin_token}\n");
    write_private(&dir.join("fleet.env"), &env)
}

/// Writes `text` to `path`, readable by its owner only (it may hold a token).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = File::options();
    f.create(true).write(true).truncate(true).mode(0o600);
    f.open(path)?.write_all(text.as_bytes())
}

/// Runs `deploy/local/fault.sh VERB NAME ARGS...` (`words` = `[VERB, ARGS...]`) on the
/// processes recorded in `dir`, a graceful stop waiting `stop_timeout` (whole seconds) before
/// SIGKILL; what it printed, one line per step.
///
/// # Errors
/// [`ProcError::Fault`] when it fails, [`ProcError::Io`] when it cannot be run.
pub async fn fault(
    dir: &Path,
    name: &str,
    words: &[String],
    stop_timeout: Duration,
) -> Result<String, ProcError> {
    let Some((verb, args)) = words.split_first() else {
        return Err(ProcError::Fault(format!("{name}: no verb")));
    };
    let timeout = stop_timeout.as_secs().max(1).to_string();
    let out = tokio::process::Command::new(FAULT_SH)
        .args([verb, name])
        .args(args)
        .env("FLEET_DIR", dir)
        .env("FLEET_STOP_TIMEOUT", timeout)
        .stdin(Stdio::null())
        .output()
        .await?;
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        return Ok(output);
    }
    let command = format!("{verb} {name} {}", args.join(" "));
    let status = out.status;
    Err(ProcError::Fault(format!(
        "{}: {status}: {output}",
        command.trim_end()
    )))
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

    /// A stand-in powersource (fault.sh acts on `powersource-N`): an HTTP server answering 200.
    /// By its real path: a wrapper (pyenv's shim) would exec a command line of its own.
    async fn server(dir: &Path) -> Proc {
        const SERVE: &str = "import http.server as h, sys\n\
class A(h.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200); self.end_headers()\n    def log_message(self, *a): pass\n\
h.HTTPServer(('127.0.0.1', int(sys.argv[1])), A).serve_forever()";
        let addr = free_addr().unwrap();
        let args = ["-c".to_owned(), SERVE.to_owned(), addr.port().to_string()];
        let mut p = Proc::spawn(
            "powersource-1",
            Path::new("/usr/bin/python3"),
            &args,
            &[],
            addr,
            dir,
        )
        .unwrap();
        p.wait_ready("/health", |_| true, Duration::from_secs(10))
            .await
            .unwrap();
        p
    }

    async fn fault_sh(p: &mut Proc, verb: &str) {
        let dir = p.dir.clone();
        fault(&dir, p.name(), &[verb.to_owned()], Duration::from_secs(5))
            .await
            .unwrap();
        p.follow();
    }

    #[tokio::test]
    async fn the_engine_kills_starts_freezes_and_thaws_a_recorded_process() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = server(dir.path()).await;
        let first = p.pid().unwrap();
        fault_sh(&mut p, "kill").await;
        assert_eq!(state(first), None, "killed and reaped");
        assert_eq!(p.pid(), None);
        fault_sh(&mut p, "start").await;
        let second = p
            .pid()
            .expect("started again from NAME.cmd, followed by NAME.pid");
        assert_ne!(second, first);
        assert_eq!(p.lives(), 2);
        assert_eq!(p.follow(), None);
        fault_sh(&mut p, "freeze").await;
        assert_eq!(wait_state(second, Some('T')), Some('T'));
        assert!(
            p.rss_kib().is_some_and(|k| k > 0),
            "RSS is readable while frozen"
        );
        fault_sh(&mut p, "thaw").await;
        assert_ne!(wait_state(second, Some('S')), Some('T'));
        let err = fault(
            dir.path(),
            p.name(),
            &["slow".into(), "x".into()],
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ProcError::Fault(_)), "{err}");
        drop(p);
        assert_ne!(
            wait_state(second, None),
            Some('S'),
            "killed on drop, though not our child"
        );
    }

    #[tokio::test]
    async fn a_pid_that_is_no_longer_ours_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = server(dir.path()).await;
        fault_sh(&mut p, "kill").await;
        fault_sh(&mut p, "start").await;
        let ours = p.pid().unwrap();
        // the life dies by itself, and its pid file names another process
        send_signal("KILL", &ours.to_string()).unwrap();
        assert_eq!(wait_state(ours, None).filter(|&s| s != 'Z'), None);
        let mut other = Command::new("sleep").arg("60").spawn().unwrap();
        std::fs::write(dir.path().join("powersource-1.pid"), other.id().to_string()).unwrap();
        assert_eq!(p.pid(), None);
        assert!(p.follow().is_some(), "seen gone, once");
        assert_eq!(p.follow(), None);
        drop(p);
        assert_eq!(other.try_wait().unwrap(), None, "never signalled");
        other.kill().unwrap();
        other.wait().unwrap();
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
