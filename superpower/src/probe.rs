//! `superpower probe …`: the custom probes of the chaos experiments.
//!
//! chaostoolkit calls them through its `process` provider and takes the exit code as the verdict
//! (tolerance `0`), so a user of the experiments writes no Python.
//!
//! `superpower probe identity --url URL --users N --state FILE [--timeout-ms 1000]` checks both
//! promises for a set of users:
//! - the first run (no `FILE`) makes `N` identities (random `superpower_id` cookies, as a browser
//!   would get), asks superpower for each one's superpower, and records them in `FILE`;
//! - later runs ask again with the same cookies and fail if any user gets a different superpower
//!   (promise 1), or if any request fails or takes longer than the timeout (promise 2).
//!
//! A `degraded: true` answer (superpower's last-known-good fallback) still keeps promise 1 when
//! the name is the same. Exit codes: 0 the steady state holds, 1 it does not (one line per
//! broken promise, then a summary), 2 bad arguments or an unreadable state file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use http::header::{ACCEPT, COOKIE, SET_COOKIE};
use http::{Request, Uri};
use http_body_util::Empty;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::{Deserialize, Serialize};

use service::telemetry::error_chain;

use crate::identity::{UserId, COOKIE_NAME};

/// Largest answer the probe reads: a character's JSON is well under a kilobyte.
const BODY_LIMIT: usize = 64 * 1024;
/// Version of the state file's format, checked on read.
const STATE_VERSION: u32 = 1;

/// `superpower probe …`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which probe to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The probes.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Promise 1 and 2 for a set of users: the same superpower every time, within the timeout.
    Identity(IdentityArgs),
}

/// `superpower probe identity`
#[derive(Debug, clap::Args)]
pub struct IdentityArgs {
    /// superpower's page (the probe asks for its JSON form).
    #[arg(
        long,
        env = "SUPERPOWER_URL",
        default_value = "http://127.0.0.1:30280/"
    )]
    pub url: String,
    /// How many users to follow (first run only; later runs follow the users in the state file).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(50..=100_000))]
    pub users: u32,
    /// Where the users and their superpowers are recorded (created by the first run).
    #[arg(long)]
    pub state: PathBuf,
    /// Every request must be answered within this many milliseconds (promise 2).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub timeout_ms: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub concurrency: u64,
}

/// Runs a probe; the exit code is the verdict (0 = the steady state holds).
pub async fn run(args: Args) -> ExitCode {
    match args.command {
        Command::Identity(args) => identity(args).await,
    }
}

/// The state file: the users followed and the superpower each one had at the first run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The URL the users were recorded against (informative: a later run may use another
    /// address of the same superpower).
    pub url: String,
    /// The users, in the order they were made.
    pub users: Vec<Recorded>,
}

/// One followed user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// The `superpower_id` cookie value.
    pub id: String,
    /// The character's name: what promise 1 is about.
    pub name: String,
    /// The character's image as superpower serves it (informative).
    #[serde(default)]
    pub image_url: Option<String>,
}

/// Why a state file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Not readable.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not the probe's JSON.
    #[error(
        "{path} is not an identity probe state file ({reason}); delete it to record the users anew"
    )]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl State {
    /// Reads a state file; `Ok(None)` when it does not exist (first run).
    ///
    /// # Errors
    /// [`StateError`] when the file exists but cannot be read or is not a valid state.
    pub fn load(path: &Path) -> Result<Option<State>, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        Self::parse(&text)
            .map(Some)
            .map_err(|reason| StateError::Format {
                path: path.to_owned(),
                reason,
            })
    }

    /// Parses and validates the JSON form.
    fn parse(text: &str) -> Result<State, String> {
        let state: State = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if state.version != STATE_VERSION {
            return Err(format!(
                "version {} where {STATE_VERSION} is expected",
                state.version
            ));
        }
        if state.users.is_empty() {
            return Err("no users".into());
        }
        if let Some(bad) = state.users.iter().find(|u| UserId::parse(&u.id).is_none()) {
            return Err(format!("user id {:?} is not a valid {COOKIE_NAME}", bad.id));
        }
        Ok(state)
    }

    /// Writes the file atomically (a temporary file renamed over it), creating its folder.
    ///
    /// # Errors
    /// Any I/O error.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("tmp");
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, json + "\n")?;
        std::fs::rename(&tmp, path)
    }
}

