//! The HTTP/1.1 client superpower uses to call powersource: keep-alive connections pooled per
//! thread, a timeout per call and a cap on the body size.
//!
//! The exchange runs on the task that makes the call: the request is written and the answer
//! read on that task, with no connection task in between. hyper-util's pooled client (what this
//! replaced) runs every connection as a task of its own and hands each request to it and the
//! answer back through channels, checked out of a pool behind a mutex: two task wake-ups and
//! two channel hand-offs per call, which made up about a tenth of superpower's CPU per request
//! under load (perf, `bench/run.sh`). Parsing stays with `httparse`, hyper's parser.
//!
//! The pools are per thread: with one runtime per worker thread ([`crate::workers`]) a
//! connection made on a thread is registered with that thread's reactor, so it is only ever
//! used there. A pooled connection with a byte or a close waiting is not taken (a stray answer
//! would be read as the next call's); one its peer closes just as it is taken is noticed when the
//! request on it gets no answer at all, and the request then goes once more on a fresh
//! connection. The powersource client ([`Backend::for_powersource`]) also serves no answer that
//! does not name the request it was sent for.

mod exchange;
mod pool;

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use service::api::TARGET_HEADER;
use thread_local::ThreadLocal;
use tokio::net::TcpStream;

use crate::fleet::Outcome;
use exchange::{exchange, Answer, Failure, MAX_HEAD_BYTES};
use pool::{Conn, Pool};

/// The memory calls in flight may read into at most, process-wide: each call reserves its
/// worst case (its body limit and [`MAX_HEAD_BYTES`]) before it starts, and waits while the
/// reservations in flight would pass this (within its timeout). A character's call reserves
/// 80 KiB (some 200 at once), an image's 6 MiB (2 at once): what a hostile or slow powersource
/// can make superpower hold is bounded, whatever the number of requests.
pub const CALL_BUDGET_BYTES: usize = 16 * 1024 * 1024;

/// How often each thread's idle connections are swept ([`Backend::sweep_until`]).
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The original demo's connect timeout, used when tight deadlines are off.
const LOOSE_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// What a call can end with, besides an HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No connection could be made (refused, unreachable, connect timeout).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// No complete answer within the timeout.
    #[error("timed out")]
    Timeout,
    /// The peer broke the protocol or the connection mid-answer.
    #[error("bad answer: {0}")]
    Protocol(String),
    /// The body was over the size the caller allows.
    #[error("answer over {0} bytes")]
    TooLarge(usize),
}

impl CallError {
    /// Connection errors and timeouts eject the instance from the ring (passive health check);
    /// a broken answer does not, as the instance is there.
    pub fn ejects(&self) -> bool {
        matches!(self, CallError::Connect(_) | CallError::Timeout)
    }

    /// The `outcome` label of the call metric.
    pub fn outcome(&self) -> Outcome {
        match self {
            CallError::Connect(_) => Outcome::ConnectError,
            CallError::Timeout => Outcome::Timeout,
            CallError::Protocol(_) | CallError::TooLarge(_) => Outcome::Error,
        }
    }
}

impl From<Failure> for CallError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Closed(m) | Failure::Broken(m) => CallError::Protocol(m),
            Failure::TooLarge(n) => CallError::TooLarge(n),
        }
    }
}

/// A complete answer.
#[derive(Clone, Debug)]
pub struct Reply {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

impl From<Answer> for Reply {
    fn from(a: Answer) -> Self {
        Reply {
            status: a.status,
            headers: a.headers,
            body: a.body,
        }
    }
}

/// The client: each thread's idle connections, and the tight connect timeout (deadlines on;
/// with them off, the original demo's 2 s).
#[derive(Clone)]
pub struct Backend {
    connect_timeout: Duration,
    pools: Arc<ThreadLocal<RefCell<Pool>>>,
    /// [`CALL_BUDGET_BYTES`], in KiB, and its size.
    budget: Arc<tokio::sync::Semaphore>,
    budget_kib: usize,
    /// Every answer must name the request it is for (powersource's [`TARGET_HEADER`]).
    check_target: bool,
}

/// One call: what to send where.
struct Call<'a> {
    method: &'a Method,
    /// `http://host:port`, optionally with a path prefix.
    base: &'a str,
    path: &'a str,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

impl Backend {
    /// A client whose tight connect timeout is `connect_timeout`.
    pub fn new(connect_timeout: Duration) -> Self {
        Backend {
            connect_timeout,
            pools: Arc::new(ThreadLocal::new()),
            budget: Arc::new(tokio::sync::Semaphore::new(kib(CALL_BUDGET_BYTES))),
            budget_kib: kib(CALL_BUDGET_BYTES),
            check_target: false,
        }
    }

