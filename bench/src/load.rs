//! The load generator: HTTP/1.1 keep-alive connections that rotate cookies (or paths) per
//! request, something oha cannot do. Closed loop (no rate: the maximum throughput) or open loop
//! (`rate`: request `i` is due at `start + i / rate`; when every connection was busy then, its
//! latency counts from when it was due, so a stall is charged to every request it delays, as
//! oha's `--latency-correction`). It can check each user's `name`, keep the `superpower_last`
//! cookie each answer sets, keep the incidents, and spread the connections over replicas.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, COOKIE, HOST, SET_COOKIE};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use service::promise::ID_COOKIE;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A request not answered within this is an error: [`Plan::new`]'s timeout, and oha's.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The most incidents a run keeps (the earliest).
pub const MAX_INCIDENTS: usize = 100;

/// superpower's signed cookie of a user's last known character.
pub use service::promise::LAST_COOKIE;

/// What varies from one request to the next.
#[derive(Clone)]
pub enum Rotation {
    /// The same request every time, with no cookie (a new identity each time for superpower).
    None,
    /// Request `i` carries cookie `i % n` (a `Cookie` header value).
    Cookies(Arc<Vec<HeaderValue>>),
    /// Request `i` asks for path `i % n`.
    Paths(Arc<Vec<String>>),
}

impl Rotation {
    fn len(&self) -> usize {
        match self {
            Rotation::None => 1,
            Rotation::Cookies(v) => v.len(),
            Rotation::Paths(v) => v.len(),
        }
    }
}

/// What to do with the `name` of each JSON answer (cookie rotation only).
#[derive(Clone)]
pub enum Names {
    /// Nothing: the body is read and dropped.
    Ignore,
    /// Keep the name each user got (the report's `names`).
    Record,
    /// Compare with the name each user is expected to have; count the users that differ.
    Check(Arc<Vec<String>>),
}

/// One load run.
#[derive(Clone)]
pub struct Plan {
    /// The server.
    pub addr: SocketAddr,
    /// More servers the connections are spread over with `addr`, round robin, as a balancer would.
    pub spread: Vec<SocketAddr>,
    /// The path asked when the rotation is not [`Rotation::Paths`].
    pub path: String,
    /// Connections (each one sends one request at a time).
    pub connections: usize,
    /// How long requests are started for.
    pub duration: Duration,
    /// Requests per second (open loop); `None` for as fast as the answers come (closed loop).
    pub rate: Option<f64>,
    /// Stop after this many requests (e.g. exactly one per user).
    pub max_requests: Option<u64>,
    /// Cookies or paths to rotate over.
    pub rotation: Rotation,
    /// What to do with the answers' names.
    pub names: Names,
    /// Keep the [`LAST_COOKIE`] `Set-Cookie` header of each user's answers (`last_cookies`).
    pub keep_last_cookie: bool,
    /// The status every answer should have.
    pub expect: StatusCode,
    /// A request not answered within this is an error (and its connection is dropped).
    pub timeout: Duration,
    /// Keep [`Incident`]s: failures, identity changes, and answers slower than this.
    pub incidents_over: Option<Duration>,
}

impl Plan {
    /// A closed-loop plan: `GET path` as JSON over `connections` connections for `duration`.
    pub fn new(addr: SocketAddr, path: &str, connections: usize, duration: Duration) -> Self {
        Plan {
            addr,
            spread: Vec::new(),
            path: path.to_owned(),
            connections,
            duration,
            rate: None,
            max_requests: None,
            rotation: Rotation::None,
            names: Names::Ignore,
            keep_last_cookie: false,
            expect: StatusCode::OK,
            timeout: REQUEST_TIMEOUT,
            incidents_over: None,
        }
    }

    /// The plan at `rate` requests per second (open loop).
    pub fn at(mut self, rate: f64) -> Self {
        self.rate = Some(rate);
        self
    }

    /// The plan rotating over `users`' cookies.
    pub fn users(mut self, users: &Arc<Vec<HeaderValue>>) -> Self {
        self.rotation = Rotation::Cookies(users.clone());
        self
    }

