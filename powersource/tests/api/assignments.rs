//! `GET /assignments/{user_key}`: valid keys, determinism across instances and stores.

use http::StatusCode;

use crate::helpers::{eligible_ids, spawn_app};

#[tokio::test]
async fn an_assignment_is_an_eligible_character_as_json() {
    let app = spawn_app().await;
    let ids = eligible_ids();
    let r = app.assignment("3f2a9c1e-7b4d-4e55-9a0b-1c2d3e4f5a6b").await;
    assert_eq!(r.status, StatusCode::OK);
    let view: service::api::CharacterView = serde_json::from_slice(&r.body).unwrap();
    assert!(ids.binary_search(&view.id).is_ok());
    // the same JSON as the character route
    assert_eq!(app.character(view.id).await.body, r.body);
}

#[tokio::test]
async fn invalid_user_keys_are_400() {
    let app = spawn_app().await;
    let long = "k".repeat(129);
    for key in ["", "a%20b", "zo%C3%AB", "a:b", long.as_str()] {
        let r = app.assignment(key).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{key:?}");
        assert!(r.json()["error"].as_str().unwrap().contains("user key"));
    }
    assert_eq!(
        app.assignment(&"k".repeat(128)).await.status,
        StatusCode::OK
    );
    assert_eq!(app.assignment("A-z_0.9~").await.status, StatusCode::OK);
}

#[tokio::test]
async fn two_instances_over_separately_ingested_stores_agree() {
    let a = spawn_app().await;
    let b = spawn_app().await;
    assert_ne!(a.base, b.base);
    let mut distinct = std::collections::HashSet::new();
    for i in 0..300 {
        let key = format!("user-{i}");
        let (ra, rb) = (a.assignment(&key).await, b.assignment(&key).await);
        assert_eq!(ra.status, StatusCode::OK);
        assert_eq!(ra.body, rb.body, "{key}");
        // and asking again (another connection, later) gives the same answer
        assert_eq!(a.assignment(&key).await.body, ra.body);
        distinct.insert(ra.json()["id"].as_u64().unwrap());
    }
    assert!(
        distinct.len() > 100,
        "300 users got only {} characters",
        distinct.len()
    );
}

#[tokio::test]
async fn assignments_survive_a_restart_over_the_same_store() {
    let (_dir, path, store) = crate::helpers::fresh_store(true);
    let mut store = Some(store);
    let mut answers = Vec::new();
    for _ in 0..2 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let settings =
            powersource::Settings::new(listener.local_addr().unwrap().to_string(), &path);
        let store = match store.take() {
            Some(s) => s,
            None => crate::helpers::reopen(&path).await,
        };
        let app = powersource::Application::with_store(&settings, store, listener)
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        let client = testkit::http::Client::default();
        let mut these = Vec::new();
        for i in 0..50 {
            let uri = format!("http://{}/assignments/u{i}", settings.listen);
            let resp = client.get(&uri).await.unwrap();
            assert_eq!(resp.status, StatusCode::OK);
            these.push(resp.body);
        }
        answers.push(these);
        drop(client);
        tx.send(()).unwrap();
        server.await.unwrap(); // releases the sled lock for the restart
    }
    assert_eq!(answers[0], answers[1]);
}
