//! `--max-connections`: one limit for the process, whichever worker the kernel hands a
//! connection to, and probes answered at the limit.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// `GET path` on a new connection; the answer's head, or `None` when nothing came in 2 s.
async fn ask(addr: &str, path: &str) -> Option<String> {
    let attempt = async {
        let mut conn = TcpStream::connect(addr).await.ok()?;
        let req = format!("GET {path} HTTP/1.1\r\nhost: t\r\naccept: application/json\r\n\r\n");
        conn.write_all(req.as_bytes()).await.ok()?;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        Some(String::from_utf8_lossy(&seen).to_lowercase())
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
}

/// A keep-alive connection that has been answered once (a user's request: a spare connection
/// would refuse it) and now sits idle.
async fn held(addr: &str) -> TcpStream {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nhost: t\r\naccept: application/json\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf))
        .await
        .expect("a connection under the limit is served")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_is_the_process_s_and_probes_are_answered_at_it() {
    let fleet = TestFleet::start(1);
    let mut settings = test_settings(fleet.urls());
    settings.max_connections = 6;
    settings.workers = Some(2);
    let app = spawn_app(settings).await;
    app.wait_for_ring(1).await;
    let addr = app.base.trim_start_matches("http://").to_owned();

    // 6 connections are served, however the kernel spreads them over the 2 workers
    let mut conns = Vec::new();
    for _ in 0..6 {
        conns.push(held(&addr).await);
    }
    // at the limit: the probes still answer, a user gets a 503 at once, not a wait
    for path in ["/live", "/health"] {
        let head = ask(&addr, path).await;
        assert!(
            head.as_deref()
                .is_some_and(|h| h.starts_with("http/1.1 200")),
            "{path} at the limit: {head:?}"
        );
    }
    let head = ask(&addr, "/").await.expect("an answer, not a wait");
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("connection: close"), "{head}");

    // a connection freed: a user is served again
    conns.pop();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match ask(&addr, "/").await {
            Some(h) if h.starts_with("http/1.1 200") => break,
            other => assert!(
                std::time::Instant::now() < deadline,
                "still refused after a connection was freed: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
