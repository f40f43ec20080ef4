//! The load generator against the in-process one-tier reference server (real HTTP on loopback,
//! port 0): it counts what it sends, keeps to a rate, and checks names per user.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bench::load::{self, Names, Plan, Rotation, LAST_COOKIE};
use http::StatusCode;
use service::promise::ID_COOKIE;

async fn one_tier() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(bench::reference::one_tier(listener));
    addr
}

async fn two_tier(back: std::net::SocketAddr) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let uri = format!("http://{back}/").parse().unwrap();
    tokio::spawn(bench::reference::two_tier(listener, uri));
    addr
}

/// A server that answers every request with the reference body and two cookies, the second
/// [`LAST_COOKIE`] naming the user of the request (the [`ID_COOKIE`]'s value), as superpower does
/// for a user's first answer; it counts the requests it answers in `count`.
async fn cookie_setter(count: Arc<AtomicU64>) -> std::net::SocketAddr {
    use http::header::{COOKIE, SET_COOKIE};
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let count = count.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    count.fetch_add(1, Ordering::Relaxed);
                    let cookie = req.headers().get(COOKIE).unwrap().to_str().unwrap();
                    let user = cookie
                        .strip_prefix(&format!("{ID_COOKIE}="))
                        .unwrap()
                        .to_owned();
                    let resp = http::Response::builder()
                        .header(SET_COOKIE, "lang=fr; Path=/")
                        .header(
                            SET_COOKIE,
                            format!("{LAST_COOKIE}={user}.tag; HttpOnly; Path=/"),
                        )
                        .body(http_body_util::Full::new(bytes::Bytes::from_static(
                            bench::reference::BODY.as_bytes(),
                        )))
                        .unwrap();
                    async move { Ok::<_, std::convert::Infallible>(resp) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn last_cookies_are_kept_per_user_over_connections_spread_on_two_servers() {
    let (a, b) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (addr_a, addr_b) = (
        cookie_setter(a.clone()).await,
        cookie_setter(b.clone()).await,
    );
    let users = Arc::new(load::identities(5, 3));
    let mut plan = Plan::new(addr_a, "/", 4, Duration::from_secs(30));
    plan.spread = vec![addr_b];
    plan.max_requests = Some(40);
    plan.rotation = Rotation::Cookies(users.clone());
    plan.keep_last_cookie = true;
    let r = load::run(plan.clone()).await.unwrap();
    assert_eq!((r.requests, r.failures()), (40, 0));
    let (on_a, on_b) = (a.load(Ordering::Relaxed), b.load(Ordering::Relaxed));
    assert_eq!(on_a + on_b, 40);
    assert!(
        on_a > 0 && on_b > 0,
        "{on_a} on one server, {on_b} on the other"
    );
    assert_eq!(r.last_cookies.len(), users.len());
    for (user, kept) in users.iter().zip(&r.last_cookies) {
        let id = user
            .to_str()
            .unwrap()
            .strip_prefix(&format!("{ID_COOKIE}="))
            .unwrap();
        assert_eq!(kept, &format!("{LAST_COOKIE}={id}.tag; HttpOnly; Path=/"));
    }
    assert!(r.names.is_empty(), "names only with Names::Record");

    plan.keep_last_cookie = false;
    plan.spread.clear();
    let r = load::run(plan).await.unwrap();
    assert!(r.last_cookies.is_empty());
    assert_eq!(
        b.load(Ordering::Relaxed),
        on_b,
        "no connection to the other server"
    );
}

#[tokio::test]
async fn a_request_budget_sends_exactly_that_many() {
    let addr = one_tier().await;
    let mut plan = Plan::new(addr, "/", 4, Duration::from_secs(30));
    plan.max_requests = Some(250);
    plan.rotation = Rotation::Cookies(Arc::new(load::identities(10, 1)));
    let r = load::run(plan).await.unwrap();
    assert_eq!(r.requests, 250);
    assert_eq!(r.expected, 250);
    assert_eq!(r.failures(), 0);
    assert!(r.latency.max_ms > 0.0 && r.latency.p50_ms <= r.latency.p99_ms);
}

#[tokio::test]
async fn an_open_loop_keeps_to_its_rate() {
    let addr = one_tier().await;
    let mut plan = Plan::new(addr, "/", 4, Duration::from_millis(500));
    plan.rate = Some(200.0);
    let r = load::run(plan).await.unwrap();
    // requests are due at 0, 5, 10 ... 495 ms: exactly 100
    assert_eq!(r.requests, 100);
    assert_eq!(r.failures(), 0);
    assert!((150.0..=210.0).contains(&r.rps), "rps {}", r.rps);
}

#[tokio::test]
async fn names_are_recorded_and_checked_per_user() {
    let addr = two_tier(one_tier().await).await;
    let users = Arc::new(load::identities(3, 7));
    let mut plan = Plan::new(addr, "/", 2, Duration::from_secs(30));
    plan.max_requests = Some(3);
    plan.rotation = Rotation::Cookies(users.clone());
    plan.names = Names::Record;
    let r = load::run(plan.clone()).await.unwrap();
    assert_eq!(r.names, vec!["Dara Ibáñez"; 3]);

    plan.max_requests = Some(30);
    let expected = vec![
        "Dara Ibáñez".to_owned(),
        "Someone Else".to_owned(),
        "Dara Ibáñez".to_owned(),
    ];
    plan.names = Names::Check(Arc::new(expected));
    let r = load::run(plan).await.unwrap();
    assert_eq!(r.checked, 30);
    assert_eq!(r.changed_users.into_iter().collect::<Vec<_>>(), vec![1]);
}

#[tokio::test]
async fn unexpected_statuses_and_dead_servers_are_counted() {
    let addr = one_tier().await;
    let mut plan = Plan::new(addr, "/", 1, Duration::from_secs(30));
    plan.max_requests = Some(5);
    plan.expect = StatusCode::SERVICE_UNAVAILABLE;
    let r = load::run(plan).await.unwrap();
    assert_eq!(r.unexpected_status.get(&200), Some(&5));
    assert_eq!(r.failures(), 5);

    // a two-tier front whose back is gone answers 502
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let front = two_tier(dead).await;
    let mut plan = Plan::new(front, "/", 1, Duration::from_secs(30));
    plan.max_requests = Some(3);
    let r = load::run(plan).await.unwrap();
    assert_eq!(r.unexpected_status.get(&502), Some(&3));

    // no server at all: the run cannot start
    let mut plan = Plan::new(dead, "/", 1, Duration::from_secs(1));
    plan.max_requests = Some(1);
    assert!(load::run(plan).await.is_err());
}
