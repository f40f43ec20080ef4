//! The scenarios, in the order they run: ingest, the fleet and the references up, end to end,
//! failover, lose all, memory, micro-benchmarks (read from criterion's output), then the
//! targets.
//!
//! A scenario that cannot run, a load run with failures where none are expected, or an identity
//! change is recorded in [`Results::failures`] (the command then fails); a missed target is only
//! a figure.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, ensure, Context};
use http::header::HeaderValue;
use http::StatusCode;

use crate::load::{self, Names, Plan, Report, Rotation};
use crate::oha;
use crate::procs::{free_addr, Proc};
use crate::report::{E2e, Failover, Ingest, LoseAll, Machine, Memory, Micro, Results, Row, Target};

/// How the suite runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Every scenario for a second or two (CI): catches rot, the figures mean little.
    pub smoke: bool,
    /// Where results, logs, stores and the generated dataset go (`var/bench`).
    pub out: PathBuf,
    /// Where the release binaries are (`target/release`).
    pub bin_dir: PathBuf,
    /// Where criterion wrote its estimates (`target/criterion`); `None` skips the micro table.
    pub criterion_dir: Option<PathBuf>,
    /// `rustc --version`, for the machine line.
    pub rustc: String,
    /// Environment variables added to powersource's and superpower's (e.g. `RUST_LOG`), to
    /// measure a setting's cost; recorded in the results.
    pub product_env: Vec<(String, String)>,
}

/// Durations and sizes of one mode.
struct Timing {
    max: Duration,
    max_rounds: usize,
    rate: Duration,
    users: usize,
    failover: Duration,
    kill_at: Duration,
    restart_at: Duration,
    lose_all: Duration,
    ingest_characters: usize,
    ingest_runs: usize,
}

impl Timing {
    fn of(smoke: bool) -> Self {
        if smoke {
            Timing {
                max: Duration::from_secs(1),
                max_rounds: 1,
                rate: Duration::from_secs(1),
                users: 1000,
                failover: Duration::from_secs(3),
                kill_at: Duration::from_secs(1),
                restart_at: Duration::from_secs(2),
                lose_all: Duration::from_secs(1),
                ingest_characters: 100,
                ingest_runs: 1,
            }
        } else {
            Timing {
                max: Duration::from_secs(4),
                max_rounds: 2,
                rate: Duration::from_secs(5),
                users: 1000,
                failover: Duration::from_secs(10),
                kill_at: Duration::from_secs(3),
                restart_at: Duration::from_secs(6),
                lose_all: Duration::from_secs(3),
                ingest_characters: 1500,
                ingest_runs: 3,
            }
        }
    }
}

/// Connections of the maximum-throughput runs.
pub const MAX_CONNECTIONS: usize = 32;
/// Connections of the constant-rate runs (25 req/s uses 8, as the original demo's load did).
const RATE_CONNECTIONS: usize = 32;
/// The three constant rates asked; the last is lowered to 80% of superpower's maximum when the
/// machine cannot hold it.
const RATES: [f64; 3] = [25.0, 1000.0, 5000.0];
const FAILOVER_RATE: f64 = 500.0;
const UNKNOWN_RATE: f64 = 200.0;
const IMAGE_KIB: u32 = 50;

const ONE: &str = "one-tier reference";
const TWO: &str = "two-tier reference";
const SP: &str = "superpower (3 powersources)";
const PS: &str = "powersource GET /characters/{id}";
const GEN: &str = "generator";
const OHA: &str = "oha";

/// The processes of the end-to-end scenarios.
struct Fleet {
    powersources: Vec<Proc>,
    superpower: Proc,
    one: Proc,
    two: Proc,
}

impl Fleet {
    fn all(&self) -> impl Iterator<Item = &Proc> {
        self.powersources
            .iter()
            .chain([&self.superpower, &self.one, &self.two])
    }
}

