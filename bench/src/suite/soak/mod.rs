//! The soak: returning users at 500 req/s for minutes (10 with `--soak`) against superpower in
//! front of 3 powersources, while faults of the vocabulary (`--soak-faults`; by default kill,
//! freeze and restart, the lifecycle's stop then start) are injected into the powersources on a
//! seeded schedule through the process engine, `deploy/local/fault.sh`; every process's RSS is
//! sampled each second.
//!
//! The verdict: no failed request, no user whose superpower changed (a degraded answer with
//! the same name keeps it), no answer slower than 1 s, no process that exited by itself, and
//! the RSS of superpower and of each powersource flat (see `rss`). Never more than 2 of the 3
//! powersources are impaired at once (`chaos`), so the fallback (a returning user's signed
//! `superpower_last` cookie, answered degraded) is not what answers; the lose-all scenario
//! checks it.
//!
//! # Layout
//! [`soak`] (here) starts the product, records each user's superpower, runs the load and
//! [`drive`] side by side, then asks every user once more with the fleet whole; `chaos` plans
//! the faults and names their commands, `rss` judges the memory samples. Each instance's
//! commands run in order, beside the drive (a flap or a start takes seconds), in a [`Lane`].

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use service::promise::LATENCY_LIMIT;
use tokio::time::Instant;

use super::fleet::{ring_is, start_product, Product};
use super::options::Options;
use super::progress::step;
use super::timing::{
    AFTER_SOAK_LIMIT, PRODUCT_READY, RSS_SAMPLE_EVERY, SOAK_CONNECTIONS, SOAK_PROGRESS_EVERY,
    SOAK_RATE, SOAK_SLOW, SOAK_TERM_GRACE, SOAK_USERS,
};
use super::users::{cookies, every_user_once, record};
use crate::load::{self, Names, Plan};
use crate::procs::{self, Proc};
use crate::report::{Fault, FaultKind, Process, Soak};

mod chaos;
mod rss;

use chaos::{Action, Event};
use rss::Samples;

/// The seed of the soak's users (the same 1,000 cookies as the other scenarios'; the fault
/// schedule has its own seed).
const USERS_SEED: u64 = 2024;

/// Runs a soak of `length` with the fault schedule of `seed`.
pub(super) async fn soak(
    opts: &Options,
    logs: &Path,
    length: Duration,
    seed: u64,
) -> anyhow::Result<Soak> {
    let kinds = &opts.soak_faults;
    let net = [FaultKind::Partition, FaultKind::Drop];
    if kinds.iter().any(|k| net.contains(k)) && !is_root() {
        bail!("partition and drop need root (fault.sh's nftables rules); run as root or leave them out of --soak-faults");
    }
    step("starting 3 powersources and superpower");
    let mut product = start_product(opts, logs).await?;
    let sp = product.superpower.addr;
    let users = Arc::new(load::identities(SOAK_USERS, USERS_SEED));
    step(&format!(
        "recording the superpower and the cookies of {} users",
        users.len()
    ));
    // they come back with their identity and the signed `superpower_last` cookie, as browsers
    let recorded = record(sp, &users).await?;
    let names = Arc::new(recorded.names);
    let users = Arc::new(recorded.returning);

    let schedule = chaos::plan(&chaos::SOAK, kinds, length, seed);
    step(&format!(
        "soak: {} req/s for {} s, {} faults planned (seed {seed}; log in {})",
        SOAK_RATE,
        length.as_secs(),
        schedule
            .iter()
            .filter(|e| matches!(e.action, Action::Fault(_)))
            .count(),
        logs.join("chaos.log").display()
    ));
    let mut plan = Plan::new(sp, "/", SOAK_CONNECTIONS, length);
    plan.rate = Some(SOAK_RATE);
    plan.rotation = cookies(&users);
    plan.names = Names::Check(names.clone());
    plan.incidents_over = Some(SOAK_SLOW);
    let load = tokio::spawn(load::run(plan));
    let driven = match drive(&mut product, &schedule, length, logs).await {
        Ok(d) => d,
        Err(e) => {
            load.abort();
            return Err(e);
        }
    };
    let load = load.await.context("the load task")??;
    if load.requests == 0 {
        bail!("no request was made");
    }

    step("soak: the fleet whole again, every user once more");
    for p in &mut product.powersources {
        // start also thaws; the schedule leaves none impaired, a crash may have
        procs::fault(logs, p.name(), &["start".into()], SOAK_TERM_GRACE).await?;
        p.follow();
    }
    product
        .superpower
        .wait_ready("/health", ring_is(3), PRODUCT_READY)
        .await
        .context("superpower did not get all 3 powersources back after the soak")?;
    let plan = every_user_once(sp, &users, Names::Check(names.clone()), AFTER_SOAK_LIMIT);
    let after = load::run(plan).await?;

    let rule = rss::rule(length, RSS_SAMPLE_EVERY);
    let rss = processes(&product)
        .zip(&driven.samples)
        .map(|((process, p), s)| rss::judge(&rule, process, p.lives(), s, p.peak_rss_kib()))
        .collect();
    let mut changed = load.changed_users.clone();
    changed.extend(&after.changed_users);
    Ok(Soak {
        seconds: length.as_secs_f64(),
        rate: SOAK_RATE,
        users: users.len(),
        seed,
        slow_ms: SOAK_SLOW.as_secs_f64() * 1000.0,
        max_impaired: chaos::SOAK.max_impaired,
        faults: chaos::count(kinds, &schedule),
        slow_stops: driven.slow_stops,
        changed_users: changed.len(),
        unexpected_exits: driven.exits,
        load,
        after,
        rss_rule: rule,
        rss,
        fault_log: driven.faults,
    })
}

