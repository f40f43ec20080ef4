//! One request and its answer on one HTTP/1.1 connection: the request written in one `write`,
//! the answer's head parsed with `httparse`, its body framed by `Content-Length`, `chunked`
//! or the end of the connection, at most `limit` bytes of it read.
//!
//! Strict where a lenient reading could hand one answer's bytes to the next request (RFC 9112):
//! a head over [`MAX_HEAD_BYTES`] is refused however it arrives; interim answers (1xx) are
//! skipped, at most [`MAX_INTERIM`] of them, and `101` refused (no upgrade is ever asked for);
//! a `Transfer-Encoding` is taken only as `chunked` alone, over all its lines, and never beside a
//! `Content-Length`; a chunk size is hex digits only (no sign, no `0x`, no leading space), at most
//! 15 of them. A chunked body is decoded as it arrives, each chunk once.
//!
//! The exchange runs on the task that asked (see [`super`] for why), so a dropped call (its
//! timeout, a hedge that lost) drops the connection with it: a connection goes back to the pool
//! only after a complete answer that leaves it reusable.

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use service::api::{INSTANCE_HEADER, TARGET_HEADER};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Headers an answer may carry at most.
const MAX_HEADERS: usize = 64;
/// Bytes an answer's head (status line and headers) may take at most.
pub(super) const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Free space kept in the read buffer before each read.
const READ_SPACE: usize = 8 * 1024;
/// Interim (1xx) answers skipped before an answer at most.
pub(super) const MAX_INTERIM: usize = 8;
/// Bytes a chunk-size line, or a trailer line, may take at most.
const MAX_CHUNK_LINE: usize = 4096;

/// A request to write.
pub(super) struct Request<'a> {
    pub method: &'a Method,
    /// `host:port`, sent as `Host`.
    pub authority: &'a str,
    /// The origin-form target (`/assignments/…`).
    pub target: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// A complete answer.
#[derive(Debug)]
pub(super) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The connection can carry another request (keep-alive, nothing left over).
    pub reusable: bool,
}

/// Why an exchange gave no answer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// The connection was closed or reset before any byte of an answer arrived: on a pooled
    /// connection, the peer had closed it while idle, and the request can go on a fresh one.
    Closed(String),
    /// The answer broke the protocol, or the connection broke mid-answer.
    Broken(String),
    /// The body is over this many bytes.
    TooLarge(usize),
}

/// How the body of an answer ends.
#[derive(Debug, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// Writes `req` on `io` and reads the answer into `buf` (kept with the connection, so its
/// memory is reused).
///
/// # Errors
/// See [`Failure`].
pub(super) async fn exchange<S>(
    io: &mut S,
    buf: &mut BytesMut,
    req: &Request<'_>,
    limit: usize,
) -> Result<Answer, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut out = Vec::with_capacity(128 + req.target.len() + req.body.len());
    encode(req, &mut out)?;
    io.write_all(&out)
        .await
        .map_err(|e| Failure::Closed(format!("sending the request: {e}")))?;

    buf.clear();
    let head_request = *req.method == Method::HEAD;
    let mut interim = 0;
    let head = loop {
        if let Some(head) = parse_head(buf, head_request)? {
            if !head.status.is_informational() {
                break head;
            }
            // a 100 Continue or a 103 Early Hints: skipped, the answer follows (RFC 9110 §15.2)
            interim += 1;
            if interim > MAX_INTERIM {
                return Err(Failure::Broken(format!(
                    "over {MAX_INTERIM} interim answers"
                )));
            }
            continue;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(Failure::Broken(format!(
                "answer head over {MAX_HEAD_BYTES} bytes"
            )));
        }
        // after an interim answer, a close is in the middle of the answer
        let empty = buf.is_empty() && interim == 0;
        match fill(io, buf).await {
            Ok(0) if empty => return Err(Failure::Closed("closed before answering".into())),
            Ok(0) => {
                return Err(Failure::Broken(
                    "closed in the middle of the answer head".into(),
                ))
            }
            Ok(_) => {}
            Err(e) if empty => return Err(Failure::Closed(format!("reading the answer: {e}"))),
            Err(e) => return Err(Failure::Broken(format!("reading the answer: {e}"))),
        }
    };
    let (body, clean) = match head.framing {
        Framing::Length(n) => read_length(io, buf, n, limit).await?,
        Framing::Chunked => read_chunked(io, buf, limit).await?,
        Framing::UntilClose => (read_until_close(io, buf, limit).await?, false),
    };
    Ok(Answer {
        status: head.status,
        headers: head.headers,
        body,
        reusable: head.keep_alive && clean,
    })
}

