//! `superpower probe …`: the custom probes of the chaos experiments.
//!
//! chaostoolkit calls them through its `process` provider and takes the exit code as the verdict
//! (tolerance `0`), so a user of the experiments writes no Python.
//!
//! `superpower probe identity --url URL --users N --state FILE [--timeout-ms MS] [--json]`
//! (`MS` by default the promise's limit, 1000) checks both promises for a set of users:
//! - the first run (no `FILE`) makes `N` identities (random `superpower_id` cookies, as a browser
//!   would get), asks superpower for each one's superpower, and records them in `FILE`;
//! - later runs ask again with the same cookies and fail if any user gets a different superpower
//!   (promise 1), or if any request fails or takes longer than the timeout (promise 2). Like a
//!   browser, the probe keeps the signed `superpower_last` cookie superpower set on the first run
//!   and sends it back, so a degraded answer can be given when no instance answers.
//!
//! A `degraded: true` answer (the user's last known superpower, no instance answering) still keeps promise 1 when
//! the name is the same. Exit codes: 0 the steady state holds, 1 it does not (one line per
//! broken promise, then a summary; or superpower is unreachable), 2 bad arguments or an
//! unusable state file (one line on stderr).
//!
//! # `--json`
//!
//! With `--json` the probe prints exactly one JSON object on stdout, whatever the verdict, and
//! nothing else (logs go to stderr); the exit codes are the same. Fields, always present:
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `probe` | `"identity"` | which probe |
//! | `verdict` | `"ok"` \| `"broken"` \| `"unreachable"` \| `"error"` | exit code 0, 1, 1, 2 |
//! | `exit_code` | int | the process's exit code |
//! | `url` | string | `--url` as given |
//! | `state` | string | `--state` |
//! | `first_run` | bool \| null | no state file existed (only promise 2 is judged); null for `"error"` |
//! | `recorded` | bool | this run wrote the state file (a first run that was `"ok"`) |
//! | `limit_ms` | int | `--timeout-ms` |
//! | `users` | int \| null | users asked; null when none were judged (`"unreachable"`, `"error"`) |
//! | `max_latency_ms` | float \| null | the slowest request, answered or not (µs precision) |
//! | `degraded` | int \| null | answers from superpower's fallback |
//! | `problems` | array | one object per broken promise; `[]` unless `"broken"` |
//! | `error` | object \| null | `{kind, message}` for `"unreachable"` and `"error"` |
//! | `summary` | string | the human summary line, as printed without `--json` |
//!
//! Every problem has `kind`, `user` (the `superpower_id`) and `message` (the human line,
//! without the `identity probe: ` prefix), and by `kind`:
//! - `"changed"` (promise 1): `expected` (recorded), `got` (answered now);
//! - `"slow"` (promise 2, answered after the limit): `latency_ms`;
//! - `"failed"` (no usable answer): `reason` and its fields —
//!   `"timeout"` (`limit_ms`), `"status"` (`status`: the HTTP status as a number, `body`: its
//!   first 200 bytes), `"unreachable"` (`url`, `cause`), `"request"`, `"cut_short"`,
//!   `"not_json"`, `"build"` (`cause`), `"identity_replaced"` (`new_id`: superpower did not
//!   accept the user's cookie and set another);
//! - `"missing"`: a recorded user the run did not ask.
//!
//! `error.kind` is `"unreachable"` (the first request could not connect), `"bad_url"`,
//! `"not_http"`, `"state_unreadable"`, `"state_invalid"` or `"state_unwritable"`. Arguments
//! that clap itself rejects (an unknown flag, `--users 10`) exit 2 with clap's message before
//! the probe runs, so they print no JSON.
//!
//! `superpower probe health [--url URL] [--timeout-ms MS]` asks `/health` once, for a container
//! engine's health check ([`health`]).
//!
//! # Layout
//! - this module: the arguments and the identity probe's run;
//! - [`state`]: the state file; [`client`]: asking superpower; [`mod@judge`]: observations →
//!   problems and figures; [`verdict`]: how a run ended; [`report`]: the human and JSON output.

pub mod client;
pub mod health;
pub mod judge;
pub mod report;
pub mod state;
pub mod verdict;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use http::Uri;

