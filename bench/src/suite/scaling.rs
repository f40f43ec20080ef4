//! How cost grows: superpower's throughput and p99 with more powersources (a fresh fleet of
//! each size), and with more distinct users (a fresh superpower per count, every user once):
//! the fallback cache's memory per user from superpower's RSS, and its hit ratio when the users
//! outnumber it (every powersource killed, a sample of the users asked, the degraded answers
//! counted); and DNS membership with as many addresses behind one name.

use std::path::Path;
use std::sync::Arc;

use anyhow::{ensure, Context};
use http::header::HeaderValue;

use super::fleet::{ring_is, start_powersources, start_product_of, Product};
use super::options::Options;
use super::programs::bin;
use super::progress::step;
use super::timing::{
    Timing, DNS_INTERVAL_MS, FALLBACK_USERS, HIT_SAMPLE, MAX_CONNECTIONS, PRODUCT_READY, RATES,
    RATE_CONNECTIONS, SCALE_PASS_LIMIT,
};
use super::users::cookies;
use crate::load::{self, Names, Plan, Rotation};
use crate::procs::{free_addr, Proc};
use crate::report::{DnsPoint, InstancesPoint, Process, Scaling, UsersPoint};

/// superpower's RSS now, MiB (0 when unknown).
fn rss_mib(p: &Product) -> f64 {
    p.superpower.rss_kib().unwrap_or(0) as f64 / 1024.0
}

/// Maximum throughput (rotating `users`) and p99 at 1,000 req/s of `p`.
async fn instances_point(
    p: &Product,
    t: &Timing,
    users: &Arc<Vec<HeaderValue>>,
) -> anyhow::Result<InstancesPoint> {
    let n = p.powersources.len();
    step(&format!("scaling: {n} powersources, max throughput"));
    let mut plan = Plan::new(p.superpower.addr, "/", MAX_CONNECTIONS, t.max);
    plan.rotation = cookies(users);
    let max = load::run(plan).await?;
    step(&format!("scaling: {n} powersources, {} req/s", RATES[1]));
    let mut plan = Plan::new(p.superpower.addr, "/", RATE_CONNECTIONS, t.rate);
    plan.rotation = cookies(users);
    plan.rate = Some(RATES[1]);
    let at_rate = load::run(plan).await?;
    Ok(InstancesPoint {
        powersources: n,
        max,
        at_rate,
        superpower_rss_mib: rss_mib(p),
    })
}