    /// The client for powersource: an answer that does not name the request it was asked
    /// (powersource's [`TARGET_HEADER`], the request target echoed) is not served: its
    /// connection is dropped (whatever it delivers next is one answer behind) and the call fails
    /// with [`CallError::Protocol`], so the router tries the next instance. This is what keeps
    /// a connection that delivers a stray answer (a duplicate, a body longer than its
    /// `Content-Length`) from handing one user's character to the next user.
    pub fn for_powersource(connect_timeout: Duration) -> Self {
        Backend {
            check_target: true,
            ..Backend::new(connect_timeout)
        }
    }

    /// This client with a call budget of `bytes` instead of [`CALL_BUDGET_BYTES`].
    #[must_use]
    pub fn with_budget(self, bytes: usize) -> Self {
        Backend {
            budget: Arc::new(tokio::sync::Semaphore::new(kib(bytes))),
            budget_kib: kib(bytes),
            ..self
        }
    }

    /// `GET base + path`, the whole answer within `timeout`, the body at most `limit` bytes.
    ///
    /// # Errors
    /// See [`CallError`].
    pub async fn get(
        &self,
        base: &str,
        path: &str,
        timeout: Duration,
        tight: bool,
        limit: usize,
    ) -> Result<Reply, CallError> {
        self.get_with(base, path, &HeaderMap::new(), timeout, tight, limit)
            .await
    }

    /// [`Backend::get`] with request `headers` (an `If-None-Match`, say).
    ///
    /// # Errors
    /// See [`CallError`].
    pub async fn get_with(
        &self,
        base: &str,
        path: &str,
        headers: &HeaderMap,
        timeout: Duration,
        tight: bool,
        limit: usize,
    ) -> Result<Reply, CallError> {
        self.get_until(base, path, headers, Instant::now() + timeout, tight, limit)
            .await
    }

    /// [`Backend::get_with`], the whole answer by `until` (a caller that has read the clock
    /// passes its deadline: no other clock read).
    ///
    /// # Errors
    /// See [`CallError`].
    pub async fn get_until(
        &self,
        base: &str,
        path: &str,
        headers: &HeaderMap,
        until: Instant,
        tight: bool,
        limit: usize,
    ) -> Result<Reply, CallError> {
        let call = Call {
            method: &Method::GET,
            base,
            path,
            headers,
            body: &[],
        };
        within_at(until, self.call(&call, tight, limit)).await
    }