/// Runs every scenario and judges the targets.
pub async fn run(opts: &Options) -> Results {
    let t0 = Instant::now();
    let t = Timing::of(opts.smoke);
    let mut res = Results {
        mode: if opts.smoke { "smoke" } else { "full" }.into(),
        started: httpdate::fmt_http_date(SystemTime::now()),
        machine: machine(&opts.rustc),
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

    step("ingest");
    match ingest(opts, &t).await {
        Ok(i) => res.ingest = Some(i),
        Err(e) => res.failures.push(format!("ingest: {e:#}")),
    }

    step("starting 3 powersources, superpower and the two references");
    let mut fleet = match start_fleet(opts, &logs).await {
        Ok(f) => f,
        Err(e) => {
            res.failures.push(format!("cannot start the fleet: {e:#}"));
            finish(&mut res, opts, t0);
            return res;
        }
    };

    let users = Arc::new(load::identities(t.users, 2024));
    step(&format!(
        "recording the superpower of {} users",
        users.len()
    ));
    let names = match record_names(&fleet, &users).await {
        Ok(n) => Arc::new(n),
        Err(e) => {
            res.failures.push(format!("cannot record the users: {e:#}"));
            finish(&mut res, opts, t0);
            return res;
        }
    };

    match e2e(&fleet, &t, &users, &mut res.failures).await {
        Ok(e) => res.e2e = Some(e),
        Err(e) => res.failures.push(format!("end to end: {e:#}")),
    }

    step("failover");
    match failover(opts, &mut fleet, &t, &users, &names).await {
        Ok(f) => {
            let w = &f.window;
            if w.failures() > 0 {
                res.failures
                    .push(format!("failover: {}", w.failure_summary()));
            }
            if f.after.failures() > 0 {
                res.failures
                    .push(format!("failover, after: {}", f.after.failure_summary()));
            }
            if f.changed_users > 0 {
                res.failures.push(format!(
                    "failover: {} users got another superpower",
                    f.changed_users
                ));
            }
            if !f.probe_ok {
                res.failures.push(
                    "failover: `superpower probe identity` failed (see var/bench/logs/probe.log)"
                        .into(),
                );
            }
            res.failover = Some(f);
        }
        Err(e) => res.failures.push(format!("failover: {e:#}")),
    }

    step("lose all");
    match lose_all(&mut fleet, &t, &users, &names).await {
        Ok(l) => {
            if l.known.failures() > 0 {
                res.failures.push(format!(
                    "lose all, known users: {}",
                    l.known.failure_summary()
                ));
            }
            if l.changed_users > 0 {
                res.failures.push(format!(
                    "lose all: {} known users got another superpower from the fallback",
                    l.changed_users
                ));
            }
            if l.unknown.failures() > 0 {
                res.failures.push(format!(
                    "lose all, unknown users (503 expected): {}",
                    l.unknown.failure_summary()
                ));
            }
            res.lose_all = Some(l);
        }
        Err(e) => res.failures.push(format!("lose all: {e:#}")),
    }

    res.memory = fleet
        .all()
        .filter_map(|p| {
            p.peak_rss_kib().map(|kib| Memory {
                name: p.name().to_owned(),
                peak_rss_mib: kib as f64 / 1024.0,
            })
        })
        .collect();
    drop(fleet);

    if let Some(dir) = &opts.criterion_dir {
        match micro(dir) {
            Ok(m) => res.micro = m,
            Err(e) => res.failures.push(format!("micro-benchmarks: {e:#}")),
        }
    }
    finish(&mut res, opts, t0);
    res
}

fn finish(res: &mut Results, opts: &Options, t0: Instant) {
    res.targets = targets(res, opts.smoke);
    res.duration_s = t0.elapsed().as_secs_f64();
}

fn step(what: &str) {
    eprintln!("[bench] {what}");
}

fn machine(rustc: &str) -> Machine {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let meminfo = read("/proc/meminfo");
    Machine {
        cpus: std::thread::available_parallelism().map_or(0, usize::from),
        cpu_model: cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            .unwrap_or_default(),
        memory_mib: meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kib| kib / 1024),
        kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        load_average: read("/proc/loadavg")
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        rustc: rustc.to_owned(),
    }
}

fn bin(opts: &Options, name: &str) -> anyhow::Result<PathBuf> {
    let p = opts.bin_dir.join(name);
    ensure!(
        p.is_file(),
        "{} is missing: build it (cargo build --release -p powersource -p superpower -p loader -p bench)",
        p.display()
    );
    Ok(p)
}

