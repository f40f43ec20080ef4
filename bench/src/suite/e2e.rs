//! The end-to-end scenario: maximum throughput (interleaved rounds, best of each) and constant
//! rates, of superpower, powersource alone and the references, with the generator and with oha;
//! each run charged the CPU time of the processes that served it.

use std::sync::Arc;

use anyhow::{ensure, Context};
use http::header::HeaderValue;
use http::StatusCode;

use super::fleet::Fleet;
use super::progress::step;
use super::timing::{Timing, LOW_RATE_CONNECTIONS, MAX_CONNECTIONS, RATES, RATE_CONNECTIONS};
use super::users::cookies;
use crate::load::{self, Plan, Report, Rotation};
use crate::oha;
use crate::procs::Proc;
use crate::report::{E2e, Row, System, Tool};

/// Powersource paths of real characters, found through `/assignments/{key}`.
async fn character_paths(ps: &Proc) -> anyhow::Result<Vec<String>> {
    let client: hyper_util::client::legacy::Client<_, http_body_util::Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..100 {
        let uri: http::Uri = format!("http://{}/assignments/bench-{i}", ps.addr).parse()?;
        let resp = client.get(uri).await?;
        let status = resp.status();
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await?
            .to_bytes();
        ensure!(
            status == StatusCode::OK,
            "/assignments/bench-{i} answered {status}"
        );
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        let id = v
            .get("id")
            .and_then(serde_json::Value::as_u64)
            .context("an assignment without an id")?;
        ids.insert(id);
    }
    Ok(ids
        .into_iter()
        .map(|id| format!("/characters/{id}"))
        .collect())
}

fn check(failures: &mut Vec<String>, what: &str, r: &Report) {
    if r.failures() > 0 {
        failures.push(format!("{what}: {}", r.failure_summary()));
    } else if r.requests == 0 {
        failures.push(format!("{what}: no request was made"));
    }
}

/// The processes that serve `system`'s requests (whose CPU time a run is charged).
fn processes(fleet: &Fleet, system: System) -> Vec<&Proc> {
    match system {
        System::OneTier => vec![&fleet.one],
        System::TwoTier => vec![&fleet.two, &fleet.one],
        System::Superpower => std::iter::once(&fleet.superpower)
            .chain(&fleet.powersources)
            .collect(),
        System::Powersource => vec![&fleet.powersources[0]],
    }
}

/// Runs one load (`run`) against `system`, charging it the CPU time its processes used.
async fn measure(
    fleet: &Fleet,
    system: System,
    tool: Tool,
    failures: &mut Vec<String>,
    run: impl std::future::Future<Output = anyhow::Result<Report>>,
) -> anyhow::Result<Row> {
    let procs = processes(fleet, system);
    let before: Vec<Option<u64>> = procs.iter().map(|p| p.cpu_ticks()).collect();
    let report = run.await?;
    let what = match report.rate {
        Some(rate) => format!("{rate} req/s with the {tool}, {system}"),
        None => format!("max throughput with the {tool}, {system}"),
    };
    check(failures, &what, &report);
    let mut cpu = std::collections::BTreeMap::new();
    for (p, b) in procs.iter().zip(before) {
        if let (Some(b), Some(a)) = (b, p.cpu_ticks()) {
            let us = (a - b) as f64 * crate::procs::MICROS_PER_TICK / report.requests.max(1) as f64;
            cpu.insert(p.name().to_owned(), us);
        }
    }
    Ok(Row {
        system,
        tool,
        server_cpu_us_per_request: cpu.values().sum(),
        cpu_us_per_request: cpu,
        report,
    })
}

