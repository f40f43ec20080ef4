//! Checks both services' tests make the same way.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::http::Reply;

/// Asserts that `head` is the HEAD answer of the GET answer `get` of `path`: the same status,
/// no body, the `Content-Length` of the GET body, and the same value of each header in `same`.
pub fn assert_head_answers_like_get(path: &str, get: &Reply, head: &Reply, same: &[&str]) {
    assert_eq!(head.status, get.status, "{path}");
    assert!(head.body.is_empty(), "{path}: HEAD has no body");
    assert_eq!(
        head.header("content-length"),
        Some(get.body.len().to_string().as_str()),
        "{path}"
    );
    for name in same {
        assert_eq!(head.header(name), get.header(name), "{path}: {name}");
    }
}

/// Sends `request` (a request head and the start of a body it promises more of) to `base`
/// (`http://host:port`) over raw TCP, sends nothing more, and returns the answer the server
/// gives and how long it took. Panics when no answer (and no close) comes within 10 s.
pub async fn answer_to_a_body_that_never_arrives(base: &str, request: &[u8]) -> (String, Duration) {
    let addr = base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    conn.write_all(request).await.expect("the head is sent");
    let start = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "no answer within 10 s to a body that never came"
    );
    (
        String::from_utf8_lossy(&answer).into_owned(),
        start.elapsed(),
    )
}