/// The request's bytes: request line, `Host`, the headers, `Content-Length` when there is a
/// body (or the method expects one), then the body.
fn encode(req: &Request<'_>, out: &mut Vec<u8>) -> Result<(), Failure> {
    if !req.target.starts_with('/') || req.target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(Failure::Broken(format!(
            "bad request target {:?}",
            req.target
        )));
    }
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(req.target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(req.authority.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in req.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let expects_body = matches!(*req.method, Method::POST | Method::PUT | Method::PATCH);
    if !req.body.is_empty() || expects_body {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(req.body.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(req.body);
    Ok(())
}

/// A parsed answer head.
#[derive(Debug)]
struct Head {
    status: StatusCode,
    headers: HeaderMap,
    framing: Framing,
    keep_alive: bool,
}

/// The head, once `buf` holds all of it (`head_request`: the answer to a `HEAD`, no body): it
/// is cut off the front of `buf`, and the header values share its bytes (no copy).
fn parse_head(buf: &mut BytesMut, head_request: bool) -> Result<Option<Head>, Failure> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut slots);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(Failure::Broken(format!("malformed answer head: {e}"))),
    };
    // the whole head may have come in one read: its size is checked here too
    if len > MAX_HEAD_BYTES {
        return Err(Failure::Broken(format!(
            "answer head of {len} bytes, over {MAX_HEAD_BYTES}"
        )));
    }
    let code = resp.code.unwrap_or(0);
    let status = StatusCode::from_u16(code)
        .map_err(|_| Failure::Broken(format!("bad status code {code}")))?;
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Err(Failure::Broken(
            "101 Switching Protocols, but no upgrade was asked for".into(),
        ));
    }
    if status.is_informational() {
        // skipped by the caller: its headers are of no use
        let _ = buf.split_to(len);
        return Ok(Some(Head {
            status,
            headers: HeaderMap::new(),
            framing: Framing::Length(0),
            keep_alive: true,
        }));
    }
    // where each name and value lies in `buf` (httparse's slices borrow it)
    let mut spans = [[0usize; 4]; MAX_HEADERS];
    let start = buf.as_ptr() as usize;
    let count = resp.headers.len();
    for (h, span) in resp.headers.iter().zip(spans.iter_mut()) {
        let name = h.name.as_ptr() as usize - start;
        let value = h.value.as_ptr() as usize - start;
        *span = [name, name + h.name.len(), value, value + h.value.len()];
    }
    let http11 = resp.version == Some(1);
    let raw = buf.split_to(len).freeze();
    let mut headers = HeaderMap::with_capacity(count);
    for &[name_from, name_to, value_from, value_to] in &spans[..count] {
        let name = header_name(&raw[name_from..name_to])?;
        let value = HeaderValue::from_maybe_shared(raw.slice(value_from..value_to))
            .map_err(|_| Failure::Broken(format!("bad value of header {name}")))?;
        headers.append(name, value);
    }
    let framing = if head_request {
        Framing::Length(0)
    } else {
        framing(status, &headers)?
    };
    let keep_alive = match headers.get(CONNECTION).map(HeaderValue::as_bytes) {
        Some(v) if has_token(v, b"close") => false,
        Some(v) if has_token(v, b"keep-alive") => true,
        _ => http11,
    };
    Ok(Some(Head {
        status,
        headers,
        framing,
        keep_alive,
    }))
}

/// The name of a header of an answer: powersource's own names are the shared constants (a
/// name `http` does not know is otherwise copied on every answer).
fn header_name(name: &[u8]) -> Result<HeaderName, Failure> {
    for known in [&INSTANCE_HEADER, &TARGET_HEADER] {
        if name.eq_ignore_ascii_case(known.as_str().as_bytes()) {
            return Ok(known.clone());
        }
    }
    HeaderName::from_bytes(name).map_err(|_| {
        Failure::Broken(format!(
            "bad header name {:?}",
            String::from_utf8_lossy(&name[..name.len().min(64)])
        ))
    })
}

