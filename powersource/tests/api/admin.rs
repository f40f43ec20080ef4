//! The admin API: off without a token, 401 on a wrong one, validation, round trips.

use http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{spawn_app, spawn_with, Options, TOKEN};

async fn admin_app() -> crate::helpers::TestApp {
    spawn_with(Options {
        admin: true,
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn the_admin_api_is_off_without_a_token() {
    let app = spawn_app().await;
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let r = app
            .faults(method.clone(), Some(TOKEN), r#"{"hang": true}"#)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(r.json()["error"], "not found");
    }
    assert!(!app.state.faults.get().is_active());
    // an empty token is no token
    let app = spawn_with(Options {
        tweak: Some(Box::new(|s| s.admin_token = Some(String::new()))),
        ..Default::default()
    })
    .await;
    assert_eq!(
        app.faults(Method::GET, Some(""), "").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn wrong_or_missing_tokens_get_401_and_change_nothing() {
    let app = admin_app().await;
    let almost = &TOKEN[..TOKEN.len() - 1];
    let longer = format!("{TOKEN}x");
    for token in [None, Some("wrong"), Some(almost), Some(longer.as_str())] {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let r = app
                .faults(method.clone(), token, r#"{"error_rate": 1.0}"#)
                .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {token:?}");
            assert_eq!(r.json()["error"], "unauthorized");
            assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        }
    }
    let r = app
        .request(
            Method::PUT,
            "/admin/faults",
            &[("authorization", &format!("Basic {TOKEN}"))],
            "{}",
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(!app.state.faults.get().is_active());
    assert_eq!(app.random().await.status, StatusCode::OK);
}

#[tokio::test]
async fn faults_round_trip_and_clear() {
    let app = admin_app().await;
    let r = app.faults(Method::GET, Some(TOKEN), "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"latency_ms": 0, "jitter_ms": 0, "error_rate": 0.0, "hang": false, "route": null, "duration_ms": null})
    );
    let spec = json!({"latency_ms": 5, "jitter_ms": 2, "error_rate": 0.25, "hang": false, "route": "/random", "duration_ms": 600000});
    let r = app
        .faults(Method::PUT, Some(TOKEN), &spec.to_string())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), spec);
    assert_eq!(app.faults(Method::GET, Some(TOKEN), "").await.json(), spec);
    // (the gauge's values are checked in faults.rs's unit tests: this process's recorder is
    // shared by every test app, so here only its presence is)
    let metrics = app.metrics().await.text();
    assert!(
        metrics.contains(r#"powersource_faults_active{kind="error"}"#),
        "{metrics}"
    );

    // a PUT sets the whole spec: absent fields go back to zero
    let r = app
        .faults(Method::PUT, Some(TOKEN), r#"{"latency_ms": 1}"#)
        .await;
    assert_eq!(r.json()["error_rate"], 0.0);
    assert_eq!(r.json()["route"], serde_json::Value::Null);

    let r = app.faults(Method::DELETE, Some(TOKEN), "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["latency_ms"], 0);
    assert!(!app.state.faults.get().is_active());
    let r = app.faults(Method::POST, Some(TOKEN), "").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), Some("GET, HEAD, PUT, DELETE"));
}

#[tokio::test]
async fn bad_specs_are_400_with_a_clear_message_and_change_nothing() {
    let app = admin_app().await;
    app.set_faults(json!({"latency_ms": 3})).await;
    for (body, says) in [
        ("not json", "invalid fault spec"),
        (r#"{"error_rate": 2}"#, "error_rate"),
        (r#"{"error_rate": -0.5}"#, "error_rate"),
        (r#"{"latency_ms": -1}"#, "invalid fault spec"),
        (r#"{"latency_ms": 999999999}"#, "latency_ms"),
        (r#"{"jitter_ms": 999999999}"#, "jitter_ms"),
        (r#"{"hang": "yes"}"#, "invalid fault spec"),
        (r#"{"route": "/health"}"#, "route"),
        (r#"{"latency": 5}"#, "unknown field"),
        ("[100, 0, 0.5, false, null]", "object"),
        ("[]", "object"),
    ] {
        let r = app.faults(Method::PUT, Some(TOKEN), body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        let msg = r.json()["error"].as_str().unwrap().to_owned();
        assert!(msg.contains(says), "{body}: {msg}");
    }
    let big = format!(r#"{{"route": null, "x": "{}"}}"#, "a".repeat(10_000));
    let r = app.faults(Method::PUT, Some(TOKEN), &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.state.faults.get().latency_ms, 3, "nothing changed");
}

#[tokio::test]
async fn a_body_that_never_arrives_is_answered_408_within_the_bound() {
    use std::time::Duration;
    let app = spawn_with(Options {
        admin: true,
        tweak: Some(Box::new(|s| {
            s.client_timeout = Duration::from_millis(300);
        })),
        ..Default::default()
    })
    .await;
    let head = format!(
        "PUT /admin/faults HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"latency"
    );
    let (answer, elapsed) =
        testkit::checks::answer_to_a_body_that_never_arrives(&app.base, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(!app.state.faults.get().is_active(), "nothing changed");
}