    /// Sends `req` (any method, with its body; its URI absolute: `http://host:port/path`), the
    /// whole answer within `timeout`, the body at most `limit` bytes.
    ///
    /// # Errors
    /// See [`CallError`].
    pub async fn send(
        &self,
        req: Request<Full<Bytes>>,
        timeout: Duration,
        tight: bool,
        limit: usize,
    ) -> Result<Reply, CallError> {
        let (parts, body) = req.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(never) => match never {},
        };
        let uri = &parts.uri;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(CallError::Protocol(format!("not an absolute URI: {uri}")));
        };
        let base = format!("{scheme}://{authority}");
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let call = Call {
            method: &parts.method,
            base: &base,
            path,
            headers: &parts.headers,
            body: &body,
        };
        within_at(Instant::now() + timeout, self.call(&call, tight, limit)).await
    }

    /// The call on a pooled connection if there is one (once more on a fresh one when the
    /// pooled one turns out closed), else on a fresh one.
    async fn call(&self, call: &Call<'_>, tight: bool, limit: usize) -> Result<Reply, CallError> {
        let (authority, prefix) = split_base(call.base)?;
        // the worst this call can read, reserved for as long as it runs (a call larger than
        // the whole budget takes all of it)
        let want = kib(limit.saturating_add(MAX_HEAD_BYTES)).min(self.budget_kib);
        let _reserved = self
            .budget
            .acquire_many(u32::try_from(want).unwrap_or(u32::MAX))
            .await
            .map_err(|_| CallError::Protocol("the call budget is closed".into()))?;
        let target;
        let target = if prefix.is_empty() {
            call.path
        } else {
            target = format!("{prefix}{}", call.path);
            &target
        };
        let req = exchange::Request {
            method: call.method,
            authority,
            target,
            headers: call.headers,
            body: call.body,
        };
        let pooled = self.pools().borrow_mut().take(authority, Instant::now());
        if let Some(mut conn) = pooled {
            match exchange(&mut conn.stream, &mut conn.buf, &req, limit).await {
                Ok(answer) => return self.keep(authority, conn, answer, call.path),
                // closed by the peer while it sat idle: not an answer from the instance
                Err(Failure::Closed(_)) => {}
                Err(other) => return Err(other.into()),
            }
        }
        let mut conn = Conn {
            stream: self.connect(authority, tight).await?,
            buf: BytesMut::new(),
        };
        let answer = exchange(&mut conn.stream, &mut conn.buf, &req, limit).await?;
        self.keep(authority, conn, answer, call.path)
    }

    /// The answer, if it is for `target` (when this client checks); `conn` pooled when the
    /// answer is and leaves it reusable.
    fn keep(
        &self,
        authority: &str,
        conn: Conn,
        answer: Answer,
        target: &str,
    ) -> Result<Reply, CallError> {
        if self.check_target {
            let named = answer
                .headers
                .get(&TARGET_HEADER)
                .map(HeaderValue::as_bytes);
            if named != Some(target.as_bytes()) {
                drop(conn);
                return Err(CallError::Protocol(match named {
                    Some(other) => format!(
                        "an answer for another request ({:?}) on the connection: dropped",
                        String::from_utf8_lossy(&other[..other.len().min(80)])
                    ),
                    None => format!("the answer does not name its request ({TARGET_HEADER})"),
                }));
            }
        }
        if answer.reusable {
            self.pools()
                .borrow_mut()
                .put(authority, conn, Instant::now());
        }
        Ok(answer.into())
    }

    /// Closes this thread's idle connections that are too old or that their peer closed (a
    /// killed instance's), every [`SWEEP_INTERVAL`] until `stop`: the pools are per thread, so
    /// each runtime that makes calls runs one of these (the main runtime and every worker).
    pub async fn sweep_until(self, stop: tokio_util::sync::CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(SWEEP_INTERVAL) => {}
            }
            self.pools().borrow_mut().sweep(Instant::now());
        }
    }

    /// This thread's pools (never borrowed across an `await`).
    fn pools(&self) -> &RefCell<Pool> {
        self.pools.get_or_default()
    }

    /// Idle connections to `authority` in this thread's pool.
    #[cfg(test)]
    fn idle(&self, authority: &str) -> usize {
        self.pools().borrow().idle(authority)
    }

    async fn connect(&self, authority: &str, tight: bool) -> Result<TcpStream, CallError> {
        let timeout = if tight {
            self.connect_timeout
        } else {
            LOOSE_CONNECT_TIMEOUT
        };
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(authority)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(CallError::Connect(format!("{authority}: {e}"))),
            Err(_) => {
                return Err(CallError::Connect(format!(
                    "{authority}: no connection within {} ms",
                    timeout.as_millis()
                )))
            }
        };
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }
}

