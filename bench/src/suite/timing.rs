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
    /// The failover window.
    pub(super) failover: Duration,
    /// When, into the window, the powersource is killed.
    pub(super) kill_at: Duration,
    /// When, into the window, it is started again.
    pub(super) restart_at: Duration,
    /// Each of lose all's two runs (known users, unknown users).
    pub(super) lose_all: Duration,
    /// Characters of the generated dataset.
    pub(super) ingest_characters: usize,
    /// `loader ingest` runs (the median is kept).
    pub(super) ingest_runs: usize,
    /// The fleet sizes (powersources) of the scaling scenario.
    pub(super) scale_instances: Vec<usize>,
    /// The counts of distinct users of the scaling scenario.
    pub(super) scale_users: Vec<usize>,
}

impl Timing {
    /// The smoke run's (`smoke`) or the full run's.
    pub(super) fn of(smoke: bool) -> Self {
        if smoke {
            Timing {
                max: Duration::from_secs(1),
                max_rounds: 1,
                rate: Duration::from_secs(1),
                tracking_rounds: 1,
                users: 1000,
                failover: Duration::from_secs(3),
                kill_at: Duration::from_secs(1),
                restart_at: Duration::from_secs(2),
                lose_all: Duration::from_secs(1),
                ingest_characters: 100,
                ingest_runs: 1,
                scale_instances: vec![3, 10],
                scale_users: vec![1000, 20_000],
            }
        } else {
            Timing {
                max: Duration::from_secs(4),
                max_rounds: 5,
                rate: Duration::from_secs(5),
                tracking_rounds: 4,
                users: 1000,
                failover: Duration::from_secs(10),
                kill_at: Duration::from_secs(3),
                restart_at: Duration::from_secs(6),
                lose_all: Duration::from_secs(3),
                ingest_characters: 1500,
                ingest_runs: 3,
                scale_instances: vec![3, 10, 30],
                scale_users: vec![1000, 100_000, 1_000_000],
            }
        }
    }
}

/// Connections of the maximum-throughput runs.
pub const MAX_CONNECTIONS: usize = 32;
/// Connections of the constant-rate runs (25 req/s uses [`LOW_RATE_CONNECTIONS`]).
pub(super) const RATE_CONNECTIONS: usize = 32;
/// Connections of the 25 req/s runs, as the original demo's load had.
pub(super) const LOW_RATE_CONNECTIONS: usize = 8;
/// The three constant rates asked; the last is lowered to 80% of superpower's maximum when the
/// machine cannot hold it.
pub(super) const RATES: [f64; 3] = [25.0, 1000.0, 5000.0];
/// The constant rates at which superpower, nginx and HAProxy are compared.
pub(super) const PEER_RATES: [f64; 3] = [1000.0, 5000.0, 10_000.0];
/// The rates tried for the peers' failover, highest first: the first that every front end
/// held in the constant-rate runs (no failure, the rate answered, p99 under [`HELD_P99`]) is
/// used; the last one when none was held.
pub(super) const PEER_FAILOVER_RATES: [f64; 3] = [10_000.0, 5000.0, 1000.0];
/// A constant rate is held when its p99 stays under this (and nothing failed).
pub(super) const HELD_P99: Duration = Duration::from_millis(20);
/// The latency fault of the peers' slow-instance run, on one of the 3 powersources.
pub(super) const PEER_SLOW_MS: u64 = 2000;
/// The constant rate of the slow-instance and lose-all runs of the peers.
pub(super) const PEER_SLOW_RATE: f64 = 1000.0;
/// Connections of the slow-instance run: enough for the answers held by a 300 ms attempt
/// timeout (a third of 1,000 req/s for 0.3 s) not to hold up the ones due after them.
pub(super) const PEER_SLOW_CONNECTIONS: usize = 256;

/// superpower's `--dns-interval-ms` in the DNS membership run.
pub(super) const DNS_INTERVAL_MS: u64 = 1000;
/// Other users, each asking each replica twice, before the scaling scenario's RSS reading:
/// enough that every character has been answered from every powersource on every worker
/// thread (the sample's 250 characters from 3 instances), so the prepared answers and the
/// catalog are full and the reading's growth is the users'.
pub(super) const SCALE_WARM_USERS: usize = 10_000;
/// Returning users sampled from each count of distinct users (spread evenly over them) and asked
/// on each replica with every powersource dead: 99.9 % of them is all but 2.
pub(super) const RETURNING_SAMPLE: usize = 2000;
/// The most one pass of the scaling scenario may take (a million users once).
pub(super) const SCALE_PASS_LIMIT: Duration = Duration::from_secs(180);

/// The constant rate of the failover window and of lose all's known users.
pub(super) const FAILOVER_RATE: f64 = 500.0;
/// The constant rate of lose all's unknown users (each one a new identity).
pub(super) const UNKNOWN_RATE: f64 = 200.0;

/// Connections of the passes that ask for every user once.
pub(super) const ONCE_CONNECTIONS: usize = 8;
/// The most the pass recording every user's superpower may take (it ends after one request
/// per user).
pub(super) const RECORD_LIMIT: Duration = Duration::from_secs(120);
/// The most the pass over every user after the failover window may take.
pub(super) const AFTER_FAILOVER_LIMIT: Duration = Duration::from_secs(60);

/// How long superpower and each powersource get to be ready (superpower: all 3 powersources on
/// its ring), at the start and after the failover restart.
pub(super) const PRODUCT_READY: Duration = Duration::from_secs(30);
/// How long each reference server gets to be ready.
pub(super) const REFERENCE_READY: Duration = Duration::from_secs(10);

/// Users `superpower probe identity` follows (its timeout per request is the promise's,
/// [`service::promise::LATENCY_LIMIT`]).
pub(super) const PROBE_USERS: usize = 50;

/// The soak's length with `--soak`.
pub const SOAK_FULL: Duration = Duration::from_secs(600);
/// The shortest soak (`--soak-seconds`): the RSS verdict needs samples after the warm-up.
pub const SOAK_MIN: Duration = Duration::from_secs(30);
/// The seed of the soak's fault schedule unless `--soak-seed` is given.
pub const SOAK_SEED: u64 = 17;
/// The soak's constant rate.
pub(super) const SOAK_RATE: f64 = 500.0;
/// The soak's returning users: at 500 req/s each one is back every 2 s.
pub(super) const SOAK_USERS: usize = 1000;
/// The soak's connections: enough that a request stuck on a frozen powersource for a hedge
/// delay does not hold up the ones due after it.
pub(super) const SOAK_CONNECTIONS: usize = 32;
/// Any slower answer is listed as an incident (the verdict's limit is the promise's,
/// [`service::promise::LATENCY_LIMIT`]: the most a soak answer may take).
pub(super) const SOAK_SLOW: Duration = Duration::from_millis(500);
/// How long a powersource sent SIGTERM gets to exit before SIGKILL.
pub(super) const SOAK_TERM_GRACE: Duration = Duration::from_secs(5);
/// How often the soak reads every process's `VmRSS`.
pub(super) const RSS_SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// The progress line's period during the soak.
pub(super) const SOAK_PROGRESS_EVERY: Duration = Duration::from_secs(30);
/// The most the pass over every user after the soak may take.
pub(super) const AFTER_SOAK_LIMIT: Duration = Duration::from_secs(60);
