//! Response builders, and the `If-None-Match` check both services answer 304 with. Every
//! response is a complete body (`Full<Bytes>`): nothing superpower serves is streamed.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, IF_NONE_MATCH};
use http::HeaderMap;
use http::StatusCode;
use http_body_util::{BodyExt, Full, Limited};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The body type of every response.
pub type Body = Full<Bytes>;
/// The response type of every handler.
pub type Response = http::Response<Body>;

/// The route template that answered (`/characters/{id}`), attached to a response as an
/// extension. The server reads it for the `route` label and the access log, so that a raw path
/// never becomes a label value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteLabel(pub &'static str);

/// Attaches a [`RouteLabel`] to a response.
pub fn with_route(mut resp: Response, route: &'static str) -> Response {
    resp.extensions_mut().insert(RouteLabel(route));
    resp
}

/// Header entries a response's map is made with: superpower's answers carry eight (content
/// type, instance, cache control, vary, and the four security headers the server adds); a map
/// made empty grows (reallocates and rehashes) on the seventh.
const RESPONSE_HEADERS: usize = 12;

/// A response with a body and a content type.
pub fn full(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response {
    let mut resp = http::Response::new(Full::new(body.into()));
    *resp.headers_mut() = HeaderMap::with_capacity(RESPONSE_HEADERS);
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A JSON response. A value that cannot be serialized (a bug) answers 500 without details.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => full(status, "application/json", body),
        Err(err) => {
            tracing::error!(%err, "cannot serialize a response");
            error_json(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// The JSON body of every error answer of both services: `{"error": message, "status": code}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for users: never an internal error's text.
    pub error: String,
    /// The HTTP status, repeated for clients that only see the body.
    pub status: u16,
}

/// A JSON error ([`ErrorBody`]). The message is for users: never put an internal error's text
/// in it.
pub fn error_json(status: StatusCode, message: &str) -> Response {
    let body = ErrorBody {
        error: message.to_owned(),
        status: status.as_u16(),
    };
    let bytes = serde_json::to_vec(&body).expect("an ErrorBody always serializes");
    let mut resp = full(status, "application/json", bytes);
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A plain-text response.
pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response {
    full(status, "text/plain; charset=utf-8", body)
}

/// 404 for a path no route matches.
pub fn not_found() -> Response {
    with_route(error_json(StatusCode::NOT_FOUND, "not found"), "unmatched")
}

/// 405 with the `Allow` header.
pub fn method_not_allowed(allow: &'static str) -> Response {
    let mut resp = error_json(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    resp.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    resp
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Over the limit the route allows.
    #[error("request body over {0} bytes")]
    TooLarge(usize),
    /// The connection failed while the body was read.
    #[error("cannot read the request body: {0}")]
    Read(String),
    /// The whole body did not arrive in time ([`read_limited_within`]).
    #[error("the request body did not arrive within {} ms", .0.as_millis())]
    Timeout(Duration),
}

/// Reads a request body of at most `limit` bytes.
///
/// # Errors
/// [`BodyError::TooLarge`] past the limit, [`BodyError::Read`] when the client goes away.
pub async fn read_limited<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge(limit)),
        Err(err) => Err(BodyError::Read(err.to_string())),
    }
}

/// Parses a JSON request body that must be an object into `T`.
///
/// serde's derives accept a JSON array for a struct (its fields in order), so
/// `[100, 0, 0.5, false, null]` would pass for `{"latency_ms": 100, …}`: a body whose first
/// token is not `{` is refused before serde sees it.
///
/// # Errors
/// "expected a JSON object" for anything else, or serde's error for a bad object.
pub fn json_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    let first = body
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'{') {
        return Err(serde::de::Error::custom("expected a JSON object"));
    }
    serde_json::from_slice(body)
}

/// [`read_limited`], the whole body within `timeout`: a client that sends the head of a request
/// and then dribbles or never sends its body cannot hold a handler (and its connection) longer.
///
/// # Errors
/// As [`read_limited`], and [`BodyError::Timeout`] past the deadline.
pub async fn read_limited_within<B>(
    body: B,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    tokio::time::timeout(timeout, read_limited(body, limit))
        .await
        .unwrap_or(Err(BodyError::Timeout(timeout)))
}

/// Whether `If-None-Match` matches `etag` (weak comparison, as RFC 9110 asks for this header):
/// `*`, or any tag of the comma-separated lists equal to ours once `W/` is stripped.
pub fn if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = strip_weak(etag.to_str().unwrap_or_default());
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || (!ours.is_empty() && strip_weak(tag) == ours))
}

fn strip_weak(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

/// Never fails; named so that `service_fn` closures read clearly.
pub type NoError = Infallible;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_handles_lists_weak_tags_and_star() {
        let etag = HeaderValue::from_static("\"abc\"");
        let check = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            }
            if_none_match(&h, &etag)
        };
        assert!(check(&["\"abc\""]));
        assert!(check(&["W/\"abc\""]));
        assert!(check(&["\"x\", \"abc\""]));
        assert!(check(&["\"x\"", "\"abc\""]));
        assert!(check(&["*"]));
        assert!(!check(&["\"abcd\""]));
        assert!(!check(&["abc"]));
        assert!(!check(&[]));
    }
}
