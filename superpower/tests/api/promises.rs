//! The promises, measured live: the identity check (`superpower_identity_*_total`), the
//! per-second view of `/promises.json`, the read-only `/promises` page, and the reset to the
//! baseline.

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{spawn_app, test_settings, TestApp, TestFleet};

/// `/promises.json`, asked without a token.
async fn promises(app: &TestApp) -> Value {
    let a = app.get("/promises.json", &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.header("cache-control"), Some("no-store"));
    a.json()
}

/// Polls `/promises.json` (bounded: 10 s) until `ok` holds; returns that view.
async fn wait_for(app: &TestApp, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = promises(app).await;
        if ok(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: still {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stable_assignment_keeps_identity_and_switching_it_off_breaks_it() {
    let fleet = TestFleet::start(2);
    let app = spawn_app(test_settings(fleet.urls())).await;
    app.wait_for_ring(2).await;
    let users = app.new_users(10).await;
    // the second visit is remembered, the third and later ones are checked
    for _ in 0..3 {
        app.ask_all(&users).await;
    }
    let v = wait_for(&app, "identity kept", |v| {
        v["identity"]["status"] == "kept" && v["identity"]["checks"].as_u64() >= Some(20)
    })
    .await;
    assert_eq!(v["identity"]["changes"], 0, "{v}");
    assert_eq!(v["identity"]["kept_ratio"], 1.0);
    assert_eq!(v["latency"]["status"], "kept", "{v}");
    assert_eq!(v["ring_members"], 2);
    assert!(v["seconds"].as_array().is_some_and(|s| !s.is_empty()));

    app.admin(
        Method::PUT,
        "/admin/switches",
        r#"{"stable_assignment": false}"#,
    )
    .await;
    for _ in 0..3 {
        app.ask_all(&users).await;
    }
    let v = wait_for(&app, "identity broken", |v| {
        v["identity"]["status"] == "broken"
    })
    .await;
    assert!(v["identity"]["changes"].as_u64() > Some(0), "{v}");
    assert_eq!(v["stable_assignment"], false);
    let m = app.get("/metrics", &[]).await.text();
    for name in [
        "superpower_identity_checks_total",
        "superpower_identity_changes_total",
    ] {
        assert!(m.contains(&format!("{name} ")), "{name} in /metrics");
    }

    // back on: users keep what they have now (their stable character), and once the short
    // window has passed without a change the promise is green again
    app.admin(
        Method::PUT,
        "/admin/switches",
        r#"{"stable_assignment": true}"#,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        app.ask_all(&users).await;
        let v = promises(&app).await;
        if v["identity"]["status"] == "kept" {
            break;
        }
        assert!(Instant::now() < deadline, "identity not kept again: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_degraded_answer_counts_as_kept() {
    let mut fleet = TestFleet::start(1);
    let app = spawn_app(test_settings(fleet.urls())).await;
    app.wait_for_ring(1).await;
    let users = app.new_users(5).await;
    app.ask_all(&users).await;
    fleet.instances[0].kill();
    let before = promises(&app).await["identity"]["checks"].as_u64().unwrap();
    for a in app.ask_all(&users).await {
        assert_eq!(a.json()["degraded"], true);
    }
    let v = wait_for(&app, "degraded answers counted", |v| {
        v["degraded"].as_u64() >= Some(5) && v["identity"]["checks"].as_u64() >= Some(before + 5)
    })
    .await;
    assert_eq!(v["identity"]["changes"], 0, "{v}");
    assert_eq!(v["identity"]["status"], "kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tracking_nothing_is_measured() {
    let fleet = TestFleet::start(1);
    let mut settings = test_settings(fleet.urls());
    settings.no_promise_tracking = true;
    let app = spawn_app(settings).await;
    app.wait_for_ring(1).await;
    let users = app.new_users(3).await;
    app.ask_all(&users).await;
    app.ask_all(&users).await;
    let v = promises(&app).await;
    assert_eq!(v["tracking"], false);
    assert_eq!(v["identity"]["checks"], 0);
    assert_eq!(v["identity"]["status"], "idle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_promises_page_needs_no_token_and_the_reset_does() {
    let fleet = TestFleet::start(1);
    let app = spawn_app(test_settings(fleet.urls())).await;
    let page = app.get("/promises", &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("/static/promises.js") && html.contains("promise-identity"));
    let js = app.get("/static/promises.js", &[]).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.text().contains("/promises.json"));
    let r = app.request(Method::POST, "/admin/reset", &[], "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app.admin(Method::GET, "/admin/reset", "").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), Some("POST"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_puts_every_switch_on_and_clears_every_instance() {
    let fleet = TestFleet::start(3);
    let app = spawn_app(test_settings(fleet.urls())).await;
    app.wait_for_ring(3).await;
    app.admin(
        Method::PUT,
        "/admin/switches",
        r#"{"ring": false, "stable_assignment": false, "hedging": false}"#,
    )
    .await;
    for ps in &fleet.instances {
        let name = format!("127.0.0.1%3A{}", ps.addr.port());
        let r = app
            .admin(
                Method::PUT,
                &format!("/admin/instances/{name}/faults"),
                r#"{"latency_ms": 50, "error_rate": 0.5}"#,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let r = app.admin(Method::POST, "/admin/reset", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let body = r.json();
    assert_eq!(body["complete"], true, "{body}");
    assert_eq!(body["instances"].as_array().unwrap().len(), 3);
    assert!(body["switches"]
        .as_object()
        .unwrap()
        .values()
        .all(|v| v == true));
    assert_eq!(
        app.state.switches.state(),
        superpower::switches::SwitchState::RESILIENT
    );
    let listed = app.admin(Method::GET, "/admin/instances", "").await.json();
    for inst in listed["instances"].as_array().unwrap() {
        assert_eq!(inst["faults"]["latency_ms"], 0, "{inst}");
        assert_eq!(inst["faults"]["error_rate"], 0.0, "{inst}");
    }
}