/// Runs the end-to-end scenario; a run with failures is recorded in `failures` and the
/// scenario goes on.
pub(super) async fn e2e(
    fleet: &Fleet,
    t: &Timing,
    users: &Arc<Vec<HeaderValue>>,
    failures: &mut Vec<String>,
) -> anyhow::Result<E2e> {
    let ps_paths = Arc::new(
        character_paths(&fleet.powersources[0])
            .await
            .context("finding character ids")?,
    );
    let one_cookie = users[0].to_str()?.to_owned();
    let systems: [(System, std::net::SocketAddr); 4] = [
        (System::OneTier, fleet.one.addr),
        (System::TwoTier, fleet.two.addr),
        (System::Superpower, fleet.superpower.addr),
        (System::Powersource, fleet.powersources[0].addr),
    ];
    // oha sends one fixed request: one cookie, one character id
    let oha_targets = [
        (System::OneTier, fleet.one.addr, "/".to_owned(), None),
        (System::TwoTier, fleet.two.addr, "/".to_owned(), None),
        (
            System::Superpower,
            fleet.superpower.addr,
            "/".to_owned(),
            Some(one_cookie.as_str()),
        ),
        (
            System::Powersource,
            fleet.powersources[0].addr,
            ps_paths[0].clone(),
            None,
        ),
    ];
    let plan_for = |system, addr, conns, dur, rate| {
        let mut p = Plan::new(addr, "/", conns, dur);
        p.rotation = if system == System::Powersource {
            Rotation::Paths(ps_paths.clone())
        } else {
            cookies(users)
        };
        p.rate = rate;
        p
    };
    let mut e = E2e {
        users: users.len(),
        connections: MAX_CONNECTIONS,
        rounds: t.max_rounds,
        ..E2e::default()
    };
    // Interleaved rounds, best of each: a burst of other work on the machine then hurts one
    // round of one system, not the comparison.
    let mut best: Vec<Option<Row>> = systems.iter().map(|_| None).collect();
    for round in 1..=t.max_rounds {
        for (i, &(system, addr)) in systems.iter().enumerate() {
            step(&format!("max throughput, round {round}: {system}"));
            let plan = plan_for(system, addr, MAX_CONNECTIONS, t.max, None);
            let run = async { Ok(load::run(plan).await?) };
            let row = measure(fleet, system, Tool::Generator, failures, run).await?;
            if best[i]
                .as_ref()
                .is_none_or(|b| row.report.rps > b.report.rps)
            {
                best[i] = Some(row);
            }
        }
    }
    e.max.extend(best.into_iter().flatten());
    for (system, addr, path, cookie) in &oha_targets {
        step(&format!("max throughput with oha: {system}"));
        let run = async { Ok(oha::run(*addr, path, *cookie, MAX_CONNECTIONS, t.max, None).await?) };
        e.max
            .push(measure(fleet, *system, Tool::Oha, failures, run).await?);
    }
    let rps = |s| e.find(s, Tool::Generator, None).map_or(0.0, |r| r.rps);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let (one, two, sp, ps) = (
        rps(System::OneTier),
        rps(System::TwoTier),
        rps(System::Superpower),
        rps(System::Powersource),
    );
    e.superpower_vs_two_tier = ratio(sp, two);
    e.superpower_vs_one_tier = ratio(sp, one);
    e.powersource_vs_one_tier = ratio(ps, one);
    e.high_rate = RATES[2]
        .min((sp * 0.8 / 100.0).floor() * 100.0)
        .max(RATES[1]);

    for rate in [RATES[0], RATES[1], e.high_rate] {
        for (system, addr) in systems {
            if system == System::Powersource && rate != RATES[1] {
                continue;
            }
            step(&format!("{rate} req/s: {system}"));
            let conns = if rate <= RATES[0] {
                LOW_RATE_CONNECTIONS
            } else {
                RATE_CONNECTIONS
            };
            let plan = plan_for(system, addr, conns, t.rate, Some(rate));
            let run = async { Ok(load::run(plan).await?) };
            e.rates
                .push(measure(fleet, system, Tool::Generator, failures, run).await?);
        }
    }
    for (system, addr, path, cookie) in &oha_targets {
        step(&format!("{} req/s with oha: {system}", RATES[1]));
        let run = async {
            Ok(oha::run(
                *addr,
                path,
                *cookie,
                RATE_CONNECTIONS,
                t.rate,
                Some(RATES[1]),
            )
            .await?)
        };
        e.rates
            .push(measure(fleet, *system, Tool::Oha, failures, run).await?);
    }
    Ok(e)
}
