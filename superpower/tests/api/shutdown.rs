//! Shutting a replica down behind a balancer: the lame duck (`--lame-duck-ms`).

use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// One request on `conn`, kept alive; the answer's head, lower-cased, and whether the server
/// closed the connection after it.
async fn exchange(conn: &mut TcpStream, path: &str) -> (String, bool) {
    let req = format!("GET {path} HTTP/1.1\r\nhost: t\r\naccept: application/json\r\n\r\n");
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let (head, length) = loop {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed before an answer: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .expect("a content-length");
            break (head, end + 4 + length);
        }
    };
    while seen.len() < length {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed inside the body");
        seen.extend_from_slice(&buf[..n]);
    }
    let closed = matches!(
        tokio::time::timeout(Duration::from_millis(500), conn.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    );
    (head, closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lame_duck_fails_health_closes_each_connection_after_its_answer_and_still_serves() {
    let fleet = TestFleet::start(1);
    let mut settings = test_settings(fleet.urls());
    settings.lame_duck = Duration::from_millis(3000);
    let mut app = spawn_app(settings).await;
    app.wait_for_ring(1).await;
    let addr = app.base.trim_start_matches("http://").to_owned();

    // before: keep-alive, healthy
    let mut conn = TcpStream::connect(&addr).await.unwrap();
    let (head, closed) = exchange(&mut conn, "/health").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!closed && !head.contains("connection: close"), "{head}");

    let stopped = Instant::now();
    app.stop();
    // the connection that was open before the signal: its next answer is served, and closes it
    let (head, closed) = exchange(&mut conn, "/").await;
    assert!(
        head.starts_with("http/1.1 200"),
        "a user is still served: {head}"
    );
    let (head, _) = {
        // the first request may have raced the signal: ask until the lame duck shows
        let mut last = (head, closed);
        while !last.0.contains("connection: close") && stopped.elapsed() < Duration::from_secs(1) {
            last = exchange(&mut conn, "/").await;
        }
        last
    };
    assert!(head.contains("connection: close"), "{head}");
    let mut rest = [0u8; 1];
    assert_eq!(
        conn.read(&mut rest).await.unwrap(),
        0,
        "the server closed it"
    );

    // new connections are still accepted and served during the lame duck; /health fails
    let mut fresh = TcpStream::connect(&addr).await.unwrap();
    let (head, closed) = exchange(&mut fresh, "/health").await;
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(closed && head.contains("connection: close"), "{head}");
    let a = app.superpower_json(None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert!(
        stopped.elapsed() < Duration::from_millis(3000),
        "all of it within the lame duck"
    );

    // then the listener closes
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting 10 s after the lame duck"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        stopped.elapsed() >= Duration::from_millis(3000),
        "the listener closed before the lame duck ended ({:?})",
        stopped.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_lame_duck_health_never_reports_draining() {
    let fleet = TestFleet::start(1);
    let app = spawn_app(test_settings(fleet.urls())).await;
    let a = app.get("/health", &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["draining"], false);
    assert!(a.header("connection").is_none_or(|v| v != "close"));
}
