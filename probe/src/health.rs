//! `superpower probe health [--url URL] [--timeout-ms MS]`: one GET of superpower's `/health`,
//! for a container engine's health check (compose's `healthcheck`; the distroless image has no
//! shell and no curl, so the check is the binary itself), the same question the Kubernetes
//! readiness probe asks.
//!
//! Exit codes: 0 a 2xx answer within the timeout (nothing printed), 1 anything else (one line on
//! stderr: the status, the connection error or the timeout), 2 a URL that is not `http://`.

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::Empty;

use service::telemetry::error_chain;

use super::client;

/// `superpower probe health`
#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// superpower's health endpoint.
    #[arg(long, default_value = "http://127.0.0.1:30280/health")]
    pub url: String,
    /// The whole answer's status must come within this many milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub timeout_ms: u64,
}

/// Why the check did not pass.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum Unhealthy {
    /// Not an `http://` URL with a host (exit 2).
    #[error("not an http:// URL: {0}")]
    BadUrl(String),
    /// An answer, but not a 2xx one.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL asked.
        url: String,
        /// The status.
        status: u16,
    },
    /// No connection, or it broke.
    #[error("cannot reach {url} ({cause})")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// The error's chain.
        cause: String,
    },
    /// No status within the limit.
    #[error("{url}: no answer within {limit_ms} ms")]
    Timeout {
        /// The URL asked.
        url: String,
        /// The limit.
        limit_ms: u64,
    },
}

/// Runs the check; the exit code is its verdict.
pub async fn run(args: HealthArgs) -> ExitCode {
    match check(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("health probe: {e}");
            let code = if matches!(e, Unhealthy::BadUrl(_)) {
                2
            } else {
                1
            };
            ExitCode::from(code)
        }
    }
}

/// One GET of `args.url`.
pub async fn check(args: &HealthArgs) -> Result<(), Unhealthy> {
    let uri: Uri = args
        .url
        .parse()
        .map_err(|_| Unhealthy::BadUrl(args.url.clone()))?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(Unhealthy::BadUrl(args.url.clone()));
    }
    let limit = Duration::from_millis(args.timeout_ms);
    let client = client::client(limit);
    let req = Request::get(uri)
        .body(Empty::<Bytes>::new())
        .map_err(|_| Unhealthy::BadUrl(args.url.clone()))?;
    let url = args.url.clone();
    match tokio::time::timeout(limit, client.request(req)).await {
        Err(_) => Err(Unhealthy::Timeout {
            url,
            limit_ms: args.timeout_ms,
        }),
        Ok(Err(e)) => Err(Unhealthy::Unreachable {
            url,
            cause: error_chain(&e),
        }),
        Ok(Ok(resp)) if resp.status().is_success() => Ok(()),
        Ok(Ok(resp)) => Err(Unhealthy::Status {
            url,
            status: resp.status().as_u16(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real HTTP server on port 0 that answers every request with `status` (or never, when
    /// `None`).
    async fn server(status: Option<http::StatusCode>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/health", listener.local_addr().unwrap());
        let handler = move |_req: Request<hyper::body::Incoming>| async move {
            match status {
                Some(s) => service::http::body::json(s, &serde_json::json!({"status": "x"})),
                None => std::future::pending().await,
            }
        };
        tokio::spawn(service::http::serve(
            listener,
            service::http::server::ServeOptions::default(),
            handler,
            std::future::pending(),
        ));
        url
    }

    fn args(url: &str, timeout_ms: u64) -> HealthArgs {
        HealthArgs {
            url: url.into(),
            timeout_ms,
        }
    }

    #[tokio::test]
    async fn a_2xx_passes_and_anything_else_fails_with_its_reason() {
        let ok = server(Some(http::StatusCode::OK)).await;
        assert_eq!(check(&args(&ok, 1000)).await, Ok(()));
        assert_eq!(run(args(&ok, 1000)).await, ExitCode::SUCCESS);

        let down = server(Some(http::StatusCode::SERVICE_UNAVAILABLE)).await;
        assert_eq!(
            check(&args(&down, 1000)).await,
            Err(Unhealthy::Status {
                url: down.clone(),
                status: 503
            })
        );
        assert_eq!(run(args(&down, 1000)).await, ExitCode::from(1));

        let hung = server(None).await;
        let started = std::time::Instant::now();
        assert_eq!(
            check(&args(&hung, 200)).await,
            Err(Unhealthy::Timeout {
                url: hung.clone(),
                limit_ms: 200
            })
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn nobody_listening_is_unreachable_and_a_bad_url_exits_2() {
        // a port that was just free: bound, then closed
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/health");
        assert!(matches!(
            check(&args(&url, 1000)).await,
            Err(Unhealthy::Unreachable { .. })
        ));
        assert_eq!(run(args("ftp://x/health", 1000)).await, ExitCode::from(2));
        assert_eq!(run(args("not a url", 1000)).await, ExitCode::from(2));
    }
}