/// Every one of `n` new users once through a fresh superpower of `p`, its RSS before and
/// after, then the fallback's hit ratio over a sample of them with every powersource killed
/// (they are started again after).
async fn users_point(p: &mut Product, n: usize) -> anyhow::Result<UsersPoint> {
    step(&format!("scaling: {n} distinct users"));
    p.superpower.restart()?;
    p.superpower
        .wait_ready(
            "/health",
            ring_is(p.powersources.len() as u64),
            PRODUCT_READY,
        )
        .await?;
    let users = Arc::new(load::identities(n, 7 + n as u64));
    // a warm-up on other users, so pools and buffers are there before the first reading
    let warm = Arc::new(load::identities(1000, 1));
    let mut plan = Plan::new(p.superpower.addr, "/", MAX_CONNECTIONS, SCALE_PASS_LIMIT);
    plan.rotation = cookies(&warm);
    plan.max_requests = Some(warm.len() as u64 * 2);
    load::run(plan).await?;
    let before = rss_mib(p);
    let mut plan = Plan::new(p.superpower.addr, "/", MAX_CONNECTIONS, SCALE_PASS_LIMIT);
    plan.rotation = cookies(&users);
    plan.max_requests = Some(n as u64);
    let pass = load::run(plan).await?;
    ensure!(
        pass.requests == n as u64,
        "the pass over {n} users made {} requests within {SCALE_PASS_LIMIT:?}",
        pass.requests
    );
    let after = rss_mib(p);
    let remembered = (n + warm.len()).min(FALLBACK_USERS);
    let new_remembered = remembered.saturating_sub(warm.len()).max(1);

    // the hit ratio: a sample spread over the users, asked with no powersource up
    let sample_n = HIT_SAMPLE.min(n);
    let sample: Vec<HeaderValue> = (0..sample_n)
        .map(|i| users[i * n / sample_n].clone())
        .collect();
    for ps in &mut p.powersources {
        ps.kill();
    }
    let mut plan = Plan::new(p.superpower.addr, "/", RATE_CONNECTIONS, SCALE_PASS_LIMIT);
    plan.rotation = Rotation::Cookies(Arc::new(sample));
    plan.max_requests = Some(sample_n as u64);
    // the answers are read (not ignored), so the degraded ones are counted
    plan.names = Names::Record;
    let asked = load::run(plan).await?;
    for ps in &mut p.powersources {
        ps.restart()?;
    }
    for ps in &mut p.powersources {
        ps.wait_ready("/health", |_| true, PRODUCT_READY).await?;
    }
    p.superpower
        .wait_ready(
            "/health",
            ring_is(p.powersources.len() as u64),
            PRODUCT_READY,
        )
        .await
        .context("superpower did not take the powersources back")?;
    Ok(UsersPoint {
        users: n,
        rps: pass.rps,
        p99_ms: pass.latency.p99_ms,
        errors: pass.failures(),
        rss_before_mib: before,
        rss_after_mib: after,
        remembered,
        bytes_per_user: (after - before).max(0.0) * 1024.0 * 1024.0 / new_remembered as f64,
        sampled: sample_n,
        fallback_hits: asked.degraded,
        hit_ratio: asked.degraded as f64 / sample_n.max(1) as f64,
    })
}

/// `/etc/hosts` lines the benchmark added (each ends with its mark), removed when dropped: the
/// file is rewritten in place, since in containers it is often a bind mount.
struct HostsLines {
    mark: String,
}

impl HostsLines {
    const PATH: &'static str = "/etc/hosts";

    /// Adds `name` for each of `addrs`; fails when the name is there already.
    fn add(name: &str, addrs: &[std::net::IpAddr]) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(Self::PATH)?;
        ensure!(
            !text
                .lines()
                .any(|l| l.split_whitespace().skip(1).any(|w| w == name)),
            "{} already names {name} (an earlier run killed with SIGKILL?): remove those lines",
            Self::PATH
        );
        let guard = HostsLines {
            mark: format!("# superpower-bench-dns-{}", std::process::id()),
        };
        let mut out = text.clone();
        if !out.ends_with('\n') && !out.is_empty() {
            out.push('\n');
        }
        for a in addrs {
            out.push_str(&format!("{a} {name} {}\n", guard.mark));
        }
        std::fs::write(Self::PATH, out)?;
        Ok(guard)
    }
}

impl Drop for HostsLines {
    fn drop(&mut self) {
        if let Ok(text) = std::fs::read_to_string(Self::PATH) {
            let kept: String = text
                .lines()
                .filter(|l| !l.ends_with(&self.mark))
                .map(|l| format!("{l}\n"))
                .collect();
            let _ = std::fs::write(Self::PATH, kept);
        }
    }
}