/// What one user's request ended with.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The user's cookie value.
    pub id: String,
    /// From sending the request to the end of the body (or to the failure).
    pub latency: Duration,
    /// The answer or the failure.
    pub outcome: Outcome,
}

/// The answer to one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A 2xx JSON character.
    Answer {
        /// The character's name.
        name: String,
        /// The character's image URL.
        image_url: Option<String>,
        /// superpower answered from its fallback cache.
        degraded: bool,
    },
    /// No usable answer: connection error, timeout, non-2xx status, not the expected JSON, or a
    /// new identity forced on the user.
    Failed(String),
}

/// A broken promise, one per user.
#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    /// Promise 1: the user got another superpower.
    Changed {
        /// The user.
        id: String,
        /// Recorded at the first run.
        expected: String,
        /// Answered now.
        got: String,
    },
    /// Promise 2: answered, but after the limit.
    Slow {
        /// The user.
        id: String,
        /// How long it took.
        latency: Duration,
    },
    /// No usable answer.
    Failed {
        /// The user.
        id: String,
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Changed { id, expected, got } => {
                write!(
                    f,
                    "user {id}: superpower changed: was {expected:?}, now {got:?}"
                )
            }
            Problem::Slow { id, latency } => {
                write!(f, "user {id}: answered in {}, over the limit", ms(*latency))
            }
            Problem::Failed { id, reason } => write!(f, "user {id}: {reason}"),
        }
    }
}

/// Judges the observations: every request answered within `limit`, and, when users were
/// recorded before, each one got the same superpower. A recorded user with no observation is a
/// failure too.
pub fn judge(
    recorded: Option<&[Recorded]>,
    observed: &[Observation],
    limit: Duration,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for o in observed {
        match &o.outcome {
            Outcome::Failed(reason) => problems.push(Problem::Failed {
                id: o.id.clone(),
                reason: reason.clone(),
            }),
            Outcome::Answer { .. } if o.latency > limit => {
                problems.push(Problem::Slow {
                    id: o.id.clone(),
                    latency: o.latency,
                });
            }
            Outcome::Answer { name, .. } => {
                let expected = recorded.and_then(|r| r.iter().find(|u| u.id == o.id));
                if let Some(expected) = expected.filter(|e| &e.name != name) {
                    problems.push(Problem::Changed {
                        id: o.id.clone(),
                        expected: expected.name.clone(),
                        got: name.clone(),
                    });
                }
            }
        }
    }
    for user in recorded.unwrap_or_default() {
        if !observed.iter().any(|o| o.id == user.id) {
            problems.push(Problem::Failed {
                id: user.id.clone(),
                reason: "not asked".into(),
            });
        }
    }
    problems
}

/// Milliseconds with one decimal: `3.2 ms`.
fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

async fn identity(args: IdentityArgs) -> ExitCode {
    let uri: Uri = match args.url.parse() {
        Ok(uri) => uri,
        Err(e) => {
            eprintln!("identity probe: --url {:?} is not a URL: {e}", args.url);
            return ExitCode::from(2);
        }
    };
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        eprintln!(
            "identity probe: --url {:?} must be an http:// URL with a host",
            args.url
        );
        return ExitCode::from(2);
    }
    let recorded = match State::load(&args.state) {
        Ok(state) => state,
        Err(e) => {
            eprintln!("identity probe: {e}");
            return ExitCode::from(2);
        }
    };
    let limit = Duration::from_millis(args.timeout_ms);
    let ids: Vec<String> = match &recorded {
        Some(state) => state.users.iter().map(|u| u.id.clone()).collect(),
        None => (0..args.users)
            .map(|_| UserId::random().to_string())
            .collect(),
    };
    let client = client(limit);

    // One user first: when superpower is not there at all, say so at once instead of 50 times.
    let first = ask(&client, &uri, &ids[0], limit).await;
    if let Outcome::Failed(reason) = &first.outcome {
        if reason.starts_with(UNREACHABLE) {
            println!(
                "identity probe: FAILED: {reason} (is the fleet up? deploy/local/up.sh starts it)"
            );
            return ExitCode::from(1);
        }
    }
    let mut observed = vec![first];
    observed.extend(
        stream::iter(&ids[1..])
            .map(|id| ask(&client, &uri, id, limit))
            .buffer_unordered(args.concurrency as usize)
            .collect::<Vec<_>>()
            .await,
    );

    let problems = judge(
        recorded.as_ref().map(|s| s.users.as_slice()),
        &observed,
        limit,
    );
    for p in &problems {
        println!("identity probe: {p}");
    }
    let max = observed.iter().map(|o| o.latency).max().unwrap_or_default();
    let degraded = observed
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Answer { degraded: true, .. }))
        .count();
    let figures = format!(
        "{} users, max latency {} (limit {} ms), {degraded} degraded",
        observed.len(),
        ms(max),
        args.timeout_ms
    );
    if !problems.is_empty() {
        println!(
            "identity probe: FAILED: {} of {} users broke a promise; {figures}",
            problems.len(),
            observed.len()
        );
        return ExitCode::from(1);
    }
    match recorded {
        Some(_) => {
            println!("identity probe: OK: every user kept their superpower; {figures}");
            ExitCode::SUCCESS
        }
        None => {
            let state = State {
                version: STATE_VERSION,
                url: args.url.clone(),
                users: record(&ids, &observed),
            };
            if let Err(e) = state.save(&args.state) {
                eprintln!("identity probe: cannot write {}: {e}", args.state.display());
                return ExitCode::from(2);
            }
            println!(
                "identity probe: OK: recorded {} users in {}; {figures}",
                ids.len(),
                args.state.display()
            );
            ExitCode::SUCCESS
        }
    }
}

