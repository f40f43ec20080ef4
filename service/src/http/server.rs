//! The accept loop both services run: one task per connection, HTTP/1.1 keep-alive, a bound on
//! header size and header read time, a bound on how long a client may stop reading its answer
//! (`client_timeout`: then the connection closes and its slot of `max_connections` is free), an
//! access-log line and a latency sample per request, a server span per request when traces are
//! on ([`crate::traces`]), and a graceful drain on shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::body::{error_json, Body, Response, RouteLabel};
use super::idle::{self, Activity};
use super::stall::StallTimeout;
use crate::log_format::{cut_path, ACCESS_TARGET};
use crate::traces;

/// How a service is served.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Headers added to every response that its handler did not set (for example
    /// `X-Powersource-Instance`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// A connection with no request for this long is closed: one that sends nothing, trickles a
    /// head that never completes, or sits idle between requests (checked lazily, once per half
    /// of it: closed between 1 and 1.5 times it after the last request or answer byte).
    pub header_read_timeout: Duration,
    /// On shutdown, in-flight requests get this long to finish.
    pub drain_timeout: Duration,
    /// Connections served at once. Past it a connection is still accepted, as one of
    /// [`SPARE_CONNECTIONS`]: it gets `/live` and `/health` answered (probes keep working at the
    /// limit) and any other request a 503 that closes it; past those too, it is closed at once.
    pub max_connections: usize,
    /// The permits of `max_connections` when several accept loops share one limit (superpower's
    /// workers); `None`: this loop's own.
    pub permits: Option<Arc<Semaphore>>,
    /// A client that accepts no byte of an answer for this long (it stopped reading) has its
    /// connection closed, so it cannot hold one of the `max_connections` forever.
    pub client_timeout: Duration,
    /// Largest request head accepted (hyper answers 431 past it).
    pub max_header_bytes: usize,
    /// The route template of a path, used only for requests the client abandons before the
    /// handler answers (so no response carries a [`RouteLabel`]): they are still counted, with
    /// status `499`, so that the latency histogram does not hide the slowest requests.
    pub route_of: fn(&str) -> &'static str,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            headers: Vec::new(),
            header_read_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(10),
            max_connections: crate::config::DEFAULT_MAX_CONNECTIONS,
            permits: None,
            client_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            route_of: |_| "unmatched",
        }
    }
}

/// Serves `handler` on `listener` until `shutdown` resolves, then stops accepting and waits up
/// to `drain_timeout` for in-flight requests.
///
/// The listener is bound by the caller, so tests bind port 0 and know the address before the
/// server runs. Per-connection errors are logged, never propagated.
pub async fn serve<H, Fut>(
    listener: TcpListener,
    options: ServeOptions,
    handler: H,
    shutdown: impl Future<Output = ()>,
) where
    H: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let handler = Arc::new(handler);
    let options = Arc::new(options);
    let permits = options
        .permits
        .clone()
        .unwrap_or_else(|| Arc::new(Semaphore::new(options.max_connections)));
    let spare = Arc::new(Semaphore::new(SPARE_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    // hyper's header read timeout would arm a timer per request: the bound is `idle`'s instead
    builder
        .header_read_timeout(None)
        .max_buf_size(options.max_header_bytes.max(8192))
        .keep_alive(true);
    tokio::pin!(shutdown);

    let mut spare_builder = builder.clone();
    spare_builder.keep_alive(false);

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(err) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::default());
        let io = TokioIo::new(StallTimeout::new(
            stream,
            options.client_timeout,
            activity.clone(),
        ));
        // a slot of `max_connections`, else a spare one (probes only), else none: closed at
        // once (dropped)
        let (permit, spare_slot) = if let Ok(p) = permits.clone().try_acquire_owned() {
            (p, false)
        } else if let Ok(p) = spare.clone().try_acquire_owned() {
            (p, true)
        } else {
            continue;
        };
        let head_timeout = if spare_slot {
            SPARE_HEAD_TIMEOUT
        } else {
            options.header_read_timeout
        };
        let quiet = idle::quiet_for(activity.clone(), head_timeout);
        let (handler, opts) = (handler.clone(), options.clone());
        let service = service_fn(move |req: Request<Incoming>| {
            let (handler, opts) = (handler.clone(), opts.clone());
            let working = activity.request();
            async move {
                let resp = if spare_slot && !is_probe(&req) {
                    observe(req, &|_| async { busy() }, &opts).await
                } else {
                    observe(req, &*handler, &opts).await
                };
                drop(working);
                Ok::<_, Infallible>(resp)
            }
        });
        let conn = if spare_slot {
            spare_builder.serve_connection(io, service)
        } else {
            builder.serve_connection(io, service)
        };
        run(graceful.watch(conn), quiet, permit, peer);
    }

    drop(listener);
    tracing::info!(
        drain_timeout_ms = options.drain_timeout.as_millis() as u64,
        "draining connections"
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(options.drain_timeout) => {
            tracing::warn!("drain timed out; closing remaining connections");
        }
    }
}

