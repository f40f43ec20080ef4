//! A keep-alive HTTP client for tests that reads every answer whole.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as Pool;
use hyper_util::rt::TokioExecutor;

/// How long a test waits for any one answer before it fails.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// An answer, read whole.
#[derive(Clone, Debug)]
pub struct Reply {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
    /// From sending the request to the last byte of the body.
    pub elapsed: Duration,
}

impl Reply {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of the cookie `name` this answer sets (`Set-Cookie`), if it sets one.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next()?.split_once('='))
            .find(|(n, _)| n.trim() == name)
            .map(|(_, value)| value.trim().to_owned())
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A pooled HTTP/1.1 client, as a browser keeps connections.
#[derive(Clone)]
pub struct Client {
    pool: Pool<HttpConnector, Full<Bytes>>,
}

impl Default for Client {
    fn default() -> Self {
        Client {
            pool: Pool::builder(TokioExecutor::new()).build_http(),
        }
    }
}

/// Why a request got no answer at all.
pub type Error = hyper_util::client::legacy::Error;

impl Client {
    /// `GET url`, read whole; `Err` when no answer comes (refused, reset): for tests that
    /// expect a server to be gone.
    ///
    /// # Errors
    /// When the connection fails or breaks before the whole answer.
    pub async fn get(&self, url: &str) -> Result<Reply, Error> {
        let req = Request::get(url)
            .body(Full::new(Bytes::new()))
            .expect("valid request");
        let start = Instant::now();
        let resp = self.pool.request(req).await?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
            elapsed: start.elapsed(),
        })
    }

    /// Sends `method url` with `headers` and `body`, and reads the whole answer; panics when
    /// there is none within [`ANSWER_TIMEOUT`].
    pub async fn request(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body.into())).expect("valid request");
        let start = Instant::now();
        let resp = tokio::time::timeout(ANSWER_TIMEOUT, self.pool.request(req))
            .await
            .unwrap_or_else(|_| panic!("no answer from {url} within {ANSWER_TIMEOUT:?}"))
            .unwrap_or_else(|e| panic!("the request to {url} failed: {e}"));
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("the whole body").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
            elapsed: start.elapsed(),
        }
    }
}

/// One server under test: its base URL and a client, so a test names only the path.
#[derive(Clone)]
pub struct Site {
    /// `http://host:port`, no trailing slash.
    pub base: String,
    /// The keep-alive client the requests go through.
    pub client: Client,
}

impl Site {
    /// The server at `base` (`http://host:port`).
    pub fn new(base: impl Into<String>) -> Self {
        Site {
            base: base.into(),
            client: Client::default(),
        }
    }

    /// Sends `method path` with `headers` and `body`, and reads the whole answer; panics when
    /// there is none within [`ANSWER_TIMEOUT`].
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl AsRef<[u8]>,
    ) -> Reply {
        let body = Bytes::copy_from_slice(body.as_ref());
        self.client
            .request(method, &format!("{}{path}", self.base), headers, body)
            .await
    }
}