/// How the body ends (RFC 9112 §6.3): none for 204 and 304; `chunked` when that is the one
/// transfer coding (all `Transfer-Encoding` lines read) and no `Content-Length` comes with it;
/// else `Content-Length`; else the end of the connection. Any other transfer coding is refused:
/// superpower never asks for one (no `TE`), and guessing a framing is how answers get mixed.
fn framing(status: StatusCode, headers: &HeaderMap) -> Result<Framing, Failure> {
    if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return Ok(Framing::Length(0));
    }
    if headers.contains_key(TRANSFER_ENCODING) {
        let codings = headers
            .get_all(TRANSFER_ENCODING)
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .map(<[u8]>::trim_ascii)
            .filter(|c| !c.is_empty());
        let (mut count, mut chunked) = (0, false);
        for coding in codings {
            count += 1;
            chunked = coding.eq_ignore_ascii_case(b"chunked");
        }
        if count != 1 || !chunked {
            let lines: Vec<_> = headers
                .get_all(TRANSFER_ENCODING)
                .iter()
                .map(|v| String::from_utf8_lossy(&v.as_bytes()[..v.len().min(64)]).into_owned())
                .collect();
            return Err(Failure::Broken(format!(
                "transfer-encoding {lines:?}: only chunked alone is read"
            )));
        }
        if headers.contains_key(CONTENT_LENGTH) {
            return Err(Failure::Broken(
                "transfer-encoding with content-length (a sign of response splitting)".into(),
            ));
        }
        return Ok(Framing::Chunked);
    }
    let mut length = None;
    for v in headers.get_all(CONTENT_LENGTH) {
        let n = std::str::from_utf8(v.as_bytes())
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| Failure::Broken("bad content-length".into()))?;
        if length.is_some_and(|m| m != n) {
            return Err(Failure::Broken("conflicting content-lengths".into()));
        }
        length = Some(n);
    }
    Ok(length.map_or(Framing::UntilClose, Framing::Length))
}

/// Whether the comma-separated header value `v` has `token` (case-insensitive).
fn has_token(v: &[u8], token: &[u8]) -> bool {
    v.split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// Reads more into `buf`, keeping [`READ_SPACE`] free.
async fn fill<S: AsyncRead + Unpin>(io: &mut S, buf: &mut BytesMut) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < READ_SPACE {
        buf.reserve(READ_SPACE);
    }
    io.read_buf(buf).await
}

/// A body of `n` bytes; whether nothing followed it.
async fn read_length<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut BytesMut,
    n: usize,
    limit: usize,
) -> Result<(Bytes, bool), Failure> {
    if n > limit {
        return Err(Failure::TooLarge(limit));
    }
    if buf.len() < n {
        buf.reserve(n - buf.len());
    }
    while buf.len() < n {
        more_body(io.read_buf(buf).await)?;
    }
    let body = buf.split_to(n).freeze();
    Ok((body, buf.is_empty()))
}

/// A body up to the end of the connection.
async fn read_until_close<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut BytesMut,
    limit: usize,
) -> Result<Bytes, Failure> {
    loop {
        if buf.len() > limit {
            return Err(Failure::TooLarge(limit));
        }
        match fill(io, buf).await {
            Ok(0) => return Ok(buf.split().freeze()),
            Ok(_) => {}
            Err(e) => return Err(Failure::Broken(format!("reading the body: {e}"))),
        }
    }
}

/// A `chunked` body (decoded as it arrives); whether nothing followed it.
async fn read_chunked<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut BytesMut,
    limit: usize,
) -> Result<(Bytes, bool), Failure> {
    let mut state = Chunked::default();
    loop {
        if let Some(wanted) = decode_chunks(buf, &mut state, limit)? {
            // the rest of a chunk: room for all of it at once
            if buf.capacity() < wanted {
                buf.reserve(wanted - buf.len());
            }
            more_body(fill(io, buf).await)?;
            continue;
        }
        return Ok((state.body.freeze(), buf.is_empty()));
    }
}