/// Serves one connection on its own task, holding `permit` until it ends or `quiet` resolves
/// (no request for the header read timeout: the connection is dropped, so closed).
fn run<C>(
    conn: C,
    quiet: impl Future<Output = ()> + Send + 'static,
    permit: OwnedSemaphorePermit,
    peer: std::net::SocketAddr,
) where
    C: Future<Output = Result<(), hyper::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        tokio::select! {
            ended = conn => if let Err(err) = ended {
                tracing::debug!(%peer, %err, "connection ended with an error");
            },
            () = quiet => tracing::debug!(%peer, "connection closed: no request within the header read timeout"),
        }
        drop(permit);
    });
}

/// Connections accepted past `max_connections`, each for probes only ([`ServeOptions`]).
pub const SPARE_CONNECTIONS: usize = 64;

/// How long a spare connection may take to send its request head.
const SPARE_HEAD_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether `req` is a probe a spare connection answers: `GET` or `HEAD` of `/live` or `/health`.
fn is_probe(req: &Request<Incoming>) -> bool {
    matches!(*req.method(), Method::GET | Method::HEAD)
        && matches!(req.uri().path(), "/live" | "/health")
}

/// The answer past the connection limit: 503, the connection closed after it.
fn busy() -> Response {
    let mut resp = error_json(
        StatusCode::SERVICE_UNAVAILABLE,
        "at the connection limit (--max-connections): try again",
    );
    resp.headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Runs one request through the handler, then records the latency histogram and the access log.
/// A request the client abandons (hyper drops this future) is recorded when it is dropped.
///
/// `HEAD` is answered here, once for both services (RFC 9110 §9.3.2: wherever `GET` is): the
/// handler sees a `GET`, and the answer keeps its status and headers, `Content-Length` included,
/// without the body. The access log and the metrics still say `HEAD`.
async fn observe<H, Fut>(
    mut req: Request<Incoming>,
    handler: &H,
    options: &ServeOptions,
) -> Response
where
    H: Fn(Request<Incoming>) -> Fut,
    Fut: Future<Output = Response>,
{
    let head = req.method() == Method::HEAD;
    let path = req.uri().path();
    let method = method_label(req.method());
    let route_hint = (options.route_of)(path);
    let mut pending = Pending {
        start: Instant::now(),
        method,
        route_hint,
        // the URI's bytes are shared (hyper parsed them out of its read buffer): a reference
        // count, not a copy of the path
        uri: req.uri().clone(),
        span: traces::server_span(method, route_hint, path, req.headers()),
        done: false,
    };
    if head {
        *req.method_mut() = Method::GET;
    }
    let mut resp = if pending.span.is_none() {
        handler(req).await
    } else {
        traces::within(&pending.span, handler(req)).await
    };
    if head {
        resp = without_body(resp);
    }
    for (name, value) in &options.headers {
        resp.headers_mut()
            .entry(name)
            .or_insert_with(|| value.clone());
    }
    let route = resp
        .extensions()
        .get::<RouteLabel>()
        .map_or("unmatched", |r| r.0);
    pending.finish(route, resp.status().as_u16());
    resp
}

/// The answer to a `HEAD`: the `GET` answer's status and headers, with the `Content-Length` of
/// its body (when the answer has one: a 304 has none) and no body.
fn without_body(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let length = http_body::Body::size_hint(&body).exact();
    if let Some(length) = length {
        if !parts.headers.contains_key(CONTENT_LENGTH) && parts.status != StatusCode::NOT_MODIFIED {
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(length));
        }
    }
    Response::from_parts(parts, Body::default())
}

/// One request being answered; records itself once, when finished or dropped.
struct Pending {
    start: Instant,
    method: &'static str,
    route_hint: &'static str,
    /// The request's URI: its path (at most 200 bytes of it) goes in the access line.
    uri: http::Uri,
    /// The server span (none when traces are off).
    span: traces::TraceSpan,
    done: bool,
}

