//! Asking superpower: a pooled keep-alive client, like a browser's, and one GET per user with
//! their cookie, timed and turned into an [`Observation`]. With `TRACEPARENT` (and
//! `TRACESTATE`) in the environment — W3C trace context, as the experiments' tracing control
//! sets it for the activity running the probe — every request carries them, so superpower's
//! spans join the experiment's trace.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ACCEPT, COOKIE, SET_COOKIE};
use http::{Request, StatusCode, Uri};
use http_body_util::Empty;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::{Deserialize, Serialize, Serializer};

use service::telemetry::error_chain;

use service::promise::ID_COOKIE as COOKIE_NAME;
use service::promise::LAST_COOKIE;

/// Largest answer the probe reads: a character's JSON is well under a kilobyte.
const BODY_LIMIT: usize = 64 * 1024;

/// The probe's HTTP client (bodiless GETs).
pub type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// What one user's request ended with.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The user's cookie value.
    pub id: String,
    /// From sending the request to the end of the body (or to the failure).
    pub latency: Duration,
    /// The answer or the failure.
    pub outcome: Outcome,
}

/// The answer to one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A 2xx JSON character.
    Answer {
        /// The character's name.
        name: String,
        /// The character's image URL.
        image_url: Option<String>,
        /// superpower answered the user's last known superpower (no instance answered).
        degraded: bool,
        /// The `superpower_last` cookie this answer set, if it set one.
        last: Option<String>,
    },
    /// No usable answer.
    Failed(AskError),
}

/// Why a request got no usable answer. The `Display` form is the human line's reason; the
/// `Serialize` form is the `reason` field (snake case) and the variant's fields of a `failed`
/// problem in the probe's `--json` output.
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum AskError {
    /// Could not connect at all: superpower is not there (the first request stops the probe).
    #[error(transparent)]
    Unreachable(Unreachable),
    /// No complete answer within the limit (promise 2).
    #[error("no answer within {limit_ms} ms")]
    Timeout {
        /// The limit.
        limit_ms: u64,
    },
    /// The request could not be made (an id or URL that is not a valid header or URI).
    #[error("cannot build the request: {cause}")]
    Build {
        /// Why.
        cause: String,
    },
    /// The connection failed after it was made (reset, closed, protocol error).
    #[error("request failed: {cause}")]
    Request {
        /// The error's chain.
        cause: String,
    },
    /// The body broke off or was over the probe's limit.
    #[error("answer cut short: {cause}")]
    CutShort {
        /// Why.
        cause: String,
    },
    /// A non-2xx answer, such as the 503 of a request that no instance answered.
    #[error("HTTP {status}: {body}")]
    Status {
        /// The status.
        #[serde(serialize_with = "status_code")]
        status: StatusCode,
        /// The start of the body (200 bytes at most, newlines as spaces).
        body: String,
    },
    /// superpower set another `superpower_id`: it did not accept the user's, who lost their
    /// identity.
    #[error("superpower replaced the identity cookie with {new_id}")]
    IdentityReplaced {
        /// The cookie value superpower set instead.
        new_id: String,
    },
    /// A 2xx answer that is not superpower's JSON character.
    #[error("answer is not superpower's JSON ({cause})")]
    NotJson {
        /// The parse error.
        cause: String,
    },
}

/// superpower is not there: a connection to it could not be made.
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize)]
#[error("cannot reach superpower at {url} ({cause})")]
pub struct Unreachable {
    /// The URL asked.
    pub url: String,
    /// The connection error's chain.
    pub cause: String,
}

/// A status as its number: `503`.
fn status_code<S: Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

/// A pooled keep-alive client, like a browser's, that gives up connecting after `limit`.
pub fn client(limit: Duration) -> HttpClient {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(limit));
    http.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .build(http)
}

/// The part of superpower's JSON answer the probe reads.
#[derive(Deserialize)]
struct Answer {
    name: String,
    #[serde(default)]
    image_url: Option<String>,
    #[serde(default)]
    degraded: bool,
}

/// GETs the page as JSON with the user's cookies (the identity, and the signed last known
/// superpower when the user has one), all of it within `limit`.
pub async fn ask(
    client: &HttpClient,
    uri: &Uri,
    id: &str,
    last: Option<&str>,
    limit: Duration,
) -> Observation {
    let started = Instant::now();
    let outcome = match tokio::time::timeout(limit, fetch(client, uri, id, last)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Failed(AskError::Timeout {
            limit_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
        }),
    };
    Observation {
        id: id.to_owned(),
        latency: started.elapsed(),
        outcome,
    }
}

