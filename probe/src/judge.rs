//! Observations → verdict material: the broken promises ([`Problem`]), the run's figures, and
//! the users a first run records.

use std::time::Duration;

use serde::{Serialize, Serializer};

use super::client::{AskError, Observation, Outcome};
use super::state::Recorded;

/// A broken promise, one per user. The `Display` form is the human line (after
/// `identity probe: `); the `Serialize` form is an entry of `problems` in the `--json` output,
/// tagged by `kind` (snake case), the user's id as `user`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// Promise 1: the user got another superpower.
    Changed {
        /// The user.
        #[serde(rename = "user")]
        id: String,
        /// Recorded at the first run.
        expected: String,
        /// Answered now.
        got: String,
    },
    /// Promise 2: answered, but after the limit.
    Slow {
        /// The user.
        #[serde(rename = "user")]
        id: String,
        /// How long it took.
        #[serde(rename = "latency_ms", serialize_with = "millis")]
        latency: Duration,
    },
    /// No usable answer (promise 2, or promise 1 when superpower replaced the identity).
    Failed {
        /// The user.
        #[serde(rename = "user")]
        id: String,
        /// Why: `reason` and its fields in the JSON form.
        #[serde(flatten)]
        error: AskError,
    },
    /// A recorded user the run has no observation for.
    Missing {
        /// The user.
        #[serde(rename = "user")]
        id: String,
    },
}

impl Problem {
    /// The user whose promise broke.
    pub fn user(&self) -> &str {
        match self {
            Problem::Changed { id, .. }
            | Problem::Slow { id, .. }
            | Problem::Failed { id, .. }
            | Problem::Missing { id } => id,
        }
    }
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
            Problem::Failed { id, error } => write!(f, "user {id}: {error}"),
            Problem::Missing { id } => write!(f, "user {id}: not asked"),
        }
    }
}

/// Judges the observations: every request answered within `limit`, and, when users were
/// recorded before, each one got the same superpower. A recorded user with no observation is
/// [`Problem::Missing`].
pub fn judge(
    recorded: Option<&[Recorded]>,
    observed: &[Observation],
    limit: Duration,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for o in observed {
        match &o.outcome {
            Outcome::Failed(error) => problems.push(Problem::Failed {
                id: o.id.clone(),
                error: error.clone(),
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
            problems.push(Problem::Missing {
                id: user.id.clone(),
            });
        }
    }
    problems
}

/// What a judged run measured, for its summary.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figures {
    /// Users asked.
    pub users: usize,
    /// The slowest request (answered or not).
    pub max_latency: Duration,
    /// Answers from superpower's fallback (`degraded: true`).
    pub degraded: usize,
}

impl Figures {
    /// The figures of a set of observations.
    pub fn of(observed: &[Observation]) -> Figures {
        Figures {
            users: observed.len(),
            max_latency: observed.iter().map(|o| o.latency).max().unwrap_or_default(),
            degraded: observed
                .iter()
                .filter(|o| matches!(o.outcome, Outcome::Answer { degraded: true, .. }))
                .count(),
        }
    }
}

/// The users as observed, in the order they were made (only called when every one answered).
pub fn record(ids: &[String], observed: &[Observation]) -> Vec<Recorded> {
    ids.iter()
        .filter_map(|id| {
            observed
                .iter()
                .find(|o| &o.id == id)
                .and_then(|o| match &o.outcome {
                    Outcome::Answer {
                        name,
                        image_url,
                        last,
                        ..
                    } => Some(Recorded {
                        id: id.clone(),
                        name: name.clone(),
                        image_url: image_url.clone(),
                        last: last.clone(),
                    }),
                    Outcome::Failed(_) => None,
                })
        })
        .collect()
}

/// Milliseconds with one decimal: `3.2 ms`.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Milliseconds as a float, rounded to a microsecond: `3.217`.
pub fn as_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// A duration as [`as_ms`].
fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(as_ms(*d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn user(id: &str, name: &str) -> Recorded {
        Recorded {
            id: id.into(),
            name: name.into(),
            image_url: Some("/images/1".into()),
            last: None,
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
                last: None,
            },
        }
    }

    const LIMIT: Duration = service::promise::LATENCY_LIMIT;

    fn http_503() -> AskError {
        AskError::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: String::new(),
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
        assert_eq!(
            Figures::of(&observed),
            Figures {
                users: 2,
                max_latency: Duration::from_millis(999),
                degraded: 1
            }
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
                outcome: Outcome::Failed(http_503()),
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
                    error: http_503()
                },
                Problem::Missing { id: "c".into() },
            ]
        );
        assert_eq!(
            problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "user a: answered in 1001.0 ms, over the limit",
                "user b: HTTP 503 Service Unavailable: ",
                "user c: not asked",
            ]
        );
        assert_eq!(
            problems.iter().map(Problem::user).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn problems_serialize_flat_with_their_kind() {
        let problems = [
            Problem::Changed {
                id: "b".into(),
                expected: "Villain".into(),
                got: "Sidekick".into(),
            },
            Problem::Slow {
                id: "a".into(),
                latency: Duration::from_micros(1_001_700),
            },
            Problem::Failed {
                id: "b".into(),
                error: http_503(),
            },
            Problem::Missing { id: "c".into() },
        ];
        assert_eq!(
            serde_json::to_value(problems).unwrap(),
            serde_json::json!([
                {"kind": "changed", "user": "b", "expected": "Villain", "got": "Sidekick"},
                {"kind": "slow", "user": "a", "latency_ms": 1001.7},
                {"kind": "failed", "user": "b", "reason": "status", "status": 503, "body": ""},
                {"kind": "missing", "user": "c"},
            ])
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