/// nginx's status for "the client closed the connection before the answer".
const CLIENT_CLOSED: u16 = 499;

impl Pending {
    fn finish(&mut self, route: &'static str, status: u16) {
        self.done = true;
        let elapsed = self.start.elapsed();
        crate::metrics::record_http_request(
            self.method,
            route,
            status_label(status),
            elapsed.as_secs_f64(),
        );
        traces::record_response(&self.span, route, status);
        let trace_id = self.span.trace_id();
        tracing::info!(
            target: ACCESS_TARGET,
            method = self.method,
            // `%`: the pretty format shows the path unquoted, as it always has
            path = %cut_path(self.uri.path()),
            route,
            status,
            duration_us = elapsed.as_micros() as u64,
            trace_id = trace_id.as_deref(),
        );
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            self.finish(self.route_hint, CLIENT_CLOSED);
        }
    }
}

/// Label values must stay a small set: unknown methods become `OTHER`.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

fn status_label(status: u16) -> &'static str {
    const LABELS: [&str; 6] = ["0", "1xx", "2xx", "3xx", "4xx", "5xx"];
    match status {
        200 => "200",
        304 => "304",
        400 => "400",
        401 => "401",
        404 => "404",
        405 => "405",
        499 => "499",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        s => LABELS[usize::from(s / 100).min(5)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_abandoned_request_is_still_counted_as_499() {
        use tokio::io::AsyncWriteExt;
        let handle = crate::metrics::install();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (seen_tx, seen_rx) = tokio::sync::oneshot::channel::<()>();
        let seen_tx = std::sync::Mutex::new(Some(seen_tx));
        let options = ServeOptions {
            route_of: |_| "/abandoned-test",
            ..ServeOptions::default()
        };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            options,
            move |_req| {
                if let Some(tx) = seen_tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
                std::future::pending::<Response>()
            },
            async move {
                let _ = stop_rx.await;
            },
        ));
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        client
            .write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        seen_rx.await.unwrap();
        drop(client);
        let line = "route=\"/abandoned-test\",status=\"499\"";
        let deadline = Instant::now() + Duration::from_secs(5);
        while !handle
            .render()
            .lines()
            .any(|l| l.contains(line) && l.contains("_count"))
        {
            assert!(
                Instant::now() < deadline,
                "the abandoned request was not recorded"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = stop_tx.send(());
        server.await.unwrap();
    }

    /// Reads from `client` until it is closed; how long that took.
    async fn closed_after(client: &mut tokio::net::TcpStream) -> Duration {
        use tokio::io::AsyncReadExt;
        let started = Instant::now();
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), client.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => return started.elapsed(),
                Ok(Ok(_)) => {}
                Err(_) => panic!("still open after 10 s"),
            }
        }
    }

    #[tokio::test]
    async fn a_connection_without_a_request_is_closed_after_the_header_read_timeout() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let timeout = Duration::from_millis(400);
        let options = ServeOptions {
            header_read_timeout: timeout,
            ..ServeOptions::default()
        };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            options,
            |_req| async { super::super::body::full(StatusCode::OK, "text/plain", "ok") },
            async move {
                let _ = stop_rx.await;
            },
        ));
        // a head that never completes, however slowly it keeps coming
        let mut trickle = tokio::net::TcpStream::connect(addr).await.unwrap();
        let started = Instant::now();
        let trickling = async {
            trickle.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            for i in 0.. {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if trickle
                    .write_all(format!("x{i}: y\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    break;
                }
                let mut b = [0u8; 1];
                if let Ok(Ok(0) | Err(_)) =
                    tokio::time::timeout(Duration::from_millis(1), trickle.read(&mut b)).await
                {
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(10), "never cut");
            }
            started.elapsed()
        };
        let cut = trickling.await;
        assert!(cut >= timeout, "cut after {cut:?}");
        // an idle keep-alive connection, after an answer
        let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        idle.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let waited = closed_after(&mut idle).await;
        assert!(waited >= timeout, "closed after {waited:?}");
        assert!(waited < timeout * 4, "closed after {waited:?}");
        let _ = stop_tx.send(());
        server.await.unwrap();
    }

    #[test]
    fn labels_stay_bounded() {
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "OTHER");
        assert_eq!(status_label(200), "200");
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(999), "5xx");
        assert_eq!(crate::log_format::truncate("ééé", 3), "é");
        assert_eq!(
            cut_path(&"/x".repeat(500)).len(),
            crate::log_format::PATH_BYTES
        );
    }
}