/// The users as observed, in the order they were made (only called when every one answered).
fn record(ids: &[String], observed: &[Observation]) -> Vec<Recorded> {
    ids.iter()
        .filter_map(|id| {
            observed
                .iter()
                .find(|o| &o.id == id)
                .and_then(|o| match &o.outcome {
                    Outcome::Answer {
                        name, image_url, ..
                    } => Some(Recorded {
                        id: id.clone(),
                        name: name.clone(),
                        image_url: image_url.clone(),
                    }),
                    Outcome::Failed(_) => None,
                })
        })
        .collect()
}

/// A pooled keep-alive client, like a browser's.
fn client(limit: Duration) -> HttpClient {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(limit));
    http.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .build(http)
}

/// How a failure to connect at all starts, so the first request can stop the probe early.
const UNREACHABLE: &str = "cannot reach superpower";

/// The part of superpower's JSON answer the probe reads.
#[derive(Deserialize)]
struct Answer {
    name: String,
    #[serde(default)]
    image_url: Option<String>,
    #[serde(default)]
    degraded: bool,
}

/// GETs the page as JSON with the user's cookie, all of it within `limit`.
async fn ask(client: &HttpClient, uri: &Uri, id: &str, limit: Duration) -> Observation {
    let started = Instant::now();
    let outcome = match tokio::time::timeout(limit, fetch(client, uri, id)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Failed(format!("no answer within {} ms", limit.as_millis())),
    };
    Observation {
        id: id.to_owned(),
        latency: started.elapsed(),
        outcome,
    }
}

