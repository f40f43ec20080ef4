//! How cost grows: superpower's throughput and p99 with more powersources (a fresh fleet of
//! each size); with more distinct users, through a fresh front end of two replicas per count
//! (peers, one cookie key), every user once: the replicas' memory per user from their RSS, the
//! `superpower_last` cookie's size, and whether a sample of the users, back with their cookies
//! once every powersource is dead, keeps their superpower on the replica they used and on the
//! other; throughput with one replica and with two; and DNS membership with as many addresses
//! behind one name.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, ensure, Context};
use http::header::HeaderValue;

use super::fleet::{
    measure, ring_and_catalog, ring_is, spawn_superpower, start_powersources, start_product_of,
    Product, ADMIN_TOKEN, COOKIE_KEY,
};
use super::options::Options;
use super::programs::bin;
use super::progress::step;
use super::timing::{
    Timing, DNS_INTERVAL_MS, MAX_CONNECTIONS, PRODUCT_READY, RATES, RATE_CONNECTIONS,
    RETURNING_SAMPLE, SCALE_PASS_LIMIT, SCALE_WARM_USERS,
};
use super::users;
use crate::load::{self, Plan};
use crate::procs::{free_addr, Proc};
use crate::report::{
    CookieSize, DnsPoint, InstancesPoint, Process, ReplicaRss, ReplicasRun, ReturningRun, Scaling,
    UsersPoint,
};

/// The RSS of `p` now, MiB (0 when unknown).
fn rss_mib(p: &Proc) -> f64 {
    p.rss_kib().unwrap_or(0) as f64 / 1024.0
}

/// Maximum throughput (rotating `users`) and p99 at 1,000 req/s of `p`.
async fn instances_point(
    p: &Product,
    t: &Timing,
    users: &Arc<Vec<HeaderValue>>,
) -> anyhow::Result<InstancesPoint> {
    let n = p.powersources.len();
    step(&format!("scaling: {n} powersources, max throughput"));
    let sp = p.superpower.addr;
    let max = load::run(Plan::new(sp, "/", MAX_CONNECTIONS, t.max).users(users)).await?;
    step(&format!("scaling: {n} powersources, {} req/s", RATES[1]));
    let plan = Plan::new(sp, "/", RATE_CONNECTIONS, t.rate).users(users);
    let at_rate = load::run(plan.at(RATES[1])).await?;
    Ok(InstancesPoint {
        powersources: n,
        max,
        at_rate,
        superpower_rss_mib: rss_mib(&p.superpower),
    })
}

/// Replicas A and B of one front end (peers of each other) in front of `powersources`, ready.
async fn start_replicas(
    opts: &Options,
    logs: &Path,
    powersources: &[Proc],
) -> anyhow::Result<[Proc; 2]> {
    let addrs = [free_addr()?, free_addr()?];
    let spawn = |i: usize| {
        let process = Process::Replica(['A', 'B'][i]);
        let extra = [
            format!("--admin-token={ADMIN_TOKEN}"),
            format!("--replica-name={process}"),
            "--peer".into(),
            format!("http://{}", addrs[1 - i]),
        ];
        spawn_superpower(opts, logs, process, addrs[i], powersources, &extra)
    };
    let mut replicas = [spawn(0)?, spawn(1)?];
    let n = powersources.len() as u64;
    for r in &mut replicas {
        r.wait_ready("/health", ring_and_catalog(n), PRODUCT_READY)
            .await?;
    }
    Ok(replicas)
}

