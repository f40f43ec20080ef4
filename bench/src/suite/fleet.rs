//! The fleet the end-to-end scenarios load: 3 powersources over their own stores, superpower in
//! front (the [`Product`], which the soak loads alone), and the one-tier and two-tier
//! references.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bytes::Bytes;
use http::StatusCode;

use super::options::Options;
use super::programs::{bin, run_logged};
use super::timing::{PRODUCT_READY, REFERENCE_READY};
use crate::load::Report;
use crate::procs::{free_addr, Proc, MICROS_PER_TICK};
use crate::report::Process;

/// The admin token of the powersources (the peers scenario slows one) and of the replicas.
pub(super) const ADMIN_TOKEN: &str = "bench-admin-token";

/// The `--cookie-key` of every superpower started: a user's signed cookie verifies on each.
pub(super) const COOKIE_KEY: &str =
    "62656e63682d636f6f6b69652d6b65792d6f662d7468652d62656e63682d2d21";

/// The processes of the end-to-end scenarios.
pub(super) struct Fleet {
    /// `powersource-1` to `-3`, each over its own store.
    pub(super) powersources: Vec<Proc>,
    /// superpower, in front of the three.
    pub(super) superpower: Proc,
    /// The one-tier reference (`bench-ref one`).
    pub(super) one: Proc,
    /// The two-tier reference (`bench-ref two`), in front of the one-tier one.
    pub(super) two: Proc,
}

/// superpower in front of 3 powersources, each over its own store.
pub(super) struct Product {
    /// `powersource-1` to `-3`.
    pub(super) powersources: Vec<Proc>,
    /// superpower, in front of the three.
    pub(super) superpower: Proc,
}

impl Fleet {
    /// Every process of the fleet, with its part in it.
    pub(super) fn all(&self) -> impl Iterator<Item = (Process, &Proc)> {
        let powersources = (1..).map(Process::Powersource).zip(&self.powersources);
        powersources.chain([
            (Process::Superpower, &self.superpower),
            (Process::OneTierReference, &self.one),
            (Process::TwoTierReference, &self.two),
        ])
    }
}

/// Starts the [`Product`], then the references, and waits until each process is ready.
pub(super) async fn start(opts: &Options, logs: &Path) -> anyhow::Result<Fleet> {
    let Product {
        powersources,
        superpower,
    } = start_product(opts, logs).await?;
    let refs = &bin(opts, "bench-ref")?;
    let reference = |process: Process, args: Vec<String>| async move {
        let addr = free_addr()?;
        let listen = ["--listen".to_owned(), addr.to_string()];
        let args: Vec<String> = args.into_iter().chain(listen).collect();
        let mut p = Proc::spawn(&process.to_string(), refs, &args, &[], addr, logs)?;
        p.wait_ready("/", |_| true, REFERENCE_READY).await?;
        anyhow::Ok(p)
    };
    let one = reference(Process::OneTierReference, vec!["one".into()]).await?;
    let back = format!("http://{}/", one.addr);
    let two_args = vec!["two".into(), "--back".into(), back];
    let two = reference(Process::TwoTierReference, two_args).await?;
    Ok(Fleet {
        powersources,
        superpower,
        one,
        two,
    })
}

/// Ingests the sample into 3 stores, starts 3 powersources and superpower, waits until ready.
pub(super) async fn start_product(opts: &Options, logs: &Path) -> anyhow::Result<Product> {
    start_product_of(opts, logs, 3).await
}

/// As [`start_product`] with `n` powersources.
pub(super) async fn start_product_of(
    opts: &Options,
    logs: &Path,
    n: usize,
) -> anyhow::Result<Product> {
    let stores = opts.out.join("stores");
    let _ = std::fs::remove_dir_all(&stores);
    std::fs::create_dir_all(&stores)?;
    let store_paths: Vec<PathBuf> = (1..=n)
        .map(|i| stores.join(Process::Powersource(i).to_string()))
        .collect();
    let mut args = vec!["ingest".to_owned()];
    for s in &store_paths {
        args.push("--store".into());
        args.push(s.display().to_string());
    }
    run_logged(&bin(opts, "loader")?, &args, &logs.join("ingest.log"))
        .await
        .with_context(|| format!("ingesting the sample into the {n} stores"))?;

    let addrs = (0..n)
        .map(|_| free_addr())
        .collect::<std::io::Result<Vec<_>>>()?;
    let names: Vec<String> = (1..=n)
        .map(|i| Process::Powersource(i).to_string())
        .collect();
    let powersources = start_powersources(opts, logs, &addrs, &store_paths, &names).await?;
    let superpower = start_superpower(opts, logs, Process::Superpower, &powersources, &[]).await?;
    Ok(Product {
        powersources,
        superpower,
    })
}

