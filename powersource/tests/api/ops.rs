//! `/health`, `/live`, `/metrics`, and the empty store.

use http::StatusCode;

use crate::helpers::{eligible_ids, spawn_app, spawn_with, Options};

#[tokio::test]
async fn health_is_200_with_the_dataset() {
    let app = spawn_app().await;
    let r = app.health().await;
    assert_eq!(r.status, StatusCode::OK);
    let json = r.json();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["eligible_characters"], eligible_ids().len());
    assert_eq!(json["instance"], app.name.as_str());
    assert!(json["fingerprint"].as_str().is_some_and(|f| !f.is_empty()));
    assert_eq!(app.live().await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_empty_store_starts_and_reports_503() {
    let app = spawn_with(Options {
        empty: true,
        ..Default::default()
    })
    .await;
    let r = app.health().await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json()["status"], "unavailable");
    assert_eq!(r.json()["eligible_characters"], 0);
    assert_eq!(app.live().await.status, StatusCode::OK);
    assert_eq!(app.random().await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        app.assignment("someone").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(app.character(1_010_000).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.image(1_010_000, None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn metrics_use_route_templates_never_raw_ids() {
    let app = spawn_app().await;
    let id = eligible_ids()[0];
    app.character(id).await;
    app.character("abc").await;
    app.image(id, None).await;
    app.assignment("metrics-user-77").await;
    app.random().await;
    app.get("/nope/12345").await;
    let r = app.metrics().await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let text = r.text();
    for needle in [
        "http_server_request_duration_seconds_bucket{",
        r#"route="/characters/{id}""#,
        r#"route="/characters/{id}/image""#,
        r#"route="/assignments/{user_key}""#,
        r#"route="/random""#,
        r#"route="unmatched""#,
        r#"status="400""#,
        r#"le="1""#,
        "powersource_eligible_characters",
        r#"powersource_faults_active{kind="hang"}"#,
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    // label values only (a float sum could contain any digits)
    let labels: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| Some(&l[l.find('{')?..=l.find('}')?]))
        .collect();
    assert!(!labels.is_empty());
    for raw in [id.to_string().as_str(), "metrics-user-77", "12345", "abc"] {
        assert!(
            !labels.iter().any(|l| l.contains(raw)),
            "raw path part {raw} leaked into a label"
        );
    }
}

#[tokio::test]
async fn head_answers_like_get_without_a_body_on_every_get_route() {
    use http::Method;
    let app = spawn_app().await;
    let id = eligible_ids()[0];
    for path in [
        format!("/characters/{id}"),
        format!("/characters/{id}/image"),
        "/assignments/head-user".into(),
        "/health".into(),
        "/live".into(),
        "/characters/abc".into(),
        "/characters/1".into(),
    ] {
        let get = app.get(&path).await;
        let head = app.request(Method::HEAD, &path, &[], []).await;
        testkit::checks::assert_head_answers_like_get(
            &path,
            &get,
            &head,
            &[
                "content-type",
                "etag",
                "cache-control",
                "x-powersource-instance",
            ],
        );
    }
    for path in ["/random", "/metrics"] {
        let head = app.request(Method::HEAD, path, &[], []).await;
        assert_eq!(head.status, StatusCode::OK, "{path}");
        assert!(head.body.is_empty() && head.header("content-length").is_some());
    }
    let post = app.request(Method::POST, "/random", &[], []).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
}
