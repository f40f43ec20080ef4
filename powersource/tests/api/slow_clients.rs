//! Slow clients: one that stops reading its answers is cut off, and its connection slot (of
//! `--max-connections`) goes to the next client.

use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{eligible_ids, spawn_with, Options};

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_and_frees_its_connection() {
    let app = spawn_with(Options {
        tweak: Some(Box::new(|s| {
            s.max_connections = 1;
            s.client_timeout = Duration::from_millis(300);
        })),
        ..Default::default()
    })
    .await;
    let addr = app.base.trim_start_matches("http://").parse().unwrap();
    // A client with a tiny receive window asks for about 10 MB of images (2,000 pipelined
    // requests: more than the kernel's socket buffers hold) and never reads a byte, so the
    // server's writes stop making progress.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(addr).await.unwrap();
    let id = eligible_ids()[0];
    let request = format!("GET /characters/{id}/image HTTP/1.1\r\nhost: x\r\n\r\n");
    stalled
        .write_all(request.repeat(2_000).as_bytes())
        .await
        .unwrap();
    // the only connection slot is taken: a probe is still answered (on a spare connection), a
    // product request gets a 503 at once until the stalled client is cut off, then it is
    // served — within the client timeout plus slack for a busy machine (and well before the
    // 10 s header read timeout, which would also end an idle connection)
    let probe = tokio::time::timeout(Duration::from_secs(2), app.get("/health"))
        .await
        .expect("a probe is answered at the limit");
    assert_eq!(probe.status, StatusCode::OK);
    let start = Instant::now();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(2), app.get("/random"))
            .await
            .expect("an answer at once, not a wait");
        if next.status == StatusCode::OK {
            break;
        }
        assert_eq!(
            next.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            next.text()
        );
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "the stalled client's connection was never released"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("the next client was served after {:?}", start.elapsed());
    // and the stalled connection is closed: reading it now ends (EOF or reset) within a bound
    let mut buf = vec![0u8; 64 * 1024];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stalled.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the stalled connection is still open");
}
