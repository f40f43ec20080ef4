//! The product's two promises, defined once.
//!
//! 1. **The same superpower every time you come back.** A visitor is the random id in the
//!    [`ID_COOKIE`] cookie; their last known superpower travels with them, signed, in the
//!    [`LAST_COOKIE`] cookie. Kept while at least [`IDENTITY_OBJECTIVE`] of the answers to
//!    returning visitors give them the superpower they had.
//! 2. **Your superpower in under a second.** An answer is good when it arrives within
//!    [`LATENCY_LIMIT`] and is not a 5xx; kept while at least [`LATENCY_OBJECTIVE`] of the
//!    answers are good (the p99 is under the limit).
//!
//! # Who reads these
//! - superpower: `identity` and `remembered` (the cookies), `promises` (the live view,
//!   `/promises.json`, which serves the limit and the objective to `promises.js`), and the
//!   `superpower probe` (its `--timeout-ms` default is the limit).
//! - the bench: the load generator's cookies, nginx's and HAProxy's hash cookie, the probe's
//!   timeout, and the targets "< 1 s" and "≥ 99.9 % kept".
//! - [`crate::metrics::LATENCY_BUCKETS`] has an edge exactly at the limit, which the recording
//!   rules select (`le="1"`).
//!
//! What cannot link this crate is held to it by `service/tests/promise.rs`, which fails when any
//! copy differs: the locustfile (`visitors/locustfile.py`), the OpenAPI spec
//! (`docs/openapi/superpower.yaml`), the chaos experiments (`experiments/*/*.json`, their p99
//! probe; they run `superpower probe` without `--timeout-ms`, so with the limit),
//! `experiments/load.sh` and `verify_journals.py`, the Prometheus rules
//! (`dashboards/prometheus/rules/`), the dashboard generator (`dashboards/tools/generate.mjs`),
//! and every cookie named in the scripts and docs.

use std::time::Duration;

/// Promise 1: the name of the cookie holding the visitor's id (22 characters of URL-safe base64,
/// 16 random bytes). The id alone decides the visitor's superpower.
pub const ID_COOKIE: &str = "superpower_id";

/// Promise 1: the name of the cookie holding the visitor's last known superpower, signed for
/// them (`ID.TAG`), so that any replica can answer it when no powersource does.
pub const LAST_COOKIE: &str = "superpower_last";

/// Promise 1 is kept while at least this fraction of the answers to returning visitors give the
/// superpower they had (the identity SLO of
/// `dashboards/prometheus/rules/identity-slo-alerts.yml`: an error budget of 1 − this).
pub const IDENTITY_OBJECTIVE: f64 = 0.999;

/// Promise 2: every answer within this, from the request to the whole body.
pub const LATENCY_LIMIT: Duration = Duration::from_secs(1);

/// Promise 2 is kept while at least this fraction of answers is good (within
/// [`LATENCY_LIMIT`], not a 5xx): the latency SLO of `dashboards/prometheus/rules/slo-alerts.yml`
/// (an error budget of 1 − this), and the quantile whose value must stay under the limit (p99).
pub const LATENCY_OBJECTIVE: f64 = 0.99;

/// [`LATENCY_LIMIT`] in milliseconds, as the command-line flags and the JSON views give it.
pub const LATENCY_LIMIT_MS: u64 = LATENCY_LIMIT.as_millis() as u64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_in_milliseconds_is_the_limit() {
        assert_eq!(Duration::from_millis(LATENCY_LIMIT_MS), LATENCY_LIMIT);
    }
}