    /// The plan checking each user's name against `names` (indexed as the rotation).
    pub fn check(mut self, names: &Arc<Vec<String>>) -> Self {
        self.names = Names::Check(names.clone());
        self
    }

    /// The plan stopping after `n` requests.
    pub fn requests(mut self, n: usize) -> Self {
        self.max_requests = Some(n as u64);
        self
    }
}

/// Latency figures in milliseconds.
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

impl Latency {
    /// Figures of `micros` (sorted here).
    pub fn of(micros: &mut [u32]) -> Self {
        if micros.is_empty() {
            return Latency::default();
        }
        micros.sort_unstable();
        let pick = |q: f64| {
            let rank = ((q * micros.len() as f64).ceil() as usize).clamp(1, micros.len());
            f64::from(micros[rank - 1]) / 1000.0
        };
        let sum: u64 = micros.iter().map(|&m| u64::from(m)).sum();
        Latency {
            p50_ms: pick(0.50),
            p90_ms: pick(0.90),
            p99_ms: pick(0.99),
            max_ms: f64::from(micros[micros.len() - 1]) / 1000.0,
            mean_ms: sum as f64 / micros.len() as f64 / 1000.0,
        }
    }
}

/// One request worth a look: it failed, was slow, or got another name than expected.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Incident {
    /// Seconds from the start of the run to when the request was due.
    pub at_s: f64,
    /// The user (its index in the rotation).
    pub user: u32,
    /// Its latency, when it was answered (milliseconds).
    pub latency_ms: Option<f64>,
    /// What happened: an error kind, `status N`, `slow`, or `name "X", expected "Y"`.
    pub what: String,
}

/// What a run measured.
#[derive(Clone, Debug, Default, Serialize, schemars::JsonSchema)]
pub struct Report {
    /// Requests answered or failed.
    pub requests: u64,
    /// Answers with the expected status.
    pub expected: u64,
    /// Answers with another status, by status.
    pub unexpected_status: BTreeMap<u16, u64>,
    /// Requests without an answer (connect error, reset, timeout), by kind.
    pub errors: BTreeMap<String, u64>,
    /// The rate asked for (open loop).
    pub rate: Option<f64>,
    /// Answers per second over the run.
    pub rps: f64,
    /// Seconds from the first request to the last answer.
    pub elapsed_s: f64,
    /// Latency of the answers (all statuses).
    pub latency: Latency,
    /// JSON answers marked `degraded: true` (superpower's fallback).
    pub degraded: u64,
    /// Users whose name differed from the expected one at least once ([`Names::Check`]).
    pub changed_users: BTreeSet<u32>,
    /// Answers whose name was checked.
    pub checked: u64,
    /// The name each user got ([`Names::Record`]; empty for users never answered).
    #[serde(skip)]
    pub names: Vec<String>,
    /// The [`LAST_COOKIE`] each user's answers last set ([`Plan::keep_last_cookie`]).
    #[serde(skip)]
    pub last_cookies: Vec<String>,
    /// The first [`MAX_INCIDENTS`] incidents, in time order ([`Plan::incidents_over`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub incidents: Vec<Incident>,
    /// Degraded answers by the second their request was due in ([`Plan::incidents_over`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub degraded_by_second: BTreeMap<u32, u64>,
}

impl Report {
    /// Requests that did not end with the expected status.
    pub fn failures(&self) -> u64 {
        self.unexpected_status.values().sum::<u64>() + self.errors.values().sum::<u64>()
    }

    /// `what: ` and the failure summary, when requests failed.
    pub fn failed(&self, what: &str) -> Option<String> {
        (self.failures() > 0).then(|| format!("{what}: {}", self.failure_summary()))
    }

    /// A one-line summary of the failures, for messages.
    pub fn failure_summary(&self) -> String {
        format!(
            "{} of {} requests failed: statuses {:?}, errors {:?}",
            self.failures(),
            self.requests,
            self.unexpected_status,
            self.errors
        )
    }
}

