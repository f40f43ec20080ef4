//! The admin API: switches, token checks, and what each switch changes.

use http::{Method, StatusCode};

use superpower::identity::COOKIE_NAME;

use crate::helpers::{spawn_app, test_settings, TestFleet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_is_off_without_a_token_and_refuses_wrong_ones() {
    let fleet = TestFleet::start(1);
    let mut settings = test_settings(fleet.urls());
    settings.admin_token = None;
    let off = spawn_app(settings).await;
    let a = off.admin(Method::GET, "/admin/switches", "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    let on = spawn_app(test_settings(fleet.urls())).await;
    for auth in [
        "",
        "Bearer wrong",
        "Bearer test-token2",
        "test-token",
        "Basic dGVzdC10b2tlbg==",
    ] {
        let a = on
            .request(
                Method::PUT,
                "/admin/switches",
                &[("authorization", auth)],
                r#"{"ring":false}"#,
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{auth}");
        assert!(!a.text().contains("token"), "no hint about the token");
    }
    assert!(on.state.switches.ring(), "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switches_are_read_and_set_by_subset() {
    let fleet = TestFleet::start(2);
    let app = spawn_app(test_settings(fleet.urls())).await;
    let all = app.admin(Method::GET, "/admin/switches", "").await.json();
    for k in [
        "ring",
        "failover",
        "fallback",
        "stable_assignment",
        "deadlines",
        "hedging",
    ] {
        assert_eq!(all[k], true, "{k} on by default");
    }
    let after = app
        .admin(
            Method::PUT,
            "/admin/switches",
            r#"{"failover": false, "hedging": false}"#,
        )
        .await;
    assert_eq!(after.status, StatusCode::OK);
    let j = after.json();
    assert_eq!(
        (
            j["failover"].as_bool(),
            j["hedging"].as_bool(),
            j["ring"].as_bool()
        ),
        (Some(false), Some(false), Some(true))
    );
    for bad in [
        "",
        "nope",
        r#"{"rings": true}"#,
        r#"{"ring": 1}"#,
        "[]",
        "[false, true, true, true, true, true]",
    ] {
        let a = app.admin(Method::PUT, "/admin/switches", bad).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let big = format!(r#"{{"ring": true, "x": "{}"}}"#, "a".repeat(20_000));
    assert_eq!(
        app.admin(Method::PUT, "/admin/switches", &big).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let m = app.get("/metrics", &[]).await.text();
    assert!(
        m.contains("superpower_resilience_enabled{mechanism=\"failover\"} 0"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_stable_assignment_a_user_gets_random_characters() {
    let fleet = TestFleet::start(2);
    let app = spawn_app(test_settings(fleet.urls())).await;
    app.wait_for_ring(2).await;
    let cookie = app
        .superpower_json(None)
        .await
        .set_cookie(COOKIE_NAME)
        .unwrap();
    app.admin(
        Method::PUT,
        "/admin/switches",
        r#"{"stable_assignment": false}"#,
    )
    .await;
    let names: std::collections::HashSet<String> =
        futures_util::future::join_all((0..20).map(|_| app.superpower_json(Some(&cookie))))
            .await
            .iter()
            .map(|a| a.json()["name"].as_str().unwrap().to_owned())
            .collect();
    assert!(names.len() > 5, "random characters, got {names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_fallback_a_dead_fleet_breaks_identity_for_everyone() {
    let mut fleet = TestFleet::start(1);
    let app = spawn_app(test_settings(fleet.urls())).await;
    app.wait_for_ring(1).await;
    let users = app.new_users(5).await;
    // a second visit, with the cookies of the first
    for a in app.ask_all(&users).await {
        assert_eq!(a.status, StatusCode::OK);
    }
    app.admin(Method::PUT, "/admin/switches", r#"{"fallback": false}"#)
        .await;
    fleet.instances[0].kill();
    for a in app.ask_all(&users).await {
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    }
    app.admin(Method::PUT, "/admin/switches", r#"{"fallback": true}"#)
        .await;
    // switched back on, the users seen before are served their superpower again, degraded
    for (a, (_, name)) in app.ask_all(&users).await.iter().zip(&users) {
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.json()["name"], name.as_str());
        assert_eq!(a.json()["degraded"], true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_is_answered_408_within_the_bound() {
    use std::time::Duration;
    let fleet = TestFleet::start(1);
    let mut settings = test_settings(fleet.urls());
    settings.client_timeout = Duration::from_millis(300);
    let app = spawn_app(settings).await;
    let (answer, elapsed) = testkit::checks::answer_to_a_body_that_never_arrives(
        &app.base,
        b"PUT /admin/switches HTTP/1.1\r\nhost: x\r\nauthorization: Bearer test-token\r\n\
          content-type: application/json\r\ncontent-length: 100\r\n\r\n{\"ring\": fa",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(app.state.switches.ring(), "nothing changed");
}