/// The answer bytes `answer` read as the answer to `GET /` (`HEAD /` when `head`) over an
/// in-memory connection that delivers `piece` bytes a read and then ends: the client's whole
/// parsing path (interim answers, head, framing, body, reuse), without a socket. The answer and
/// whether the connection would be reused. The fuzz target `client_answer` runs it.
///
/// # Errors
/// As a call's: [`CallError::Protocol`] for a broken or closed answer, [`CallError::TooLarge`].
pub fn replay(
    answer: &[u8],
    piece: usize,
    head: bool,
    limit: usize,
) -> Result<(Reply, bool), CallError> {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    // reads give one piece each, then the end; writes go nowhere
    let pieces = answer.chunks(piece.max(1)).map(Ok::<_, std::io::Error>);
    let mut io = tokio::io::join(
        tokio_util::io::StreamReader::new(futures_util::stream::iter(pieces)),
        tokio::io::sink(),
    );
    let method = if head { Method::HEAD } else { Method::GET };
    let req = exchange::Request {
        method: &method,
        authority: "replay",
        target: "/",
        headers: &HeaderMap::new(),
        body: &[],
    };
    let mut buf = BytesMut::new();
    let fut = std::pin::pin!(exchange(&mut io, &mut buf, &req, limit));
    // every read and write is ready at once: the exchange ends in one poll
    match fut.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(answer)) => {
            let reusable = answer.reusable;
            Ok((answer.into(), reusable))
        }
        Poll::Ready(Err(e)) => Err(e.into()),
        Poll::Pending => Err(CallError::Protocol("the replay waited".into())),
    }
}

/// `bytes` in KiB, rounded up (the unit of the call budget's permits).
fn kib(bytes: usize) -> usize {
    bytes.div_ceil(1024)
}

/// `fut` by `until`, else [`CallError::Timeout`].
async fn within_at(
    until: Instant,
    fut: impl std::future::Future<Output = Result<Reply, CallError>>,
) -> Result<Reply, CallError> {
    tokio::time::timeout_at(until.into(), fut)
        .await
        .unwrap_or(Err(CallError::Timeout))
}

