//! The two promises while powersource instances die: the same superpower, in under a second.

use std::time::{Duration, Instant};

use http::StatusCode;

use superpower::identity::COOKIE_NAME;
use superpower::remembered::{CookieKey, COOKIE_NAME as LAST_COOKIE};

use crate::helpers::{spawn_app, test_settings, TestFleet};

const PROMISE: Duration = service::promise::LATENCY_LIMIT;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_user_gets_the_same_superpower_every_time() {
    let fleet = TestFleet::start(3);
    let app = spawn_app(test_settings(fleet.urls())).await;
    app.wait_for_ring(3).await;
    let first = app.superpower_json(None).await;
    let cookie = first.set_cookie(COOKIE_NAME).unwrap();
    let name = first.json()["name"].as_str().unwrap().to_owned();
    for _ in 0..100 {
        let a = app.superpower_json(Some(&cookie)).await;
        assert_eq!(a.status, StatusCode::OK);
        assert!(
            a.set_cookie(COOKIE_NAME).is_none(),
            "a known user keeps their cookie"
        );
        assert_eq!(a.json()["name"], name.as_str());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_users_keep_their_superpower_while_the_fleet_dies_and_returns() {
    let mut fleet = TestFleet::start(3);
    let app = spawn_app(test_settings(fleet.urls())).await;
    app.wait_for_ring(3).await;
    let users = app.new_users(1_000).await;

    let check = |answers: Vec<crate::helpers::Answer>, degraded: bool, phase: &str| {
        let mut worst = Duration::ZERO;
        for ((_, name), a) in users.iter().zip(&answers) {
            assert_eq!(a.status, StatusCode::OK, "{phase}: {}", a.text());
            let j = a.json();
            assert_eq!(
                j["name"],
                name.as_str(),
                "{phase}: a user changed superpower"
            );
            assert_eq!(j["degraded"], degraded, "{phase}");
            worst = worst.max(a.elapsed);
        }
        assert!(worst < PROMISE, "{phase}: slowest answer took {worst:?}");
        eprintln!("{phase}: 1000 users, slowest answer {worst:?}");
    };

    fleet.instances[0].kill();
    check(app.ask_all(&users).await, false, "1 of 3 killed");
    app.wait_for_ring(2).await;

    fleet.instances[1].kill();
    check(app.ask_all(&users).await, false, "2 of 3 killed");

    fleet.instances[2].kill();
    check(app.ask_all(&users).await, true, "3 of 3 killed");
    // an unknown user gets a clear 503 at once
    let stranger = app.superpower_json(None).await;
    assert_eq!(stranger.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(stranger.elapsed < PROMISE);
    assert!(stranger.json()["error"]
        .as_str()
        .unwrap()
        .contains("try again"));
    let page = app.superpower_html(None).await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.text().contains("on its way"));

    for ps in &mut fleet.instances {
        ps.restart();
    }
    app.wait_for_ring(3).await;
    check(app.ask_all(&users).await, false, "all restarted");

    let metrics = app.get("/metrics", &[]).await.text();
    assert!(
        metrics.contains("superpower_fallback_responses_total"),
        "fallbacks are counted"
    );
    assert!(metrics.contains("superpower_ring_members 3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_accepts_but_never_answers_does_not_break_the_promise() {
    let fleet = TestFleet::start(2);
    // A peer that passes its first health check, then freezes: it still accepts connections
    // (the kernel does that for a stopped process) but never answers anything again.
    let frozen = FrozenPeer::start();
    let mut urls = fleet.urls();
    urls.push(frozen.url.clone());
    let mut settings = test_settings(urls);
    settings.health_interval = Duration::from_millis(60_000); // only passive ejection can take it out
    let app = spawn_app(settings).await;
    app.wait_for_ring(3).await;
    frozen.freeze();
    let users = app.new_users(200).await;
    for (a, (_, name)) in app.ask_all(&users).await.iter().zip(&users) {
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.json()["name"], name.as_str());
        assert!(a.elapsed < PROMISE, "took {:?}", a.elapsed);
    }
    let m = app.get("/metrics", &[]).await.text();
    let name = frozen.url.trim_start_matches("http://");
    assert!(
        m.lines()
            .any(|l| l.contains(name) && l.contains("outcome=\"timeout\"")),
        "the frozen peer was tried and timed out"
    );
    app.wait_for_ring(2).await;
}

/// A raw TCP peer that answers `GET /health` with 200 (naming its request, as powersource does)
/// until frozen, and then holds every
/// request (new or on a kept-alive connection) without a word.
struct FrozenPeer {
    url: String,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
    _release: std::sync::mpsc::Sender<()>,
}

impl FrozenPeer {
    fn start() -> Self {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let frozen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = std::sync::Arc::new(std::sync::Mutex::new(released));
        let f = frozen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().take(5_000) {
                let Ok(mut conn) = conn else { break };
                let (f, released) = (f.clone(), released.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let mut seen = Vec::new();
                    loop {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            seen.drain(..end + 4);
                            if f.load(Ordering::SeqCst) {
                                // hold the connection until the test ends
                                let _ = released.lock().map(|r| r.recv());
                                return;
                            }
                            let _ =
                                conn.write_all(b"HTTP/1.1 200 OK\r\nx-powersource-target: /health\r\ncontent-length: 3\r\n\r\nok\n");
                        }
                    }
                });
            }
        });
        FrozenPeer {
            url,
            frozen,
            _release: release,
        }
    }

    fn freeze(&self) {
        self.frozen.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_powersource_whose_health_still_answers_is_routed_around() {
    // powersource's hang fault: product routes never answer, /health does
    let fleet = TestFleet::start_with(3, |i| powersource::config::FaultArgs {
        fault_hang: i == 0,
        ..Default::default()
    });
    let app = spawn_app(test_settings(fleet.urls())).await;
    app.wait_for_ring(3).await;
    let mut worst = Duration::ZERO;
    for _ in 0..300 {
        let a = app.superpower_json(None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        worst = worst.max(a.elapsed);
    }
    assert!(worst < PROMISE, "slowest {worst:?}");
    let m = app.get("/metrics", &[]).await.text();
    assert!(
        m.contains("outcome=\"timeout\"") || m.contains("superpower_hedged_requests_total"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_from_one_instance_reach_no_user() {
    let fleet = TestFleet::start_with(3, |i| powersource::config::FaultArgs {
        fault_error_rate: if i == 1 { 1.0 } else { 0.0 },
        ..Default::default()
    });
    let app = spawn_app(test_settings(fleet.urls())).await;
    app.wait_for_ring(3).await;
    for _ in 0..200 {
        let a = app.superpower_json(None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    }
    assert!(app
        .get("/metrics", &[])
        .await
        .text()
        .contains("superpower_failovers_total"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_user_keeps_their_superpower_on_any_replica_with_the_key() {
    let mut fleet = TestFleet::start(2);
    let key = CookieKey::from_hex(&"5e".repeat(32)).unwrap();
    let replica = |key: CookieKey| {
        let mut s = test_settings(fleet.urls());
        s.cookie_key = Some(key);
        s
    };
    let a = spawn_app(replica(key.clone())).await;
    let b = spawn_app(replica(key)).await;
    let foreign = spawn_app(replica(CookieKey::from_hex(&"77".repeat(32)).unwrap())).await;
    for app in [&a, &b, &foreign] {
        app.wait_for_ring(2).await;
        app.wait_for_catalog().await;
    }
    // users who only ever visited replica a, and one-visit traffic before they come back
    let users = a.new_users(30).await;
    let _passers_by = a.new_users(100).await;
    for i in 0..2 {
        fleet.instances[i].kill();
    }
    for app in [&a, &b] {
        app.wait_for_ring(0).await;
        for (a, (_, name)) in app.ask_all(&users).await.iter().zip(&users) {
            assert_eq!(a.status, StatusCode::OK, "{}", a.text());
            assert_eq!(a.json()["name"], name.as_str(), "the same superpower");
            assert_eq!(a.json()["degraded"], true);
            assert!(a.elapsed < PROMISE, "took {:?}", a.elapsed);
        }
    }
    // a replica with another key cannot vouch for the cookie: a clear 503, never another superpower
    foreign.wait_for_ring(0).await;
    for a in foreign.ask_all(&users).await {
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_moved_or_malformed_last_cookie_changes_nothing() {
    let mut fleet = TestFleet::start(1);
    let app = spawn_app(test_settings(fleet.urls())).await;
    app.wait_for_ring(1).await;
    app.wait_for_catalog().await;
    let users = app.new_users(40).await;
    // two users whose superpowers differ
    let (x, y) = users
        .iter()
        .find_map(|x| users.iter().find(|y| y.1 != x.1).map(|y| (x, y)))
        .expect("40 users share no superpower");
    let last_of = |jar: &str| {
        jar.split(&format!("{LAST_COOKIE}="))
            .nth(1)
            .unwrap()
            .to_owned()
    };
    let id_of = |jar: &str| jar.split(';').next().unwrap().to_owned();
    let x_last = last_of(&x.0);
    let (id, tag) = x_last.split_once('.').unwrap();
    let hostile = [
        format!("{}; {LAST_COOKIE}={x_last}", id_of(&y.0)),
        format!(
            "{}; {LAST_COOKIE}={}.{tag}",
            id_of(&y.0),
            id.parse::<u64>().unwrap() + 1
        ),
        format!("{}; {LAST_COOKIE}=<script>", id_of(&y.0)),
        format!("{}; {LAST_COOKIE}={}", id_of(&y.0), "9".repeat(5000)),
        format!("{}; {LAST_COOKIE}=", id_of(&y.0)),
    ];
    for cookie in &hostile {
        let a = app.superpower_json(Some(cookie)).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(
            a.json()["name"],
            y.1.as_str(),
            "{cookie}: y keeps y's superpower"
        );
        assert!(
            a.set_cookie(LAST_COOKIE).is_some(),
            "y's own value is set again"
        );
    }
    fleet.instances[0].kill();
    app.wait_for_ring(0).await;
    for cookie in &hostile {
        let a = app.superpower_json(Some(cookie)).await;
        assert_eq!(
            a.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{cookie}: never x's superpower for y"
        );
    }
    let a = app.superpower_json(Some(&y.0)).await;
    assert_eq!(a.json()["name"], y.1.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_owner_is_hedged_to_the_next_instance_with_the_same_answer() {
    // instance 0 answers every product call 400 ms late; the hedge goes out after 20 ms
    let fleet = TestFleet::start_with(3, |i| powersource::config::FaultArgs {
        fault_latency_ms: if i == 0 { 400 } else { 0 },
        ..Default::default()
    });
    let mut settings = test_settings(fleet.urls());
    settings.hedge_delay = Some(Duration::from_millis(20));
    let app = spawn_app(settings).await;
    app.wait_for_ring(3).await;
    let users = app.new_users(40).await;
    let mut slowest = Duration::ZERO;
    for (answer, (_, name)) in app.ask_all(&users).await.iter().zip(&users) {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        assert_eq!(answer.json()["name"].as_str(), Some(name.as_str()));
        slowest = slowest.max(answer.elapsed);
    }
    // a user owned by the slow instance is answered by the hedge, long before the 400 ms
    assert!(slowest < Duration::from_millis(300), "slowest {slowest:?}");
    let m = app.get("/metrics", &[]).await.text();
    let hedged = m
        .lines()
        .find(|l| l.starts_with("superpower_hedged_requests_total"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(hedged >= 1.0, "no hedge counted:\n{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_fails_as_a_connect_error_and_is_ejected_by_its_first_failure() {
    let fleet_size = 3;
    let mut fleet = TestFleet::start(fleet_size);
    let mut settings = test_settings(fleet.urls());
    // no active health check during the test: only the calls can take the instance off
    settings.health_interval = Duration::from_secs(60);
    settings.eject_cooldown = Duration::from_secs(60);
    let app = spawn_app(settings).await;
    app.wait_for_ring(fleet_size).await;
    // every instance has pooled connections
    let users = app.new_users(30).await;
    let dead = fleet.instances[0].addr.to_string();
    fleet.instances[0].kill();
    for (a, (_, name)) in app.ask_all(&users).await.iter().zip(&users) {
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        assert_eq!(a.json()["name"], name.as_str());
    }
    let m = app.get("/metrics", &[]).await.text();
    let count = |outcome: &str| -> f64 {
        let series = format!(
            "superpower_powersource_request_duration_seconds_count{{instance=\"{dead}\",outcome=\"{outcome}\"}}"
        );
        m.lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    // the pooled connections the kill closed are not errors of the instance: the call goes on
    // a fresh connection, which is refused
    assert!(count("connect_error") >= 1.0, "{m}");
    assert_eq!(count("error"), 0.0, "{m}");
    let health = app.get("/health", &[]).await.json();
    assert_eq!(health["ring_members"], 2, "{health}");
}

/// The states of this machine's TCP sockets whose remote end is `port` on 127.0.0.1 (from
/// `/proc/net/tcp`: `01` established, `08` close-wait).
fn sockets_to(port: u16) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let remote = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&remote.as_str())).then(|| f[3].to_owned())
        })
        .collect()
}

// current_thread, as superpower's main runtime is: its calls (health checks, the catalog) share
// one thread's pool, which one sweeper serves
#[tokio::test(flavor = "current_thread")]
async fn pooled_connections_to_a_killed_instance_are_closed_within_seconds() {
    let mut fleet = TestFleet::start(1);
    let port = fleet.instances[0].addr.port();
    let settings = test_settings(fleet.urls());
    let app = spawn_app(settings).await;
    app.wait_for_ring(1).await;
    app.new_users(20).await;
    assert!(
        sockets_to(port).iter().any(|s| s == "01"),
        "superpower keeps connections to the instance: {:?}",
        sockets_to(port)
    );
    fleet.instances[0].kill();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = sockets_to(port);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "5 s after the kill, sockets to it are still open (states {left:?}; \
             08 is CLOSE_WAIT)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
