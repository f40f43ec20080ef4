//! The same exchange as [`super::exchange`], through hyper's own HTTP/1 client connection
//! (`hyper::client::conn::http1`): hyper frames the request and parses the answer, and its
//! connection future is polled on the task that asked, beside the answer, so there is no
//! spawned task and no cross-task wake-up (what made hyper-util's pooled client cost a tenth of
//! superpower's CPU). The A/B of the two (`--client own|hyper`, `bench/run.sh`) decides which
//! one superpower keeps.
//!
//! While a connection sits in the pool nobody polls it; when it is taken it is polled once
//! ([`HyperConn::quiet`]): hyper then reads what came meanwhile, and a close, or bytes no
//! request asked for, end its connection future — that connection is not used.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use http::header::HOST;
use http::{HeaderValue, Uri};
use http_body_util::Full;
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::exchange::{Answer, Failure, Request, MAX_HEAD_BYTES};

type Connection = http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

/// A hyper client connection: what sends requests, and the future that does its I/O.
pub(super) struct HyperConn {
    sender: http1::SendRequest<Full<Bytes>>,
    conn: Pin<Box<Connection>>,
    /// The connection future has ended (closed, or an error): not reusable.
    ended: bool,
}

impl HyperConn {
    /// A connection over `stream` (connected).
    ///
    /// # Errors
    /// [`Failure::Broken`] when hyper refuses the handshake.
    pub(super) async fn new(stream: TcpStream) -> Result<Self, Failure> {
        let (sender, conn) = http1::Builder::new()
            .max_buf_size(MAX_HEAD_BYTES.max(8 * 1024))
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::Broken(format!("handshake: {e}")))?;
        Ok(HyperConn {
            sender,
            conn: Box::pin(conn),
            ended: false,
        })
    }

    /// Polls the connection future once: false when it has ended (the peer closed it, or sent
    /// bytes no request asked for) or cannot take a request.
    pub(super) fn quiet(&mut self) -> bool {
        if self.ended {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        if self.conn.as_mut().poll(&mut cx).is_ready() {
            self.ended = true;
            return false;
        }
        self.sender.is_ready()
    }

    /// Polls the connection future (its I/O), remembering when it ends.
    fn drive(&mut self, cx: &mut Context<'_>) {
        if !self.ended && self.conn.as_mut().poll(cx).is_ready() {
            self.ended = true;
        }
    }
}

/// Sends `req` on `hc` and reads the answer, at most `limit` bytes of body; the connection is
/// driven on this task.
///
/// # Errors
/// As [`super::exchange::exchange`]: [`Failure::Closed`] when nothing of an answer came (the
/// connection had ended), [`Failure::Broken`] for a broken answer, [`Failure::TooLarge`].
pub(super) async fn exchange(
    hc: &mut HyperConn,
    req: &Request<'_>,
    limit: usize,
) -> Result<Answer, Failure> {
    let request = build(req)?;
    let mut answer = std::pin::pin!(hc.sender.send_request(request));
    let response = poll_fn(|cx| {
        hc.drive(cx);
        match answer.as_mut().poll(cx) {
            Poll::Ready(Ok(response)) => Poll::Ready(Ok(response)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(Some(e))),
            Poll::Pending if hc.ended => Poll::Ready(Err(None)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
    let response = match response {
        Ok(response) => response,
        Err(Some(e)) if e.is_canceled() || e.is_closed() => {
            return Err(Failure::Closed(format!("the connection closed: {e}")))
        }
        Err(Some(e)) => return Err(Failure::Broken(format!("the answer: {e}"))),
        Err(None) => return Err(Failure::Closed("the connection ended".into())),
    };
    let (parts, body) = response.into_parts();
    let body = read_body(hc, body, limit).await?;
    // the connection is reusable when hyper keeps it: its future still runs, ready for more
    let reusable = !hc.ended && hc.sender.is_ready();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
        reusable,
    })
}

/// The hyper request of `req`: origin-form target, `Host`, its headers and body.
fn build(req: &Request<'_>) -> Result<http::Request<Full<Bytes>>, Failure> {
    let bad = |e: &dyn std::fmt::Display| Failure::Broken(format!("bad request: {e}"));
    let uri: Uri = req.target.parse().map_err(|e| bad(&e))?;
    let mut request = http::Request::new(Full::new(Bytes::copy_from_slice(req.body)));
    *request.method_mut() = req.method.clone();
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(
        HOST,
        HeaderValue::from_str(req.authority).map_err(|e| bad(&e))?,
    );
    for (name, value) in req.headers {
        headers.append(name.clone(), value.clone());
    }
    Ok(request)
}

/// The whole body, at most `limit` bytes, the connection driven while it comes.
async fn read_body(hc: &mut HyperConn, mut body: Incoming, limit: usize) -> Result<Bytes, Failure> {
    // a Content-Length over the limit is refused before any of the body is read
    if usize::try_from(body.size_hint().lower()).map_or(true, |n| n > limit) {
        return Err(Failure::TooLarge(limit));
    }
    // a body that comes as one frame is that frame's bytes, not a copy
    let mut first: Option<Bytes> = None;
    let mut more = BytesMut::new();
    loop {
        let frame = poll_fn(|cx| {
            hc.drive(cx);
            Pin::new(&mut body).poll_frame(cx)
        })
        .await;
        match frame {
            None => {
                return Ok(match first {
                    Some(only) if more.is_empty() => only,
                    _ => more.freeze(),
                })
            }
            Some(Err(e)) => return Err(Failure::Broken(format!("the body: {e}"))),
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue; // trailers
                };
                let so_far = first.as_ref().map_or(0, Bytes::len) + more.len();
                if so_far + data.len() > limit {
                    return Err(Failure::TooLarge(limit));
                }
                match first.take() {
                    None if more.is_empty() => first = Some(data),
                    Some(earlier) => {
                        more.extend_from_slice(&earlier);
                        more.extend_from_slice(&data);
                    }
                    None => more.extend_from_slice(&data),
                }
            }
        }
    }
}