/// superpower, then each powersource, with their names in the report.
fn processes(product: &Product) -> impl Iterator<Item = (Process, &Proc)> {
    std::iter::once((Process::Superpower, &product.superpower)).chain(
        product
            .powersources
            .iter()
            .enumerate()
            .map(|(i, p)| (Process::Powersource(i + 1), p)),
    )
}

/// What [`drive`] did and saw.
struct Driven {
    /// The faults, as injected.
    faults: Vec<Fault>,
    /// Restarts whose SIGTERM needed a SIGKILL.
    slow_stops: usize,
    /// Processes that exited by themselves.
    exits: Vec<String>,
    /// `VmRSS` samples, in the order of [`processes`].
    samples: Vec<Samples>,
}

/// One instance's fault commands, run in order beside the drive; each ends with what it printed
/// and, when it ended a fault, that fault's index in [`Driven::faults`].
type Lane = tokio::task::JoinHandle<Vec<Ran>>;

/// One `fault.sh` command, run.
struct Ran {
    /// Seconds into the run when it ended.
    at: Duration,
    /// What it printed, or how it failed.
    out: Result<String, procs::ProcError>,
    /// The fault it ended (its index in [`Driven::faults`]).
    recovers: Option<usize>,
}

/// Applies `schedule` to the powersources and samples every process's RSS each
/// [`RSS_SAMPLE_EVERY`], until `length`; every step (and what the engine printed) is appended to
/// `logs/chaos.log`, every sample to `logs/rss.csv` (KiB, empty while a process is down). A
/// process found exited by itself is recorded (and a powersource started again).
async fn drive(
    product: &mut Product,
    schedule: &[Event],
    length: Duration,
    logs: &Path,
) -> anyhow::Result<Driven> {
    let open_log = |name: &str| {
        let path = logs.join(name);
        std::fs::File::options()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))
    };
    let mut log = open_log("chaos.log")?;
    let mut csv = open_log("rss.csv")?;
    let header: Vec<String> = processes(product).map(|(p, _)| p.to_string()).collect();
    let _ = writeln!(csv, "t_s,{}", header.join(","));
    let mut out = Driven {
        faults: Vec::new(),
        slow_stops: 0,
        exits: Vec::new(),
        samples: processes(product).map(|_| Samples::default()).collect(),
    };
    let n = product.powersources.len();
    // the fault of each powersource not recovered yet (its index in `out.faults`)
    let mut open: Vec<Option<usize>> = vec![None; n];
    let mut lanes: Vec<Option<Lane>> = (0..n).map(|_| None).collect();
    let start = Instant::now();
    let mut events = schedule.iter().peekable();
    let mut next_sample = Duration::ZERO;
    let mut next_progress = SOAK_PROGRESS_EVERY;
    loop {
        let now = start.elapsed();
        while let Some(e) = events.next_if(|e| e.at <= now) {
            let i = e.instance;
            let name = product.powersources[i].name().to_owned();
            let at = start.elapsed();
            let cmds = chaos::commands(&chaos::SOAK, e);
            let said: Vec<String> = cmds.iter().map(|c| c.join(" ")).collect();
            let _ = writeln!(
                log,
                "{:9.3} s  {name}  {}",
                at.as_secs_f64(),
                said.join(", then ")
            );
            if let Action::Fault(kind) = e.action {
                out.faults.push(Fault {
                    at_s: at.as_secs_f64(),
                    process: Process::Powersource(i + 1),
                    kind,
                    recovered_at_s: at.as_secs_f64(),
                });
                open[i] = Some(out.faults.len() - 1);
            }
            let ends = matches!(
                e.action,
                Action::Recover(_) | Action::Fault(FaultKind::Restart)
            );
            let recovers = if ends { open[i].take() } else { None };
            lanes[i] = Some(run_in_lane(
                lanes[i].take(),
                logs,
                name,
                cmds,
                recovers,
                start,
            ));
        }
        for (lane, p) in lanes.iter_mut().zip(&mut product.powersources) {
            if let Some(done) = lane.take_if(|l| l.is_finished()) {
                finish(done, p, &mut out, &mut log).await?;
            }
        }
        let now = start.elapsed();
        if next_sample <= now {
            // an instance with a fault in force or a command under way is not expected to run
            let idle: Vec<bool> = (0..n)
                .map(|i| open[i].is_none() && lanes[i].is_none())
                .collect();
            for i in note_exits(product, &idle, now, &mut out.exits, &mut log) {
                let name = product.powersources[i].name().to_owned();
                let start_again = vec![vec!["start".to_owned()]];
                lanes[i] = Some(run_in_lane(None, logs, name, start_again, None, start));
            }
            let mut row = format!("{:.3}", now.as_secs_f64());
            for ((_, p), s) in processes(product).zip(&mut out.samples) {
                let kib = p.rss_kib();
                s.push(now, kib);
                row.push(',');
                row.push_str(&kib.map(|k| k.to_string()).unwrap_or_default());
            }
            let _ = writeln!(csv, "{row}");
            while next_sample <= now {
                next_sample += RSS_SAMPLE_EVERY;
            }
        }
        if next_progress <= now {
            step(&format!(
                "soak: {} of {} s, {} faults injected",
                now.as_secs(),
                length.as_secs(),
                out.faults.len()
            ));
            next_progress += SOAK_PROGRESS_EVERY;
        }
        let wake = events.peek().map_or(next_sample, |e| e.at.min(next_sample));
        if wake > length {
            break;
        }
        tokio::time::sleep_until(start + wake).await;
    }
    for (lane, p) in lanes.into_iter().zip(&mut product.powersources) {
        if let Some(lane) = lane {
            finish(lane, p, &mut out, &mut log).await?;
        }
    }
    Ok(out)
}