/// Runs a program to completion, its output appended to `log`; fails on a non-zero exit.
async fn run_logged(program: &Path, args: &[String], log: &Path) -> anyhow::Result<Duration> {
    let file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    let start = Instant::now();
    let status = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .kill_on_drop(true)
        .status()
        .await
        .with_context(|| format!("cannot run {}", program.display()))?;
    let took = start.elapsed();
    ensure!(
        status.success(),
        "{} {} exited with {status} (see {})",
        program.display(),
        args.join(" "),
        log.display()
    );
    Ok(took)
}

fn dir_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let m = e.metadata()?;
        total += if m.is_dir() {
            dir_bytes(&e.path())?
        } else {
            m.len()
        };
    }
    Ok(total)
}

async fn ingest(opts: &Options, t: &Timing) -> anyhow::Result<Ingest> {
    let loader = bin(opts, "loader")?;
    let log = opts.out.join("logs").join("ingest.log");
    let data = opts
        .out
        .join(format!("dataset-{}x{IMAGE_KIB}k", t.ingest_characters));
    let done = data.join(".complete");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&data);
        let args = vec![
            "sample".into(),
            "--out".into(),
            data.display().to_string(),
            "--count".into(),
            t.ingest_characters.to_string(),
            "--image-kib".into(),
            IMAGE_KIB.to_string(),
            "--no-placeholders".into(),
        ];
        run_logged(&loader, &args, &log).await?;
        std::fs::write(&done, b"")?;
    }
    let image_bytes =
        dir_bytes(&data.join("images")).context("cannot size the dataset's images")?;
    let mut runs = Vec::new();
    for run in 1..=t.ingest_runs {
        let store = opts.out.join(format!("ingest-store-{run}"));
        let _ = std::fs::remove_dir_all(&store);
        let args = vec![
            "ingest".into(),
            "--data".into(),
            data.display().to_string(),
            "--store".into(),
            store.display().to_string(),
        ];
        let took = run_logged(&loader, &args, &log).await?;
        runs.push(took.as_secs_f64());
        let _ = std::fs::remove_dir_all(&store);
    }
    let mut sorted = runs.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    Ok(Ingest {
        characters: t.ingest_characters,
        image_bytes,
        runs_s: runs,
        median_s: median,
        characters_per_s: t.ingest_characters as f64 / median,
        mb_per_s: image_bytes as f64 / 1e6 / median,
    })
}

async fn start_fleet(opts: &Options, logs: &Path) -> anyhow::Result<Fleet> {
    let stores = opts.out.join("stores");
    let _ = std::fs::remove_dir_all(&stores);
    std::fs::create_dir_all(&stores)?;
    let store_paths: Vec<PathBuf> = (1..=3)
        .map(|i| stores.join(format!("powersource-{i}")))
        .collect();
    let mut args = vec!["ingest".to_owned()];
    for s in &store_paths {
        args.push("--store".into());
        args.push(s.display().to_string());
    }
    run_logged(&bin(opts, "loader")?, &args, &logs.join("ingest.log"))
        .await
        .context("ingesting the sample into the 3 stores")?;

    let ps_bin = bin(opts, "powersource")?;
    let mut powersources = Vec::new();
    for (i, store) in store_paths.iter().enumerate() {
        let addr = free_addr()?;
        let name = format!("powersource-{}", i + 1);
        let args = vec![
            "--listen".into(),
            addr.to_string(),
            "--store".into(),
            store.display().to_string(),
            "--name".into(),
            name.clone(),
        ];
        powersources.push(Proc::spawn(
            &name,
            &ps_bin,
            &args,
            &opts.product_env,
            addr,
            logs,
        )?);
    }
    for p in &mut powersources {
        p.wait_ready("/health", |_| true, Duration::from_secs(30))
            .await?;
    }
    let addr = free_addr()?;
    let mut args = vec!["--listen".into(), addr.to_string()];
    for p in &powersources {
        args.push("--powersource".into());
        args.push(format!("http://{}", p.addr));
    }
    let mut superpower = Proc::spawn(
        "superpower",
        &bin(opts, "superpower")?,
        &args,
        &opts.product_env,
        addr,
        logs,
    )?;
    superpower
        .wait_ready("/health", ring_is(3), Duration::from_secs(30))
        .await?;

    let refs = bin(opts, "bench-ref")?;
    let a1 = free_addr()?;
    let mut one = Proc::spawn(
        "one-tier-reference",
        &refs,
        &["one".into(), "--listen".into(), a1.to_string()],
        &[],
        a1,
        logs,
    )?;
    one.wait_ready("/", |_| true, Duration::from_secs(10))
        .await?;
    let a2 = free_addr()?;
    let mut two = Proc::spawn(
        "two-tier-reference",
        &refs,
        &[
            "two".into(),
            "--listen".into(),
            a2.to_string(),
            "--back".into(),
            format!("http://{a1}/"),
        ],
        &[],
        a2,
        logs,
    )?;
    two.wait_ready("/", |_| true, Duration::from_secs(10))
        .await?;
    Ok(Fleet {
        powersources,
        superpower,
        one,
        two,
    })
}