/// `n` fixed identities: `superpower_id` cookies from a seeded generator (the same every run).
pub fn identities(n: usize, seed: u64) -> Vec<HeaderValue> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let id: [u8; 16] = rng.random();
            let v = format!("{ID_COOKIE}={}", URL_SAFE_NO_PAD.encode(id));
            HeaderValue::from_str(&v).expect("base64 is a valid header value")
        })
        .collect()
}

/// What one worker counted: the report's counts, and what the report's other figures come from.
#[derive(Default)]
struct Tally {
    r: Report,
    micros: Vec<u32>,
    names: BTreeMap<u32, String>,
    last_cookies: BTreeMap<u32, String>,
    last_done: Option<Instant>,
}

impl Tally {
    /// Keeps an incident when the plan asks for them and there is room.
    fn incident(
        &mut self,
        plan: &Plan,
        due: Duration,
        user: usize,
        latency: Option<Duration>,
        what: impl FnOnce() -> String,
    ) {
        if plan.incidents_over.is_some() && self.r.incidents.len() < MAX_INCIDENTS {
            self.r.incidents.push(Incident {
                at_s: due.as_secs_f64(),
                user: user as u32,
                latency_ms: latency.map(|l| l.as_secs_f64() * 1000.0),
                what: what(),
            });
        }
    }

    /// Adds `t`'s counts to these.
    fn absorb(&mut self, t: Tally) {
        fn add<K: Ord>(into: &mut BTreeMap<K, u64>, from: BTreeMap<K, u64>) {
            for (k, v) in from {
                *into.entry(k).or_default() += v;
            }
        }
        let (a, b) = (&mut self.r, t.r);
        a.requests += b.requests;
        a.expected += b.expected;
        a.degraded += b.degraded;
        a.checked += b.checked;
        add(&mut a.unexpected_status, b.unexpected_status);
        add(&mut a.errors, b.errors);
        add(&mut a.degraded_by_second, b.degraded_by_second);
        a.changed_users.extend(b.changed_users);
        a.incidents.extend(b.incidents);
        self.micros.extend(t.micros);
        self.names.extend(t.names);
        self.last_cookies.extend(t.last_cookies);
        self.last_done = self.last_done.max(t.last_done);
    }
}

struct Shared {
    plan: Plan,
    next: AtomicU64,
    start: Instant,
    end: Instant,
}