/// A read of a body that is not over yet: the end of the connection breaks it.
fn more_body(read: std::io::Result<usize>) -> Result<(), Failure> {
    match read {
        Ok(0) => Err(Failure::Broken("closed in the middle of the body".into())),
        Ok(_) => Ok(()),
        Err(e) => Err(Failure::Broken(format!("reading the body: {e}"))),
    }
}

/// Where the decoding of a `chunked` body stands between reads.
#[derive(Default)]
struct Chunked {
    /// The chunks' data so far.
    body: BytesMut,
    /// The last chunk came: trailer lines follow, up to an empty line.
    trailers: bool,
    /// Bytes of trailer lines so far.
    trailer_bytes: usize,
}

/// Decodes the complete chunks at the start of `buf` into `state`, taking them out of `buf`:
/// `None` once the body has ended (last chunk and trailers), else `Some(n)`: more is needed, at
/// least `n` bytes in `buf` (0 when unknown).
fn decode_chunks(
    buf: &mut BytesMut,
    state: &mut Chunked,
    limit: usize,
) -> Result<Option<usize>, Failure> {
    loop {
        let Some(line_end) = find_crlf(buf) else {
            if buf.len() > MAX_CHUNK_LINE {
                return Err(Failure::Broken(format!(
                    "chunk line over {MAX_CHUNK_LINE} bytes"
                )));
            }
            return Ok(Some(0));
        };
        if state.trailers {
            let _ = buf.split_to(line_end + 2);
            if line_end == 0 {
                return Ok(None);
            }
            state.trailer_bytes += line_end + 2;
            if state.trailer_bytes > MAX_HEAD_BYTES {
                return Err(Failure::Broken(format!(
                    "trailers over {MAX_HEAD_BYTES} bytes"
                )));
            }
            continue;
        }
        let size = chunk_size(&buf[..line_end])?;
        if size == 0 {
            let _ = buf.split_to(line_end + 2);
            state.trailers = true;
            continue;
        }
        if state.body.len() + size > limit {
            return Err(Failure::TooLarge(limit));
        }
        let data = line_end + 2;
        let end = data + size;
        if buf.len() < end + 2 {
            return Ok(Some(end + 2));
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(Failure::Broken("chunk not followed by CRLF".into()));
        }
        state.body.extend_from_slice(&buf[data..end]);
        let _ = buf.split_to(end + 2);
    }
}

/// The size of a chunk-size line (RFC 9112 §7.1): hex digits (at most 15: no overflow), then
/// optional whitespace and extensions (`;name=value`, ignored). No sign, no `0x`, nothing before
/// the digits.
fn chunk_size(line: &[u8]) -> Result<usize, Failure> {
    let digits = line
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii_end();
    let bad = || {
        Failure::Broken(format!(
            "bad chunk size line {:?}",
            String::from_utf8_lossy(&line[..line.len().min(40)])
        ))
    };
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(bad());
    }
    let digits = std::str::from_utf8(digits).map_err(|_| bad())?;
    usize::from_str_radix(digits, 16).map_err(|_| bad())
}