/// `http://host:port[/prefix]` as (`host:port`, `/prefix`).
fn split_base(base: &str) -> Result<(&str, &str), CallError> {
    let Some(rest) = base.strip_prefix("http://") else {
        return Err(CallError::Protocol(format!(
            "only http:// instances are supported, not {base}"
        )));
    };
    let (authority, prefix) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    if authority.is_empty() {
        return Err(CallError::Protocol(format!("no host in {base}")));
    }
    Ok((authority, prefix.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

    /// A real TCP server that answers each request on a connection with `answer`, closing the
    /// connection after `per_connection` answers; counts the connections it accepted and
    /// keeps the last request it read.
    async fn server(
        answer: &'static [u8],
        per_connection: usize,
    ) -> (String, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let last = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (a, l) = (accepted.clone(), last.clone());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                let l = l.clone();
                tokio::spawn(async move {
                    for _ in 0..per_connection {
                        let mut req = vec![0u8; 8192];
                        let Ok(n) = sock.read(&mut req).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        *l.lock().unwrap() = req[..n].to_vec();
                        if sock.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (base, accepted, last)
    }

    const SECOND: Duration = Duration::from_secs(1);

    /// What a hostile server answers to one request: `now`, then (once it is written) `late`,
    /// the test told when `late` is out.
    struct Step {
        now: Vec<u8>,
        late: Vec<u8>,
    }

    fn step(now: impl AsRef<[u8]>) -> Step {
        Step {
            now: now.as_ref().to_vec(),
            late: Vec::new(),
        }
    }

    fn late(now: impl AsRef<[u8]>, late: impl AsRef<[u8]>) -> Step {
        Step {
            now: now.as_ref().to_vec(),
            late: late.as_ref().to_vec(),
        }
    }

    /// A real TCP server answering its i-th request (over all connections) with `steps[i]` (the
    /// last repeated); counts connections, and sends `()` each time a late part is out.
    async fn hostile(
        steps: Vec<Step>,
    ) -> (
        String,
        Arc<AtomicUsize>,
        tokio::sync::mpsc::UnboundedReceiver<()>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let steps = Arc::new(steps);
        let (a, asked) = (accepted.clone(), Arc::new(AtomicUsize::new(0)));
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                let (steps, tx, asked) = (steps.clone(), tx.clone(), asked.clone());
                tokio::spawn(async move {
                    let mut req = vec![0u8; 8192];
                    loop {
                        match sock.read(&mut req).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        let i = asked.fetch_add(1, Ordering::SeqCst);
                        let s = &steps[i.min(steps.len() - 1)];
                        if sock.write_all(&s.now).await.is_err() {
                            return;
                        }
                        if !s.late.is_empty() {
                            tokio::task::yield_now().await;
                            if sock.write_all(&s.late).await.is_err() {
                                return;
                            }
                            let _ = tx.send(());
                        }
                    }
                });
            }
        });
        (base, accepted, rx)
    }

    const SECOND_ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nsecond";

    fn backend() -> Backend {
        Backend::new(Duration::from_millis(200))
    }

    #[tokio::test]
    async fn calls_reuse_one_keep_alive_connection() {
        let (base, accepted, _) = server(OK, usize::MAX).await;
        let b = backend();
        for _ in 0..5 {
            let reply = b.get(&base, "/health", SECOND, true, 64).await.unwrap();
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(&reply.body[..], b"ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        let authority = base.trim_start_matches("http://");
        assert_eq!(b.idle(authority), 1);
    }

    #[tokio::test]
    async fn a_pooled_connection_the_peer_closed_is_replaced_without_an_error() {
        // one answer per connection, then the server closes it (without saying so)
        let (base, accepted, _) = server(OK, 1).await;
        let b = backend();
        for _ in 0..4 {
            let reply = b.get(&base, "/x", SECOND, true, 64).await.unwrap();
            assert_eq!(&reply.body[..], b"ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn the_powersource_client_serves_only_an_answer_that_names_its_request() {
        let (base, accepted, _) = server(
            b"HTTP/1.1 200 OK\r\nx-powersource-target: /x\r\ncontent-length: 2\r\n\r\nok",
            100,
        )
        .await;
        let authority = base.trim_start_matches("http://").to_owned();
        let b = Backend::for_powersource(Duration::from_millis(200));
        let reply = b.get(&base, "/x", SECOND, true, 64).await.unwrap();
        assert_eq!(&reply.body[..], b"ok");
        assert_eq!(b.idle(&authority), 1, "kept");
        // the same answer to another request: refused, and its connection dropped
        let err = b.get(&base, "/y", SECOND, true, 64).await.unwrap_err();
        assert!(matches!(err, CallError::Protocol(_)), "{err}");
        assert!(err.to_string().contains("another request"), "{err}");
        assert!(!err.ejects());
        assert_eq!(b.idle(&authority), 0, "dropped");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        // an answer that names no request: refused too
        let (bare, _, _) = server(OK, 100).await;
        let err = b.get(&bare, "/x", SECOND, true, 64).await.unwrap_err();
        assert!(
            err.to_string().contains("does not name its request"),
            "{err}"
        );
        // a client that does not check (the peers') takes it
        assert!(backend().get(&bare, "/x", SECOND, true, 64).await.is_ok());
    }

    #[tokio::test]
    async fn an_answer_that_says_close_is_not_pooled() {
        let (base, accepted, _) = server(
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
            1,
        )
        .await;
        let b = backend();
        b.get(&base, "/x", SECOND, true, 64).await.unwrap();
        b.get(&base, "/x", SECOND, true, 64).await.unwrap();
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(b.idle(base.trim_start_matches("http://")), 0);
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error_that_ejects() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let err = backend()
            .get(&base, "/x", SECOND, true, 64)
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::Connect(_)), "{err}");
        assert!(err.ejects());
        assert_eq!(err.outcome(), Outcome::ConnectError);
    }

    #[tokio::test]
    async fn a_peer_that_never_answers_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hold = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(sock);
        });
        let t0 = Instant::now();
        let err = backend()
            .get(&base, "/x", Duration::from_millis(100), true, 64)
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::Timeout), "{err}");
        assert!(t0.elapsed() < Duration::from_secs(1));
        hold.abort();
    }

    #[tokio::test]
    async fn a_broken_answer_is_a_protocol_error_that_does_not_eject() {
        let (base, _, _) = server(b"HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\n", 1).await;
        let err = backend()
            .get(&base, "/x", SECOND, true, 64)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, CallError::Protocol(m) if m.contains("content-length")),
            "{err}"
        );
        assert!(!err.ejects());
        let (base, _, _) = server(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n", 1).await;
        let err = backend()
            .get(&base, "/x", SECOND, true, 64)
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::TooLarge(64)), "{err}");
    }

    #[tokio::test]
    async fn send_carries_the_method_headers_and_body() {
        let (base, _, last) = server(b"HTTP/1.1 204 No Content\r\n\r\n", usize::MAX).await;
        let req = Request::put(format!("{base}/admin/faults"))
            .header("authorization", "Bearer t")
            .body(Full::new(Bytes::from_static(b"{\"latency_ms\":5}")))
            .unwrap();
        let reply = backend().send(req, SECOND, true, 64).await.unwrap();
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        let sent = String::from_utf8(last.lock().unwrap().clone()).unwrap();
        assert!(sent.starts_with("PUT /admin/faults HTTP/1.1\r\n"), "{sent}");
        assert!(sent.contains("authorization: Bearer t\r\n"), "{sent}");
        assert!(
            sent.ends_with("content-length: 16\r\n\r\n{\"latency_ms\":5}"),
            "{sent}"
        );
    }

    #[tokio::test]
    async fn a_base_with_a_path_prefix_and_bad_bases() {
        let (base, _, last) = server(OK, usize::MAX).await;
        backend()
            .get(&format!("{base}/v1/"), "/health", SECOND, true, 64)
            .await
            .unwrap();
        assert!(last
            .lock()
            .unwrap()
            .starts_with(b"GET /v1/health HTTP/1.1\r\n"));
        for bad in ["https://h:1", "h:1", "http://", "http:///x"] {
            let err = backend()
                .get(bad, "/x", SECOND, true, 64)
                .await
                .unwrap_err();
            assert!(matches!(err, CallError::Protocol(_)), "{bad}: {err}");
        }
    }

    #[tokio::test]
    async fn interim_answers_are_skipped() {
        let (base, accepted, _) = hostile(vec![step(
            [
                &b"HTTP/1.1 100 Continue\r\n\r\n"[..],
                b"HTTP/1.1 103 Early Hints\r\nlink: </s.css>; rel=preload\r\n\r\n",
                OK,
            ]
            .concat(),
        )])
        .await;
        let b = backend();
        for _ in 0..3 {
            let reply = b.get(&base, "/x", SECOND, true, 64).await.unwrap();
            assert_eq!(
                (reply.status, &reply.body[..]),
                (StatusCode::OK, &b"ok"[..])
            );
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "the connection kept");
    }

    #[tokio::test]
    async fn a_304_whose_body_comes_late_leaves_the_next_call_whole() {
        for stray in [
            &b"ok"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstray",
        ] {
            let (base, _, mut out) = hostile(vec![
                late(
                    b"HTTP/1.1 304 Not Modified\r\netag: \"a\"\r\ncontent-length: 2\r\n\r\n",
                    stray,
                ),
                step(SECOND_ANSWER),
            ])
            .await;
            let b = backend();
            let reply = b.get(&base, "/x", SECOND, true, 64).await.unwrap();
            assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
            assert!(reply.body.is_empty());
            out.recv().await.unwrap();
            // the stray bytes wait on the connection: it is not used again
            let reply = b.get(&base, "/x", SECOND, true, 64).await.unwrap();
            assert_eq!(
                (reply.status, &reply.body[..]),
                (StatusCode::OK, &b"second"[..]),
                "{:?}",
                String::from_utf8_lossy(stray)
            );
        }
    }

    #[tokio::test]
    async fn a_head_over_the_limit_is_refused_however_it_arrives() {
        let big = format!(
            "HTTP/1.1 200 OK\r\nx-big: {}\r\ncontent-length: 2\r\n\r\nok",
            "a".repeat(100_000)
        );
        let (base, _, _) = hostile(vec![step(big)]).await;
        let b = backend();
        for _ in 0..12 {
            match b.get(&base, "/x", SECOND, true, 64).await {
                Err(err) => assert!(matches!(err, CallError::Protocol(_)), "{err}"),
                Ok(r) => panic!("taken: {} with {} headers", r.status, r.headers.len()),
            }
        }
    }

    #[tokio::test]
    async fn chunk_sizes_are_read_strictly() {
        for good in ["2", "02", "2;name=value"] {
            let answer = format!(
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{good}\r\nok\r\n0\r\n\r\n"
            );
            let (base, _, _) = hostile(vec![step(answer)]).await;
            let reply = backend().get(&base, "/x", SECOND, true, 64).await;
            assert_eq!(
                reply.map(|r| r.body).ok().as_deref(),
                Some(&b"ok"[..]),
                "{good:?}"
            );
        }
        for bad in [
            "+2",
            " 2",
            "0x2",
            "-2",
            "2 2",
            "",
            "g",
            "ffffffffffffffffff",
        ] {
            let answer = format!(
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{bad}\r\nok\r\n0\r\n\r\n"
            );
            let (base, _, _) = hostile(vec![step(answer)]).await;
            let err = backend()
                .get(&base, "/x", SECOND, true, 64)
                .await
                .unwrap_err();
            assert!(matches!(err, CallError::Protocol(_)), "{bad:?}: {err}");
        }
    }

    #[tokio::test]
    async fn only_a_lone_chunked_coding_is_taken() {
        // transfer codings other than chunked (never asked for), a second
        // Transfer-Encoding line, or one beside Content-Length: refused, the
        // connection dropped, the next call whole
        for te in [
            "transfer-encoding: gzip\r\ntransfer-encoding: chunked\r\n",
            "transfer-encoding: chunked\r\ntransfer-encoding: gzip\r\n",
            "transfer-encoding: gzip, chunked\r\n",
            "transfer-encoding: chunked\r\ncontent-length: 5\r\n",
            "content-length: 5\r\ntransfer-encoding: chunked\r\n",
        ] {
            let answer = format!("HTTP/1.1 200 OK\r\n{te}\r\n2\r\nok\r\n0\r\n\r\n");
            let (base, accepted, _) = hostile(vec![step(answer), step(SECOND_ANSWER)]).await;
            let b = backend();
            let err = b.get(&base, "/x", SECOND, true, 64).await.unwrap_err();
            assert!(matches!(err, CallError::Protocol(_)), "{te:?}: {err}");
            let reply = b.get(&base, "/x", SECOND, true, 64).await.unwrap();
            assert_eq!(
                &reply.body[..],
                b"second",
                "{te:?}: a fresh connection's first answer"
            );
            assert_eq!(accepted.load(Ordering::SeqCst), 2, "{te:?}");
        }
    }

    #[test]
    fn a_replayed_answer_reads_the_same_however_it_is_split() {
        let answer = b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
        for piece in [1, 2, 7, 4096] {
            let (reply, reusable) = replay(answer, piece, false, 64).unwrap();
            assert_eq!(
                (reply.status, &reply.body[..], reusable),
                (StatusCode::OK, &b"ok"[..], true),
                "{piece}"
            );
        }
        let (reply, reusable) =
            replay(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n", 3, true, 64).unwrap();
        assert!(
            reply.body.is_empty() && reusable,
            "a HEAD's answer has no body"
        );
        assert!(matches!(
            replay(b"HTTP/1.1 200 OK\r\n\r\nabc", 1, false, 2),
            Err(CallError::TooLarge(2))
        ));
    }

    #[tokio::test]
    async fn calls_wait_while_the_budget_is_reserved_by_others() {
        // a peer that takes a request and never answers holds the one call the budget allows
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent = format!("http://{}", listener.local_addr().unwrap());
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        let (quick, _, _) = server(OK, usize::MAX).await;
        let b = backend().with_budget(64 + MAX_HEAD_BYTES);
        let first = {
            let b = b.clone();
            let silent = silent.clone();
            tokio::spawn(async move { b.get(&silent, "/x", SECOND, true, 64).await })
        };
        // poll until the first call holds the whole budget
        let t0 = Instant::now();
        while b.budget.available_permits() > 0 {
            assert!(t0.elapsed() < SECOND, "the first call never reserved");
            tokio::task::yield_now().await;
        }
        let err = b
            .get(&quick, "/x", Duration::from_millis(200), true, 64)
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::Timeout), "{err}");
        // the first one times out and gives its reservation back
        assert!(matches!(first.await.unwrap(), Err(CallError::Timeout)));
        let reply = b.get(&quick, "/x", SECOND, true, 64).await.unwrap();
        assert_eq!(&reply.body[..], b"ok");
        hold.abort();
    }
}
