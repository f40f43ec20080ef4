//! Graceful shutdown: in-flight requests finish, hung ones are answered, the server stops.

use std::time::{Duration, Instant};

use http::StatusCode;
use serde_json::json;

use crate::helpers::{eligible_ids, spawn_with, Options};

#[tokio::test]
async fn shutdown_finishes_an_in_flight_request_then_stops() {
    let mut app = spawn_with(Options {
        admin: true,
        ..Default::default()
    })
    .await;
    let id = eligible_ids()[0];
    // a latency fault far longer than the drain timeout: faults end when shutdown starts, so
    // the request is answered normally at once instead of being cut at the drain deadline
    app.set_faults(json!({"latency_ms": 60_000})).await;
    let start = Instant::now();
    let in_flight = tokio::spawn({
        let (client, address) = (app.client.clone(), app.base.clone());
        async move {
            let uri = format!("{address}/characters/{id}");
            client.get(&uri).await.map(|r| r.status)
        }
    });
    app.wait_held(1).await;
    let server = app.shutdown();

    let status = tokio::time::timeout(Duration::from_secs(20), in_flight)
        .await
        .expect("an answer or an error within the bound")
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(status, StatusCode::OK);
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("drained")
        .unwrap();
    // well inside the 10 s drain bound: the latency did not hold the drain
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    let fresh = testkit::http::Client::default();
    let refused = fresh.get(&format!("{}/health", app.base)).await;
    assert!(refused.is_err(), "still serving after shutdown");
}

#[tokio::test]
async fn shutdown_answers_hung_requests_instead_of_waiting_for_them() {
    let mut app = spawn_with(Options {
        admin: true,
        ..Default::default()
    })
    .await;
    app.set_faults(json!({"hang": true})).await;
    let hung = tokio::spawn({
        let (client, address) = (app.client.clone(), app.base.clone());
        async move {
            client
                .get(&format!("{address}/random"))
                .await
                .map(|r| r.status)
        }
    });
    app.wait_held(1).await;
    let start = Instant::now();
    let server = app.shutdown();
    assert_eq!(
        hung.await.unwrap().unwrap(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("drained")
        .unwrap();
    // well inside the 10 s drain bound: the hang did not hold the drain
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}