/// One GET, without the time limit.
async fn fetch(client: &HttpClient, uri: &Uri, id: &str, last: Option<&str>) -> Outcome {
    match try_fetch(client, uri, id, last).await {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Failed(e),
    }
}

/// The trace-context headers from `TRACEPARENT` and `TRACESTATE`, read once; a value that
/// cannot be a header is left out.
fn trace_context() -> &'static [(HeaderName, HeaderValue)] {
    static HEADERS: OnceLock<Vec<(HeaderName, HeaderValue)>> = OnceLock::new();
    HEADERS.get_or_init(|| {
        [("TRACEPARENT", "traceparent"), ("TRACESTATE", "tracestate")]
            .into_iter()
            .filter_map(|(var, name)| {
                let value = HeaderValue::from_str(std::env::var(var).ok()?.trim()).ok()?;
                Some((HeaderName::from_static(name), value))
            })
            .collect()
    })
}

async fn try_fetch(
    client: &HttpClient,
    uri: &Uri,
    id: &str,
    last: Option<&str>,
) -> Result<Outcome, AskError> {
    let cookies = match last {
        Some(last) => format!("{COOKIE_NAME}={id}; {LAST_COOKIE}={last}"),
        None => format!("{COOKIE_NAME}={id}"),
    };
    let mut req = Request::get(uri.clone())
        .header(ACCEPT, "application/json")
        .header(COOKIE, cookies);
    for (name, value) in trace_context() {
        req = req.header(name, value);
    }
    let req = req.body(Empty::new()).map_err(|e| AskError::Build {
        cause: e.to_string(),
    })?;
    let resp = client.request(req).await.map_err(|e| {
        if e.is_connect() {
            AskError::Unreachable(Unreachable {
                url: uri.to_string(),
                cause: error_chain(&e),
            })
        } else {
            AskError::Request {
                cause: error_chain(&e),
            }
        }
    })?;
    let (parts, body) = resp.into_parts();
    let body = service::http::body::read_limited(body, BODY_LIMIT)
        .await
        .map_err(|e| AskError::CutShort {
            cause: e.to_string(),
        })?;
    if !parts.status.is_success() {
        return Err(AskError::Status {
            status: parts.status,
            body: String::from_utf8_lossy(&body[..body.len().min(200)]).replace('\n', " "),
        });
    }
    let set: Vec<cookie::Cookie<'_>> = parts
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| cookie::Cookie::parse(v).ok())
        .collect();
    // superpower sets the identity only when it did not accept ours: the user lost their identity.
    let replaced = set
        .iter()
        .find(|c| c.name() == COOKIE_NAME && c.value() != id);
    let new_last = set
        .iter()
        .find(|c| c.name() == LAST_COOKIE)
        .map(|c| c.value().to_owned());
    if let Some(c) = replaced {
        return Err(AskError::IdentityReplaced {
            new_id: c.value().to_owned(),
        });
    }
    let a: Answer = serde_json::from_slice(&body).map_err(|e| AskError::NotJson {
        cause: e.to_string(),
    })?;
    Ok(Outcome::Answer {
        name: a.name,
        image_url: a.image_url,
        degraded: a.degraded,
        last: new_last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ask_errors_read_as_before_and_serialize_with_their_reason() {
        let cases = [
            (
                AskError::Status {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    body: "no instance".into(),
                },
                "HTTP 503 Service Unavailable: no instance",
                serde_json::json!({"reason": "status", "status": 503, "body": "no instance"}),
            ),
            (
                AskError::Timeout { limit_ms: 1000 },
                "no answer within 1000 ms",
                serde_json::json!({"reason": "timeout", "limit_ms": 1000}),
            ),
            (
                AskError::IdentityReplaced {
                    new_id: "abc".into(),
                },
                "superpower replaced the identity cookie with abc",
                serde_json::json!({"reason": "identity_replaced", "new_id": "abc"}),
            ),
            (
                AskError::Unreachable(Unreachable {
                    url: "http://127.0.0.1:1/".into(),
                    cause: "refused".into(),
                }),
                "cannot reach superpower at http://127.0.0.1:1/ (refused)",
                serde_json::json!({"reason": "unreachable", "url": "http://127.0.0.1:1/", "cause": "refused"}),
            ),
        ];
        for (error, text, json) in cases {
            assert_eq!(error.to_string(), text);
            assert_eq!(serde_json::to_value(&error).unwrap(), json);
        }
    }
}
