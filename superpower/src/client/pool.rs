//! One thread's idle keep-alive connections, by `host:port`: the most recently used is taken
//! first (the least likely to have been closed by its peer), the oldest goes when a host has
//! too many, and none is taken after [`IDLE_TIMEOUT`] idle.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::net::TcpStream;

/// How long a connection may sit idle and still be used.
pub(super) const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept per host and thread.
pub(super) const MAX_IDLE_PER_HOST: usize = 256;

/// A connection and its read buffer.
pub(super) struct Conn {
    pub stream: TcpStream,
    pub buf: BytesMut,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

/// Idle connections by `host:port`.
#[derive(Default)]
pub(super) struct Pool {
    hosts: HashMap<Box<str>, VecDeque<Idle>>,
}

impl Pool {
    /// An idle connection to `authority`, if one is fresh enough.
    pub(super) fn take(&mut self, authority: &str, now: Instant) -> Option<Conn> {
        let idle = self.hosts.get_mut(authority)?;
        while idle
            .front()
            .is_some_and(|i| now.duration_since(i.since) > IDLE_TIMEOUT)
        {
            idle.pop_front();
        }
        idle.pop_back().map(|i| i.conn)
    }

    /// Keeps `conn` (its answer complete, the connection reusable) for the next call.
    pub(super) fn put(&mut self, authority: &str, conn: Conn, now: Instant) {
        let idle = match self.hosts.get_mut(authority) {
            Some(idle) => idle,
            None => self.hosts.entry(authority.into()).or_default(),
        };
        if idle.len() >= MAX_IDLE_PER_HOST {
            idle.pop_front();
        }
        idle.push_back(Idle { conn, since: now });
    }

    /// Idle connections to `authority`.
    #[cfg(test)]
    pub(super) fn idle(&self, authority: &str) -> usize {
        self.hosts.get(authority).map_or(0, VecDeque::len)
    }
}
