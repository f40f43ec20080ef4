//! The peers scenario: nginx and HAProxy (see [`crate::peers`]) started in front of the same 3
//! powersources as superpower, and the three front ends measured side by side in the same run:
//! the same character for every user, maximum throughput and p99 at saturation (oha, one
//! cookie), p99 at constant rates (the generator, rotating users), one instance slowed by 2 s
//! (`deploy/local/fault.sh slow`), failover (the instance killed and restarted under a constant
//! rate) and lose all (every instance killed; they are started again afterwards).

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use http::header::HeaderValue;

use super::failover::window;
use super::fleet::{measure, ring_is, Fleet};
use super::options::Options;
use super::progress::step;
use super::timing::{
    Timing, HELD_P99, MAX_CONNECTIONS, PEER_FAILOVER_RATES, PEER_RATES, PEER_SLOW_CONNECTIONS,
    PEER_SLOW_MS, PEER_SLOW_RATE, PRODUCT_READY, RATE_CONNECTIONS, REFERENCE_READY,
};
use super::users::every_user_once;
use crate::load::{self, Names, Plan, Report};
use crate::oha;
use crate::peers::{self, NOBODY};
use crate::procs::{free_addr, Proc};
use crate::report::{FrontEnd, PairedRound, PeerFailover, PeerRun, Peers, Process};

/// The two peers, running.
pub(super) struct Running {
    nginx: Proc,
    haproxy: Proc,
}

/// The version line of `program` (`-v`), or why there is none.
async fn version(program: &str) -> String {
    let out = match tokio::process::Command::new(program)
        .arg("-v")
        .output()
        .await
    {
        Ok(o) => [o.stdout, o.stderr].concat(),
        Err(e) => return format!("cannot run {program}: {e}"),
    };
    let text = String::from_utf8_lossy(&out);
    let line = text.lines().next().unwrap_or("").trim();
    // "nginx version: nginx/1.22.1", "HAProxy version 2.6.12-1 2023/02/15 - https://…"
    let line = line.strip_prefix("nginx version: ").unwrap_or(line);
    line.split(" - ").next().unwrap_or(line).to_owned()
}

/// Starts nginx and HAProxy in front of `fleet`'s powersources, configs in `out/peers/`.
async fn start(opts: &Options, fleet: &Fleet, logs: &Path) -> anyhow::Result<Running> {
    let backs: Vec<SocketAddr> = fleet.powersources.iter().map(|p| p.addr).collect();
    let user = peers::is_root().then_some(NOBODY);
    let start = |peer: FrontEnd, process: Process| {
        let backs = &backs;
        async move {
            let addr = free_addr()?;
            let dir = std::path::absolute(opts.out.join("peers").join(process.to_string()))?;
            let (program, args) = peers::prepare(peer, addr, backs, &dir, user)
                .with_context(|| format!("writing the {peer} config in {}", dir.display()))?;
            let name = process.to_string();
            let mut p = Proc::spawn_group(&name, Path::new(program), &args, addr, logs, user)?;
            p.wait_ready("/health", |_| true, REFERENCE_READY)
                .await
                .with_context(|| format!("{peer} did not start (config in {})", dir.display()))?;
            anyhow::Ok(p)
        }
    };
    Ok(Running {
        nginx: start(FrontEnd::Nginx, Process::Nginx).await?,
        haproxy: start(FrontEnd::Haproxy, Process::Haproxy).await?,
    })
}

/// The processes that serve `fe`'s requests (charged their CPU time), the front end first.
fn serving<'a>(fe: FrontEnd, fleet: &'a Fleet, peers: &'a Running) -> Vec<&'a Proc> {
    let front = match fe {
        FrontEnd::Superpower => &fleet.superpower,
        FrontEnd::Nginx => &peers.nginx,
        FrontEnd::Haproxy => &peers.haproxy,
    };
    std::iter::once(front).chain(&fleet.powersources).collect()
}

