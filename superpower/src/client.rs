//! The HTTP client superpower uses to call powersource: pooled keep-alive connections
//! (hyper-util's client), a timeout per call and a cap on the body size.
//!
//! The pools are per thread: a connection's task runs on the runtime of the thread that made it,
//! so with one runtime per worker thread ([`crate::workers`]) a request only ever uses
//! connections driven by its own thread (no cross-thread wake-up per call).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use service::http::body::{read_limited, BodyError};
use service::telemetry::error_chain;

use crate::fleet::Outcome;
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use thread_local::ThreadLocal;

type Inner = Client<HttpConnector, Full<Bytes>>;

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

/// Two pools per thread: one with a tight connect timeout (deadlines on), one with the original
/// demo's 2 s connect timeout (deadlines off).
#[derive(Clone)]
pub struct Backend {
    connect_timeout: Duration,
    pools: Arc<ThreadLocal<Pools>>,
}

/// One thread's pools.
struct Pools {
    tight: Inner,
    loose: Inner,
}

impl Backend {
    /// Makes the pools (each thread's when it first calls); `connect_timeout` is the tight one.
    pub fn new(connect_timeout: Duration) -> Self {
        Backend {
            connect_timeout,
            pools: Arc::new(ThreadLocal::new()),
        }
    }

    /// This thread's pools.
    fn pools(&self) -> &Pools {
        self.pools.get_or(|| Pools {
            tight: pool(self.connect_timeout),
            loose: pool(Duration::from_secs(2)),
        })
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
        let uri: Uri = format!("{base}{path}")
            .parse()
            .map_err(|e| CallError::Protocol(format!("bad uri: {e}")))?;
        let mut req = Request::get(uri)
            .body(Full::default())
            .map_err(|e| CallError::Protocol(e.to_string()))?;
        req.headers_mut().extend(headers.clone());
        self.send(req, timeout, tight, limit).await
    }

    /// Sends `req` (any method, with its body), the whole answer within `timeout`, the body at
    /// most `limit` bytes.
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
        let pools = self.pools();
        let client = if tight { &pools.tight } else { &pools.loose };
        let call = async {
            let resp = client.request(req).await.map_err(|e| {
                if e.is_connect() {
                    CallError::Connect(error_chain(&e))
                } else {
                    CallError::Protocol(error_chain(&e))
                }
            })?;
            let (parts, body) = resp.into_parts();
            let body = read_limited(body, limit).await.map_err(|e| match e {
                BodyError::TooLarge(n) => CallError::TooLarge(n),
                BodyError::Read(m) => CallError::Protocol(m),
                BodyError::Timeout(_) => CallError::Timeout,
            })?;
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(timeout, call)
            .await
            .unwrap_or(Err(CallError::Timeout))
    }
}

fn pool(connect_timeout: Duration) -> Inner {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    http.enforce_http(true);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .build(http)
}
