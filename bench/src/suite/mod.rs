//! The scenarios, in the order they run: ingest, the fleet and the references up, end to end,
//! promise tracking on vs off, the peers, failover, lose all, memory, scaling, micro-benchmarks
//! (read from criterion's output), then the targets; or the soak alone, scaling alone
//! (`--only-scaling`) or the peers' saturation runs alone (`--only-peers`). One module each;
//! what they share: `options`, `timing`, `fleet` (the processes, [`fleet::measure`]), `users`,
//! `programs`, `machine` and `progress`.
//!
//! A scenario that cannot run, a load run with failures where none are expected, or an identity
//! change is recorded in [`Results::failures`] (the command then fails); a missed target is only
//! a figure.

use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::load;
use crate::report::{Mode, Results};

mod e2e;
mod failover;
mod fleet;
mod ingest;
mod lose_all;
mod machine;
mod memory;
mod micro;
mod options;
mod peers;
mod programs;
mod progress;
mod scaling;
mod soak;
mod targets;
mod timing;
mod tracking;
mod users;

pub use micro::MICRO;
pub use options::Options;
pub use timing::{MAX_CONNECTIONS, SOAK_FULL, SOAK_MIN, SOAK_SEED};

use progress::step;
use timing::Timing;

/// `r`'s value, with its failures (`of`) added to `failures`; or `None`, and why as a failure.
fn kept<T>(
    failures: &mut Vec<String>,
    what: &str,
    r: anyhow::Result<T>,
    of: impl Fn(&T) -> Vec<String>,
) -> Option<T> {
    match r {
        Ok(v) => {
            failures.extend(of(&v));
            Some(v)
        }
        Err(e) => {
            failures.push(format!("{what}: {e:#}"));
            None
        }
    }
}

/// No failures besides the scenario's error.
fn none<T>(_: &T) -> Vec<String> {
    Vec::new()
}

/// Runs every scenario (or the soak alone) and judges the targets.
pub async fn run(opts: &Options) -> Results {
    let t0 = Instant::now();
    let t = Timing::of(opts.smoke);
    let mut res = Results {
        mode: Mode::of(opts.smoke, opts.soak().is_some()),
        started: httpdate::fmt_http_date(SystemTime::now()),
        machine: machine::machine(&opts.rustc),
        product_env: opts
            .product_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        ..Results::default()
    };
    let logs = opts.out.join("logs");
    let _ = std::fs::remove_dir_all(&logs);
    if let Err(e) = std::fs::create_dir_all(&logs) {
        res.failures
            .push(format!("cannot create {}: {e}", logs.display()));
        return res;
    }

    if let Some(length) = opts.soak() {
        match soak::soak(opts, &logs, length, opts.soak_seed).await {
            Ok(s) => {
                res.failures.extend(soak::failures(&s));
                res.soak = Some(s);
            }
            Err(e) => res.failures.push(format!("soak: {e:#}")),
        }
        finish(&mut res, t0);
        return res;
    }

    let ids = Arc::new(load::identities(t.users, 2024));
    if !opts.only_scaling {
        fleet_scenarios(opts, &t, &ids, &logs, &mut res).await;
    }
    if !opts.only_peers {
        step("scaling: powersources, distinct users and replicas");
        let s = scaling::scaling(opts, &t, &ids, &logs).await;
        let of = |s: &crate::report::Scaling| {
            s.failures.iter().map(|f| format!("scaling: {f}")).collect()
        };
        res.scaling = kept(&mut res.failures, "scaling", s, of);
        if let Some(dir) = &opts.criterion_dir {
            // the scaling section quotes the signing cost from them
            res.micro = kept(
                &mut res.failures,
                "micro-benchmarks",
                micro::micro(dir),
                none,
            )
            .unwrap_or_default();
        }
    }
    finish(&mut res, t0);
    res
}

/// Ingest, then the scenarios of the fleet (3 powersources, superpower, the references) and its
/// recorded users; with `--only-peers`, the peers' saturation runs alone.
async fn fleet_scenarios(
    opts: &Options,
    t: &Timing,
    ids: &Arc<Vec<http::HeaderValue>>,
    logs: &Path,
    res: &mut Results,
) {
    let failures = &mut res.failures;
    step("ingest");
    res.ingest = kept(failures, "ingest", ingest::ingest(opts, t).await, none);

    step("starting 3 powersources, superpower and the two references");
    let fleet = fleet::start(opts, logs).await;
    let Some(mut fleet) = kept(failures, "cannot start the fleet", fleet, none) else {
        return;
    };
    step(&format!(
        "recording the superpower and the cookies of {} users",
        ids.len()
    ));
    // from here on the users come back as a browser does: their identity and the signed
    // `superpower_last` cookie their first answer set
    let recorded = users::record(fleet.superpower.addr, ids).await;
    let Some(recorded) = kept(failures, "cannot record the users", recorded, none) else {
        return;
    };
    let (users, names) = (Arc::new(recorded.returning), Arc::new(recorded.names));

    if !opts.only_peers {
        let e = e2e::e2e(&fleet, t, &users, failures).await;
        res.e2e = kept(failures, "end to end", e, none);
        step("promise tracking, on vs off");
        let k = tracking::tracking(opts, &fleet, t, &users, logs, failures).await;
        res.tracking = kept(failures, "promise tracking", k, none);
    }
    step("peers: nginx and HAProxy in front of the same powersources");
    let p = peers::peers(opts, &mut fleet, t, &users, &names, logs).await;
    res.peers = kept(failures, "peers", p, peers::failures);
    if !opts.only_peers {
        step("failover");
        let f = failover::failover(opts, &mut fleet, t, &users, &names).await;
        res.failover = kept(failures, "failover", f, failover::failures);
        step("lose all");
        let l = lose_all::lose_all(&mut fleet, t, &users, &names).await;
        res.lose_all = kept(failures, "lose all", l, lose_all::failures);
    }
    res.memory = memory::peak(&fleet);
}

/// Judges the targets and records how long the run took.
fn finish(res: &mut Results, t0: Instant) {
    res.targets = targets::targets(res);
    res.duration_s = t0.elapsed().as_secs_f64();
}