/// Runs one load against `fe`, charging it the CPU time of the processes that served it.
async fn run<E>(
    fe: FrontEnd,
    fleet: &Fleet,
    peers: &Running,
    load: impl Future<Output = Result<Report, E>>,
) -> anyhow::Result<PeerRun>
where
    anyhow::Error: From<E>,
{
    let procs = serving(fe, fleet, peers);
    let m = measure(&procs, load).await?;
    let (r, cpu) = (&m.report, m.cpu_total());
    let front = m.cpu.get(procs[0].name()).copied().unwrap_or(0.0);
    step(&format!(
        "peers: {fe}: {:.0} req/s, p99 {:.2} ms, CPU/request {cpu:.1} µs (front end alone {front:.1} µs)",
        r.rps, r.latency.p99_ms
    ));
    Ok(PeerRun {
        front_end: fe,
        server_cpu_us_per_request: cpu,
        report: m.report,
    })
}

/// Waits until every powersource answers `/health` and superpower has the 3 on its ring.
async fn whole_again(fleet: &mut Fleet) -> anyhow::Result<()> {
    for p in &mut fleet.powersources {
        p.wait_ready("/health", |_| true, PRODUCT_READY).await?;
    }
    fleet
        .superpower
        .wait_ready("/health", ring_is(3), PRODUCT_READY)
        .await
        .context("superpower did not take the powersources back")?;
    Ok(())
}

/// Whether a constant-rate run held its rate: no failure, the rate answered, p99 < [`HELD_P99`].
fn held(r: &Report) -> bool {
    r.failures() == 0
        && r.rate.is_some_and(|rate| r.rps >= 0.95 * rate)
        && r.latency.p99_ms < HELD_P99.as_secs_f64() * 1000.0
}