/// A `/health` body check: superpower has `n` instances on its ring.
fn ring_is(n: u64) -> impl Fn(&str) -> bool {
    move |body| {
        serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("ring_members").and_then(serde_json::Value::as_u64))
            == Some(n)
    }
}

fn cookies(users: &Arc<Vec<HeaderValue>>) -> Rotation {
    Rotation::Cookies(users.clone())
}

/// Every user once: their superpower, which later checks compare with.
async fn record_names(fleet: &Fleet, users: &Arc<Vec<HeaderValue>>) -> anyhow::Result<Vec<String>> {
    let mut plan = Plan::new(fleet.superpower.addr, "/", 8, Duration::from_secs(120));
    plan.max_requests = Some(users.len() as u64);
    plan.rotation = cookies(users);
    plan.names = Names::Record;
    let r = load::run(plan).await?;
    ensure!(r.failures() == 0, "{}", r.failure_summary());
    ensure!(
        r.degraded == 0,
        "{} degraded answers with the whole fleet up",
        r.degraded
    );
    let missing = r.names.iter().filter(|n| n.is_empty()).count();
    ensure!(missing == 0, "{missing} users got no name");
    Ok(r.names)
}

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
fn processes<'a>(fleet: &'a Fleet, system: &str) -> Vec<&'a Proc> {
    match system {
        ONE => vec![&fleet.one],
        TWO => vec![&fleet.two, &fleet.one],
        SP => std::iter::once(&fleet.superpower)
            .chain(&fleet.powersources)
            .collect(),
        _ => vec![&fleet.powersources[0]],
    }
}

/// Runs one load (`run`) against `system`, charging it the CPU time its processes used.
async fn measure(
    fleet: &Fleet,
    system: &str,
    tool: &str,
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
        system: system.into(),
        tool: tool.into(),
        server_cpu_us_per_request: cpu.values().sum(),
        cpu_us_per_request: cpu,
        report,
    })
}

