//! A misbehaving hop between superpower and a real powersource: answers that come with a stray
//! answer after them. No user may ever get another user's character.

use std::net::SocketAddr;
use std::time::Duration;

use http::{Method, StatusCode};
use superpower::identity::COOKIE_NAME;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::*;

/// What the hop adds after each complete answer, a few milliseconds later.
#[derive(Clone, Copy, Debug)]
enum Stray {
    /// The answer once more: whatever is read next on the connection is one answer behind.
    Duplicate,
    /// Bytes past the answer's `Content-Length` (here: the answer before it, whole).
    LongBody,
    /// No stray answer: the answer's `X-Powersource-Instance` made 60,000 bytes long.
    LongName,
}

/// A TCP hop that relays requests to `upstream` one connection for one, and adds a stray answer
/// after every answer.
struct Hop {
    addr: SocketAddr,
    _task: tokio::task::JoinHandle<()>,
}

impl Hop {
    async fn start(upstream: SocketAddr, stray: Stray) -> Hop {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, stray));
            }
        });
        Hop { addr, _task: task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The end of an HTTP head in `buf`, and the `Content-Length` it gives (0 without one).
fn head(buf: &[u8]) -> Option<(usize, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let length = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap_or(0));
    Some((end, length))
}

/// Reads one whole message (head and `Content-Length` body) from `conn`, `buf` keeping what
/// comes after it.
async fn message(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some((end, length)) = head(buf) {
            if buf.len() >= end + length {
                let rest = buf.split_off(end + length);
                return Some(std::mem::replace(buf, rest));
            }
        }
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn relay(mut client: TcpStream, upstream: SocketAddr, stray: Stray) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut from_client, mut from_server) = (Vec::new(), Vec::new());
    let mut before: Option<Vec<u8>> = None;
    while let Some(request) = message(&mut client, &mut from_client).await {
        if server.write_all(&request).await.is_err() {
            return;
        }
        let Some(answer) = message(&mut server, &mut from_server).await else {
            return;
        };
        let answer = match stray {
            Stray::LongName => long_name(&answer),
            _ => answer,
        };
        if client.write_all(&answer).await.is_err() {
            return;
        }
        let extra = match stray {
            Stray::Duplicate => answer.clone(),
            Stray::LongBody => before.clone().unwrap_or_else(|| answer.clone()),
            Stray::LongName => {
                before = Some(answer);
                continue;
            }
        };
        tokio::time::sleep(Duration::from_millis(3)).await;
        if client.write_all(&extra).await.is_err() {
            return;
        }
        before = Some(answer);
    }
}

/// `answer` with its `X-Powersource-Instance` 60,000 bytes long.
fn long_name(answer: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    let lines: Vec<String> = head
        .lines()
        .map(|l| {
            if l.to_ascii_lowercase()
                .starts_with("x-powersource-instance:")
            {
                format!("x-powersource-instance: {}", "n".repeat(60_000))
            } else {
                l.to_owned()
            }
        })
        .collect();
    format!("{}\r\n\r\n{body}", lines.join("\r\n")).into_bytes()
}

/// Asks for `n` new users in a row; (answers with the user's own character, with another's,
/// not answered).
async fn new_users_through(
    app: &TestApp,
    direct: &testkit::http::Site,
    n: usize,
) -> (u32, u32, u32) {
    let (mut own, mut other, mut failed) = (0, 0, 0);
    for _ in 0..n {
        let a = app.superpower_json(None).await;
        if a.status != StatusCode::OK {
            failed += 1;
            continue;
        }
        let user = a.set_cookie(COOKIE_NAME).expect("a new user gets an id");
        let want = direct
            .request(Method::GET, &format!("/assignments/{user}"), &[], "")
            .await;
        assert_eq!(want.status, StatusCode::OK, "{}", want.text());
        if a.json()["id"] == want.json()["id"] {
            own += 1;
        } else {
            other += 1;
        }
    }
    (own, other, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stray_answer_never_reaches_another_user() {
    for stray in [Stray::Duplicate, Stray::LongBody] {
        let fleet = TestFleet::start(1);
        let hop = Hop::start(fleet.instances[0].addr, stray).await;
        let app = spawn_app(test_settings(vec![hop.url()])).await;
        app.wait_for_ring(1).await;
        let direct = testkit::http::Site::new(fleet.urls()[0].clone());
        let (own, other, failed) = new_users_through(&app, &direct, 60).await;
        assert_eq!(other, 0, "{stray:?}: {other} of 60 users got another user's character ({own} their own, {failed} none)");
        assert!(own > 0, "{stray:?}: nobody was served ({failed} failed)");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stray_answer_is_dropped_and_the_call_fails_over() {
    let fleet = TestFleet::start(2);
    let hop = Hop::start(fleet.instances[0].addr, Stray::Duplicate).await;
    let app = spawn_app(test_settings(vec![hop.url(), fleet.urls()[1].clone()])).await;
    app.wait_for_ring(2).await;
    let direct = testkit::http::Site::new(fleet.urls()[1].clone());
    let (own, other, failed) = new_users_through(&app, &direct, 60).await;
    assert_eq!(
        (own, other, failed),
        (60, 0, 0),
        "every user served their own, by failover if need be"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_instance_name_is_not_passed_on() {
    let fleet = TestFleet::start(1);
    let hop = Hop::start(fleet.instances[0].addr, Stray::LongName).await;
    let app = spawn_app(test_settings(vec![hop.url()])).await;
    app.wait_for_ring(1).await;
    let a = app.superpower_json(None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let instance = a.json()["instance"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        instance,
        hop.addr.to_string(),
        "the instance's address, not its 60 KB name"
    );
    assert!(a.body.len() < 4096, "{} bytes", a.body.len());
}