use service::promise::UserId;

use client::{ask, AskError, Outcome};
use judge::{judge, record, Figures};
use report::Report;
use state::{State, STATE_VERSION};
use verdict::{RunError, Verdict};

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
    /// superpower's `/health` answers 2xx within the timeout (a container health check).
    Health(health::HealthArgs),
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
    /// Every request must be answered within this many milliseconds (promise 2; by default the
    /// promise's limit).
    #[arg(long, default_value_t = service::promise::LATENCY_LIMIT_MS, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub timeout_ms: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub concurrency: u64,
    /// Print one JSON object on stdout instead of the human lines (same exit codes).
    #[arg(long)]
    pub json: bool,
}

/// Runs a probe and prints its report; the exit code is the verdict (0 = the steady state
/// holds).
pub async fn run(args: Args) -> ExitCode {
    match args.command {
        Command::Identity(args) => {
            let json = args.json;
            let report = identity(args).await;
            if json {
                println!("{}", report.to_json_line());
            } else {
                let human = report.human();
                print!("{}", human.stdout);
                eprint!("{}", human.stderr);
            }
            ExitCode::from(report.exit_code())
        }
        Command::Health(args) => health::run(args).await,
    }
}

/// Runs the identity probe: checks the arguments, reads the state, asks every user, judges and
/// (first run) records.
pub async fn identity(args: IdentityArgs) -> Report {
    let mut first_run = None;
    let verdict = check(&args, &mut first_run)
        .await
        .unwrap_or_else(Verdict::Error);
    Report {
        url: args.url,
        state: args.state,
        limit_ms: args.timeout_ms,
        first_run,
        verdict,
    }
}