async fn e2e(
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
    let systems: [(&str, std::net::SocketAddr); 4] = [
        (ONE, fleet.one.addr),
        (TWO, fleet.two.addr),
        (SP, fleet.superpower.addr),
        (PS, fleet.powersources[0].addr),
    ];
    // oha sends one fixed request: one cookie, one character id
    let oha_targets = [
        (ONE, fleet.one.addr, "/".to_owned(), None),
        (
            SP,
            fleet.superpower.addr,
            "/".to_owned(),
            Some(one_cookie.as_str()),
        ),
        (PS, fleet.powersources[0].addr, ps_paths[0].clone(), None),
    ];
    let plan_for = |system: &str, addr, conns, dur, rate| {
        let mut p = Plan::new(addr, "/", conns, dur);
        p.rotation = if system == PS {
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
        for (i, (system, addr)) in systems.iter().enumerate() {
            step(&format!("max throughput, round {round}: {system}"));
            let plan = plan_for(system, *addr, MAX_CONNECTIONS, t.max, None);
            let run = async { Ok(load::run(plan).await?) };
            let row = measure(fleet, system, GEN, failures, run).await?;
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
            .push(measure(fleet, system, OHA, failures, run).await?);
    }
    let rps = |s: &str| e.find(s, GEN, None).map_or(0.0, |r| r.rps);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let (one, two, sp, ps) = (rps(ONE), rps(TWO), rps(SP), rps(PS));
    e.superpower_vs_two_tier = ratio(sp, two);
    e.superpower_vs_one_tier = ratio(sp, one);
    e.powersource_vs_one_tier = ratio(ps, one);
    e.high_rate = RATES[2]
        .min((sp * 0.8 / 100.0).floor() * 100.0)
        .max(RATES[1]);

    for rate in [RATES[0], RATES[1], e.high_rate] {
        for (system, addr) in systems {
            if system == PS && rate != RATES[1] {
                continue;
            }
            step(&format!("{rate} req/s: {system}"));
            let conns = if rate <= RATES[0] {
                8
            } else {
                RATE_CONNECTIONS
            };
            let plan = plan_for(system, addr, conns, t.rate, Some(rate));
            let run = async { Ok(load::run(plan).await?) };
            e.rates
                .push(measure(fleet, system, GEN, failures, run).await?);
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
            .push(measure(fleet, system, OHA, failures, run).await?);
    }
    Ok(e)
}

async fn probe(opts: &Options, addr: std::net::SocketAddr, state: &Path) -> anyhow::Result<bool> {
    let args = vec![
        "probe".into(),
        "identity".into(),
        "--url".into(),
        format!("http://{addr}/"),
        "--users".into(),
        "50".into(),
        "--state".into(),
        state.display().to_string(),
        "--timeout-ms".into(),
        "1000".into(),
    ];
    let log = opts.out.join("logs").join("probe.log");
    Ok(run_logged(&bin(opts, "superpower")?, &args, &log)
        .await
        .is_ok())
}

async fn failover(
    opts: &Options,
    fleet: &mut Fleet,
    t: &Timing,
    users: &Arc<Vec<HeaderValue>>,
    names: &Arc<Vec<String>>,
) -> anyhow::Result<Failover> {
    let sp = fleet.superpower.addr;
    let state = opts.out.join("probe-identity.json");
    let _ = std::fs::remove_file(&state);
    let probe_before = probe(opts, sp, &state).await?;

    let mut plan = Plan::new(sp, "/", RATE_CONNECTIONS, t.failover);
    plan.rate = Some(FAILOVER_RATE);
    plan.rotation = cookies(users);
    plan.names = Names::Check(names.clone());
    let start = Instant::now();
    let load = tokio::spawn(load::run(plan));
    tokio::time::sleep_until((start + t.kill_at).into()).await;
    let victim = &mut fleet.powersources[1];
    victim.kill();
    let kill_at = start.elapsed();
    tokio::time::sleep_until((start + t.restart_at).into()).await;
    victim.restart()?;
    let restart_at = start.elapsed();
    let window = load.await.context("the load task")??;
    fleet
        .superpower
        .wait_ready("/health", ring_is(3), Duration::from_secs(30))
        .await
        .context("superpower did not take the restarted powersource back")?;
    let back_on_ring = start.elapsed() - restart_at;

    let mut plan = Plan::new(sp, "/", 8, Duration::from_secs(60));
    plan.max_requests = Some(users.len() as u64);
    plan.rotation = cookies(users);
    plan.names = Names::Check(names.clone());
    let after = load::run(plan).await?;
    let probe_after = probe(opts, sp, &state).await?;
    let mut changed = window.changed_users.clone();
    changed.extend(&after.changed_users);
    Ok(Failover {
        rate: FAILOVER_RATE,
        kill_at_s: kill_at.as_secs_f64(),
        restart_at_s: restart_at.as_secs_f64(),
        back_on_ring_s: back_on_ring.as_secs_f64(),
        changed_users: changed.len(),
        window,
        after,
        probe_ok: probe_before && probe_after,
    })
}

async fn lose_all(
    fleet: &mut Fleet,
    t: &Timing,
    users: &Arc<Vec<HeaderValue>>,
    names: &Arc<Vec<String>>,
) -> anyhow::Result<LoseAll> {
    for p in &mut fleet.powersources {
        p.kill();
    }
    let sp = fleet.superpower.addr;
    let mut plan = Plan::new(sp, "/", RATE_CONNECTIONS, t.lose_all);
    plan.rate = Some(FAILOVER_RATE);
    plan.rotation = cookies(users);
    plan.names = Names::Check(names.clone());
    let known = load::run(plan).await?;
    let mut plan = Plan::new(sp, "/", RATE_CONNECTIONS, t.lose_all);
    plan.rate = Some(UNKNOWN_RATE);
    plan.expect = StatusCode::SERVICE_UNAVAILABLE;
    let unknown = load::run(plan).await?;
    if known.requests == 0 || unknown.requests == 0 {
        bail!("no request was made");
    }
    Ok(LoseAll {
        changed_users: known.changed_users.len(),
        known,
        unknown,
    })
}

#[derive(serde::Deserialize)]
struct Estimates {
    mean: Estimate,
}

#[derive(serde::Deserialize)]
struct Estimate {
    point_estimate: f64,
}

/// The criterion benchmarks the suite reports (`cargo bench -p superpower --bench micro`,
/// `cargo bench -p powersource --bench micro`).
pub const MICRO: &[&str] = &[
    "ring/candidates",
    "assign/assign_1500",
    "identity/from_headers",
    "render/json_answer",
    "render/html_character_page",
];

fn micro(dir: &Path) -> anyhow::Result<Vec<Micro>> {
    MICRO
        .iter()
        .map(|id| {
            // criterion names the folder after the id with `/` made `_`
            let path = dir
                .join(id.replace('/', "_"))
                .join("new")
                .join("estimates.json");
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "no criterion estimate at {} (did cargo bench run?)",
                    path.display()
                )
            })?;
            let e: Estimates = serde_json::from_str(&text)
                .with_context(|| format!("unreadable {}", path.display()))?;
            Ok(Micro {
                id: (*id).to_owned(),
                mean_ns: e.mean.point_estimate,
            })
        })
        .collect()
}

