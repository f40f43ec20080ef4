//! The soak: returning users at 500 req/s for minutes (10 with `--soak`) against superpower in
//! front of 3 powersources, while the powersources are killed (SIGKILL), frozen (SIGSTOP, then
//! SIGCONT) and restarted (SIGTERM, then started again) on a seeded schedule; every process's
//! RSS is sampled each second.
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
//! the faults, `rss` judges the memory samples.

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
use crate::procs::Proc;
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

    let schedule = chaos::plan(&chaos::SOAK, length, seed);
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
        p.thaw()?;
        if p.pid().is_none() {
            p.restart()?;
        }
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
        faults: chaos::count(&schedule),
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

/// Applies `schedule` to the powersources and samples every process's RSS each
/// [`RSS_SAMPLE_EVERY`], until `length`; every step is appended to `logs/chaos.log`, every
/// sample to `logs/rss.csv` (KiB, empty while a process is down). A process found exited by
/// itself is recorded (and a powersource started again).
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
    // the fault of each powersource not recovered yet (its index in `out.faults`)
    let mut open: Vec<Option<usize>> = vec![None; product.powersources.len()];
    let start = Instant::now();
    let mut events = schedule.iter().peekable();
    let mut next_sample = Duration::ZERO;
    let mut next_progress = SOAK_PROGRESS_EVERY;
    loop {
        let now = start.elapsed();
        while let Some(e) = events.next_if(|e| e.at <= now) {
            let p = &mut product.powersources[e.instance];
            let name = p.name().to_owned();
            let at = start.elapsed();
            let _ = writeln!(log, "{:9.3} s  {name}  {}", at.as_secs_f64(), describe(e));
            match e.action {
                Action::Fault(kind) => {
                    out.faults.push(Fault {
                        at_s: at.as_secs_f64(),
                        process: Process::Powersource(e.instance + 1),
                        kind,
                        recovered_at_s: at.as_secs_f64(),
                    });
                    open[e.instance] = Some(out.faults.len() - 1);
                }
                Action::Recover(_) => {}
            }
            match e.action {
                Action::Fault(FaultKind::Kill) => p.kill(),
                Action::Fault(FaultKind::Freeze) => p.freeze()?,
                Action::Fault(FaultKind::Restart) => {
                    if !p.terminate(SOAK_TERM_GRACE).await? {
                        out.slow_stops += 1;
                        let _ = writeln!(
                            log,
                            "{:9.3} s  {name}  did not exit {SOAK_TERM_GRACE:?} after SIGTERM: SIGKILLed",
                            start.elapsed().as_secs_f64()
                        );
                    }
                    p.restart()?;
                }
                Action::Recover(FaultKind::Kill) => p.restart()?,
                Action::Recover(FaultKind::Freeze) => p.thaw()?,
                Action::Recover(FaultKind::Restart) => {}
            }
            let recovered = matches!(
                e.action,
                Action::Recover(_) | Action::Fault(FaultKind::Restart)
            );
            if let (true, Some(i)) = (recovered, open[e.instance].take()) {
                out.faults[i].recovered_at_s = start.elapsed().as_secs_f64();
            }
        }
        let now = start.elapsed();
        if next_sample <= now {
            let mut row = format!("{:.3}", now.as_secs_f64());
            for ((_, p), s) in processes(product).zip(&mut out.samples) {
                let kib = p.rss_kib();
                s.push(now, kib);
                row.push(',');
                row.push_str(&kib.map(|k| k.to_string()).unwrap_or_default());
            }
            let _ = writeln!(csv, "{row}");
            note_exits(product, now, &mut out.exits, &mut log)?;
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
    Ok(out)
}

/// Records every process that exited by itself, and starts a powersource that did again.
fn note_exits(
    product: &mut Product,
    at: Duration,
    exits: &mut Vec<String>,
    log: &mut std::fs::File,
) -> anyhow::Result<()> {
    let mut note = |name: &str, status: std::process::ExitStatus| {
        let line = format!(
            "{name} exited by itself ({status}) at {:.1} s",
            at.as_secs_f64()
        );
        let _ = writeln!(log, "{:9.3} s  {line}", at.as_secs_f64());
        exits.push(line);
    };
    if let Some(status) = product.superpower.try_exited() {
        note(product.superpower.name(), status);
    }
    for p in &mut product.powersources {
        if let Some(status) = p.try_exited() {
            note(p.name(), status);
            p.restart()?;
        }
    }
    Ok(())
}

/// One line of the chaos log for `e`.
fn describe(e: &Event) -> &'static str {
    match e.action {
        Action::Fault(FaultKind::Kill) => "kill: SIGKILL",
        Action::Fault(FaultKind::Freeze) => "freeze: SIGSTOP",
        Action::Fault(FaultKind::Restart) => "restart: SIGTERM, then start again",
        Action::Recover(FaultKind::Kill) => "kill recovered: start again",
        Action::Recover(FaultKind::Freeze) => "freeze recovered: SIGCONT",
        Action::Recover(FaultKind::Restart) => "restart recovered",
    }
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
