//! Two replicas behind one address act as one front end: switches, resets and the promises.

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use superpower::remembered::CookieKey;
use tokio::net::TcpListener;

use crate::helpers::{spawn_app_on, test_settings, TestApp, TestFleet};

/// `n` replicas of one front end over `fleet`, each naming the others as peers.
async fn front_end(fleet: &TestFleet, n: usize, extra: &[String]) -> Vec<TestApp> {
    let mut listeners = Vec::new();
    for _ in 0..n {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    let urls: Vec<String> = listeners
        .iter()
        .map(|l| format!("http://{}", l.local_addr().unwrap()))
        .collect();
    let key = CookieKey::from_hex(&"c0".repeat(32)).unwrap();
    let mut apps = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let mut s = test_settings(fleet.urls());
        s.peers = urls.iter().chain(extra).cloned().collect(); // itself included: it skips itself
        s.peer_interval = Duration::from_millis(200);
        s.replica_name = Some(format!("replica-{i}"));
        s.cookie_key = Some(key.clone());
        apps.push(spawn_app_on(s, listener).await);
    }
    apps
}

async fn switches(app: &TestApp) -> serde_json::Value {
    app.admin(Method::GET, "/admin/switches", "").await.json()
}

/// Polls until `f` holds, at most `within`; returns how long it took.
async fn within<F, Fut>(within: Duration, what: &str, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !f().await {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_change_and_a_reset_on_either_replica_reach_both_within_a_second() {
    let fleet = TestFleet::start(1);
    let apps = front_end(&fleet, 2, &[]).await;
    let (a, b) = (&apps[0], &apps[1]);
    let r = a
        .admin(
            Method::PUT,
            "/admin/switches",
            r#"{"stable_assignment": false}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let took = within(Duration::from_secs(1), "the change on b", || async {
        switches(b).await["stable_assignment"] == false
    })
    .await;
    eprintln!("a switch change reached the other replica in {took:?}");
    let r = b.admin(Method::POST, "/admin/reset", "").await;
    assert_eq!(r.status, StatusCode::OK);
    within(Duration::from_secs(1), "the reset on a", || async {
        switches(a).await["stable_assignment"] == true
    })
    .await;
    // both list both, each with the same switches
    let list = a.admin(Method::GET, "/admin/replicas", "").await.json();
    let replicas = list["replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), 2, "{list}");
    assert_eq!(replicas[0]["this"], true);
    assert_eq!(replicas[0]["name"], "replica-0");
    assert_eq!(replicas[1]["name"], "replica-1");
    assert!(replicas.iter().all(|r| r["reachable"] == true));
    within(Duration::from_secs(1), "the same versions", || async {
        let list = a.admin(Method::GET, "/admin/replicas", "").await.json();
        let r = list["replicas"].as_array().unwrap().clone();
        r[0]["switches"] == r[1]["switches"]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_starts_takes_the_front_ends_switches_before_it_serves() {
    let fleet = TestFleet::start(1);
    let apps = front_end(&fleet, 1, &[]).await;
    apps[0]
        .admin(
            Method::PUT,
            "/admin/switches",
            r#"{"hedging": false, "ring": false}"#,
        )
        .await;
    // a new process (a restart is one), started naive: it asks its peer first
    let mut s = test_settings(fleet.urls());
    s.naive = true;
    s.peers = vec![apps[0].base.clone()];
    let late = spawn_app_on(s, TcpListener::bind("127.0.0.1:0").await.unwrap()).await;
    assert_eq!(switches(&late).await, switches(&apps[0]).await);
    assert_eq!(
        switches(&late).await["failover"],
        true,
        "not the naive start"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_promises_on_either_replica_count_both_and_show_a_lost_peer() {
    let fleet = TestFleet::start(1);
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lost = format!("http://{}", silent.local_addr().unwrap());
    drop(silent);
    let apps = front_end(&fleet, 2, std::slice::from_ref(&lost)).await;
    apps[0].wait_for_ring(1).await;
    apps[1].wait_for_ring(1).await;
    let (a, b) = (&apps[0], &apps[1]);
    let users = a.new_users(7).await;
    for a in b.ask_all(&users).await {
        assert_eq!(a.status, StatusCode::OK);
    }
    for a in b.ask_all(&users[..4]).await {
        assert_eq!(a.status, StatusCode::OK);
    }
    // 7 answers on a, 11 on b (7 of them identity checks, plus 4 more): on either, 18 answers
    for app in [a, b] {
        within(Duration::from_secs(5), "both replicas' answers", || async {
            let v = app.get("/promises.json", &[]).await.json();
            v["latency"]["answers"] == 18 && v["identity"]["checks"] == 11
        })
        .await;
        let v = app.get("/promises.json", &[]).await.json();
        let lines = v["replicas"].as_array().unwrap();
        assert_eq!(lines.len(), 3, "{v}");
        assert_eq!(lines.iter().filter(|l| l["this"] == true).count(), 1);
        let dead: Vec<_> = lines.iter().filter(|l| l["reachable"] == false).collect();
        assert_eq!(dead.len(), 1, "{v}");
        assert_eq!(dead[0]["name"], lost.as_str());
        assert!(dead[0]["error"].is_string());
        assert_eq!(v["identity"]["changes"], 0);
    }
}
