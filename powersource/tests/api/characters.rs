//! `GET /characters/{id}`, `GET /random`, and the answers to bad paths and methods.

use http::{Method, StatusCode};

use crate::helpers::{eligible_ids, sample_entries, spawn_app, spawn_with, Options};

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
        "/charactersx",
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
async fn every_response_names_the_request_it_answers() {
    let app = spawn_app().await;
    for target in [
        "/assignments/user-1",
        "/characters/1011334",
        "/characters/1011334/image",
        "/characters?after=0",
        "/random",
        "/nope",
        "/characters/x",
        "/health",
    ] {
        let r = app.get(target).await;
        assert_eq!(r.header("x-powersource-target"), Some(target), "{target}");
    }
    // a target longer than any superpower sends is answered without the echo
    let long = format!("/assignments/{}", "k".repeat(600));
    let r = app.get(&long).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.header("x-powersource-target"), None);
}

#[tokio::test]
async fn an_injected_error_names_its_request_too() {
    let app = spawn_with(Options {
        tweak: Some(Box::new(|s| s.faults.fault_error_rate = 1.0)),
        ..Default::default()
    })
    .await;
    let r = app.get("/assignments/user-1").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        r.header("x-powersource-target"),
        Some("/assignments/user-1")
    );
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

#[tokio::test]
async fn the_listing_pages_through_every_eligible_character_once_in_order() {
    let app = spawn_app().await;
    let want: Vec<u64> = {
        let mut ids = eligible_ids();
        ids.sort_unstable();
        ids
    };
    let (mut got, mut after, mut pages, mut etag) = (Vec::new(), None::<u64>, 0, None);
    loop {
        let path = match after {
            Some(a) => format!("/characters?after={a}"),
            None => "/characters".to_owned(),
        };
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            r.body.len() <= service::api::MAX_PAGE_BYTES,
            "a page superpower can read"
        );
        let tag = r
            .header("etag")
            .expect("the dataset's fingerprint")
            .to_owned();
        assert_eq!(
            etag.get_or_insert(tag.clone()),
            &tag,
            "one dataset, one tag"
        );
        let page: service::api::CharacterPage = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(format!("\"{}\"", page.fingerprint), tag);
        for view in &page.characters {
            let one = app.character(view.id).await;
            assert_eq!(
                &serde_json::from_slice::<service::api::CharacterView>(&one.body).unwrap(),
                view
            );
            got.push(view.id);
        }
        pages += 1;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(got, want, "every eligible character, once, ascending");
    assert!(pages >= 2, "the sample takes more than one page ({pages})");
    // the same dataset: 304 on the tag, with the tag
    let tag = etag.unwrap();
    let r = app
        .request(Method::GET, "/characters", &[("if-none-match", &tag)], [])
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_eq!(r.header("etag"), Some(tag.as_str()));
    assert!(r.body.is_empty());
    // after the last id: an empty last page; other query parameters are ignored
    let last = want.last().unwrap();
    let r = app.get(&format!("/characters?x=1&after={last}")).await;
    let page: service::api::CharacterPage = serde_json::from_slice(&r.body).unwrap();
    assert!(page.characters.is_empty() && page.next.is_none());
}

#[tokio::test]
async fn a_bad_after_is_400_and_the_listing_allows_only_get() {
    let app = spawn_app().await;
    for bad in ["abc", "-1", "", "99999999999999999999999"] {
        let r = app.get(&format!("/characters?after={bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad:?}");
    }
    let r = app.request(Method::POST, "/characters", &[], []).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}