/// DNS membership at scale: `n` powersources on `127.0.2.1` … `127.0.2.n` (one port) over the
/// stores the last fleet left, one name with their `n` addresses in `/etc/hosts` (what the
/// kubernetes step's DNS test does: the resolver superpower uses reads it), and superpower
/// started with `--powersource-dns`: how long until all `n` are on its ring, and its maximum
/// throughput then. Needs root (to edit `/etc/hosts`).
async fn dns_point(
    opts: &Options,
    t: &Timing,
    users: &Arc<Vec<HeaderValue>>,
    logs: &Path,
    n: usize,
) -> anyhow::Result<DnsPoint> {
    ensure!(crate::peers::is_root(), "needs root to edit /etc/hosts");
    let port = crate::procs::free_port()?;
    let ips: Vec<std::net::IpAddr> = (1..=n)
        .map(|i| std::net::IpAddr::from([127, 0, 2, i as u8]))
        .collect();
    let addrs: Vec<std::net::SocketAddr> = ips
        .iter()
        .map(|ip| std::net::SocketAddr::new(*ip, port))
        .collect();
    let stores: Vec<std::path::PathBuf> = (1..=n)
        .map(|i| {
            opts.out
                .join("stores")
                .join(Process::Powersource(i).to_string())
        })
        .collect();
    for store in &stores {
        ensure!(
            store.is_dir(),
            "no store at {} (the {n}-powersource fleet makes them)",
            store.display()
        );
    }
    let names: Vec<String> = (1..=n)
        .map(|i| format!("dns-{}", Process::Powersource(i)))
        .collect();
    let _powersources = start_powersources(opts, logs, &addrs, &stores, &names).await?;
    let host = format!("powersources-{}.bench.superpower.test", std::process::id());
    let _hosts = HostsLines::add(&host, &ips)?;
    let addr = free_addr()?;
    let args = vec![
        "--listen".into(),
        addr.to_string(),
        "--powersource-dns".into(),
        format!("{host}:{port}"),
        format!("--dns-interval-ms={DNS_INTERVAL_MS}"),
    ];
    let started = std::time::Instant::now();
    let mut sp = Proc::spawn(
        "dns-superpower",
        &bin(opts, "superpower")?,
        &args,
        &opts.product_env,
        addr,
        logs,
    )?;
    sp.wait_ready("/health", ring_is(n as u64), PRODUCT_READY)
        .await
        .with_context(|| {
            format!("superpower did not put the {n} addresses of {host} on its ring")
        })?;
    let all_on_ring_s = started.elapsed().as_secs_f64();
    step(&format!("scaling: {n} powersources by DNS, max throughput"));
    let mut plan = Plan::new(addr, "/", MAX_CONNECTIONS, t.max);
    plan.rotation = cookies(users);
    let max = load::run(plan).await?;
    Ok(DnsPoint {
        addresses: n,
        dns_interval_ms: DNS_INTERVAL_MS,
        all_on_ring_s,
        max,
    })
}

/// Runs the scaling scenario: `t.scale_instances` fleets, then `t.scale_users` on the first.
pub(super) async fn scaling(
    opts: &Options,
    t: &Timing,
    users: &Arc<Vec<HeaderValue>>,
    logs: &Path,
) -> anyhow::Result<Scaling> {
    let mut res = Scaling {
        fallback_users: FALLBACK_USERS,
        ..Scaling::default()
    };
    // a point that fails is recorded and the others still run
    for (i, &n) in t.scale_instances.iter().enumerate() {
        step(&format!(
            "scaling: starting {n} powersources and superpower"
        ));
        let extra = [format!("--fallback-users={FALLBACK_USERS}")];
        let mut p = match start_product_of(opts, logs, n, &extra).await {
            Ok(p) => p,
            Err(e) => {
                res.failures
                    .push(format!("starting {n} powersources: {e:#}"));
                continue;
            }
        };
        match instances_point(&p, t, users).await {
            Ok(point) => res.instances.push(point),
            Err(e) => res.failures.push(format!("{n} powersources: {e:#}")),
        }
        if i == 0 {
            for &u in &t.scale_users {
                match users_point(&mut p, u).await {
                    Ok(point) => res.users.push(point),
                    Err(e) => res.failures.push(format!("{u} distinct users: {e:#}")),
                }
            }
        }
    }
    let n = t.scale_instances.last().copied().unwrap_or(3);
    step(&format!("scaling: {n} powersources behind one DNS name"));
    match dns_point(opts, t, users, logs, n).await {
        Ok(d) => res.dns = Some(d),
        Err(e) => res.dns_not_measured = Some(format!("{e:#}")),
    }
    Ok(res)
}
