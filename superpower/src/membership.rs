//! Background tasks that keep [`Fleet`] current: DNS re-resolution and active health checks.
//! Both stop when the cancellation token fires (the app holds its drop guard).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::client::Backend;
use crate::fleet::{Fleet, Instance};
use crate::powersource;

/// Resolves `host:port` to the sorted, de-duplicated `ip:port` names of its addresses.
///
/// # Errors
/// When the name does not resolve.
pub async fn resolve(target: &str) -> std::io::Result<Vec<String>> {
    let addrs: BTreeSet<String> = tokio::net::lookup_host(target)
        .await?
        .map(|a| match a {
            std::net::SocketAddr::V4(v4) => v4.to_string(),
            std::net::SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
        })
        .collect();
    Ok(addrs.into_iter().collect())
}

/// Resolves `target` once and applies it; returns the instances that appeared.
pub async fn refresh_dns(fleet: &Fleet, target: &str) -> Vec<Arc<Instance>> {
    match resolve(target).await {
        Ok(names) if !names.is_empty() => fleet.set_members(&names),
        Ok(_) => {
            tracing::warn!(
                target,
                "DNS name has no addresses; keeping the last known members"
            );
            Vec::new()
        }
        Err(err) => {
            // A failed lookup keeps the last members: DNS hiccups must not empty the ring.
            tracing::warn!(target, %err, "DNS lookup failed; keeping the last known members");
            Vec::new()
        }
    }
}

/// Re-resolves `target` every `interval` until cancelled, health-checking new members at once.
pub fn spawn_dns(
    fleet: Arc<Fleet>,
    backend: Backend,
    target: String,
    interval: Duration,
    health_timeout: Duration,
    cancel: CancellationToken,
) {
    drop(spawn_every(interval, cancel, move || {
        let (fleet, backend, target) = (fleet.clone(), backend.clone(), target.clone());
        async move {
            let added = refresh_dns(&fleet, &target).await;
            if !added.is_empty() {
                check_all(&fleet, &backend, &added, health_timeout).await;
            }
        }
    }));
}

/// Checks every instance every `interval` until cancelled.
pub fn spawn_health_checks(
    fleet: Arc<Fleet>,
    backend: Backend,
    interval: Duration,
    timeout: Duration,
    cancel: CancellationToken,
) {
    drop(spawn_every(interval, cancel, move || {
        let (fleet, backend) = (fleet.clone(), backend.clone());
        async move {
            let all = fleet.instances();
            check_all(&fleet, &backend, &all, timeout).await;
        }
    }));
}

/// The shortest period [`spawn_every`] runs at: the settings refuse 0, and a zero built in code
/// (where `tokio::time::interval` would panic the task, silently stopping the checks) is
/// raised to it.
const MIN_PERIOD: Duration = Duration::from_millis(1);

/// Runs `round` at once and then every `interval` (at least [`MIN_PERIOD`]; a slow round delays
/// the next one rather than piling up), until `cancel` fires.
fn spawn_every<F, Fut>(
    interval: Duration,
    cancel: CancellationToken,
    round: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval.max(MIN_PERIOD));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = cancel.cancelled() => return,
            }
            round().await;
        }
    })
}

/// One round of `/health` checks on `instances`, concurrently; rebuilds the ring once if
/// anything changed.
pub async fn check_all(
    fleet: &Fleet,
    backend: &Backend,
    instances: &[Arc<Instance>],
    timeout: Duration,
) {
    let checks = instances.iter().map(|inst| async move {
        let ok = powersource::health(backend, inst, timeout).await;
        fleet.record_check(inst, ok)
    });
    let changed = futures_util::future::join_all(checks)
        .await
        .into_iter()
        .any(|c| c);
    if changed {
        fleet.rebuild();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_zero_interval_runs_rounds_instead_of_panicking() {
        let cancel = CancellationToken::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = spawn_every(Duration::ZERO, cancel.clone(), move || {
            let tx = tx.clone();
            async move {
                let _ = tx.send(());
            }
        });
        for _ in 0..3 {
            tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("a round within 5 s")
                .expect("the task is alive");
        }
        cancel.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the task stops when cancelled")
            .expect("the task did not panic");
    }
}
