//! The probe's output: a [`Report`] (a verdict and what it was about) written as the human lines
//! or as the one JSON object of `--json` (its schema is in the [module doc](super)).

use std::path::PathBuf;

use serde::Serialize;

use super::judge::{as_ms, ms, Figures, Problem};
use super::verdict::Verdict;

/// Every line starts with it, so the probe's lines stand out in a journal.
const PREFIX: &str = "identity probe: ";

/// One run of the identity probe, ready to be written.
#[derive(Debug)]
pub struct Report {
    /// `--url`, as given.
    pub url: String,
    /// `--state`.
    pub state: PathBuf,
    /// `--timeout-ms`.
    pub limit_ms: u64,
    /// Whether there was no state file (a first run records; a later one compares); `None` when
    /// the run ended before the state file was read or because it could not be.
    pub first_run: Option<bool>,
    /// How it ended.
    pub verdict: Verdict,
}

impl Report {
    /// The process's exit code.
    pub fn exit_code(&self) -> u8 {
        self.verdict.exit_code()
    }

    /// The human form: one line per broken promise, then the summary, for stdout; a run that
    /// could judge nothing has its one line for stderr instead.
    pub fn human(&self) -> Human {
        let stdout: String = self
            .verdict
            .problems()
            .iter()
            .map(|p| format!("{PREFIX}{p}\n"))
            .collect();
        let summary = self.summary() + "\n";
        match self.verdict {
            Verdict::Error(_) => Human {
                stdout,
                stderr: summary,
            },
            _ => Human {
                stdout: stdout + &summary,
                stderr: String::new(),
            },
        }
    }

    /// The human summary line (the last one printed).
    pub fn summary(&self) -> String {
        let figures = |f: &Figures| {
            format!(
                "{} users, max latency {} (limit {} ms), {} degraded",
                f.users,
                ms(f.max_latency),
                self.limit_ms,
                f.degraded
            )
        };
        match &self.verdict {
            Verdict::Recorded { figures: f } => format!(
                "{PREFIX}OK: recorded {} users in {}; {}",
                f.users,
                self.state.display(),
                figures(f)
            ),
            Verdict::Held { figures: f } => {
                format!(
                    "{PREFIX}OK: every user kept their superpower; {}",
                    figures(f)
                )
            }
            Verdict::Broken {
                figures: f,
                problems,
            } => format!(
                "{PREFIX}FAILED: {} of {} users broke a promise; {}",
                problems.len(),
                f.users,
                figures(f)
            ),
            Verdict::Unreachable(e) => {
                format!("{PREFIX}FAILED: {e} (is the fleet up? deploy/local/up.sh starts it)")
            }
            Verdict::Error(e) => format!("{PREFIX}{e}"),
        }
    }

    /// The `--json` form, as one line with its fields in the documented order.
    ///
    /// # Panics
    /// Never: every field is a string, a number, a bool or null (no map keys to reject).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(&self.json()).expect("the report serializes")
    }

    /// The `--json` form, as a value.
    ///
    /// # Panics
    /// Never, as [`Report::to_json_line`].
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.json()).expect("the report serializes")
    }

    fn json(&self) -> Json<'_> {
        let figures = self.verdict.figures();
        let error = match &self.verdict {
            Verdict::Unreachable(e) => Some(JsonError {
                kind: "unreachable",
                message: e.to_string(),
            }),
            Verdict::Error(e) => Some(JsonError {
                kind: e.kind(),
                message: e.to_string(),
            }),
            _ => None,
        };
        Json {
            probe: "identity",
            verdict: self.verdict.name(),
            exit_code: self.exit_code(),
            url: &self.url,
            state: self.state.display().to_string(),
            first_run: self.first_run,
            recorded: matches!(self.verdict, Verdict::Recorded { .. }),
            limit_ms: self.limit_ms,
            users: figures.map(|f| f.users),
            max_latency_ms: figures.map(|f| as_ms(f.max_latency)),
            degraded: figures.map(|f| f.degraded),
            problems: self
                .verdict
                .problems()
                .iter()
                .map(|problem| JsonProblem {
                    problem,
                    message: problem.to_string(),
                })
                .collect(),
            error,
            summary: self.summary(),
        }
    }
}

/// The human form of a report, by stream.
#[derive(Debug, PartialEq, Eq)]
pub struct Human {
    /// For stdout: the problems and the summary.
    pub stdout: String,
    /// For stderr: why nothing could be judged.
    pub stderr: String,
}

/// The `--json` object, field by field (documented in the module doc).
#[derive(Serialize)]
struct Json<'a> {
    probe: &'static str,
    verdict: &'static str,
    exit_code: u8,
    url: &'a str,
    state: String,
    first_run: Option<bool>,
    recorded: bool,
    limit_ms: u64,
    users: Option<usize>,
    max_latency_ms: Option<f64>,
    degraded: Option<usize>,
    problems: Vec<JsonProblem<'a>>,
    error: Option<JsonError>,
    summary: String,
}

/// A problem's fields, and its human line.
#[derive(Serialize)]
struct JsonProblem<'a> {
    #[serde(flatten)]
    problem: &'a Problem,
    message: String,
}

/// Why nothing was judged.
#[derive(Serialize)]
struct JsonError {
    kind: &'static str,
    message: String,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::StatusCode;
    use serde_json::json;