/// Runs `cmds` on powersource `name` through the fault engine once `before` (the instance's
/// lane so far) is done, stopping at the first that fails.
fn run_in_lane(
    before: Option<Lane>,
    logs: &Path,
    name: String,
    cmds: Vec<Vec<String>>,
    recovers: Option<usize>,
    start: Instant,
) -> Lane {
    let logs = logs.to_owned();
    tokio::spawn(async move {
        let mut ran = match before {
            Some(lane) => lane.await.unwrap_or_default(),
            None => Vec::new(),
        };
        if ran.iter().any(|r| r.out.is_err()) {
            return ran;
        }
        let last = cmds.len().saturating_sub(1);
        for (k, words) in cmds.into_iter().enumerate() {
            let out = procs::fault(&logs, &name, &words, SOAK_TERM_GRACE).await;
            let failed = out.is_err();
            let recovers = if k == last { recovers } else { None };
            ran.push(Ran {
                at: start.elapsed(),
                out,
                recovers,
            });
            if failed {
                break;
            }
        }
        ran
    })
}

/// Waits for `lane` of powersource `p`, appends what the engine printed to the chaos log,
/// counts the stops that needed a SIGKILL, dates the recoveries and follows `p`; fails on a
/// command that failed.
async fn finish(
    lane: Lane,
    p: &mut Proc,
    out: &mut Driven,
    log: &mut std::fs::File,
) -> anyhow::Result<()> {
    let ran = lane.await.context("a fault lane")?;
    p.follow();
    let name = p.name();
    for r in ran {
        let text = match &r.out {
            Ok(text) => text.clone(),
            Err(e) => e.to_string(),
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let _ = writeln!(log, "{:9.3} s  {name}  | {line}", r.at.as_secs_f64());
        }
        // fault.sh's stop, when SIGTERM was not enough within FLEET_STOP_TIMEOUT
        if text.contains("sending SIGKILL") {
            out.slow_stops += 1;
        }
        r.out
            .with_context(|| format!("the soak's fault on {name}"))?;
        if let Some(i) = r.recovers {
            out.faults[i].recovered_at_s = r.at.as_secs_f64();
        }
    }
    Ok(())
}

