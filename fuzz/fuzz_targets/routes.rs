//! Route parsing on any path: powersource's `service::api::Route::parse` and superpower's
//! `routes::template_of`, on the raw text and on the path of it as a URI. Invariants: a parsed
//! route's template is a known one and the path rebuilds from its route exactly; the path
//! builders parse back to their route; a valid user key sits in a path as it is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use service::api::{
    assignment_path, character_path, image_path, valid_user_key, Route, PRODUCT_ROUTES,
};
use superpower::routes::template_of;

/// Every powersource template.
const POWERSOURCE: [&str; 9] = [
    "/characters",
    "/characters/{id}",
    "/characters/{id}/image",
    "/assignments/{user_key}",
    "/random",
    "/health",
    "/live",
    "/metrics",
    "/admin/faults",
];

/// Every superpower template, and the label of no route.
const SUPERPOWER: [&str; 17] = [
    "/",
    "/static/{file}",
    "/promises",
    "/promises.json",
    "/admin/reset",
    "/admin/replicas",
    "/admin/peer",
    "/admin/peer/switches",
    "/health",
    "/live",
    "/metrics",
    "/admin",
    "/admin/switches",
    "/admin/instances",
    "/admin/instances/{name}/faults",
    "/images/{id}",
    "unmatched",
];

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check(text);
        if valid_user_key(text) {
            assert!(!text.contains('/') && (1..=128).contains(&text.len()));
            assert_eq!(
                Route::parse(&assignment_path(text)),
                Some(Route::Assignment(text))
            );
        }
    }
    if let Ok(uri) = http::Uri::try_from(data) {
        check(uri.path());
    }
    if let Some(bytes) = data.get(..8) {
        let id = u64::from_le_bytes(bytes.try_into().unwrap());
        let id_text = id.to_string();
        assert_eq!(
            Route::parse(&character_path(id)),
            Some(Route::Character(&id_text))
        );
        assert_eq!(Route::parse(&image_path(id)), Some(Route::Image(&id_text)));
    }
});

fn check(path: &str) {
    if let Some(route) = Route::parse(path) {
        let template = route.template();
        assert!(POWERSOURCE.contains(&template), "{template}");
        assert_eq!(route.is_product(), PRODUCT_ROUTES.contains(&template));
        let rebuilt = match route {
            Route::Character(id) => format!("/characters/{id}"),
            Route::Image(id) => format!("/characters/{id}/image"),
            Route::Assignment(key) => format!("/assignments/{key}"),
            other => other.template().to_owned(),
        };
        assert_eq!(rebuilt, path, "{route:?}");
    }

    let template = template_of(path);
    assert!(SUPERPOWER.contains(&template), "{template}");
    match template {
        "unmatched" => {}
        "/static/{file}" => assert!(path.starts_with("/static/")),
        "/images/{id}" => {
            let id = path.strip_prefix("/images/").unwrap();
            assert!(!id.contains('/'), "{path}");
        }
        "/admin/instances/{name}/faults" => {
            let name = path
                .strip_prefix("/admin/instances/")
                .and_then(|p| p.strip_suffix("/faults"))
                .unwrap();
            assert!(!name.contains('/'), "{path}");
        }
        exact => assert_eq!(exact, path),
    }
}
