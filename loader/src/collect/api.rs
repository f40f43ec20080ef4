//! One call of the Marvel API: `GET /v1/public/characters?limit=..&offset=..&ts=..&apikey=..&hash=..`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use indicatif::ProgressBar;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;

use super::auth::{Credentials, PRIVATE_KEY_ENV, PUBLIC_KEY_ENV};
use super::error::CollectError;
use super::http::{redact, FetchError, HttpClient};

/// The real API.
pub const DEFAULT_API_URL: &str = "https://gateway.marvel.com";

/// The most characters the API returns in one page.
pub const MAX_PAGE_SIZE: u32 = 100;

/// One page of `/v1/public/characters`: the API's `data` container.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Page {
    /// The offset the API applied.
    pub offset: u64,
    /// The characters that match the query, in all pages.
    pub total: u64,
    /// Characters in this page.
    pub count: u64,
    /// The characters, exactly as the API sent them.
    pub results: Vec<Value>,
}

/// The envelope around every answer.
#[derive(Deserialize)]
struct Envelope {
    data: Page,
}

/// The body of an error answer: `{"code": "InvalidCredentials", "message": "..."}` (or
/// `status` instead of `message`; `code` is sometimes a number).
#[derive(Deserialize)]
struct ApiError {
    code: Option<Value>,
    message: Option<String>,
    status: Option<String>,
}

/// A client of the character endpoint.
pub(crate) struct MarvelApi<'a> {
    http: &'a HttpClient,
    endpoint: Url,
    credentials: &'a Credentials,
}

impl<'a> MarvelApi<'a> {
    /// The API at `base` (scheme, host and optional path prefix).
    pub(crate) fn new(
        http: &'a HttpClient,
        base: &str,
        credentials: &'a Credentials,
    ) -> Result<Self, CollectError> {
        let bad = |detail: String| CollectError::Url {
            url: base.to_owned(),
            detail,
        };
        let mut base_url = Url::parse(base).map_err(|e| bad(e.to_string()))?;
        if !matches!(base_url.scheme(), "http" | "https") {
            return Err(bad("the API URL must be http or https".into()));
        }
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        let endpoint = base_url
            .join("v1/public/characters")
            .map_err(|e| bad(e.to_string()))?;
        Ok(MarvelApi {
            http,
            endpoint,
            credentials,
        })
    }

    /// The endpoint without authentication, for messages.
    pub(crate) fn endpoint(&self) -> String {
        redact(&self.endpoint)
    }

    /// Fetches the page at `offset`.
    ///
    /// # Errors
    /// [`CollectError::Rejected`] with the API's own message on 401/403/409 and other 4xx;
    /// [`CollectError::GaveUp`] when retries are exhausted; [`CollectError::BadResponse`] when the
    /// body is not a character page.
    pub(crate) async fn characters(
        &self,
        offset: u64,
        limit: u32,
        bar: &ProgressBar,
    ) -> Result<Page, CollectError> {
        let make_url = || {
            let signature = self.credentials.sign(&timestamp());
            let mut url = self.endpoint.clone();
            url.query_pairs_mut()
                .append_pair("limit", &limit.to_string())
                .append_pair("offset", &offset.to_string())
                .append_pair("ts", &signature.ts)
                .append_pair("apikey", &signature.apikey)
                .append_pair("hash", &signature.hash);
            url
        };
        let body = self.http.get(make_url, bar).await.map_err(|e| match e {
            FetchError::Status { status, body } => rejected(status, &body),
            transient => CollectError::GaveUp {
                url: self.endpoint(),
                detail: transient.detail(),
            },
        })?;
        let envelope: Envelope =
            serde_json::from_slice(&body).map_err(|e| CollectError::BadResponse {
                url: self.endpoint(),
                detail: format!("not a character page (offset {offset}): {e}"),
            })?;
        Ok(envelope.data)
    }
}

/// A timestamp that differs between requests, even two in the same millisecond.
fn timestamp() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!(
        "{millis}{:03}",
        COUNTER.fetch_add(1, Ordering::Relaxed) % 1000
    )
}

/// The error for a non-retryable status, with the API's explanation and a hint.
fn rejected(status: StatusCode, body: &[u8]) -> CollectError {
    let parsed: Option<ApiError> = serde_json::from_slice(body).ok();
    let code = parsed
        .as_ref()
        .and_then(|p| p.code.as_ref())
        .map(|c| match c {
            Value::String(s) => format!(", {s}"),
            other => format!(", {other}"),
        })
        .unwrap_or_default();
    let message = parsed
        .as_ref()
        .and_then(|p| p.message.clone().or_else(|| p.status.clone()))
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("no explanation")
                    .to_owned()
            } else {
                text.chars().take(200).collect()
            }
        });
    let hint = match status.as_u16() {
        401 => format!(
            "\nCheck the keys: {PUBLIC_KEY_ENV} must be your public key and \
             {PRIVATE_KEY_ENV} your private key, as shown at https://developer.marvel.com/account \
             (a wrong private key makes the hash invalid)."
        ),
        403 => "\nThe key is not allowed to make this call: check the authorized referrers \
                at https://developer.marvel.com/account."
            .to_owned(),
        409 => "\nA required parameter (apikey, ts, hash, limit, offset) was missing or \
                invalid: check that both keys are set and not blank."
            .to_owned(),
        _ => String::new(),
    };
    CollectError::Rejected {
        status: status.as_u16(),
        code,
        message,
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_shows_the_api_message_and_a_hint() {
        let body = br#"{"code":"InvalidCredentials","message":"The passed API key is invalid."}"#;
        let text = rejected(StatusCode::UNAUTHORIZED, body).to_string();
        assert!(text.contains("HTTP 401, InvalidCredentials"), "{text}");
        assert!(text.contains("The passed API key is invalid."), "{text}");
        assert!(text.contains(PRIVATE_KEY_ENV), "{text}");
        let text = rejected(
            StatusCode::CONFLICT,
            br#"{"code":409,"status":"You must provide a hash."}"#,
        )
        .to_string();
        assert!(
            text.contains("HTTP 409, 409") && text.contains("You must provide a hash."),
            "{text}"
        );
        let text = rejected(StatusCode::NOT_FOUND, b"").to_string();
        assert!(text.contains("Not Found"), "{text}");
    }

    #[test]
    fn timestamps_differ() {
        assert_ne!(timestamp(), timestamp());
    }

    #[test]
    fn endpoint_keeps_a_path_prefix() {
        let http = HttpClient::new(Default::default(), 1).unwrap();
        let creds = Credentials::new(Some("p".into()), Some("s".to_owned().into())).unwrap();
        let api = MarvelApi::new(&http, "http://127.0.0.1:9/proxy", &creds).unwrap();
        assert_eq!(
            api.endpoint(),
            "http://127.0.0.1:9/proxy/v1/public/characters"
        );
        let api = MarvelApi::new(&http, "https://gateway.marvel.com", &creds).unwrap();
        assert_eq!(
            api.endpoint(),
            "https://gateway.marvel.com/v1/public/characters"
        );
        assert!(MarvelApi::new(&http, "ftp://x", &creds).is_err());
        assert!(MarvelApi::new(&http, "not a url", &creds).is_err());
    }
}