/// Starts superpower in front of `powersources`; waits until all of them are on its ring.
pub(super) async fn start_superpower(
    opts: &Options,
    logs: &Path,
    process: Process,
    powersources: &[Proc],
    extra: &[String],
) -> anyhow::Result<Proc> {
    let mut superpower = spawn_superpower(opts, logs, process, free_addr()?, powersources, extra)?;
    let n = powersources.len() as u64;
    superpower
        .wait_ready("/health", ring_is(n), PRODUCT_READY)
        .await?;
    Ok(superpower)
}

/// Starts superpower (with [`COOKIE_KEY`] and `extra` flags) in front of `powersources`.
pub(super) fn spawn_superpower(
    opts: &Options,
    logs: &Path,
    process: Process,
    addr: SocketAddr,
    powersources: &[Proc],
    extra: &[String],
) -> anyhow::Result<Proc> {
    let mut args = vec![
        "--listen".into(),
        addr.to_string(),
        format!("--cookie-key={COOKIE_KEY}"),
    ];
    for p in powersources {
        args.push("--powersource".into());
        args.push(format!("http://{}", p.addr));
    }
    args.extend(extra.iter().cloned());
    Ok(Proc::spawn(
        &process.to_string(),
        &bin(opts, "superpower")?,
        &args,
        &opts.product_env,
        addr,
        logs,
    )?)
}

/// Starts powersource `names[i]` on `addrs[i]` over `stores[i]`; waits until each answers.
pub(super) async fn start_powersources(
    opts: &Options,
    logs: &Path,
    addrs: &[SocketAddr],
    stores: &[PathBuf],
    names: &[String],
) -> anyhow::Result<Vec<Proc>> {
    let ps_bin = bin(opts, "powersource")?;
    // the fault engine's slow, fail and clear call /admin/faults with the token it finds here
    crate::procs::fleet_env(logs, ADMIN_TOKEN)?;
    let mut powersources = Vec::new();
    for ((addr, store), name) in addrs.iter().zip(stores).zip(names) {
        let args = vec![
            "--listen".into(),
            addr.to_string(),
            "--store".into(),
            store.display().to_string(),
            "--name".into(),
            name.clone(),
            format!("--admin-token={ADMIN_TOKEN}"),
        ];
        powersources.push(Proc::spawn(
            name,
            &ps_bin,
            &args,
            &opts.product_env,
            *addr,
            logs,
        )?);
    }
    for p in &mut powersources {
        p.wait_ready("/health", |_| true, PRODUCT_READY).await?;
    }
    Ok(powersources)
}

/// A `/health` body check: superpower has `n` instances on its ring.
pub(super) fn ring_is(n: u64) -> impl Fn(&str) -> bool {
    move |body| health_field(body, "ring_members") == Some(n)
}

/// A `/health` body check: `n` instances on the ring, and a catalog (to answer degraded).
pub(super) fn ring_and_catalog(n: u64) -> impl Fn(&str) -> bool {
    move |body| {
        health_field(body, "ring_members") == Some(n)
            && health_field(body, "catalog_characters").is_some_and(|c| c > 0)
    }
}

/// A number of superpower's `/health` body.
fn health_field(body: &str, field: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()?
        .get(field)?
        .as_u64()
}

/// A load run and the CPU time each process serving it used, µs per request, by name.
pub(super) struct Measured {
    pub(super) report: Report,
    pub(super) cpu: BTreeMap<String, f64>,
}

impl Measured {
    /// The CPU time of all of them, µs per request.
    pub(super) fn cpu_total(&self) -> f64 {
        self.cpu.values().sum()
    }
}

/// Runs `load`, charging it the CPU time `procs` used meanwhile.
pub(super) async fn measure<E>(
    procs: &[&Proc],
    load: impl Future<Output = Result<Report, E>>,
) -> anyhow::Result<Measured>
where
    anyhow::Error: From<E>,
{
    let before: Vec<Option<u64>> = procs.iter().map(|p| p.cpu_ticks()).collect();
    let report = load.await?;
    let per_tick = MICROS_PER_TICK / report.requests.max(1) as f64;
    let cpu = procs
        .iter()
        .zip(before)
        .filter_map(|(p, b)| {
            let used = p.cpu_ticks()?.saturating_sub(b?);
            Some((p.name().to_owned(), used as f64 * per_tick))
        })
        .collect();
    Ok(Measured { report, cpu })
}

/// `GET http://{addr}{path}`: the status and the whole body.
pub(super) async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(StatusCode, Bytes)> {
    let client: hyper_util::client::legacy::Client<_, http_body_util::Empty<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let resp = client.get(format!("http://{addr}{path}").parse()?).await?;
    let status = resp.status();
    let body = http_body_util::BodyExt::collect(resp.into_body()).await?;
    Ok((status, body.to_bytes()))
}
