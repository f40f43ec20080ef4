//! An A/B of two superpowers in front of the same 3 powersources, loaded at maximum throughput
//! by the same returning users, in interleaved rounds whose order alternates (a, b; b, a; …), so
//! a burst of other work on the machine hurts both sides alike. Each side is charged the CPU
//! time of its own superpower process only (the powersources serve both alike).
//!
//! The cost of the live promises is measured with it (`tracking`: as shipped vs
//! `--no-promise-tracking`). (It also decided superpower's client: its own HTTP/1.1 exchange
//! against hyper's client connection; docs/performance.md has the figures.)

use std::path::Path;
use std::sync::Arc;

use anyhow::ensure;
use http::header::HeaderValue;

use super::fleet::{start_superpower, Fleet};
use super::options::Options;
use super::progress::step;
use super::timing::{Timing, MAX_CONNECTIONS, RECORD_LIMIT};
use super::users::{cookies, every_user_once};
use crate::load::{self, Names, Plan};
use crate::procs::{Proc, MICROS_PER_TICK};
use crate::report::Process;

/// What each side did: answers per second and CPU microseconds per request, each round.
pub(super) struct Sides {
    pub(super) rps: [Vec<f64>; 2],
    pub(super) cpu_us: [Vec<f64>; 2],
}

/// One maximum-throughput run at `p`: its answers per second and the CPU microseconds its
/// process used per request.
async fn run_once(
    p: &Proc,
    users: &Arc<Vec<HeaderValue>>,
    t: &Timing,
    failures: &mut Vec<String>,
    what: &str,
) -> anyhow::Result<(f64, f64)> {
    let mut plan = Plan::new(p.addr, "/", MAX_CONNECTIONS, t.max);
    plan.rotation = cookies(users);
    let before = p.cpu_ticks();
    let r = load::run(plan).await?;
    let after = p.cpu_ticks();
    if r.failures() > 0 {
        failures.push(format!("{what}: {}", r.failure_summary()));
    }
    let cpu = match (before, after) {
        (Some(b), Some(a)) => (a - b) as f64 * MICROS_PER_TICK / r.requests.max(1) as f64,
        _ => 0.0,
    };
    Ok((r.rps, cpu))
}

/// Warms both sides with every user once (pools, prepared answers), then runs `rounds`
/// interleaved rounds; `what` and the sides' names label the progress and the failures.
async fn interleaved(
    sides: [(&Proc, &str); 2],
    users: &Arc<Vec<HeaderValue>>,
    t: &Timing,
    rounds: usize,
    what: &str,
    failures: &mut Vec<String>,
) -> anyhow::Result<Sides> {
    for (p, _) in sides {
        let r = load::run(every_user_once(p.addr, users, Names::Ignore, RECORD_LIMIT)).await?;
        ensure!(
            r.failures() == 0,
            "warming {}: {}",
            p.name(),
            r.failure_summary()
        );
    }
    let mut out = Sides {
        rps: [Vec::new(), Vec::new()],
        cpu_us: [Vec::new(), Vec::new()],
    };
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            let (p, name) = sides[side];
            step(&format!("{what}, round {}: {name}", round + 1));
            let label = format!("max throughput, {what} {name}");
            let (rps, cpu) = run_once(p, users, t, failures, &label).await?;
            out.rps[side].push(rps);
            out.cpu_us[side].push(cpu);
        }
    }
    Ok(out)
}

/// A second superpower (`process`, started with `flags`) in front of the fleet's powersources,
/// against the fleet's own: the interleaved rounds of the two, `names` labelling them. The
/// second one is returned too (the caller may read its metrics); it stops when dropped.
#[allow(clippy::too_many_arguments)]
pub(super) async fn versus(
    opts: &Options,
    fleet: &Fleet,
    logs: &Path,
    (process, flags): (Process, &[&str]),
    names: [&str; 2],
    users: &Arc<Vec<HeaderValue>>,
    t: &Timing,
    failures: &mut Vec<String>,
) -> anyhow::Result<(Proc, Sides)> {
    let flags: Vec<String> = flags.iter().map(|f| (*f).to_owned()).collect();
    let other = start_superpower(opts, logs, process, &fleet.powersources, &flags).await?;
    let sides = [(&fleet.superpower, names[0]), (&other, names[1])];
    let what = format!("{} vs {}", names[0], names[1]);
    let s = interleaved(sides, users, t, t.tracking_rounds, &what, failures).await?;
    Ok((other, s))
}

/// The best of `v` (0 for none).
pub(super) fn best(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}