/// Maximum throughput of `returning` users on replica A, then on A and B; the best round each.
async fn replicas_runs(
    replicas: &[Proc; 2],
    powersources: &[Proc],
    t: &Timing,
    returning: &Arc<Vec<HeaderValue>>,
) -> anyhow::Result<Vec<ReplicasRun>> {
    let mut runs: Vec<ReplicasRun> = Vec::new();
    for round in 0..t.max_rounds {
        let order: [usize; 2] = if round % 2 == 0 { [1, 2] } else { [2, 1] };
        for n in order {
            step(&format!(
                "scaling: returning users on {n} replica(s), max throughput, round {}",
                round + 1
            ));
            let mut plan = Plan::new(replicas[0].addr, "/", MAX_CONNECTIONS, t.max);
            plan = plan.users(returning);
            plan.spread = replicas[1..n].iter().map(|r| r.addr).collect();
            let procs: Vec<&Proc> = replicas[..n].iter().chain(powersources).collect();
            let m = measure(&procs, load::run(plan)).await?;
            let cpu = m.cpu_total();
            let r = m.report;
            ensure!(r.failures() == 0, "{n} replica(s): {}", r.failure_summary());
            match runs.iter_mut().find(|x| x.replicas == n) {
                Some(x) => {
                    x.rounds_rps.push(r.rps);
                    if r.rps > x.max.rps {
                        x.max = r;
                        x.server_cpu_us_per_request = cpu;
                    }
                }
                None => runs.push(ReplicasRun {
                    replicas: n,
                    connections: MAX_CONNECTIONS,
                    rounds_rps: vec![r.rps],
                    max: r,
                    server_cpu_us_per_request: cpu,
                }),
            }
        }
    }
    runs.sort_by_key(|x| x.replicas);
    Ok(runs)
}

/// The size of the `superpower_last` cookie in `set_cookies` (the largest of each figure).
fn cookie_size(set_cookies: &[String]) -> CookieSize {
    let mut size = CookieSize::default();
    for set in set_cookies {
        let pair = set.split(';').next().unwrap_or("").trim();
        let value = pair.split_once('=').map_or("", |(_, v)| v);
        size.value_bytes = size.value_bytes.max(value.len());
        size.set_cookie_bytes = size
            .set_cookie_bytes
            .max("Set-Cookie: ".len() + set.len() + "\r\n".len());
        size.request_bytes = size.request_bytes.max("; ".len() + pair.len());
    }
    size
}

/// Every one of `users` once at `replica` (closed loop): a first visit each.
async fn pass_of(replica: &Proc, users: &Arc<Vec<HeaderValue>>) -> anyhow::Result<load::Report> {
    let plan = Plan::new(replica.addr, "/", MAX_CONNECTIONS, SCALE_PASS_LIMIT);
    let pass = load::run(plan.users(users).requests(users.len())).await?;
    ensure!(
        pass.requests == users.len() as u64,
        "the pass over {} users made {} requests within {SCALE_PASS_LIMIT:?}",
        users.len(),
        pass.requests
    );
    Ok(pass)
}

/// RSS growth from `from` to `to` MiB over `n` users, bytes per user (none when it shrank).
fn bytes_per_user(from: f64, to: f64, n: usize) -> f64 {
    (to - from).max(0.0) * 1024.0 * 1024.0 / n.max(1) as f64
}

/// `sample` (their superpowers in `names`) once on `replica`, every powersource dead.
async fn ask_returning(
    replica: &Proc,
    process: Process,
    sample: &Arc<Vec<HeaderValue>>,
    names: &Arc<Vec<String>>,
) -> anyhow::Result<ReturningRun> {
    step(&format!(
        "scaling: {} returning users on {process}, every powersource dead",
        sample.len()
    ));
    let plan = Plan::new(replica.addr, "/", RATE_CONNECTIONS, SCALE_PASS_LIMIT);
    let r = load::run(plan.users(sample).requests(sample.len()).check(names)).await?;
    let changed = r.changed_users.len() as u64;
    Ok(ReturningRun {
        replica: process,
        kept: r.checked.saturating_sub(changed),
        changed,
        failed: r.failures(),
        report: r,
    })
}

