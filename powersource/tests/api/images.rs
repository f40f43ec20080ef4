//! `GET /characters/{id}/image`: bytes, Content-Type, ETag, Cache-Control, 304.

use http::StatusCode;

use crate::helpers::{sample_entries, spawn_app};

#[tokio::test]
async fn images_are_served_with_type_etag_and_cache_control() {
    let app = spawn_app().await;
    let entries = sample_entries();
    let mut types = std::collections::HashSet::new();
    for e in entries.iter().filter(|e| e.record.eligible) {
        let file = e.image.as_ref().expect("eligible characters have an image");
        let r = app.image(e.record.id, None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), Some(file.content_type));
        assert_eq!(r.header("etag"), Some(file.etag.as_str()));
        assert_eq!(
            r.body.as_ref(),
            std::fs::read(&file.path).unwrap().as_slice()
        );
        let cc = r.header("cache-control").unwrap();
        assert!(cc.contains("public") && cc.contains("max-age="), "{cc}");
        types.insert(file.content_type);
    }
    assert!(types.len() >= 2, "the sample has PNG and JPEG: {types:?}");
}

#[tokio::test]
async fn if_none_match_answers_304() {
    let app = spawn_app().await;
    let e = sample_entries().iter().find(|e| e.record.eligible).unwrap();
    let etag = e.image.clone().unwrap().etag;
    let id = e.record.id;

    let weak = format!("W/{etag}");
    let list = format!("\"nope\", {etag}");
    for tag in [etag.as_str(), &weak, &list, "*"] {
        let r = app.image(id, Some(tag)).await;
        assert_eq!(r.status, StatusCode::NOT_MODIFIED, "{tag}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), Some(etag.as_str()));
        assert!(r.header("cache-control").is_some());
    }
    let r = app.image(id, Some("\"something-else\"")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.is_empty());
}
