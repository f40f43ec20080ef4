//! The users the load follows: fixed `superpower_id` cookies, and the superpower each one has
//! with the whole fleet up (which failover and lose all check against).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::ensure;
use http::header::HeaderValue;

use super::timing::{ONCE_CONNECTIONS, RECORD_LIMIT};
use crate::load::{self, Names, Plan, Rotation};

/// A rotation over `users`' cookies.
pub(super) fn cookies(users: &Arc<Vec<HeaderValue>>) -> Rotation {
    Rotation::Cookies(users.clone())
}

/// A pass over every user once, at `addr`, doing `names` with the answers; `limit` bounds it.
pub(super) fn every_user_once(
    addr: SocketAddr,
    users: &Arc<Vec<HeaderValue>>,
    names: Names,
    limit: Duration,
) -> Plan {
    let mut plan = Plan::new(addr, "/", ONCE_CONNECTIONS, limit);
    plan.max_requests = Some(users.len() as u64);
    plan.rotation = cookies(users);
    plan.names = names;
    plan
}

/// Every user once at superpower (`addr`): their superpower, which later checks compare with.
pub(super) async fn record_names(
    addr: SocketAddr,
    users: &Arc<Vec<HeaderValue>>,
) -> anyhow::Result<Vec<String>> {
    let plan = every_user_once(addr, users, Names::Record, RECORD_LIMIT);
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