/// Runs the peers scenario; the fleet is whole again at the end.
pub(super) async fn peers(
    opts: &Options,
    fleet: &mut Fleet,
    t: &Timing,
    users: &Arc<Vec<HeaderValue>>,
    names: &Arc<Vec<String>>,
    logs: &Path,
) -> anyhow::Result<Peers> {
    let running = start(opts, fleet, logs).await?;
    let mut res = Peers {
        users: users.len(),
        slow_ms: PEER_SLOW_MS,
        ..Peers::default()
    };
    res.versions.insert(FrontEnd::Nginx, version("nginx").await);
    res.versions
        .insert(FrontEnd::Haproxy, version("haproxy").await);

    let fronts = FrontEnd::ALL.map(|fe| serving(fe, fleet, &running)[0].addr);
    let addr = move |fe: FrontEnd| fronts[fe as usize];
    // the same character for every user as superpower answers
    for fe in [FrontEnd::Nginx, FrontEnd::Haproxy] {
        step(&format!("peers: every user once through {fe}"));
        let plan = every_user_once(addr(fe), users, Names::Check(names.clone()), t.rate * 10);
        let r = run(fe, fleet, &running, load::run(plan)).await?;
        res.same_character.push(r);
    }

    // saturation: oha with one cookie, paired rounds (every front end once per round, the
    // order reversed every other round); each front end's median round is its row
    let cookie = users[0].to_str()?.to_owned();
    let mut rounds: [Vec<PeerRun>; 3] = Default::default();
    for round in 1..=t.max_rounds {
        let mut order = FrontEnd::ALL.into_iter().enumerate().collect::<Vec<_>>();
        if round % 2 == 0 {
            order.reverse();
        }
        for (i, fe) in order {
            step(&format!(
                "peers: max throughput with oha, round {round}: {fe}"
            ));
            let load = oha::run(addr(fe), "/", Some(&cookie), MAX_CONNECTIONS, t.max, None);
            rounds[i].push(run(fe, fleet, &running, load).await?);
        }
        let (sp, ng) = (&rounds[0][round - 1].report, &rounds[1][round - 1].report);
        let paired = PairedRound {
            rps_ratio: sp.rps / ng.rps.max(1.0),
            superpower_p99_ms: sp.latency.p99_ms,
            nginx_p99_ms: ng.latency.p99_ms,
        };
        step(&format!(
            "peers: round {round}: superpower {:.3}× nginx, p99 {:.2} vs {:.2} ms",
            paired.rps_ratio, paired.superpower_p99_ms, paired.nginx_p99_ms
        ));
        res.max_rounds.push(paired);
    }
    for mut runs in rounds {
        runs.sort_by(|a, b| a.report.rps.total_cmp(&b.report.rps));
        if !runs.is_empty() {
            res.max.push(runs.swap_remove(runs.len() / 2));
        }
    }
    if opts.only_peers {
        return Ok(res);
    }

    // constant rates, rotating users, each one's character checked
    let plan = |fe, connections, duration, rate| {
        let p = Plan::new(addr(fe), "/", connections, duration).at(rate);
        p.users(users).check(names)
    };
    for rate in PEER_RATES {
        for fe in FrontEnd::ALL {
            step(&format!("peers: {rate} req/s: {fe}"));
            let load = load::run(plan(fe, RATE_CONNECTIONS, t.rate, rate));
            res.rates.push(run(fe, fleet, &running, load).await?);
        }
    }

    // one instance slowed by 2 s
    let ms = PEER_SLOW_MS.to_string();
    for fe in FrontEnd::ALL {
        let rate = PEER_SLOW_RATE;
        step(&format!(
            "peers: powersource-2 slowed by {PEER_SLOW_MS} ms, {rate} req/s: {fe}"
        ));
        fleet.powersources[1].inject(&["slow", &ms]).await?;
        let load = load::run(plan(fe, PEER_SLOW_CONNECTIONS, t.rate, rate));
        let r = run(fe, fleet, &running, load).await;
        fleet.powersources[1].inject(&["clear"]).await?;
        res.slow.push(r?);
        whole_again(fleet).await?;
    }

    // failover at the highest of the rates every front end held
    let held_by_all = |rate| {
        let r = |fe| {
            res.rates
                .iter()
                .find(|r| r.front_end == fe && r.report.rate == Some(rate))
        };
        FrontEnd::ALL
            .into_iter()
            .all(|fe| r(fe).is_none_or(|r| held(&r.report)))
    };
    let last = PEER_FAILOVER_RATES[PEER_FAILOVER_RATES.len() - 1];
    res.failover_rate = PEER_FAILOVER_RATES
        .into_iter()
        .find(|&r| held_by_all(r))
        .unwrap_or(last);
    for fe in FrontEnd::ALL {
        step(&format!(
            "peers: failover at {} req/s: {fe}",
            res.failover_rate
        ));
        let plan = plan(fe, RATE_CONNECTIONS, t.failover, res.failover_rate);
        let w = window(&mut fleet.powersources[1], plan, t).await?;
        res.failover.push(PeerFailover {
            front_end: fe,
            kill_at_s: w.kill_at.as_secs_f64(),
            restart_at_s: w.restart_at.as_secs_f64(),
            changed_users: w.load.changed_users.len(),
            window: w.load,
        });
        whole_again(fleet).await?;
    }

    // lose all: what each front end answers with every instance gone
    for p in &mut fleet.powersources {
        p.inject(&["kill"]).await?;
    }
    for fe in FrontEnd::ALL {
        step(&format!("peers: lose all: {fe}"));
        let load = load::run(plan(fe, RATE_CONNECTIONS, t.lose_all, PEER_SLOW_RATE));
        res.lose_all.push(run(fe, fleet, &running, load).await?);
    }
    for p in &mut fleet.powersources {
        p.inject(&["start"]).await?;
    }
    whole_again(fleet).await?;
    Ok(res)
}

/// What went wrong: another character than superpower's, or failures with the fleet whole.
pub(super) fn failures(p: &Peers) -> Vec<String> {
    let other = |r: &PeerRun| {
        let (n, summary) = (r.report.changed_users.len(), r.report.failure_summary());
        let other = format!("answered {n} users another character than superpower ({summary})");
        (r.report.failures() > 0 || n > 0).then(|| format!("peers: {} {other}", r.front_end))
    };
    let up = |r: &PeerRun| {
        r.report
            .failed(&format!("peers: {} with the whole fleet up", r.front_end))
    };
    let same = p.same_character.iter().filter_map(other);
    same.chain(p.max.iter().chain(&p.rates).filter_map(up))
        .collect()
}