fn targets(res: &Results, smoke: bool) -> Vec<Target> {
    let mut out = Vec::new();
    let mut push = |what: &str, target: &str, figure: Option<String>, pass: Option<bool>| {
        out.push(Target {
            what: what.into(),
            target: target.into(),
            figure: figure.unwrap_or_else(|| "not measured".into()),
            pass,
        });
    };
    let e2e = res.e2e.as_ref();
    let ratio = |f: fn(&E2e) -> f64| e2e.map(f);
    let p99 = |system: &str| {
        e2e.and_then(|e| e.find(system, GEN, Some(RATES[1])))
            .map(|r| r.latency.p99_ms)
    };
    let r = ratio(|e| e.powersource_vs_one_tier);
    push(
        "powersource max throughput vs one-tier reference",
        "≥ 0.6×",
        r.map(|v| format!("{v:.3}×")),
        r.map(|v| v >= 0.6),
    );
    let p = p99(PS);
    push(
        "powersource p99 at 1,000 req/s",
        "< 2 ms",
        p.map(|v| format!("{v:.2} ms")),
        p.map(|v| v < 2.0),
    );
    let r = ratio(|e| e.superpower_vs_two_tier);
    push(
        "superpower max throughput vs two-tier reference",
        "≥ 0.6×",
        r.map(|v| format!("{v:.3}×")),
        r.map(|v| v >= 0.6),
    );
    let p = p99(SP);
    push(
        "superpower p99 at 1,000 req/s",
        "< 2 ms",
        p.map(|v| format!("{v:.2} ms")),
        p.map(|v| v < 2.0),
    );
    let f = res.failover.as_ref();
    push(
        "failover: errors",
        "0",
        f.map(|f| f.window.failures().to_string()),
        f.map(|f| f.window.failures() == 0),
    );
    push(
        "failover: identity changes",
        "0",
        f.map(|f| f.changed_users.to_string()),
        f.map(|f| f.changed_users == 0),
    );
    push(
        "failover: max latency",
        "< 1 s",
        f.map(|f| format!("{:.1} ms", f.window.latency.max_ms)),
        f.map(|f| f.window.latency.max_ms < 1000.0),
    );
    let i = res.ingest.as_ref();
    push(
        &format!(
            "ingest of the {}-character set{}",
            i.map_or(1500, |i| i.characters),
            if smoke { " (smoke: not judged)" } else { "" }
        ),
        "< 3 s (1,500 characters)",
        i.map(|i| format!("{:.2} s", i.median_s)),
        i.filter(|_| !smoke).map(|i| i.median_s < 3.0),
    );
    for m in &res.memory {
        let limit = if m.name == "superpower" {
            30.0
        } else if m.name.starts_with("powersource") {
            50.0
        } else {
            continue;
        };
        push(
            &format!("peak RSS of {}", m.name),
            &format!("< {limit:.0} MiB"),
            Some(format!("{:.1} MiB", m.peak_rss_mib)),
            Some(m.peak_rss_mib < limit),
        );
    }
    out
}