/// Why a run could not start: a connection could not be opened (`step`: connect, handshake).
#[derive(Debug, thiserror::Error)]
#[error("cannot {step} to {addr}: {why}")]
pub struct LoadError {
    step: &'static str,
    addr: SocketAddr,
    why: String,
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Empty<Bytes>>, LoadError> {
    let stream = TcpStream::connect(addr).await.map_err(|e| LoadError {
        step: "connect",
        addr,
        why: e.to_string(),
    })?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| LoadError {
            step: "handshake",
            addr,
            why: e.to_string(),
        })?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Runs `plan` and reports what it measured (connections opened before the clock starts).
/// Errors: [`LoadError`] when they cannot be; failures during the run are counted instead.
pub async fn run(plan: Plan) -> Result<Report, LoadError> {
    let servers: Vec<SocketAddr> = std::iter::once(plan.addr)
        .chain(plan.spread.iter().copied())
        .collect();
    let mut conns = Vec::with_capacity(plan.connections);
    for i in 0..plan.connections.max(1) {
        let addr = servers[i % servers.len()];
        conns.push((addr, connect(addr).await?));
    }
    let start = Instant::now();
    let shared = Arc::new(Shared {
        end: start + plan.duration,
        next: AtomicU64::new(0),
        start,
        plan: plan.clone(),
    });
    let workers: Vec<_> = conns
        .into_iter()
        .map(|(addr, c)| tokio::spawn(worker(shared.clone(), addr, c)))
        .collect();
    let mut total = Tally::default();
    for w in workers {
        total.absorb(w.await.expect("a load worker panicked"));
    }
    let mut elapsed = total
        .last_done
        .map_or(Duration::ZERO, |t| t.duration_since(start));
    if plan.rate.is_some() && plan.max_requests.is_none() {
        // open loop: the rate is over the planned window, not up to the last answer
        elapsed = elapsed.max(plan.duration);
    }
    // one entry per user when asked for, nothing otherwise
    let per_user = |kept: BTreeMap<u32, String>, wanted: bool| {
        if !wanted {
            return Vec::new();
        }
        let mut v = vec![String::new(); plan.rotation.len()];
        for (i, x) in kept {
            v[i as usize] = x;
        }
        v
    };
    let mut r = total.r;
    r.incidents.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    r.incidents.truncate(MAX_INCIDENTS);
    let answered = r.requests - r.errors.values().sum::<u64>();
    r.rate = plan.rate;
    r.rps = if elapsed.is_zero() {
        0.0
    } else {
        answered as f64 / elapsed.as_secs_f64()
    };
    r.elapsed_s = elapsed.as_secs_f64();
    r.latency = Latency::of(&mut total.micros);
    r.names = per_user(total.names, matches!(plan.names, Names::Record));
    r.last_cookies = per_user(total.last_cookies, plan.keep_last_cookie);
    Ok(r)
}

#[derive(serde::Deserialize)]
struct Answer {
    name: String,
    #[serde(default)]
    degraded: bool,
}

async fn worker(shared: Arc<Shared>, addr: SocketAddr, first: SendRequest<Empty<Bytes>>) -> Tally {
    let plan = &shared.plan;
    let host = HeaderValue::from_str(&addr.to_string()).expect("an address is a valid host");
    let mut tally = Tally::default();
    let mut conn = Some(first);
    loop {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        if plan.max_requests.is_some_and(|max| i >= max) {
            break;
        }
        let due = match plan.rate {
            Some(rate) => {
                let due = shared.start + Duration::from_secs_f64(i as f64 / rate);
                if due >= shared.end {
                    break;
                }
                if due > Instant::now() {
                    // A free connection waits for the request's time: the timer's lateness
                    // (up to a millisecond) is the client's, so the clock starts on waking.
                    tokio::time::sleep_until(due).await;
                    Instant::now()
                } else {
                    // Every connection was busy when the request fell due: the wait is the
                    // server's doing and is charged to it.
                    due
                }
            }
            None => {
                let now = Instant::now();
                if now >= shared.end {
                    break;
                }
                now
            }
        };
        let slot = (i % plan.rotation.len() as u64) as usize;
        let path = match &plan.rotation {
            Rotation::Paths(p) => p[slot].as_str(),
            _ => plan.path.as_str(),
        };
        let mut req = Request::get(path)
            .body(Empty::<Bytes>::new())
            .expect("a valid request");
        let h = req.headers_mut();
        h.insert(HOST, host.clone());
        h.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Rotation::Cookies(c) = &plan.rotation {
            h.insert(COOKIE, c[slot].clone());
        }
        tally.r.requests += 1;
        let outcome = tokio::time::timeout(
            plan.timeout,
            send(&mut conn, addr, req, plan.keep_last_cookie),
        )
        .await;
        let done = Instant::now();
        tally.last_done = Some(done);
        let at = due.duration_since(shared.start);
        let (status, body, last_cookie) = match outcome {
            Ok(Ok(answer)) => answer,
            Ok(Err(kind)) => {
                tally.incident(plan, at, slot, None, || kind.clone());
                *tally.r.errors.entry(kind).or_default() += 1;
                conn = None;
                continue;
            }
            Err(_) => {
                tally.incident(plan, at, slot, None, || "timeout".into());
                *tally.r.errors.entry("timeout".into()).or_default() += 1;
                conn = None;
                continue;
            }
        };
        if let Some(c) = last_cookie {
            tally.last_cookies.insert(slot as u32, c);
        }
        let latency = done.duration_since(due);
        let micros = latency.as_micros().min(u128::from(u32::MAX)) as u32;
        tally.micros.push(micros);
        if status == plan.expect {
            tally.r.expected += 1;
        } else {
            tally.incident(plan, at, slot, Some(latency), || format!("status {status}"));
            *tally
                .r
                .unexpected_status
                .entry(status.as_u16())
                .or_default() += 1;
        }
        if status == plan.expect && plan.incidents_over.is_some_and(|slow| latency > slow) {
            tally.incident(plan, at, slot, Some(latency), || "slow".into());
        }
        if status != StatusCode::OK || matches!(plan.names, Names::Ignore) {
            continue;
        }
        let Ok(answer) = serde_json::from_slice::<Answer>(&body) else {
            *tally
                .r
                .errors
                .entry("unreadable JSON answer".into())
                .or_default() += 1;
            continue;
        };
        tally.r.degraded += u64::from(answer.degraded);
        if answer.degraded && plan.incidents_over.is_some() {
            *tally
                .r
                .degraded_by_second
                .entry(at.as_secs() as u32)
                .or_default() += 1;
        }
        match &plan.names {
            Names::Ignore => {}
            Names::Record => {
                tally.names.insert(slot as u32, answer.name);
            }
            Names::Check(expected) => {
                tally.r.checked += 1;
                let want = expected.get(slot).map_or("", String::as_str);
                if want != answer.name {
                    tally.r.changed_users.insert(slot as u32);
                    tally.incident(plan, at, slot, Some(latency), || {
                        format!("name {:?}, expected {want:?}", answer.name)
                    });
                }
            }
        }
    }
    tally
}

/// An answer: its status, its body, and the [`LAST_COOKIE`] `Set-Cookie` value when asked for.
type Answered = (StatusCode, Bytes, Option<String>);

/// Sends one request on `conn` (reconnecting when gone): the answer, its [`LAST_COOKIE`] if asked.
async fn send(
    conn: &mut Option<SendRequest<Empty<Bytes>>>,
    addr: SocketAddr,
    req: Request<Empty<Bytes>>,
    want_last: bool,
) -> Result<Answered, String> {
    if conn.as_ref().is_none_or(|c| c.is_closed()) {
        *conn = Some(connect(addr).await.map_err(|e| e.step.to_owned())?);
    }
    let sender = conn.as_mut().expect("connected above");
    sender
        .ready()
        .await
        .map_err(|_| "connection closed".to_owned())?;
    let resp = sender.send_request(req).await.map_err(|e| {
        if e.is_incomplete_message() {
            "connection closed"
        } else {
            "request failed"
        }
        .to_owned()
    })?;
    let status = resp.status();
    let last = want_last
        .then(|| {
            resp.headers()
                .get_all(SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| cookie_name(v) == LAST_COOKIE)
                .map(str::to_owned)
        })
        .flatten();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|_| "body failed".to_owned())?
        .to_bytes();
    Ok((status, body, last))
}

