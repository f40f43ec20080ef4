//! The HTTP client both collectors share: rustls, timeouts, and retries with exponential
//! backoff and jitter on the failures that may go away (429, 5xx, timeouts, connection errors),
//! honouring `Retry-After`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use backon::{ExponentialBuilder, Retryable};
use indicatif::ProgressBar;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use super::error::CollectError;

/// The longest `Retry-After` we honour; a server asking for more gets this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// How hard to try before giving up on one request.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// The first delay; each retry doubles it, plus random jitter.
    pub min_delay: Duration,
    /// The cap on one delay.
    pub max_delay: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
}

impl Default for RetryPolicy {
    /// 0.5 s, 1 s, 2 s … up to 30 s, 6 retries: about a minute of patience per request.
    fn default() -> Self {
        RetryPolicy {
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retries: 6,
        }
    }
}

/// Settings of the HTTP client.
#[derive(Clone, Copy, Debug)]
pub struct HttpOptions {
    /// The whole-request timeout (connect, send, read the body).
    pub timeout: Duration,
    /// Retries of failures that may go away.
    pub retry: RetryPolicy,
}

impl Default for HttpOptions {
    /// A 30 s timeout and the default [`RetryPolicy`].
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// Why one request failed, after retries.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// 429, 5xx, a timeout or a connection error: worth retrying.
    Transient {
        /// What happened, for the user.
        detail: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// Any other non-success status: retrying will not help.
    Status {
        /// The status.
        status: StatusCode,
        /// The body (the Marvel API explains itself in JSON).
        body: Vec<u8>,
    },
}

impl FetchError {
    fn is_transient(&self) -> bool {
        matches!(self, FetchError::Transient { .. })
    }

    /// One line for the user.
    pub(crate) fn detail(&self) -> String {
        match self {
            FetchError::Transient { detail, .. } => detail.clone(),
            FetchError::Status { status, .. } => format!("HTTP {status}"),
        }
    }
}

/// A reqwest client plus the retry policy and a count of retries made (for the summary).
pub(crate) struct HttpClient {
    client: reqwest::Client,
    retry: RetryPolicy,
    retries: AtomicU64,
}

impl HttpClient {
    /// A client with `options`; `concurrency` sizes the idle connection pool.
    pub(crate) fn new(options: HttpOptions, concurrency: usize) -> Result<Self, CollectError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("superpower-loader/", env!("CARGO_PKG_VERSION")))
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(concurrency.max(1))
            .build()
            .map_err(|e| CollectError::Client(e.to_string()))?;
        Ok(HttpClient {
            client,
            retry: options.retry,
            retries: AtomicU64::new(0),
        })
    }

    /// Retries made so far by this client.
    pub(crate) fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// GETs the URL `make_url` builds (called again for each attempt, so that signed URLs get a
    /// fresh timestamp) and returns the body of a 2xx answer. Retry notices are printed above
    /// `bar`.
    pub(crate) async fn get(
        &self,
        make_url: impl Fn() -> Url,
        bar: &ProgressBar,
    ) -> Result<Vec<u8>, FetchError> {
        self.get_checked(make_url, bar, |_| Ok(())).await
    }

    /// [`get`](Self::get), where a 2xx body that `whole` refuses (a download cut short, say)
    /// counts as a failure that may go away: it is retried like a 503, and after the last retry
    /// it is a [`FetchError::Transient`] with `whole`'s reason.
    pub(crate) async fn get_checked(
        &self,
        make_url: impl Fn() -> Url,
        bar: &ProgressBar,
        whole: impl Fn(&[u8]) -> Result<(), String>,
    ) -> Result<Vec<u8>, FetchError> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.max_retries)
            .with_jitter();
        let attempt = || async {
            let url = make_url();
            let answer = self.client.get(url).send().await.map_err(transport)?;
            let status = answer.status();
            let retry_after = retry_after(answer.headers());
            let body = answer.bytes().await.map_err(transport)?;
            if status.is_success() {
                whole(&body).map_err(|detail| FetchError::Transient {
                    detail,
                    retry_after: None,
                })?;
                Ok(body.to_vec())
            } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                Err(FetchError::Transient {
                    detail: format!("HTTP {status}"),
                    retry_after,
                })
            } else {
                Err(FetchError::Status {
                    status,
                    body: body.to_vec(),
                })
            }
        };
        attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(FetchError::is_transient)
            .adjust(|err, next| match (err, next) {
                // Out of retries: give up whatever the server asked.
                (_, None) => None,
                (
                    FetchError::Transient {
                        retry_after: Some(after),
                        ..
                    },
                    Some(_),
                ) => Some((*after).min(MAX_RETRY_AFTER)),
                (_, next) => next,
            })
            .notify(|err, wait| {
                self.retries.fetch_add(1, Ordering::Relaxed);
                let url = redact(&make_url());
                // A command-line tool's notice, above the progress bar: the user sees why it
                // is slow (rate limit, server trouble).
                bar.suspend(|| {
                    eprintln!(
                        "retrying {url} in {:.1}s: {}",
                        wait.as_secs_f64(),
                        err.detail()
                    );
                });
            })
            .await
    }
}

fn transport(e: reqwest::Error) -> FetchError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    // reqwest's Display includes the URL, which may carry the signature; keep only the cause.
    let mut cause = String::new();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        cause.push_str(&format!(": {s}"));
        source = s.source();
    }
    FetchError::Transient {
        detail: format!("{kind}{cause}"),
        retry_after: None,
    }
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The URL without its query (which carries `apikey`, `ts` and `hash`), for messages.
pub(crate) fn redact(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(60));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let got = retry_after(&headers).unwrap();
        assert!(
            got > Duration::from_secs(50) && got <= Duration::from_secs(60),
            "{got:?}"
        );
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn redact_drops_the_signature() {
        let url = Url::parse("https://x.test/v1/public/characters?apikey=a&hash=b&ts=1").unwrap();
        assert_eq!(redact(&url), "https://x.test/v1/public/characters");
    }
}