/// The users point of `n` (see [`UsersPoint`]); the replicas' runs into `replicas` when given.
async fn users_point(
    opts: &Options,
    logs: &Path,
    p: &mut Product,
    t: &Timing,
    n: usize,
    replicas: Option<&mut Vec<ReplicasRun>>,
) -> anyhow::Result<UsersPoint> {
    step(&format!("scaling: {n} distinct users, two replicas"));
    let front = start_replicas(opts, logs, &p.powersources).await?;
    let distinct = Arc::new(load::identities(n, 7 + n as u64));
    // a warm-up of both on other users, so pools, buffers and caches are full before the first
    // reading
    let warm = Arc::new(load::identities(SCALE_WARM_USERS, 1));
    for r in &front {
        let plan = Plan::new(r.addr, "/", MAX_CONNECTIONS, SCALE_PASS_LIMIT);
        load::run(plan.users(&warm).requests(warm.len() * 2)).await?;
    }
    let before = front.each_ref().map(rss_mib);
    let pass = pass_of(&front[0], &distinct).await?;
    let after = front.each_ref().map(rss_mib);

    // a sample spread over the users, to come back after the second pass
    let sample_n = RETURNING_SAMPLE.min(n);
    let sample: Arc<Vec<HeaderValue>> = Arc::new(
        (0..sample_n)
            .map(|i| distinct[i * n / sample_n].clone())
            .collect(),
    );
    drop(distinct);
    // as many other new users again: what the first pass left that was warm-up (allocator
    // arenas, buffers) is not left again, what is kept per user would be
    step(&format!("scaling: {n} other distinct users"));
    let others = Arc::new(load::identities(n, 8 + n as u64));
    pass_of(&front[0], &others).await?;
    drop(others);
    let after_second = front.each_ref().map(rss_mib);

    step(&format!(
        "scaling: {sample_n} of the first {n} users again, their cookies recorded"
    ));
    let recorded = users::record(front[0].addr, &sample)
        .await
        .context("recording the returning users' cookies")?;
    let returning = Arc::new(recorded.returning);
    let names = Arc::new(recorded.names);
    if let Some(runs) = replicas {
        *runs = replicas_runs(&front, &p.powersources, t, &returning).await?;
    }

    for ps in &mut p.powersources {
        ps.inject(&["kill"]).await?;
    }
    let asked = async {
        let mut asked = Vec::new();
        for (r, name) in front.iter().zip(['A', 'B']) {
            asked.push(ask_returning(r, Process::Replica(name), &returning, &names).await?);
        }
        anyhow::Ok(asked)
    }
    .await;
    // started again whatever happened, for the next point
    for ps in &mut p.powersources {
        ps.inject(&["start"]).await?;
    }
    for ps in &mut p.powersources {
        ps.wait_ready("/health", |_| true, PRODUCT_READY).await?;
    }
    let asked = asked?;
    Ok(UsersPoint {
        users: n,
        rps: pass.rps,
        p99_ms: pass.latency.p99_ms,
        errors: pass.failures(),
        rss: ['A', 'B']
            .iter()
            .enumerate()
            .map(|(i, &name)| ReplicaRss {
                replica: Process::Replica(name),
                before_mib: before[i],
                after_mib: after[i],
                after_second_mib: after_second[i],
            })
            .collect(),
        first_bytes_per_user: bytes_per_user(before[0], after[0], n),
        bytes_per_user: bytes_per_user(after[0], after_second[0], n),
        sampled: sample_n,
        cookie: cookie_size(&recorded.set_cookies),
        returning: asked,
    })
}

/// `/etc/hosts` lines the bench added, removed on drop (in place: often a bind mount).
struct HostsLines {
    mark: String,
}

impl HostsLines {
    const PATH: &'static str = "/etc/hosts";

