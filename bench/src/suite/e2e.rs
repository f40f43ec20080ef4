//! The end-to-end scenario: maximum throughput (interleaved rounds, best of each) and constant
//! rates of superpower, powersource alone and the references, with the generator and with oha;
//! each run charged the CPU time of the processes that served it.

use std::future::Future;
use std::sync::Arc;

use anyhow::{ensure, Context};
use http::header::HeaderValue;
use http::StatusCode;

use super::fleet::{get, measure, Fleet};
use super::progress::step;
use super::timing::{Timing, LOW_RATE_CONNECTIONS, MAX_CONNECTIONS, RATES, RATE_CONNECTIONS};
use crate::load::{self, Plan, Report, Rotation};
use crate::oha;
use crate::procs::Proc;
use crate::report::{E2e, Row, System, Tool};

/// Powersource paths of real characters, found through `/assignments/{key}`.
async fn character_paths(ps: &Proc) -> anyhow::Result<Vec<String>> {
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..100 {
        let (status, body) = get(ps.addr, &format!("/assignments/bench-{i}")).await?;
        ensure!(
            status == StatusCode::OK,
            "/assignments/bench-{i} answered {status}"
        );
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        let id = v.get("id").and_then(serde_json::Value::as_u64);
        ids.insert(id.context("an assignment without an id")?);
    }
    Ok(ids.iter().map(|id| format!("/characters/{id}")).collect())
}

/// The processes that serve `system`'s requests, the one loaded first.
fn serving(fleet: &Fleet, system: System) -> Vec<&Proc> {
    match system {
        System::OneTier => vec![&fleet.one],
        System::TwoTier => vec![&fleet.two, &fleet.one],
        System::Superpower => std::iter::once(&fleet.superpower)
            .chain(&fleet.powersources)
            .collect(),
        System::Powersource => vec![&fleet.powersources[0]],
    }
}

/// One run against `system` as a row; failures (or no request at all) go to `failures`.
async fn row<E>(
    fleet: &Fleet,
    (system, tool): (System, Tool),
    failures: &mut Vec<String>,
    load: impl Future<Output = Result<Report, E>>,
) -> anyhow::Result<Row>
where
    anyhow::Error: From<E>,
{
    let m = measure(&serving(fleet, system), load).await?;
    let what = match m.report.rate {
        Some(rate) => format!("{rate} req/s with the {tool}, {system}"),
        None => format!("max throughput with the {tool}, {system}"),
    };
    let none = (m.report.requests == 0).then(|| format!("{what}: no request was made"));
    failures.extend(m.report.failed(&what).or(none));
    Ok(Row {
        system,
        tool,
        server_cpu_us_per_request: m.cpu_total(),
        cpu_us_per_request: m.cpu,
        report: m.report,
    })
}

/// Runs the end-to-end scenario; runs with failures go to `failures` and it goes on.
pub(super) async fn e2e(
    fleet: &Fleet,
    t: &Timing,
    users: &Arc<Vec<HeaderValue>>,
    failures: &mut Vec<String>,
) -> anyhow::Result<E2e> {
    let paths = character_paths(&fleet.powersources[0]).await;
    let paths = Arc::new(paths.context("finding character ids")?);
    let cookie = users[0].to_str()?.to_owned();
    let systems = [
        System::OneTier,
        System::TwoTier,
        System::Superpower,
        System::Powersource,
    ];
    let addr = |s| serving(fleet, s)[0].addr;
    // the generator rotates users (powersource: character paths)
    let plan = |s, connections, duration| {
        let mut p = Plan::new(addr(s), "/", connections, duration).users(users);
        if s == System::Powersource {
            p.rotation = Rotation::Paths(paths.clone());
        }
        p
    };
    // oha sends one fixed request: one cookie, one character id
    let oha = |s, connections, duration, rate| {
        let (path, cookie) = match s {
            System::Powersource => (paths[0].as_str(), None),
            System::Superpower => ("/", Some(cookie.as_str())),
            _ => ("/", None),
        };
        oha::run(addr(s), path, cookie, connections, duration, rate)
    };
    let mut e = E2e {
        users: users.len(),
        connections: MAX_CONNECTIONS,
        rounds: t.max_rounds,
        ..E2e::default()
    };
    // Interleaved rounds, best of each: a burst of other work on the machine then hurts one
    // round of one system, not the comparison.
    let mut best: [Option<Row>; 4] = Default::default();
    for round in 1..=t.max_rounds {
        for (i, s) in systems.into_iter().enumerate() {
            step(&format!("max throughput, round {round}: {s}"));
            let run = load::run(plan(s, MAX_CONNECTIONS, t.max));
            let row = row(fleet, (s, Tool::Generator), failures, run).await?;
            if best[i]
                .as_ref()
                .is_none_or(|b| row.report.rps > b.report.rps)
            {
                best[i] = Some(row);
            }
        }
    }
    e.max.extend(best.into_iter().flatten());
    for s in systems {
        step(&format!("max throughput with oha: {s}"));
        let run = oha(s, MAX_CONNECTIONS, t.max, None);
        e.max.push(row(fleet, (s, Tool::Oha), failures, run).await?);
    }
    let rps = |s| e.find(s, Tool::Generator, None).map_or(0.0, |r| r.rps);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let [one, two, sp, ps] = systems.map(rps);
    e.superpower_vs_two_tier = ratio(sp, two);
    e.superpower_vs_one_tier = ratio(sp, one);
    e.powersource_vs_one_tier = ratio(ps, one);
    e.high_rate = RATES[2]
        .min((sp * 0.8 / 100.0).floor() * 100.0)
        .max(RATES[1]);

    for rate in [RATES[0], RATES[1], e.high_rate] {
        for s in systems {
            if s == System::Powersource && rate != RATES[1] {
                continue;
            }
            step(&format!("{rate} req/s: {s}"));
            let c = if rate <= RATES[0] {
                LOW_RATE_CONNECTIONS
            } else {
                RATE_CONNECTIONS
            };
            let run = load::run(plan(s, c, t.rate).at(rate));
            e.rates
                .push(row(fleet, (s, Tool::Generator), failures, run).await?);
        }
    }
    for s in systems {
        step(&format!("{} req/s with oha: {s}", RATES[1]));
        let run = oha(s, RATE_CONNECTIONS, t.rate, Some(RATES[1]));
        e.rates
            .push(row(fleet, (s, Tool::Oha), failures, run).await?);
    }
    Ok(e)
}
