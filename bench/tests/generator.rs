//! The load generator against the in-process one-tier reference server (real HTTP on loopback,
//! port 0): it counts what it sends, keeps to a rate, and checks names per user.

use std::sync::Arc;
use std::time::Duration;

use bench::load::{self, Names, Plan, Rotation};
use http::StatusCode;

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