async fn fetch(client: &HttpClient, uri: &Uri, id: &str) -> Outcome {
    let req = Request::get(uri.clone())
        .header(ACCEPT, "application/json")
        .header(COOKIE, format!("{COOKIE_NAME}={id}"))
        .body(Empty::new());
    let req = match req {
        Ok(req) => req,
        Err(e) => return Outcome::Failed(format!("cannot build the request: {e}")),
    };
    let resp = match client.request(req).await {
        Ok(resp) => resp,
        Err(e) if e.is_connect() => {
            return Outcome::Failed(format!("{UNREACHABLE} at {uri} ({})", error_chain(&e)));
        }
        Err(e) => return Outcome::Failed(format!("request failed: {}", error_chain(&e))),
    };
    let (parts, body) = resp.into_parts();
    let body = match service::http::body::read_limited(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(e) => return Outcome::Failed(format!("answer cut short: {e}")),
    };
    if !parts.status.is_success() {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).replace('\n', " ");
        return Outcome::Failed(format!("HTTP {}: {text}", parts.status));
    }
    // superpower sets the cookie only when it did not accept ours: the user lost their identity.
    let replaced = parts
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| cookie::Cookie::parse(v).ok())
        .find(|c| c.name() == COOKIE_NAME && c.value() != id);
    if let Some(c) = replaced {
        return Outcome::Failed(format!(
            "superpower replaced the identity cookie with {}",
            c.value()
        ));
    }
    match serde_json::from_slice::<Answer>(&body) {
        Ok(a) => Outcome::Answer {
            name: a.name,
            image_url: a.image_url,
            degraded: a.degraded,
        },
        Err(e) => Outcome::Failed(format!("answer is not superpower's JSON ({e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, name: &str) -> Recorded {
        Recorded {
            id: id.into(),
            name: name.into(),
            image_url: Some("/images/1".into()),
        }
    }

    fn answer(id: &str, name: &str, ms: u64, degraded: bool) -> Observation {
        Observation {
            id: id.into(),
            latency: Duration::from_millis(ms),
            outcome: Outcome::Answer {
                name: name.into(),
                image_url: None,
                degraded,
            },
        }
    }

    const LIMIT: Duration = Duration::from_secs(1);

    #[test]
    fn the_state_file_round_trips_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        assert_eq!(
            State::load(&path).unwrap(),
            None,
            "a missing file is a first run"
        );
        let ids: Vec<String> = (0..3).map(|_| UserId::random().to_string()).collect();
        let state = State {
            version: STATE_VERSION,
            url: "http://127.0.0.1:1/".into(),
            users: ids.iter().map(|id| user(id, "Hero")).collect(),
        };
        state.save(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), Some(state.clone()));

        let bad = [
            ("{}".to_string(), "missing field"),
            ("not json".to_string(), "expected"),
            (
                serde_json::to_string(&State {
                    version: 9,
                    ..state.clone()
                })
                .unwrap(),
                "version 9",
            ),
            (
                serde_json::to_string(&State {
                    users: vec![],
                    ..state.clone()
                })
                .unwrap(),
                "no users",
            ),
            (
                serde_json::to_string(&State {
                    users: vec![user("../../x", "Hero")],
                    ..state
                })
                .unwrap(),
                "valid",
            ),
        ];
        for (text, why) in bad {
            std::fs::write(&path, &text).unwrap();
            let err = State::load(&path).unwrap_err().to_string();
            assert!(
                err.contains(why) && err.contains("delete it"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn the_same_superpowers_in_time_hold_the_promises() {
        let recorded = [user("a", "Hero"), user("b", "Villain")];
        let observed = [
            answer("a", "Hero", 3, false),
            answer("b", "Villain", 999, true),
        ];
        assert_eq!(
            judge(Some(&recorded), &observed, LIMIT),
            vec![],
            "degraded with the same name is fine"
        );
    }

    #[test]
    fn a_changed_superpower_breaks_promise_one() {
        let recorded = [user("a", "Hero"), user("b", "Villain")];
        let observed = [
            answer("a", "Hero", 3, false),
            answer("b", "Sidekick", 3, false),
        ];
        let problems = judge(Some(&recorded), &observed, LIMIT);
        assert_eq!(
            problems,
            vec![Problem::Changed {
                id: "b".into(),
                expected: "Villain".into(),
                got: "Sidekick".into()
            }]
        );
        assert_eq!(
            problems[0].to_string(),
            r#"user b: superpower changed: was "Villain", now "Sidekick""#
        );
    }

    #[test]
    fn slow_failed_and_missing_answers_break_promise_two() {
        let recorded = [
            user("a", "Hero"),
            user("b", "Villain"),
            user("c", "Sidekick"),
        ];
        let observed = [
            answer("a", "Hero", 1001, false),
            Observation {
                id: "b".into(),
                latency: LIMIT,
                outcome: Outcome::Failed("HTTP 503".into()),
            },
        ];
        let problems = judge(Some(&recorded), &observed, LIMIT);
        assert_eq!(
            problems,
            vec![
                Problem::Slow {
                    id: "a".into(),
                    latency: Duration::from_millis(1001)
                },
                Problem::Failed {
                    id: "b".into(),
                    reason: "HTTP 503".into()
                },
                Problem::Failed {
                    id: "c".into(),
                    reason: "not asked".into()
                },
            ]
        );
        assert_eq!(
            problems[0].to_string(),
            "user a: answered in 1001.0 ms, over the limit"
        );
    }

    /// How the fake superpower below behaves.
    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        /// A name derived from the cookie: stable per user.
        Stable,
        /// Another name for every user.
        Shuffled,
        /// The same names, from the fallback (`degraded: true`).
        Degraded,
        /// Accepts the request, never answers.
        Hang,
    }

    /// A real HTTP server on port 0 that answers like superpower's JSON `/`.
    async fn fake_superpower() -> (String, std::sync::Arc<std::sync::Mutex<Mode>>) {
        use service::http::body::json;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let mode = std::sync::Arc::new(std::sync::Mutex::new(Mode::Stable));
        let shared = mode.clone();
        let handler = move |req: Request<hyper::body::Incoming>| {
            let mode = *shared.lock().unwrap();
            async move {
                let id = crate::identity::Identity::from_headers(req.headers())
                    .user
                    .to_string();
                let tag = if mode == Mode::Shuffled {
                    "other"
                } else {
                    "hero"
                };
                if mode == Mode::Hang {
                    std::future::pending::<()>().await;
                }
                let body = serde_json::json!({
                    "name": format!("{tag}-{}", &id[..4]),
                    "image_url": "/images/1",
                    "degraded": mode == Mode::Degraded,
                });
                json(http::StatusCode::OK, &body)
            }
        };
        tokio::spawn(service::http::serve(
            listener,
            service::http::server::ServeOptions::default(),
            handler,
            std::future::pending(),
        ));
        (url, mode)
    }

    fn args(url: &str, state: &Path, timeout_ms: u64) -> Args {
        Args {
            command: Command::Identity(IdentityArgs {
                url: url.into(),
                users: 50,
                state: state.to_owned(),
                timeout_ms,
                concurrency: 8,
            }),
        }
    }

    #[tokio::test]
    async fn records_then_holds_then_catches_a_change_over_real_http() {
        let (url, mode) = fake_superpower().await;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");

        assert_eq!(
            run(args(&url, &state, 1000)).await,
            ExitCode::SUCCESS,
            "first run records"
        );
        let recorded = State::load(&state).unwrap().expect("state written");
        assert_eq!(recorded.users.len(), 50);
        assert!(recorded
            .users
            .iter()
            .all(|u| u.name.starts_with("hero-") && u.id.len() == 22));
        let distinct: std::collections::HashSet<_> = recorded.users.iter().map(|u| &u.id).collect();
        assert_eq!(distinct.len(), 50, "every user is a new identity");

        assert_eq!(
            run(args(&url, &state, 1000)).await,
            ExitCode::SUCCESS,
            "same superpowers"
        );
        *mode.lock().unwrap() = Mode::Degraded;
        assert_eq!(
            run(args(&url, &state, 1000)).await,
            ExitCode::SUCCESS,
            "degraded, same names"
        );
        *mode.lock().unwrap() = Mode::Shuffled;
        assert_eq!(
            run(args(&url, &state, 1000)).await,
            ExitCode::from(1),
            "changed superpowers"
        );
        assert_eq!(
            State::load(&state).unwrap(),
            Some(recorded),
            "a later run never rewrites the state"
        );
    }

    #[tokio::test]
    async fn a_hanging_superpower_fails_within_the_timeout() {
        let (url, mode) = fake_superpower().await;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        *mode.lock().unwrap() = Mode::Hang;
        let started = Instant::now();
        assert_eq!(run(args(&url, &state, 50)).await, ExitCode::from(1));
        // 50 users, 8 at a time, 50 ms each: well under 2 s, never a hang.
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            State::load(&state).unwrap(),
            None,
            "a failed first run records nothing"
        );
    }

    #[tokio::test]
    async fn an_unreachable_superpower_fails_fast() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        assert_eq!(
            run(args(&url, &dir.path().join("s.json"), 1000)).await,
            ExitCode::from(1)
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn bad_urls_and_state_files_are_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        assert_eq!(
            run(args("not a url", &state, 1000)).await,
            ExitCode::from(2)
        );
        assert_eq!(
            run(args("https://127.0.0.1:1/", &state, 1000)).await,
            ExitCode::from(2)
        );
        std::fs::write(&state, "garbage").unwrap();
        assert_eq!(
            run(args("http://127.0.0.1:1/", &state, 1000)).await,
            ExitCode::from(2)
        );
    }

    #[test]
    fn a_first_run_judges_only_latency_and_failures() {
        let observed = [
            answer("a", "Hero", 3, false),
            answer("b", "Anyone", 5, false),
        ];
        assert_eq!(judge(None, &observed, LIMIT), vec![]);
        let ids = ["a".to_string(), "b".to_string()];
        assert_eq!(
            record(&ids, &observed)
                .iter()
                .map(|u| u.name.as_str())
                .collect::<Vec<_>>(),
            ["Hero", "Anyone"]
        );
    }
}