    /// Adds `name` for each of `addrs`; fails when the name is there already.
    fn add(name: &str, addrs: &[IpAddr]) -> anyhow::Result<Self> {
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

/// DNS membership: `n` powersources on 127.0.2.1…n behind one name in `/etc/hosts` (needs root),
/// superpower with `--powersource-dns`: how long until all are on its ring, and its throughput.
async fn dns_point(
    opts: &Options,
    t: &Timing,
    users: &Arc<Vec<HeaderValue>>,
    logs: &Path,
    n: usize,
) -> anyhow::Result<DnsPoint> {
    ensure!(crate::peers::is_root(), "needs root to edit /etc/hosts");
    let port = crate::procs::free_port()?;
    let ips: Vec<IpAddr> = (1..=n)
        .map(|i| IpAddr::from([127, 0, 2, i as u8]))
        .collect();
    let addrs: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
    let process = |i| Process::Powersource(i).to_string();
    let stores: Vec<PathBuf> = (1..=n)
        .map(|i| opts.out.join("stores").join(process(i)))
        .collect();
    if let Some(missing) = stores.iter().find(|s| !s.is_dir()) {
        let missing = missing.display();
        bail!("no store at {missing} (the {n}-powersource fleet makes them)");
    }
    let names: Vec<String> = (1..=n).map(|i| format!("dns-{}", process(i))).collect();
    let _powersources = start_powersources(opts, logs, &addrs, &stores, &names).await?;
    let host = format!("powersources-{}.bench.superpower.test", std::process::id());
    let _hosts = HostsLines::add(&host, &ips)?;
    let addr = free_addr()?;
    let args = vec![
        "--listen".into(),
        addr.to_string(),
        format!("--cookie-key={COOKIE_KEY}"),
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
    let max = load::run(Plan::new(addr, "/", MAX_CONNECTIONS, t.max).users(users)).await?;
    Ok(DnsPoint {
        addresses: n,
        dns_interval_ms: DNS_INTERVAL_MS,
        all_on_ring_s,
        max,
    })
}

/// What went wrong at a users point: a returning user answered another superpower.
fn returning_failures(u: &UsersPoint) -> Vec<String> {
    u.returning
        .iter()
        .filter(|r| r.changed > 0)
        .map(|r| {
            format!(
                "{} distinct users: {} of {} returning users got another superpower on {} with \
                 every powersource dead",
                u.users, r.changed, u.sampled, r.replica
            )
        })
        .collect()
}

/// Runs the scaling scenario: fleets of `t.scale_instances`, users points on the first, DNS.
pub(super) async fn scaling(
    opts: &Options,
    t: &Timing,
    ids: &Arc<Vec<HeaderValue>>,
    logs: &Path,
) -> anyhow::Result<Scaling> {
    let mut res = Scaling::default();
    let mut returning = ids.clone();
    // a point that fails is recorded and the others still run
    for (i, &n) in t.scale_instances.iter().enumerate() {
        step(&format!(
            "scaling: starting {n} powersources and superpower"
        ));
        let mut p = match start_product_of(opts, logs, n).await {
            Ok(p) => p,
            Err(e) => {
                res.failures
                    .push(format!("starting {n} powersources: {e:#}"));
                continue;
            }
        };
        match users::record(p.superpower.addr, ids).await {
            Ok(r) => {
                returning = Arc::new(r.returning);
                match instances_point(&p, t, &returning).await {
                    Ok(point) => res.instances.push(point),
                    Err(e) => res.failures.push(format!("{n} powersources: {e:#}")),
                }
            }
            Err(e) => res
                .failures
                .push(format!("{n} powersources: recording the users: {e:#}")),
        }
        if i == 0 {
            // the users points bring their own front end of two
            p.superpower.kill();
            for (j, &u) in t.scale_users.iter().enumerate() {
                let runs = (j == 0).then_some(&mut res.replicas);
                match users_point(opts, logs, &mut p, t, u, runs).await {
                    Ok(point) => {
                        res.failures.extend(returning_failures(&point));
                        res.users.push(point);
                    }
                    Err(e) => res.failures.push(format!("{u} distinct users: {e:#}")),
                }
            }
        }
    }
    let n = t.scale_instances.last().copied().unwrap_or(3);
    step(&format!("scaling: {n} powersources behind one DNS name"));
    match dns_point(opts, t, &returning, logs, n).await {
        Ok(d) => res.dns = Some(d),
        Err(e) => res.dns_not_measured = Some(format!("{e:#}")),
    }
    Ok(res)
}
