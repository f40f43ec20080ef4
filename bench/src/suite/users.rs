//! The users the load follows: fixed `superpower_id` cookies, the superpower each one has with
//! the whole fleet up (which failover and lose all check against), and the cookies they come
//! back with afterwards: the identity and the signed `superpower_last` their first answer set,
//! as a browser keeps them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::ensure;
use http::header::HeaderValue;

use super::timing::{ONCE_CONNECTIONS, RECORD_LIMIT};
use crate::load::{self, Names, Plan, Rotation, LAST_COOKIE};

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
    let mut plan = Plan::new(addr, "/", ONCE_CONNECTIONS, limit).users(users);
    plan.names = names;
    plan.requests(users.len())
}

/// What a first visit of every user recorded.
pub(super) struct Recorded {
    /// The superpower each user has.
    pub(super) names: Vec<String>,
    /// The `Cookie` header each user sends from then on (identity and [`LAST_COOKIE`]).
    pub(super) returning: Vec<HeaderValue>,
    /// The [`LAST_COOKIE`] `Set-Cookie` header value each user's answer carried.
    pub(super) set_cookies: Vec<String>,
}

/// Every user once at `addr`: their superpower and the cookies they come back with (all needed).
pub(super) async fn record(
    addr: SocketAddr,
    users: &Arc<Vec<HeaderValue>>,
) -> anyhow::Result<Recorded> {
    let mut plan = every_user_once(addr, users, Names::Record, RECORD_LIMIT);
    plan.keep_last_cookie = true;
    let r = load::run(plan).await?;
    ensure!(r.failures() == 0, "{}", r.failure_summary());
    ensure!(
        r.degraded == 0,
        "{} degraded answers with the whole fleet up",
        r.degraded
    );
    let missing = r.names.iter().filter(|n| n.is_empty()).count();
    ensure!(missing == 0, "{missing} users got no name");
    let returning = users
        .iter()
        .zip(&r.last_cookies)
        .map(|(user, set)| returning(user, set))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let without = returning.iter().filter(|c| !sends_last(c)).count();
    ensure!(
        without == 0,
        "{without} users got no {LAST_COOKIE} cookie (superpower sets one with each first answer)"
    );
    Ok(Recorded {
        names: r.names,
        returning,
        set_cookies: r.last_cookies,
    })
}

/// `user`'s `Cookie` after an answer set `set_cookie` (a [`LAST_COOKIE`]; empty: none was set).
pub(super) fn returning(user: &HeaderValue, set_cookie: &str) -> anyhow::Result<HeaderValue> {
    let Some(pair) = set_cookie.split(';').next().filter(|p| !p.is_empty()) else {
        return Ok(user.clone());
    };
    let mut parts: Vec<&str> = user
        .to_str()?
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty() && !is_last(p))
        .collect();
    parts.push(pair.trim());
    Ok(HeaderValue::from_str(&parts.join("; "))?)
}

/// Whether a `name=value` pair is the [`LAST_COOKIE`].
fn is_last(pair: &str) -> bool {
    pair.split_once('=')
        .is_some_and(|(name, _)| name.trim() == LAST_COOKIE)
}

/// Whether a `Cookie` header sends the [`LAST_COOKIE`].
fn sends_last(cookie: &HeaderValue) -> bool {
    cookie
        .to_str()
        .is_ok_and(|c| c.split(';').any(|p| is_last(p.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_returning_user_sends_the_cookie_last_set() {
        let user = HeaderValue::from_static("superpower_id=abc");
        let first = returning(&user, "superpower_last=7.TAG; HttpOnly; SameSite=Lax").unwrap();
        assert_eq!(first, "superpower_id=abc; superpower_last=7.TAG");
        assert!(sends_last(&first) && !sends_last(&user));
        let again = returning(&first, "superpower_last=9.NEW; Path=/").unwrap();
        assert_eq!(again, "superpower_id=abc; superpower_last=9.NEW");
        assert_eq!(
            returning(&again, "").unwrap(),
            again,
            "nothing set: unchanged"
        );
        let other = HeaderValue::from_static("superpower_lastly=1; superpower_id=abc");
        assert_eq!(
            returning(&other, "superpower_last=2.T").unwrap(),
            "superpower_lastly=1; superpower_id=abc; superpower_last=2.T"
        );
    }
}
