//! One thread's idle keep-alive connections, by `host:port`: the most recently used is taken
//! first (the least likely to have been closed by its peer), the oldest goes when a host has
//! too many, and none is taken after [`IDLE_TIMEOUT`] idle, or with a byte or a close waiting.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use std::task::{Context, Waker};

use bytes::BytesMut;
use tokio::io::ReadBuf;
use tokio::net::TcpStream;

/// How long a connection may sit idle and still be used.
pub(super) const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept per host and thread.
pub(super) const MAX_IDLE_PER_HOST: usize = 256;
/// The read buffer a connection keeps while idle at most: one that grew past it (a long head, a
/// large body) is given up, so idle connections do not hold what their largest answer needed.
pub(super) const MAX_IDLE_BUFFER: usize = 16 * 1024;

/// A connection and its read buffer.
pub(super) struct Conn {
    pub stream: TcpStream,
    pub buf: BytesMut,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

/// Whether an idle connection has nothing to say: no byte waiting (a stray answer, which the
/// next request would read as its own) and no close (the peer gave up on it). Asks the
/// reactor's readiness first, so a quiet connection costs at most one `recv` with `MSG_PEEK`.
fn quiet(conn: &Conn) -> bool {
    if !conn.buf.is_empty() {
        return false;
    }
    let mut cx = Context::from_waker(Waker::noop());
    let mut byte = [0u8; 1];
    let mut peeked = ReadBuf::new(&mut byte);
    conn.stream.poll_peek(&mut cx, &mut peeked).is_pending()
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
        while let Some(i) = idle.pop_back() {
            if quiet(&i.conn) {
                return Some(i.conn);
            }
        }
        None
    }

    /// Keeps `conn` (its answer complete, the connection reusable) for the next call.
    pub(super) fn put(&mut self, authority: &str, mut conn: Conn, now: Instant) {
        if conn.buf.capacity() > MAX_IDLE_BUFFER {
            conn.buf = BytesMut::new();
        }
        let idle = match self.hosts.get_mut(authority) {
            Some(idle) => idle,
            None => self.hosts.entry(authority.into()).or_default(),
        };
        if idle.len() >= MAX_IDLE_PER_HOST {
            idle.pop_front();
        }
        idle.push_back(Idle { conn, since: now });
    }

    /// Drops every idle connection that is too old or not quiet (its peer closed it: a killed
    /// instance's sockets would sit in CLOSE_WAIT), and forgets hosts left with none (a gone
    /// pod's address); how many connections it dropped.
    pub(super) fn sweep(&mut self, now: Instant) -> usize {
        let mut dropped = 0;
        self.hosts.retain(|_, idle| {
            let before = idle.len();
            idle.retain_mut(|i| now.duration_since(i.since) <= IDLE_TIMEOUT && quiet(&i.conn));
            dropped += before - idle.len();
            !idle.is_empty()
        });
        dropped
    }

    /// Idle connections to `authority`.
    #[cfg(test)]
    pub(super) fn idle(&self, authority: &str) -> usize {
        self.hosts.get(authority).map_or(0, VecDeque::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    /// A client connection and the server's end of it.
    async fn pair() -> (Conn, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let conn = Conn {
            stream,
            buf: BytesMut::new(),
        };
        (conn, server)
    }

    /// Polls until `conn` is no longer quiet (what arrives takes a moment on loopback too).
    async fn until_not_quiet(conn: &Conn) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while quiet(conn) {
            assert!(Instant::now() < deadline, "still quiet after 5 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_connection_with_a_stray_byte_or_a_close_waiting_is_not_taken() {
        let mut pool = Pool::default();
        let (silent, _server_a) = pair().await;
        let (stray, mut server_b) = pair().await;
        let (closed, server_c) = pair().await;
        server_b.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        drop(server_c);
        until_not_quiet(&stray).await;
        until_not_quiet(&closed).await;
        assert!(quiet(&silent));
        let now = Instant::now();
        for conn in [silent, stray, closed] {
            pool.put("h:1", conn, now);
        }
        // the most recent first: the closed one and the stray one are dropped, the silent one
        // is taken
        let taken = pool.take("h:1", now).expect("the silent connection");
        assert!(quiet(&taken));
        assert_eq!(pool.idle("h:1"), 0);
        assert!(pool.take("h:1", now).is_none());
    }

    #[tokio::test]
    async fn an_idle_connection_does_not_keep_a_grown_buffer() {
        let mut pool = Pool::default();
        let (mut conn, _server) = pair().await;
        conn.buf.reserve(1 << 20);
        pool.put("h:1", conn, Instant::now());
        let taken = pool.take("h:1", Instant::now()).expect("kept");
        assert!(
            taken.buf.capacity() <= MAX_IDLE_BUFFER,
            "{}",
            taken.buf.capacity()
        );
    }

    #[tokio::test]
    async fn a_sweep_drops_closed_and_old_connections_and_empty_hosts() {
        let mut pool = Pool::default();
        let (silent, _server_a) = pair().await;
        let (closed, server_b) = pair().await;
        let (old, _server_c) = pair().await;
        drop(server_b);
        until_not_quiet(&closed).await;
        let now = Instant::now();
        pool.put("live:1", silent, now);
        pool.put("gone:1", closed, now);
        pool.put("old:1", old, now - IDLE_TIMEOUT - Duration::from_secs(1));
        assert_eq!(pool.sweep(now), 2);
        assert_eq!(pool.idle("live:1"), 1);
        assert_eq!(
            pool.hosts.len(),
            1,
            "hosts with no connection left are forgotten"
        );
    }
}