fn find_crlf(data: &[u8]) -> Option<usize> {
    data.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    fn get(target: &str) -> (Method, HeaderMap, String) {
        (Method::GET, HeaderMap::new(), target.to_owned())
    }

    /// Runs one exchange against a peer that reads the request and writes `answer` in
    /// `pieces` (then closes when `close`).
    async fn run(
        answer: &'static [u8],
        pieces: usize,
        close: bool,
        limit: usize,
    ) -> (Result<Answer, Failure>, Vec<u8>) {
        let (mut client, mut server) = duplex(1 << 20);
        let peer = tokio::spawn(async move {
            let mut req = vec![0u8; 4096];
            let n = server.read(&mut req).await.unwrap();
            req.truncate(n);
            let step = answer.len().div_ceil(pieces.max(1)).max(1);
            for chunk in answer.chunks(step) {
                server.write_all(chunk).await.unwrap();
                server.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
            if !close {
                // keep the connection open until the client is done
                let mut rest = [0u8; 1];
                let _ = server.read(&mut rest).await;
            }
            req
        });
        let (method, headers, target) = get("/assignments/x");
        let req = Request {
            method: &method,
            authority: "127.0.0.1:1",
            target: &target,
            headers: &headers,
            body: b"",
        };
        let mut buf = BytesMut::new();
        let answer = exchange(&mut client, &mut buf, &req, limit).await;
        drop(client);
        (answer, peer.await.unwrap())
    }

    #[tokio::test]
    async fn a_content_length_answer_in_pieces_is_whole_and_reusable() {
        let (answer, request) = run(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-powersource-instance: p1\r\ncontent-length: 11\r\n\r\n{\"id\":1010}",
            7,
            false,
            1024,
        )
        .await;
        let answer = answer.unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(&answer.body[..], b"{\"id\":1010}");
        assert_eq!(answer.headers["x-powersource-instance"], "p1");
        assert!(answer.reusable);
        assert_eq!(
            request,
            b"GET /assignments/x HTTP/1.1\r\nhost: 127.0.0.1:1\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn connection_close_and_http_1_0_are_not_reused() {
        let (answer, _) = run(
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
            1,
            true,
            1024,
        )
        .await;
        assert!(!answer.unwrap().reusable);
        let (answer, _) = run(
            b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok",
            1,
            true,
            1024,
        )
        .await;
        assert!(!answer.unwrap().reusable);
    }

    #[tokio::test]
    async fn a_chunked_answer_is_decoded() {
        let (answer, _) = run(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: y\r\n\r\n",
            9,
            false,
            1024,
        )
        .await;
        let answer = answer.unwrap();
        assert_eq!(&answer.body[..], b"hello world");
        assert!(answer.reusable);
    }

    #[tokio::test]
    async fn a_body_to_the_end_of_the_connection_is_read_and_not_reused() {
        let (answer, _) = run(b"HTTP/1.1 200 OK\r\n\r\nall of it", 3, true, 1024).await;
        let answer = answer.unwrap();
        assert_eq!(&answer.body[..], b"all of it");
        assert!(!answer.reusable);
    }

    #[tokio::test]
    async fn not_modified_has_no_body() {
        let (answer, _) = run(
            b"HTTP/1.1 304 Not Modified\r\netag: \"a\"\r\ncontent-length: 99\r\n\r\n",
            1,
            false,
            1024,
        )
        .await;
        let answer = answer.unwrap();
        assert_eq!(answer.status, StatusCode::NOT_MODIFIED);
        assert!(answer.body.is_empty());
        assert!(answer.reusable);
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        let (answer, _) = run(
            b"HTTP/1.1 200 OK\r\ncontent-length: 2000\r\n\r\n",
            1,
            false,
            1000,
        )
        .await;
        assert_eq!(answer.unwrap_err(), Failure::TooLarge(1000));
        let (answer, _) = run(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3e9\r\n",
            1,
            false,
            1000,
        )
        .await;
        assert_eq!(answer.unwrap_err(), Failure::TooLarge(1000));
        let (answer, _) = run(b"HTTP/1.1 200 OK\r\n\r\n0123456789", 1, true, 4).await;
        assert_eq!(answer.unwrap_err(), Failure::TooLarge(4));
    }

    #[tokio::test]
    async fn a_peer_that_closes_before_answering_is_closed_not_broken() {
        let (answer, _) = run(b"", 1, true, 1024).await;
        assert!(matches!(answer.unwrap_err(), Failure::Closed(_)));
        let (answer, _) = run(b"HTTP/1.1 200 OK\r\ncontent-", 1, true, 1024).await;
        assert!(matches!(answer.unwrap_err(), Failure::Broken(_)));
        let (answer, _) = run(
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
            1,
            true,
            1024,
        )
        .await;
        assert!(matches!(answer.unwrap_err(), Failure::Broken(m) if m.contains("body")));
    }

    #[test]
    fn a_chunked_body_is_decoded_as_it_arrives_each_chunk_once() {
        // two whole chunks and part of a third: the whole ones are taken out of the buffer
        let mut buf = BytesMut::from(&b"3\r\nabc\r\n3;x=y\r\ndef\r\n3\r\ngh"[..]);
        let mut state = Chunked::default();
        assert_eq!(decode_chunks(&mut buf, &mut state, 100).unwrap(), Some(8));
        assert_eq!(&state.body[..], b"abcdef");
        assert_eq!(&buf[..], b"3\r\ngh", "what was decoded is not read again");
        buf.extend_from_slice(b"i\r\n0\r\ntrailer: t\r\n");
        assert_eq!(decode_chunks(&mut buf, &mut state, 100).unwrap(), Some(0));
        assert!(buf.is_empty() && state.trailers);
        buf.extend_from_slice(b"\r\nHTTP/1.1");
        assert_eq!(decode_chunks(&mut buf, &mut state, 100).unwrap(), None);
        assert_eq!(&state.body[..], b"abcdefghi");
        assert_eq!(&buf[..], b"HTTP/1.1", "what follows the body stays");
        // the limit counts the chunks' data
        let mut state = Chunked::default();
        let mut buf = BytesMut::from(&b"8\r\n"[..]);
        assert!(matches!(
            decode_chunks(&mut buf, &mut state, 7),
            Err(Failure::TooLarge(7))
        ));
    }

    #[tokio::test]
    async fn malformed_answers_are_broken_with_a_reason() {
        for (bad, reason) in [
            (&b"SMTP ready\r\n\r\n"[..], "malformed"),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\n",
                "content-length",
            ),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
                "conflicting",
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
                "transfer-encoding",
            ),
            (b"HTTP/1.1 100 Continue\r\n\r\n", "closed in the middle"),
            (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "upgrade"),
            (
                &*Box::leak(
                    b"HTTP/1.1 100 Continue\r\n\r\n"
                        .repeat(MAX_INTERIM + 1)
                        .into_boxed_slice(),
                ),
                "interim",
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
                "chunk size",
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabX\r\n",
                "CRLF",
            ),
        ] {
            let (answer, _) = run(bad, 1, true, 1024).await;
            match answer {
                Err(Failure::Broken(m)) => assert!(m.contains(reason), "{m} for {bad:?}"),
                other => panic!("{other:?} for {bad:?}"),
            }
        }
    }

    #[tokio::test]
    async fn an_endless_head_is_refused() {
        let (mut client, mut server) = duplex(1 << 20);
        tokio::spawn(async move {
            let mut req = [0u8; 1024];
            let _ = server.read(&mut req).await;
            // one header whose value never ends
            let _ = server.write_all(b"HTTP/1.1 200 OK\r\nx-filler: ").await;
            while server.write_all(&[b'a'; 1024]).await.is_ok() {}
        });
        let (method, headers, target) = get("/x");
        let req = Request {
            method: &method,
            authority: "h:1",
            target: &target,
            headers: &headers,
            body: b"",
        };
        let mut buf = BytesMut::new();
        let err = exchange(&mut client, &mut buf, &req, 1024)
            .await
            .unwrap_err();
        assert!(matches!(err, Failure::Broken(m) if m.contains("head over")));
    }

    #[test]
    fn a_request_has_host_headers_and_a_length_for_its_body() {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_static("00-ab-cd-01"));
        let req = Request {
            method: &Method::PUT,
            authority: "10.0.0.7:6061",
            target: "/admin/faults",
            headers: &headers,
            body: b"{}",
        };
        let mut out = Vec::new();
        encode(&req, &mut out).unwrap();
        assert_eq!(
            out,
            b"PUT /admin/faults HTTP/1.1\r\nhost: 10.0.0.7:6061\r\ntraceparent: 00-ab-cd-01\r\ncontent-length: 2\r\n\r\n{}"
        );
        let delete = Request {
            method: &Method::DELETE,
            body: b"",
            ..req
        };
        out.clear();
        encode(&delete, &mut out).unwrap();
        assert!(!String::from_utf8_lossy(&out).contains("content-length"));
    }

    #[test]
    fn a_target_that_would_break_the_request_line_is_refused() {
        let headers = HeaderMap::new();
        for target in ["/a b", "/a\r\nx: y", "noslash", ""] {
            let req = Request {
                method: &Method::GET,
                authority: "h:1",
                target,
                headers: &headers,
                body: b"",
            };
            assert!(encode(&req, &mut Vec::new()).is_err(), "{target:?}");
        }
    }
}
