//! What a browser and an API client see: HTML and JSON, cookies, images, headers, errors.

use http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, SET_COOKIE, X_CONTENT_TYPE_OPTIONS,
};
use http::{Method, StatusCode};

use superpower::identity::COOKIE_NAME;
use superpower::remembered::COOKIE_NAME as LAST_COOKIE;

use crate::helpers::{spawn_app, test_settings, TestApp, TestFleet};

async fn app() -> (TestFleet, TestApp) {
    let fleet = TestFleet::start(2);
    let app = spawn_app(test_settings(fleet.urls())).await;
    app.wait_for_ring(2).await;
    (fleet, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_name_description_image_and_link() {
    let (_fleet, app) = app().await;
    let json = app.superpower_json(None).await;
    let cookie = json.set_cookie(COOKIE_NAME).unwrap();
    let j = json.json();
    let page = app.superpower_html(Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers[CONTENT_TYPE], "text/html; charset=utf-8");
    let html = page.text();
    let name = j["name"].as_str().unwrap();
    let escaped = name
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    assert!(
        html.contains(&format!("<span class=\"name\">{escaped}</span>")),
        "{html}"
    );
    let image_url = j["image_url"].as_str().unwrap();
    assert!(html.contains(&format!("src=\"{image_url}\"")));
    let description = j["description"].as_str().unwrap();
    if !description.is_empty() {
        assert!(html.contains(&description.replace('&', "&amp;").replace('"', "&quot;")));
    }
    match j["learn_more_url"].as_str() {
        Some(url) => {
            assert!(html.contains("Learn more!") && html.contains(&url.replace('&', "&amp;")))
        }
        None => assert!(!html.contains("Learn more!")),
    }
    assert!(
        !html.contains("http://") || html.contains(j["learn_more_url"].as_str().unwrap_or("\u{0}")),
        "no external assets"
    );

    // and the image itself
    let img = app.get(image_url, &[]).await;
    assert_eq!(img.status, StatusCode::OK);
    let ct = img.headers[CONTENT_TYPE].to_str().unwrap().to_owned();
    assert!(ct == "image/png" || ct == "image/jpeg", "{ct}");
    assert!(img.body.starts_with(b"\x89PNG") || img.body.starts_with(b"\xff\xd8\xff"));
    let etag = img.headers[ETAG].to_str().unwrap().to_owned();
    let again = app.get(image_url, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    // the stylesheet the page links
    let css = app.get("/static/superpower.css", &[]).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.headers[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_is_negotiated_with_q_values() {
    let (_fleet, app) = app().await;
    for (accept, json) in [
        ("application/json", true),
        ("text/html;q=0.5, application/json", true),
        ("*/*", false),
        ("text/html, application/json;q=0.9", false),
    ] {
        let a = app.get("/", &[("accept", accept)]).await;
        assert_eq!(a.status, StatusCode::OK, "{accept}");
        let ct = a.headers[CONTENT_TYPE].to_str().unwrap();
        assert_eq!(
            ct.starts_with("application/json"),
            json,
            "{accept} gave {ct}"
        );
    }
    let none = app.get("/", &[]).await;
    assert!(
        none.headers[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "no Accept means HTML"
    );
    let png = app.get("/", &[("accept", "image/png")]).await;
    assert_eq!(png.status, StatusCode::NOT_ACCEPTABLE);
    // every Accept header counts, not only the first (RFC 9110 §5.3: a list may be split)
    let two = app
        .get(
            "/",
            &[("accept", "image/png"), ("accept", "application/json")],
        )
        .await;
    assert_eq!(two.status, StatusCode::OK, "{}", two.text());
    assert!(two.headers[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let weighed = app
        .get(
            "/",
            &[
                ("accept", "application/json;q=0.5"),
                ("accept", "text/html"),
            ],
        )
        .await;
    assert!(weighed.headers[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let j = app.superpower_json(None).await.json();
    for key in [
        "id",
        "name",
        "description",
        "image_url",
        "learn_more_url",
        "instance",
        "degraded",
    ] {
        assert!(j.get(key).is_some(), "JSON has {key}: {j}");
    }
    assert_eq!(j["degraded"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_or_hostile_cookies_get_a_new_identity_never_an_error() {
    let (_fleet, app) = app().await;
    for cookie in [
        "",
        "<script>alert(1)</script>",
        "../../../../etc/passwd",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "%00%01",
    ]
    .map(|v| format!("{COOKIE_NAME}={v}"))
    .into_iter()
    .chain([";;;;=;=;".to_owned()])
    {
        let cookie = cookie.as_str();
        let a = app
            .get("/", &[("accept", "application/json"), ("cookie", cookie)])
            .await;
        assert_eq!(a.status, StatusCode::OK, "{cookie}: {}", a.text());
        let set = a.headers[SET_COOKIE].to_str().unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"),
            "{set}"
        );
        assert_eq!(a.set_cookie(COOKIE_NAME).unwrap().len(), 22);
    }
    let long = format!("{COOKIE_NAME}={}", "x".repeat(10_000));
    let a = app.get("/", &[("cookie", &long)]).await;
    assert!(
        a.status == StatusCode::OK || a.status == StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "{}",
        a.status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_ascii_byte_elsewhere_in_cookie_keeps_the_identity() {
    let (_fleet, app) = app().await;
    let first = app.superpower_json(None).await;
    let id = first.set_cookie(COOKIE_NAME).unwrap();
    let last = format!("{LAST_COOKIE}={}", first.set_cookie(LAST_COOKIE).unwrap());
    let name = first.json()["name"].as_str().unwrap().to_owned();
    for cookie in [
        format!("{COOKIE_NAME}={id}; lang=français; {last}"),
        format!("lang=français; {last}; {COOKIE_NAME}={id}"),
        format!("theme=\u{1F600}; {COOKIE_NAME}={id}; x=\u{e9}t\u{e9}; {last}"),
    ] {
        let a = app
            .get("/", &[("accept", "application/json"), ("cookie", &cookie)])
            .await;
        assert_eq!(a.status, StatusCode::OK, "{cookie}: {}", a.text());
        assert!(
            a.headers.get(SET_COOKIE).is_none(),
            "{cookie}: the known user's cookies were overwritten"
        );
        assert_eq!(a.json()["name"], name.as_str(), "{cookie}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_methods_and_ids() {
    let (_fleet, app) = app().await;
    for path in [
        "/nope",
        "/images/",
        "/images/abc",
        "/images/1/2",
        "/images/99999999999999999999999",
        "/admin/../etc/passwd",
    ] {
        let a = app.get(path, &[]).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        app.get("/images/1", &[]).await.status,
        StatusCode::NOT_FOUND,
        "an id the dataset lacks"
    );
    let post = app.request(Method::POST, "/", &[], "x").await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers["allow"], "GET, HEAD");
    let post = app.admin(Method::POST, "/admin/switches", "").await;
    assert_eq!(post.headers["allow"], "GET, HEAD, PUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_answers_like_get_without_a_body_on_every_get_route() {
    let (_fleet, app) = app().await;
    let first = app.superpower_json(None).await;
    let cookie = format!("{COOKIE_NAME}={}", first.set_cookie(COOKIE_NAME).unwrap());
    let image = first.json()["image_url"].as_str().unwrap().to_owned();
    let json = [("accept", "application/json"), ("cookie", cookie.as_str())];
    for (path, headers) in [
        ("/", &json[..]),
        ("/", &json[1..]),
        (image.as_str(), &[][..]),
        ("/static/superpower.css", &[]),
        ("/health", &[]),
        ("/live", &[]),
        ("/nope", &[]),
        ("/admin", &[]),
    ] {
        let get = app.get(path, headers).await;
        let head = app.request(Method::HEAD, path, headers, "").await;
        testkit::checks::assert_head_answers_like_get(
            path,
            &get,
            &head,
            &[
                "content-type",
                "etag",
                "cache-control",
                "vary",
                "content-security-policy",
            ],
        );
    }
    let head = app.request(Method::HEAD, "/metrics", &[], "").await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty() && head.header("content-length").is_some());
    let switches = app.admin(Method::HEAD, "/admin/switches", "").await;
    assert_eq!(switches.status, StatusCode::OK);
    assert!(switches.body.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_on_every_answer() {
    let (_fleet, app) = app().await;
    // pages: their own policy (what they load, from this origin), no referrer, no framing
    for path in ["/", "/promises", "/admin"] {
        let a = app.get(path, &[]).await;
        assert!(
            a.header("content-type").unwrap().starts_with("text/html"),
            "{path}"
        );
        let csp = a.headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'")
                && csp.contains("img-src 'self'")
                && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(a.headers[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(a.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(a.header("x-frame-options"), Some("DENY"));
    }
    // every other answer: nothing may load from it or frame it
    let json = [("accept", "application/json")];
    for (path, headers) in [
        ("/", &json[..]),
        ("/nope", &[][..]),
        ("/health", &[][..]),
        ("/static/superpower.css", &[][..]),
    ] {
        let a = app.get(path, headers).await;
        assert_eq!(
            a.header("content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(a.headers[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(!a.headers.contains_key("referrer-policy"), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_live_and_metrics() {
    let (_fleet, app) = app().await;
    let h = app.get("/health", &[]).await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(h.json()["ring_members"], 2);
    assert_eq!(app.get("/live", &[]).await.status, StatusCode::OK);
    app.superpower_json(None).await;
    let m = app.get("/metrics", &[]).await.text();
    for name in [
        "http_server_request_duration_seconds_bucket",
        "superpower_powersource_request_duration_seconds_bucket",
        "superpower_ring_members",
        "superpower_resilience_enabled",
    ] {
        assert!(m.contains(name), "{name} missing");
    }
    assert!(m.contains("route=\"/\""));
    assert!(
        !m.contains("route=\"/images/1"),
        "raw paths never become labels"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_image_is_served_within_seconds_of_a_powersource_serving_it() {
    let mut fleet = TestFleet::start(1);
    let mut settings = test_settings(fleet.urls());
    settings.image_ttl = std::time::Duration::from_millis(300);
    let app = spawn_app(settings).await;
    app.wait_for_ring(1).await;
    // two eligible characters with PNG images of different bytes: A's image becomes B's
    let pngs: Vec<_> = testkit::sample::entries()
        .iter()
        .filter(|e| e.record.eligible)
        .filter_map(|e| Some((e.record.id, e.image.clone()?)))
        .filter(|(_, img)| img.content_type == "image/png")
        .take(2)
        .collect();
    let [(a, a_img), (_, b_img)] = &pngs[..] else {
        panic!("the sample has PNG images")
    };
    assert_ne!(a_img.etag, b_img.etag);
    let path = format!("/images/{a}");
    let old = app.get(&path, &[]).await;
    assert_eq!(
        old.body.as_ref(),
        std::fs::read(&a_img.path).unwrap().as_slice()
    );
    let old_etag = old.header("etag").unwrap().to_owned();

    // re-ingest: a new store whose dataset has the new image, and the instance restarted on it
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store-v2");
    testkit::sample::ingest_variant(&store, |copy| {
        std::fs::copy(
            &b_img.path,
            testkit::sample::variant_path(copy, &a_img.path),
        )
        .unwrap();
    });
    fleet.instances[0].kill();
    fleet.instances[0].restart_on(store);
    let served_at = std::time::Instant::now();

    let new = std::fs::read(&b_img.path).unwrap();
    let bound = std::time::Duration::from_secs(10);
    loop {
        let a = app.get(&path, &[("if-none-match", &old_etag)]).await;
        if a.status == StatusCode::OK && a.body.as_ref() == new.as_slice() {
            assert_eq!(a.header("etag"), Some(b_img.etag.as_str()));
            break;
        }
        assert!(
            served_at.elapsed() < bound,
            "still the old image {:?} after {bound:?}",
            a.status
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    eprintln!(
        "new image served {:?} after the restart",
        served_at.elapsed()
    );
    // and the new ETag revalidates to 304
    let again = app.get(&path, &[("if-none-match", &b_img.etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
}

/// A re-ingested dataset that rewrites the user's character's description: superpower serves
/// the new text (JSON and HTML) as soon as the instance serves it, although the old answer was
/// prepared and cached (the new body is another key), and the user keeps the character. (The
/// description, not the name: the image file is named after the name.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_character_is_served_rewritten_once_the_instance_serves_it() {
    let mut fleet = TestFleet::start(1);
    let app = spawn_app(test_settings(fleet.urls())).await;
    app.wait_for_ring(1).await;
    let first = app.superpower_json(None).await;
    let cookie = first.set_cookie(COOKIE_NAME).unwrap();
    let old = first.json();
    // asked again (and again as HTML): now from the prepared answers
    for _ in 0..3 {
        assert_eq!(app.superpower_json(Some(&cookie)).await.json(), old);
    }
    let id = old["id"].as_u64().unwrap();
    let description = old["description"].as_str().unwrap().to_owned();
    let rewritten = format!("{description} Rewritten at the second ingest.");

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store-v2");
    testkit::sample::ingest_variant(&store, |copy| {
        let path = copy.join("characters.json");
        let mut all: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let c = all
            .iter_mut()
            .find(|c| c["id"].as_u64() == Some(id))
            .unwrap();
        c["description"] = rewritten.clone().into();
        std::fs::write(&path, serde_json::to_vec(&all).unwrap()).unwrap();
    });
    fleet.instances[0].kill();
    fleet.instances[0].restart_on(store);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let new = loop {
        let a = app.superpower_json(Some(&cookie)).await;
        if a.status == StatusCode::OK && a.headers.get("x-superpower-degraded").is_none() {
            let j = a.json();
            if j["description"] == rewritten.as_str() {
                break j;
            }
            assert_eq!(j, old, "the old answer until the new one");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new description within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(new["id"], old["id"], "the same character");
    assert_eq!(new["name"], old["name"]);
    let page = app.superpower_html(Some(&cookie)).await.text();
    assert!(
        page.contains("Rewritten at the second ingest.</p>"),
        "{page}"
    );
}