/// Follows every process ([`Proc::follow`]) and records each that exited by itself (a
/// powersource only while `idle`: neither under a fault nor being acted on); returns the
/// powersources to start again.
fn note_exits(
    product: &mut Product,
    idle: &[bool],
    at: Duration,
    exits: &mut Vec<String>,
    log: &mut std::fs::File,
) -> Vec<usize> {
    let mut note = |name: &str, how: String| {
        let line = format!(
            "{name} exited by itself ({how}) at {:.1} s",
            at.as_secs_f64()
        );
        let _ = writeln!(log, "{:9.3} s  {line}", at.as_secs_f64());
        exits.push(line);
    };
    if let Some(how) = product.superpower.follow() {
        note(product.superpower.name(), how);
    }
    let mut again = Vec::new();
    for (i, p) in product.powersources.iter_mut().enumerate() {
        if let (Some(how), true) = (p.follow(), idle[i]) {
            note(p.name(), how);
            again.push(i);
        }
    }
    again
}

/// Whether the bench runs as root (partition and drop need it).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

/// What went wrong in a soak: the verdict's every clause.
pub(super) fn failures(s: &Soak) -> Vec<String> {
    let mut out = Vec::new();
    if s.load.failures() > 0 {
        out.push(format!("soak: {}", s.load.failure_summary()));
    }
    if s.after.failures() > 0 {
        out.push(format!("soak, after: {}", s.after.failure_summary()));
    }
    if s.changed_users > 0 {
        out.push(format!(
            "soak: {} users got another superpower",
            s.changed_users
        ));
    }
    let limit_ms = LATENCY_LIMIT.as_secs_f64() * 1000.0;
    if s.load.latency.max_ms >= limit_ms {
        out.push(format!(
            "soak: the slowest answer took {:.0} ms (limit {limit_ms:.0} ms)",
            s.load.latency.max_ms
        ));
    }
    for e in &s.unexpected_exits {
        out.push(format!("soak: {e}"));
    }
    for r in &s.rss {
        if let Some(why) = &r.why {
            out.push(format!("soak: RSS of {} not flat: {why}", r.process));
        }
    }
    out
}

/// Whether `s` meets the latency clause of the verdict.
pub(super) fn fast_enough(s: &Soak) -> bool {
    s.load.latency.max_ms < LATENCY_LIMIT.as_secs_f64() * 1000.0
}