/// [`identity`]'s work; `first_run` is set once the state file has been read.
async fn check(args: &IdentityArgs, first_run: &mut Option<bool>) -> Result<Verdict, RunError> {
    let uri: Uri = args.url.parse().map_err(|source| RunError::BadUrl {
        url: args.url.clone(),
        source,
    })?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(RunError::NotHttp {
            url: args.url.clone(),
        });
    }
    let recorded = State::load(&args.state)?;
    *first_run = Some(recorded.is_none());
    let limit = Duration::from_millis(args.timeout_ms);
    // each user's identity and, once superpower has set it, their signed last known superpower
    let users: Vec<(String, Option<String>)> = match &recorded {
        Some(state) => state
            .users
            .iter()
            .map(|u| (u.id.clone(), u.last.clone()))
            .collect(),
        None => (0..args.users)
            .map(|_| (UserId::random().to_string(), None))
            .collect(),
    };
    let ids: Vec<String> = users.iter().map(|(id, _)| id.clone()).collect();
    let client = client::client(limit);

    // One user first: when superpower is not there at all, say so at once instead of 50 times.
    let first = ask(&client, &uri, &users[0].0, users[0].1.as_deref(), limit).await;
    if let Outcome::Failed(AskError::Unreachable(e)) = first.outcome {
        return Ok(Verdict::Unreachable(e));
    }
    let mut observed = vec![first];
    observed.extend(
        stream::iter(&users[1..])
            .map(|(id, last)| ask(&client, &uri, id, last.as_deref(), limit))
            .buffer_unordered(args.concurrency as usize)
            .collect::<Vec<_>>()
            .await,
    );

    let problems = judge(
        recorded.as_ref().map(|s| s.users.as_slice()),
        &observed,
        limit,
    );
    let figures = Figures::of(&observed);
    if !problems.is_empty() {
        return Ok(Verdict::Broken { figures, problems });
    }
    if recorded.is_some() {
        return Ok(Verdict::Held { figures });
    }
    State {
        version: STATE_VERSION,
        url: args.url.clone(),
        users: record(&ids, &observed),
    }
    .save(&args.state)?;
    Ok(Verdict::Recorded { figures })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Instant;

    use http::Request;

    use super::judge::Problem;
    use super::*;

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
                // the user's id, as superpower reads it (a new one when there is none)
                let id = req
                    .headers()
                    .get_all(http::header::COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(';'))
                    .find_map(|c| {
                        c.trim()
                            .strip_prefix(service::promise::ID_COOKIE)?
                            .strip_prefix('=')
                    })
                    .and_then(UserId::parse)
                    .unwrap_or_else(UserId::random)
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

    fn identity_args(url: &str, state: &Path, timeout_ms: u64) -> IdentityArgs {
        IdentityArgs {
            url: url.into(),
            users: 50,
            state: state.to_owned(),
            timeout_ms,
            concurrency: 8,
            json: false,
        }
    }

    fn args(url: &str, state: &Path, timeout_ms: u64) -> Args {
        Args {
            command: Command::Identity(identity_args(url, state, timeout_ms)),
        }
    }

    fn json_args(url: &str, state: &Path, timeout_ms: u64) -> Args {
        Args {
            command: Command::Identity(IdentityArgs {
                json: true,
                ..identity_args(url, state, timeout_ms)
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

    #[tokio::test]
    async fn the_verdicts_and_their_json_over_real_http() {
        let (url, mode) = fake_superpower().await;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");

        let first = identity(identity_args(&url, &state, 1000)).await;
        assert!(
            matches!(first.verdict, Verdict::Recorded { figures } if figures.users == 50),
            "{first:?}"
        );
        let json = first.to_json();
        assert_eq!(
            (&json["verdict"], &json["first_run"], &json["recorded"]),
            (
                &serde_json::json!("ok"),
                &serde_json::json!(true),
                &serde_json::json!(true)
            )
        );
        assert_eq!(json["users"], 50);
        assert!(json["max_latency_ms"].as_f64().unwrap() < 1000.0, "{json}");

        *mode.lock().unwrap() = Mode::Shuffled;
        let changed = identity(identity_args(&url, &state, 1000)).await;
        assert_eq!(changed.exit_code(), 1);
        assert_eq!(changed.first_run, Some(false));
        let json = changed.to_json();
        assert_eq!(json["verdict"], "broken");
        let problems = json["problems"].as_array().unwrap();
        assert_eq!(problems.len(), 50, "{json}");
        assert!(
            problems.iter().all(|p| p["kind"] == "changed"
                && p["expected"].as_str().unwrap().starts_with("hero-")
                && p["got"].as_str().unwrap().starts_with("other-")),
            "{json}"
        );
        assert_eq!(
            run(json_args(&url, &state, 1000)).await,
            ExitCode::from(1),
            "--json keeps the exit code"
        );

        *mode.lock().unwrap() = Mode::Hang;
        let hung = identity(identity_args(&url, &state, 50)).await;
        assert!(
            hung.verdict.problems().iter().all(|p| matches!(
                p,
                Problem::Failed {
                    error: AskError::Timeout { limit_ms: 50 },
                    ..
                }
            )),
            "{hung:?}"
        );
        assert_eq!(hung.to_json()["problems"][0]["reason"], "timeout");
    }

    #[tokio::test]
    async fn unreachable_and_usage_errors_are_typed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");

        let unreachable = identity(identity_args(&url, &state, 1000)).await;
        assert!(
            matches!(&unreachable.verdict, Verdict::Unreachable(e) if e.url == url),
            "{unreachable:?}"
        );
        assert_eq!(unreachable.to_json()["verdict"], "unreachable");
        assert_eq!(run(json_args(&url, &state, 1000)).await, ExitCode::from(1));

        let kind = |r: &Report| match &r.verdict {
            Verdict::Error(e) => e.kind(),
            other => panic!("{other:?}"),
        };
        let bad = identity(identity_args("not a url", &state, 1000)).await;
        assert_eq!((kind(&bad), bad.exit_code()), ("bad_url", 2));
        let https = identity(identity_args("https://127.0.0.1:1/", &state, 1000)).await;
        assert_eq!(kind(&https), "not_http");
        std::fs::write(&state, "garbage").unwrap();
        let garbage = identity(identity_args("http://127.0.0.1:1/", &state, 1000)).await;
        assert_eq!(kind(&garbage), "state_invalid");
        assert_eq!(garbage.to_json()["error"]["kind"], "state_invalid");
        assert_eq!(
            run(json_args("http://127.0.0.1:1/", &state, 1000)).await,
            ExitCode::from(2)
        );
    }
}
