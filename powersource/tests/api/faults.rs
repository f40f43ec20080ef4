//! Fault injection: latency, error rate, hang, one route or all, from flags and the admin API.

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{eligible_ids, spawn_with, Options, TestApp, TOKEN};

async fn admin_app() -> TestApp {
    spawn_with(Options {
        admin: true,
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn latency_delays_product_routes_by_at_least_the_injected_time() {
    let app = admin_app().await;
    let id = eligible_ids()[0];
    app.set_faults(json!({"latency_ms": 150, "jitter_ms": 50}))
        .await;
    for path in [
        format!("/characters/{id}"),
        format!("/characters/{id}/image"),
        "/assignments/u1".into(),
        "/random".into(),
    ] {
        let start = Instant::now();
        let r = app.get(&path).await;
        let took = start.elapsed();
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(took >= Duration::from_millis(150), "{path} took {took:?}");
    }
}

#[tokio::test]
async fn error_rate_fails_about_that_share_of_requests() {
    let app = admin_app().await;
    app.set_faults(json!({"error_rate": 0.5})).await;
    let n = 400;
    let mut errors = 0;
    for i in 0..n {
        let r = app.assignment(&format!("u{i}")).await;
        match r.status {
            StatusCode::OK => {}
            StatusCode::INTERNAL_SERVER_ERROR => {
                errors += 1;
                assert_eq!(r.header("x-powersource-fault"), Some("error"));
                assert_eq!(r.json()["error"], "injected fault");
            }
            other => panic!("unexpected {other}"),
        }
    }
    // binomial(400, 0.5): sd = 10; allow 6 sd
    assert!((140..=260).contains(&errors), "{errors} of {n} failed");
    // never on the operational routes
    for _ in 0..20 {
        assert_eq!(app.health().await.status, StatusCode::OK);
        assert_eq!(app.metrics().await.status, StatusCode::OK);
    }
    // clearing takes effect at once
    app.faults(Method::DELETE, Some(TOKEN), "").await;
    for i in 0..50 {
        assert_eq!(
            app.assignment(&format!("u{i}")).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn a_fault_on_one_route_leaves_the_others_alone() {
    let app = admin_app().await;
    let id = eligible_ids()[0];
    app.set_faults(json!({"error_rate": 1.0, "route": "/characters/{id}"}))
        .await;
    for _ in 0..10 {
        assert_eq!(
            app.character(id).await.status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(app.image(id, None).await.status, StatusCode::OK);
        assert_eq!(app.random().await.status, StatusCode::OK);
        assert_eq!(app.assignment("someone").await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_hang_never_answers_while_health_stays_200() {
    let app = admin_app().await;
    let id = eligible_ids()[0];
    app.set_faults(json!({"hang": true})).await;
    let hung = tokio::time::timeout(Duration::from_millis(500), app.character(id)).await;
    assert!(hung.is_err(), "a hung instance answered");
    let health = app.health().await;
    assert_eq!(
        health.status,
        StatusCode::OK,
        "a hung instance still looks healthy"
    );

    // clearing the hang releases the requests it holds
    let pending = tokio::spawn({
        let (client, address) = (app.client.clone(), app.base.clone());
        async move {
            let uri = format!("{address}/random");
            client.get(&uri).await.map(|r| r.status)
        }
    });
    app.wait_held(1).await;
    app.faults(Method::DELETE, Some(TOKEN), "").await;
    let status = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.unwrap(), StatusCode::OK);
    assert_eq!(app.character(id).await.status, StatusCode::OK);
}

#[tokio::test]
async fn start_up_flags_inject_faults_without_the_admin_api() {
    let app = spawn_with(Options {
        tweak: Some(Box::new(|s| {
            s.faults.fault_error_rate = 1.0;
            s.faults.fault_route = Some("/random".into());
        })),
        ..Default::default()
    })
    .await;
    assert_eq!(app.random().await.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(app.assignment("x").await.status, StatusCode::OK);
    assert_eq!(
        app.faults(Method::GET, Some(TOKEN), "").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_timed_hang_clears_itself_and_answers_what_it_held() {
    let app = admin_app().await;
    app.set_faults(json!({"hang": true, "duration_ms": 400}))
        .await;
    let spec = app.faults(Method::GET, Some(TOKEN), "").await.json();
    assert_eq!(spec["duration_ms"], 400, "{spec}");
    let start = Instant::now();
    // a request the hang holds is answered once the instance clears the fault itself
    let r = app.random().await;
    let took = start.elapsed();
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        (Duration::from_millis(300)..Duration::from_secs(5)).contains(&took),
        "held {took:?}"
    );
    let spec = app.faults(Method::GET, Some(TOKEN), "").await.json();
    assert_eq!(spec["hang"], false, "{spec}");
    assert_eq!(spec["duration_ms"], serde_json::Value::Null, "{spec}");
    // a duration out of range is refused and changes nothing
    for bad in [0, 3_600_001] {
        let r = app
            .faults(
                Method::PUT,
                Some(TOKEN),
                &json!({"hang": true, "duration_ms": bad}).to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.json()["error"].as_str().unwrap().contains("duration_ms"));
    }
    assert_eq!(app.random().await.status, StatusCode::OK);
}