/// The name of a `Set-Cookie` value's cookie (before its first `=`).
fn cookie_name(set_cookie: &str) -> &str {
    set_cookie
        .split_once('=')
        .map_or("", |(name, _)| name.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_names_what_failed_only_when_something_did() {
        let mut r = Report::default();
        assert_eq!(r.failed("x"), None);
        r.requests = 2;
        r.errors.insert("timeout".into(), 1);
        let f = r.failed("lose all").unwrap();
        assert!(f.starts_with("lose all: 1 of 2 requests failed"), "{f}");
    }

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let mut v: Vec<u32> = (1..=100).map(|x| x * 1000).collect();
        v.reverse();
        let l = Latency::of(&mut v);
        assert_eq!(l.p50_ms, 50.0);
        assert_eq!(l.p99_ms, 99.0);
        assert_eq!(l.max_ms, 100.0);
        assert_eq!(l.mean_ms, 50.5);
    }

    #[test]
    fn identities_are_fixed_and_valid_cookies() {
        let a = identities(3, 1);
        assert_eq!(a, identities(3, 1));
        assert_ne!(a, identities(3, 2));
        for c in &a {
            let v = c.to_str().unwrap();
            let id = v.strip_prefix(&format!("{ID_COOKIE}=")).unwrap();
            assert_eq!(id.len(), 22);
            assert_eq!(URL_SAFE_NO_PAD.decode(id).unwrap().len(), 16);
        }
    }
}
