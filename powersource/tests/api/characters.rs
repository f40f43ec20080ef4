//! `GET /characters/{id}`, `GET /random`, and the answers to bad paths and methods.

use http::{Method, StatusCode};

use crate::helpers::{eligible_ids, sample_entries, spawn_app};

#[tokio::test]
async fn every_eligible_character_is_served_as_the_view_json() {
    let app = spawn_app().await;
    let entries = sample_entries();
    assert!(entries.iter().filter(|e| e.record.eligible).count() >= 200);
    for e in entries.iter().filter(|e| e.record.eligible) {
        let r = app.character(e.record.id).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let view: service::api::CharacterView = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(view, service::api::CharacterView::of(&e.record));
        assert_eq!(view.image_url, format!("/characters/{}/image", e.record.id));
    }
    // the exact JSON keys of the contract, with null for a missing "detail" url
    let without_url = entries
        .iter()
        .find(|e| e.record.eligible && e.record.learn_more_url.is_none());
    let e = without_url.expect("the sample has characters without a detail url");
    let json = app.character(e.record.id).await.json();
    let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["description", "id", "image_url", "learn_more_url", "name"]
    );
    assert!(json["learn_more_url"].is_null());
}

#[tokio::test]
async fn unknown_and_ineligible_ids_are_404_json() {
    let app = spawn_app().await;
    let ineligible = sample_entries().iter().find(|e| !e.record.eligible);
    let ineligible = ineligible
        .expect("the sample has ineligible characters")
        .record
        .id;
    for id in [ineligible, 1, u64::MAX] {
        let r = app.character(id).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(r.json()["status"], 404);
        assert_eq!(
            app.image(id, None).await.status,
            StatusCode::NOT_FOUND,
            "{id}"
        );
    }
}

#[tokio::test]
async fn non_numeric_ids_are_400() {
    let app = spawn_app().await;
    for id in ["abc", "-1", "1.5", "%20", "", "99999999999999999999999"] {
        let r = app.character(id).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{id:?}");
        assert!(r.json()["error"].as_str().unwrap().contains("integer"));
        assert_eq!(
            app.image(id, None).await.status,
            StatusCode::BAD_REQUEST,
            "{id:?}"
        );
    }
}

#[tokio::test]
async fn random_answers_eligible_ids() {
    let app = spawn_app().await;
    let ids = eligible_ids();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let r = app.random().await;
        assert_eq!(r.status, StatusCode::OK);
        let id = r.json()["character_id"].as_u64().unwrap();
        assert!(ids.binary_search(&id).is_ok(), "{id} is not eligible");
        seen.insert(id);
    }
    assert!(
        seen.len() > 10,
        "50 draws over {} ids gave {} distinct",
        ids.len(),
        seen.len()
    );
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/nope",
        "/characters",
        "/characters/1/image/x",
        "/random/",
        "/admin",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.json()["status"], 404);
    }
    let id = eligible_ids()[0];
    for path in [
        format!("/characters/{id}"),
        format!("/characters/{id}/image"),
        "/assignments/u1".into(),
        "/random".into(),
        "/health".into(),
        "/metrics".into(),
        "/live".into(),
    ] {
        // (HEAD is answered like GET: ops::head_answers_like_get_without_a_body_on_every_get_route)
        for method in [Method::POST, Method::PUT, Method::DELETE] {
            let r = app.request(method.clone(), &path, &[], "").await;
            assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_eq!(r.header("allow"), Some("GET, HEAD"));
        }
    }
}

#[tokio::test]
async fn every_response_names_the_instance() {
    let app = spawn_app().await;
    for path in [
        "/random",
        "/nope",
        "/health",
        "/live",
        "/metrics",
        "/characters/x",
        "/admin/faults",
    ] {
        let r = app.get(path).await;
        assert_eq!(
            r.header("x-powersource-instance"),
            Some(app.name.as_str()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn oversized_request_heads_are_refused_without_harm() {
    let app = spawn_app().await;
    let big = "x".repeat(64 * 1024);
    let r = app
        .request(Method::GET, "/random", &[("x-big", &big)], "")
        .await;
    assert_eq!(r.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(app.health().await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_loader_sizes_a_character_answer_as_powersource_writes_it() {
    // The loader refuses a character whose answer would exceed the contract's limit: its size
    // of an answer must be the size powersource really answers, byte for byte.
    let app = spawn_app().await;
    for e in sample_entries().iter().filter(|e| e.record.eligible) {
        let r = app.character(e.record.id).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.body.len(),
            loader::dataset::served_json_len(&e.record),
            "{}",
            e.record.name
        );
    }
}
