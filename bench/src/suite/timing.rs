//! Durations, sizes, rates and connections of the scenarios: the full run's and the smoke
//! run's, stated once here.

use std::time::Duration;

/// Durations and sizes of one mode.
pub(super) struct Timing {
    /// Each maximum-throughput run.
    pub(super) max: Duration,
    /// Interleaved rounds of the generator's maximum-throughput runs.
    pub(super) max_rounds: usize,
    /// Each constant-rate run.
    pub(super) rate: Duration,
    /// Interleaved rounds of the promise-tracking comparison (one run per side each).
    pub(super) tracking_rounds: usize,
    /// Users (cookies) the load rotates over.
    pub(super) users: usize,
    /// The failover window, and when into it the powersource is killed and started again.
    pub(super) failover: Duration,
    pub(super) kill_at: Duration,
    pub(super) restart_at: Duration,
    /// Each of lose all's two runs (known users, unknown users).
    pub(super) lose_all: Duration,
    /// Characters of the generated dataset, and `loader ingest` runs (the median is kept).
    pub(super) ingest_characters: usize,
    pub(super) ingest_runs: usize,
    /// The fleet sizes (powersources) and the counts of distinct users of the scaling scenario.
    pub(super) scale_instances: Vec<usize>,
    pub(super) scale_users: Vec<usize>,
}

impl Timing {
    /// The smoke run's (`smoke`) or the full run's: each value is (full, smoke).
    pub(super) fn of(smoke: bool) -> Self {
        let n = |full: usize, quick: usize| if smoke { quick } else { full };
        let s = |full: u64, quick: u64| Duration::from_secs(if smoke { quick } else { full });
        Timing {
            max: s(4, 1),
            max_rounds: n(5, 1),
            rate: s(5, 1),
            tracking_rounds: n(4, 1),
            users: 1000,
            failover: s(10, 3),
            kill_at: s(3, 1),
            restart_at: s(6, 2),
            lose_all: s(3, 1),
            ingest_characters: n(1500, 100),
            ingest_runs: n(3, 1),
            scale_instances: if smoke { vec![3, 10] } else { vec![3, 10, 30] },
            scale_users: if smoke {
                vec![1000, 20_000]
            } else {
                vec![1000, 100_000, 1_000_000]
            },
        }
    }
}

/// Connections of the maximum-throughput runs.
pub const MAX_CONNECTIONS: usize = 32;
/// Connections of the constant-rate runs, and of the 25 req/s ones (as the original demo's load).
pub(super) const RATE_CONNECTIONS: usize = 32;
pub(super) const LOW_RATE_CONNECTIONS: usize = 8;
/// The three constant rates; the last is lowered to 80% of superpower's maximum when too high.
pub(super) const RATES: [f64; 3] = [25.0, 1000.0, 5000.0];
/// The constant rates at which superpower, nginx and HAProxy are compared.
pub(super) const PEER_RATES: [f64; 3] = [1000.0, 5000.0, 10_000.0];
/// The peers' failover rate: the first of these every front end held, else the last.
pub(super) const PEER_FAILOVER_RATES: [f64; 3] = [10_000.0, 5000.0, 1000.0];
/// A constant rate is held when nothing failed and its p99 stays under this.
pub(super) const HELD_P99: Duration = Duration::from_millis(20);
/// The latency fault of the peers' slow-instance run, on one of the 3 powersources.
pub(super) const PEER_SLOW_MS: u64 = 2000;
/// The constant rate of the peers' slow-instance and lose-all runs.
pub(super) const PEER_SLOW_RATE: f64 = 1000.0;
/// Connections of the slow-instance run: the answers a 300 ms attempt timeout holds (a third of
/// 1,000 req/s for 0.3 s) do not hold up the ones due after them.
pub(super) const PEER_SLOW_CONNECTIONS: usize = 256;

/// superpower's `--dns-interval-ms` in the DNS membership run.
pub(super) const DNS_INTERVAL_MS: u64 = 1000;
/// Other users, each asking each replica twice, before the scaling scenario's RSS reading: every
/// character answered from every powersource on every thread, so the growth read is the users'.
pub(super) const SCALE_WARM_USERS: usize = 10_000;
/// Returning users sampled per count of distinct users, asked on each replica with every
/// powersource dead: 99.9 % of them is all but 2.
pub(super) const RETURNING_SAMPLE: usize = 2000;
/// The most one pass of the scaling scenario may take (a million users once).
pub(super) const SCALE_PASS_LIMIT: Duration = Duration::from_secs(180);

/// The constant rate of the failover window and of lose all's known users.
pub(super) const FAILOVER_RATE: f64 = 500.0;
/// The constant rate of lose all's unknown users (each one a new identity).
pub(super) const UNKNOWN_RATE: f64 = 200.0;

/// Connections of the passes that ask for every user once.
pub(super) const ONCE_CONNECTIONS: usize = 8;
/// The most the pass recording every user's superpower may take.
pub(super) const RECORD_LIMIT: Duration = Duration::from_secs(120);
/// The most the pass over every user after the failover window may take.
pub(super) const AFTER_FAILOVER_LIMIT: Duration = Duration::from_secs(60);

/// How long superpower (all its powersources on its ring) and each powersource get to be ready.
pub(super) const PRODUCT_READY: Duration = Duration::from_secs(30);
/// How long each reference server gets to be ready.
pub(super) const REFERENCE_READY: Duration = Duration::from_secs(10);
/// Users `superpower probe identity` follows (its timeout per request is the promise's limit).
pub(super) const PROBE_USERS: usize = 50;

/// The soak's length with `--soak`.
pub const SOAK_FULL: Duration = Duration::from_secs(600);
/// The shortest soak (`--soak-seconds`): the RSS verdict needs samples after the warm-up.
pub const SOAK_MIN: Duration = Duration::from_secs(30);
/// The seed of the soak's fault schedule unless `--soak-seed` is given.
pub const SOAK_SEED: u64 = 17;
/// The soak's constant rate, and its returning users: each one is back every 2 s.
pub(super) const SOAK_RATE: f64 = 500.0;
pub(super) const SOAK_USERS: usize = 1000;
/// The soak's connections: a request stuck on a frozen powersource for a hedge delay does not
/// hold up the ones due after it.
pub(super) const SOAK_CONNECTIONS: usize = 32;
/// Any slower answer is listed as an incident (the verdict's limit is the promise's).
pub(super) const SOAK_SLOW: Duration = Duration::from_millis(500);
/// How long a powersource sent SIGTERM gets to exit before SIGKILL.
pub(super) const SOAK_TERM_GRACE: Duration = Duration::from_secs(5);
/// How often the soak reads every process's `VmRSS`, and its progress line's period.
pub(super) const RSS_SAMPLE_EVERY: Duration = Duration::from_secs(1);
pub(super) const SOAK_PROGRESS_EVERY: Duration = Duration::from_secs(30);
/// The most the pass over every user after the soak may take.
pub(super) const AFTER_SOAK_LIMIT: Duration = Duration::from_secs(60);