    use super::*;
    use crate::client::{AskError, Unreachable};
    use crate::state::StateError;
    use crate::verdict::RunError;

    fn report(first_run: Option<bool>, verdict: Verdict) -> Report {
        Report {
            url: "http://127.0.0.1:30280/".into(),
            state: "var/s.json".into(),
            limit_ms: 1000,
            first_run,
            verdict,
        }
    }

    const FIGURES: Figures = Figures {
        users: 50,
        max_latency: Duration::from_micros(1_001_650),
        degraded: 3,
    };

    fn human(r: &Report) -> (String, String) {
        let Human { stdout, stderr } = r.human();
        (stdout, stderr)
    }

    #[test]
    fn the_human_lines_are_unchanged() {
        let broken = report(
            Some(false),
            Verdict::Broken {
                figures: FIGURES,
                problems: vec![
                    Problem::Failed {
                        id: "b".into(),
                        error: AskError::Status {
                            status: StatusCode::SERVICE_UNAVAILABLE,
                            body: "{}".into(),
                        },
                    },
                    Problem::Missing { id: "c".into() },
                ],
            },
        );
        assert_eq!(
            human(&broken),
            (
                "identity probe: user b: HTTP 503 Service Unavailable: {}\n\
                 identity probe: user c: not asked\n\
                 identity probe: FAILED: 2 of 50 users broke a promise; 50 users, max latency \
                 1001.6 ms (limit 1000 ms), 3 degraded\n"
                    .into(),
                String::new()
            )
        );
        let held = report(Some(false), Verdict::Held { figures: FIGURES });
        assert_eq!(
            human(&held).0,
            "identity probe: OK: every user kept their superpower; 50 users, max latency 1001.6 \
             ms (limit 1000 ms), 3 degraded\n"
        );
        let recorded = report(Some(true), Verdict::Recorded { figures: FIGURES });
        assert!(human(&recorded)
            .0
            .starts_with("identity probe: OK: recorded 50 users in var/s.json; 50 users, "));
        let unreachable = report(
            Some(true),
            Verdict::Unreachable(Unreachable {
                url: "http://127.0.0.1:1/".into(),
                cause: "refused".into(),
            }),
        );
        assert_eq!(
            human(&unreachable).0,
            "identity probe: FAILED: cannot reach superpower at http://127.0.0.1:1/ (refused) \
             (is the fleet up? deploy/local/up.sh starts it)\n"
        );
        let error = report(
            None,
            Verdict::Error(RunError::NotHttp {
                url: "https://x/".into(),
            }),
        );
        assert_eq!(
            human(&error),
            (
                String::new(),
                "identity probe: --url \"https://x/\" must be an http:// URL with a host\n".into()
            )
        );
    }

    #[test]
    fn the_json_has_every_field_for_every_verdict() {
        let broken = report(
            Some(false),
            Verdict::Broken {
                figures: FIGURES,
                problems: vec![Problem::Failed {
                    id: "b".into(),
                    error: AskError::Timeout { limit_ms: 1000 },
                }],
            },
        );
        assert_eq!(
            broken.to_json(),
            json!({
                "probe": "identity",
                "verdict": "broken",
                "exit_code": 1,
                "url": "http://127.0.0.1:30280/",
                "state": "var/s.json",
                "first_run": false,
                "recorded": false,
                "limit_ms": 1000,
                "users": 50,
                "max_latency_ms": 1001.65,
                "degraded": 3,
                "problems": [{
                    "kind": "failed",
                    "user": "b",
                    "reason": "timeout",
                    "limit_ms": 1000,
                    "message": "user b: no answer within 1000 ms",
                }],
                "error": null,
                "summary": broken.summary(),
            })
        );
        assert!(
            broken
                .to_json_line()
                .starts_with(r#"{"probe":"identity","verdict":"broken","exit_code":1,"url":"#),
            "{}",
            broken.to_json_line()
        );
        assert!(!broken.to_json_line().contains('\n'));
        let recorded = report(Some(true), Verdict::Recorded { figures: FIGURES }).to_json();
        assert_eq!(
            (
                &recorded["verdict"],
                &recorded["exit_code"],
                &recorded["recorded"]
            ),
            (&json!("ok"), &json!(0), &json!(true))
        );
        let unreachable = report(
            Some(true),
            Verdict::Unreachable(Unreachable {
                url: "http://127.0.0.1:1/".into(),
                cause: "refused".into(),
            }),
        )
        .to_json();
        assert_eq!(unreachable["verdict"], "unreachable");
        assert_eq!(unreachable["exit_code"], 1);
        assert_eq!(unreachable["error"]["kind"], "unreachable");
        assert_eq!(unreachable["users"], json!(null));
        let error = report(
            None,
            Verdict::Error(RunError::State(StateError::Format {
                path: "var/s.json".into(),
                reason: "no users".into(),
            })),
        )
        .to_json();
        assert_eq!(
            (
                &error["verdict"],
                &error["exit_code"],
                &error["error"]["kind"]
            ),
            (&json!("error"), &json!(2), &json!("state_invalid"))
        );
        assert_eq!(error["first_run"], json!(null));
        assert_eq!(error["problems"], json!([]));
    }
}
