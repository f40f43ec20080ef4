//! The superpower ↔ powersource wire contract, in one place.
//!
//! powersource serves it and superpower calls it; both build on the types here, so the two
//! sides cannot drift apart:
//! - [`Route`]: every powersource route, its template (the `route` label of metrics and logs)
//!   and its allowed methods, parsed from a path once; and the path builders superpower calls
//!   ([`character_path`], [`image_path`], [`assignment_path`], [`characters_path`]).
//! - the header names ([`INSTANCE_HEADER`], [`FAULT_HEADER`], [`TARGET_HEADER`]);
//! - the JSON of every answer: [`CharacterView`] (`/characters/{id}`, `/assignments/{key}`),
//!   [`CharacterPage`] (`/characters`), [`RandomAnswer`] (`/random`), [`HealthDetail`]
//!   (`/health`), [`FaultSpec`]
//!   (`/admin/faults`), and the error body ([`ErrorBody`]);
//! - the image answer, "304 or the bytes" ([`image_answer`]), which powersource sends from its
//!   store and superpower from its cache;
//! - the size limits superpower puts on what it reads ([`MAX_CHARACTER_BYTES`],
//!   [`MAX_IMAGE_BYTES`], [`MAX_SMALL_BYTES`], [`MAX_PAGE_BYTES`]).

use bytes::Bytes;
use common::model::{CharacterId, CharacterRecord};
use http::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, ETAG};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

pub use crate::http::body::ErrorBody;
use crate::http::body::{full, if_none_match, json_object, Body, Response};

/// The header naming the powersource instance on every one of its responses.
pub static INSTANCE_HEADER: HeaderName = HeaderName::from_static("x-powersource-instance");

/// The longest instance name superpower passes on from [`INSTANCE_HEADER`] (a pod's name is
/// at most 253 bytes); a longer one is replaced by the instance's address.
pub const MAX_INSTANCE_NAME: usize = 253;

/// The header naming the request an answer is for: powersource echoes the request target (path
/// and query) on every answer, and superpower serves no answer whose echo is
/// not the target it sent. Once a request is written, HTTP/1.1 alone cannot tell a stray answer
/// (a duplicate, a body longer than its `Content-Length`) from the real one; this can, so one
/// user's answer never reaches another. Targets longer than [`MAX_TARGET_ECHO`] are not echoed
/// (superpower's are far shorter).
pub static TARGET_HEADER: HeaderName = HeaderName::from_static("x-powersource-target");

/// The longest request target powersource echoes in [`TARGET_HEADER`].
pub const MAX_TARGET_ECHO: usize = 512;

/// The header on an injected error (`error`), so nobody mistakes it for a real failure.
pub static FAULT_HEADER: HeaderName = HeaderName::from_static("x-powersource-fault");

/// Images are addressed by character id, not by content: a re-ingest may change one. So
/// browsers keep them a day and then revalidate with the ETag (a cheap 304); superpower's own
/// cache revalidates after a few seconds (`--image-ttl-ms`), so a new image shows at once.
pub const IMAGE_CACHE_CONTROL: &str = "public, max-age=86400";

/// Largest character answer superpower reads (a character's JSON is well under a kilobyte); the
/// loader refuses characters whose answer would be larger, so it is defined once, in `common`.
pub use common::model::MAX_CHARACTER_JSON_BYTES as MAX_CHARACTER_BYTES;
/// Largest image superpower reads (the loader refuses images over 5 MiB).
pub const MAX_IMAGE_BYTES: usize = 6 * 1024 * 1024;
/// Largest health, random or admin answer superpower reads.
pub const MAX_SMALL_BYTES: usize = 16 * 1024;

/// A powersource route, parsed from a request path. Segments borrow from the path and are not
/// validated here (an id that is not a number is the handler's 400).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// `GET /characters/{id}`: a [`CharacterView`].
    Character(&'a str),
    /// `GET /characters/{id}/image`: the bytes ([`image_answer`]).
    Image(&'a str),
    /// `GET /assignments/{user_key}`: the [`CharacterView`] assigned to a user.
    Assignment(&'a str),
    /// `GET /characters?after={id}`: a [`CharacterPage`] of every eligible character, by id
    /// (what superpower renders a degraded answer from). Not a product route: no fault applies.
    Characters,
    /// `GET /random`: a [`RandomAnswer`].
    Random,
    /// `GET /health`: 200 or 503 with a [`HealthDetail`].
    Health,
    /// `GET /live`: liveness.
    Live,
    /// `GET /metrics`: Prometheus text.
    Metrics,
    /// `GET|PUT|DELETE /admin/faults`: the [`FaultSpec`] in force.
    AdminFaults,
}

/// The templates of the routes faults can apply to (the product routes).
pub const PRODUCT_ROUTES: [&str; 4] = [
    Route::Character("").template(),
    Route::Image("").template(),
    Route::Assignment("").template(),
    Route::Random.template(),
];

impl<'a> Route<'a> {
    /// The route of `path`, or `None` when no route matches.
    pub fn parse(path: &'a str) -> Option<Self> {
        let rest = path.strip_prefix('/')?;
        let mut segments = rest.split('/');
        let route = match (segments.next()?, segments.next(), segments.next()) {
            ("characters", None, None) => Route::Characters,
            ("characters", Some(id), None) => Route::Character(id),
            ("characters", Some(id), Some("image")) => Route::Image(id),
            ("assignments", Some(key), None) => Route::Assignment(key),
            ("random", None, None) => Route::Random,
            ("health", None, None) => Route::Health,
            ("live", None, None) => Route::Live,
            ("metrics", None, None) => Route::Metrics,
            ("admin", Some("faults"), None) => Route::AdminFaults,
            _ => return None,
        };
        segments.next().is_none().then_some(route)
    }

    /// The template: the `route` label of metrics and logs, and what a fault names.
    pub const fn template(self) -> &'static str {
        match self {
            Route::Character(_) => "/characters/{id}",
            Route::Image(_) => "/characters/{id}/image",
            Route::Assignment(_) => "/assignments/{user_key}",
            Route::Characters => "/characters",
            Route::Random => "/random",
            Route::Health => "/health",
            Route::Live => "/live",
            Route::Metrics => "/metrics",
            Route::AdminFaults => "/admin/faults",
        }
    }

    /// Product routes get faults injected; operational and admin routes never do.
    pub fn is_product(self) -> bool {
        matches!(
            self,
            Route::Character(_) | Route::Image(_) | Route::Assignment(_) | Route::Random
        )
    }

    /// The methods the route allows (the `Allow` header of a 405). `HEAD` is answered wherever
    /// `GET` is (by the shared server).
    pub fn allow(self) -> &'static str {
        match self {
            Route::AdminFaults => "GET, HEAD, PUT, DELETE",
            _ => "GET, HEAD",
        }
    }
}

/// The path of [`Route::Character`].
pub fn character_path(id: CharacterId) -> String {
    format!("/characters/{id}")
}

/// The path of [`Route::Image`]; also the `image_url` of a [`CharacterView`].
pub fn image_path(id: CharacterId) -> String {
    format!("/characters/{id}/image")
}

/// The path of [`Route::Assignment`]; `user_key` must be a valid key ([`valid_user_key`]).
pub fn assignment_path(user_key: impl std::fmt::Display) -> String {
    use std::fmt::Write as _;
    // on every request of `GET /`: one allocation, sized for a user id (22 characters)
    let mut path = String::with_capacity(40);
    let _ = write!(path, "/assignments/{user_key}");
    path
}

/// The path of [`Route::Random`].
pub const RANDOM_PATH: &str = Route::Random.template();
/// The path of [`Route::Health`].
pub const HEALTH_PATH: &str = Route::Health.template();
/// The path of [`Route::AdminFaults`].
pub const ADMIN_FAULTS_PATH: &str = Route::AdminFaults.template();

/// Whether `key` is a valid user key: 1 to 128 bytes of URL-safe characters
/// (`A-Z a-z 0-9 . _ ~ -`, RFC 3986 "unreserved"), so it can sit in a path unescaped.
pub fn valid_user_key(key: &str) -> bool {
    (1..=128).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
}

/// The JSON of a character (`/characters/{id}`, `/assignments/{key}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharacterView {
    /// The character's id.
    pub id: CharacterId,
    /// Display name.
    pub name: String,
    /// May be empty.
    pub description: String,
    /// Path of the image on the powersource that answered: `/characters/{id}/image`.
    pub image_url: String,
    /// The "detail" url, or null.
    pub learn_more_url: Option<String>,
}

impl CharacterView {
    /// The view of a stored record.
    pub fn of(record: &CharacterRecord) -> Self {
        CharacterView {
            id: record.id,
            name: record.name.clone(),
            description: record.description.clone(),
            image_url: image_path(record.id),
            learn_more_url: record.learn_more_url.clone(),
        }
    }
}

/// The path of [`Route::Characters`]: the first page, or the page after the character `after`.
pub fn characters_path(after: Option<CharacterId>) -> String {
    match after {
        Some(id) => format!("/characters?after={id}"),
        None => "/characters".to_owned(),
    }
}

/// A page of `/characters` is filled up to about this many bytes of characters (one more
/// character may pass it).
pub const PAGE_TARGET_BYTES: usize = 64 * 1024;
/// Largest `/characters` page superpower reads: the target and one more character, with room.
pub const MAX_PAGE_BYTES: usize = PAGE_TARGET_BYTES + 4 * MAX_CHARACTER_BYTES;

/// The JSON of `/characters`: eligible characters in id order, from the dataset `fingerprint`
/// (also the page's `ETag`, quoted: a conditional request with it is answered 304 while the
/// dataset is the same).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharacterPage {
    /// The dataset's fingerprint.
    pub fingerprint: String,
    /// The characters, ascending by id.
    pub characters: Vec<CharacterView>,
    /// The `after` of the next page; null on the last.
    pub next: Option<CharacterId>,
}

/// The JSON of `/random` (the original demo's route): a uniformly random eligible character.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RandomAnswer {
    /// The character's id; `/characters/{id}` has the rest.
    pub character_id: CharacterId,
}

/// The detail of `/health` (beside the `status` every service's health carries).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthDetail {
    /// The instance name (as in [`INSTANCE_HEADER`]).
    pub instance: String,
    /// Characters the instance can serve; 0 means unhealthy.
    pub eligible_characters: usize,
    /// The store's current generation, when it holds a dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// The dataset's fingerprint, when the store holds one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// The largest latency or jitter a [`FaultSpec`] accepts, in milliseconds (5 minutes).
pub const MAX_DELAY_MS: u64 = 300_000;

/// The longest a fault may be set for (`duration_ms`), in milliseconds (one hour).
pub const MAX_FAULT_DURATION_MS: u64 = 3_600_000;

/// The faults in force on a powersource: the JSON body of `GET|PUT /admin/faults`. A `PUT`
/// sets the whole spec (absent fields are zero/false/null).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSpec {
    /// Added latency, in milliseconds.
    pub latency_ms: u64,
    /// Random extra latency, uniform in `0..=jitter_ms`.
    pub jitter_ms: u64,
    /// Fraction of requests answered with HTTP 500, `0.0..=1.0`.
    pub error_rate: f64,
    /// Accept requests and never answer them (until shutdown).
    pub hang: bool,
    /// One route template from [`PRODUCT_ROUTES`], or `None` for all of them.
    pub route: Option<String>,
    /// When set, the powersource clears the faults itself this many milliseconds after they
    /// were set (unless they were changed meanwhile), so a forgotten fault cannot outlive a
    /// talk; `None`: until changed or cleared.
    pub duration_ms: Option<u64>,
}

/// Why a fault spec is refused; the message says what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FaultSpecError(pub String);

impl FaultSpec {
    /// Parses and validates an admin request body.
    ///
    /// # Errors
    /// [`FaultSpecError`] saying what is wrong.
    /// The body must be a JSON object: serde alone would also take an array of the fields.
    pub fn parse(body: &[u8]) -> Result<Self, FaultSpecError> {
        let spec: FaultSpec =
            json_object(body).map_err(|e| FaultSpecError(format!("invalid fault spec: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks ranges and the route.
    ///
    /// # Errors
    /// [`FaultSpecError`] naming the first bad field.
    pub fn validate(&self) -> Result<(), FaultSpecError> {
        if self.latency_ms > MAX_DELAY_MS {
            return Err(FaultSpecError(format!(
                "latency_ms must be at most {MAX_DELAY_MS}"
            )));
        }
        if self.jitter_ms > MAX_DELAY_MS {
            return Err(FaultSpecError(format!(
                "jitter_ms must be at most {MAX_DELAY_MS}"
            )));
        }
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(FaultSpecError(
                "error_rate must be between 0.0 and 1.0".into(),
            ));
        }
        if let Some(d) = self.duration_ms {
            if !(1..=MAX_FAULT_DURATION_MS).contains(&d) {
                return Err(FaultSpecError(format!(
                    "duration_ms must be null or between 1 and {MAX_FAULT_DURATION_MS}"
                )));
            }
        }
        if let Some(route) = &self.route {
            if !PRODUCT_ROUTES.contains(&route.as_str()) {
                return Err(FaultSpecError(format!(
                    "route must be null or one of {}",
                    PRODUCT_ROUTES.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Whether any fault is set.
    pub fn is_active(&self) -> bool {
        self.latency_ms > 0 || self.jitter_ms > 0 || self.error_rate > 0.0 || self.hang
    }

    /// Whether the spec applies to a request on the route `template`.
    pub fn applies_to(&self, template: &str) -> bool {
        self.is_active() && self.route.as_deref().is_none_or(|r| r == template)
    }
}

/// The answer to an image request: `304 Not Modified` when the request's `If-None-Match`
/// matches `etag`, else the bytes with their content type; `ETag` and `Cache-Control`
/// ([`IMAGE_CACHE_CONTROL`]) either way.
pub fn image_answer(
    content_type: HeaderValue,
    etag: Option<HeaderValue>,
    bytes: Bytes,
    request: &HeaderMap,
) -> Response {
    let not_modified = etag.as_ref().is_some_and(|e| if_none_match(request, e));
    let mut resp = if not_modified {
        let mut r = http::Response::new(Body::default());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = full(StatusCode::OK, "application/octet-stream", bytes);
        r.headers_mut().insert(CONTENT_TYPE, content_type);
        r
    };
    let h = resp.headers_mut();
    if let Some(etag) = etag {
        h.insert(ETAG, etag);
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static(IMAGE_CACHE_CONTROL));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::IF_NONE_MATCH;

    #[test]
    fn paths_parse() {
        assert_eq!(Route::parse("/characters/12"), Some(Route::Character("12")));
        assert_eq!(
            Route::parse("/characters/12/image"),
            Some(Route::Image("12"))
        );
        assert_eq!(Route::parse("/characters/x"), Some(Route::Character("x")));
        assert_eq!(
            Route::parse("/assignments/u-1"),
            Some(Route::Assignment("u-1"))
        );
        assert_eq!(Route::parse("/admin/faults"), Some(Route::AdminFaults));
        assert_eq!(Route::parse("/characters"), Some(Route::Characters));
        for unknown in [
            "",
            "/",
            "/charactersx",
            "/characters/1/image/x",
            "/characters/1/img",
            "/random/",
            "/admin",
            "/nope",
            "//random",
        ] {
            assert_eq!(Route::parse(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn built_paths_parse_back_to_their_route() {
        assert_eq!(
            Route::parse(&character_path(7)),
            Some(Route::Character("7"))
        );
        assert_eq!(Route::parse(&image_path(7)), Some(Route::Image("7")));
        assert_eq!(
            Route::parse(&assignment_path("u-1")),
            Some(Route::Assignment("u-1"))
        );
        for (path, route) in [
            (RANDOM_PATH, Route::Random),
            (HEALTH_PATH, Route::Health),
            (ADMIN_FAULTS_PATH, Route::AdminFaults),
        ] {
            assert_eq!(Route::parse(path), Some(route));
        }
        assert_eq!(
            PRODUCT_ROUTES.len(),
            [
                Route::Character(""),
                Route::Image(""),
                Route::Assignment(""),
                Route::Random
            ]
            .iter()
            .filter(|r| r.is_product())
            .count()
        );
    }

    #[test]
    fn user_keys() {
        assert!(valid_user_key("a"));
        assert!(valid_user_key("3f2a-9c_b.x~Z"));
        assert!(valid_user_key(&"k".repeat(128)));
        assert!(!valid_user_key(""));
        assert!(!valid_user_key(&"k".repeat(129)));
        assert!(!valid_user_key("a b"));
        assert!(!valid_user_key("a%20b"));
        assert!(!valid_user_key("a/b"));
        assert!(!valid_user_key("zoë"));
    }

    #[test]
    fn specs_parse_and_validate() {
        let s = FaultSpec::parse(br#"{"latency_ms": 20, "route": "/random"}"#).unwrap();
        assert_eq!(s.latency_ms, 20);
        assert!(s.applies_to("/random"));
        assert!(!s.applies_to("/characters/{id}"));
        assert!(FaultSpec::parse(b"{}").unwrap() == FaultSpec::default());
        let timed = FaultSpec::parse(br#"{"hang": true, "duration_ms": 1500}"#).unwrap();
        assert_eq!(timed.duration_ms, Some(1500));
        for bad in [
            &br#"{"error_rate": 1.5}"#[..],
            br#"{"error_rate": -0.1}"#,
            br#"{"latency_ms": -1}"#,
            br#"{"latency_ms": 300001}"#,
            br#"{"route": "/health"}"#,
            br#"{"hang": true, "duration_ms": 0}"#,
            br#"{"hang": true, "duration_ms": 3600001}"#,
            br#"{"latncy_ms": 5}"#,
            b"not json",
        ] {
            assert!(FaultSpec::parse(bad).is_err(), "{:?}", bad);
        }
    }

    #[test]
    fn a_spec_is_an_object_never_an_array() {
        // serde's derives accept a sequence for a struct: the contract says an object
        for bad in [
            &b"[100, 0, 0.5, false, null]"[..],
            b"[]",
            b" \n [0]",
            b"null",
            b"5",
            b"\"x\"",
        ] {
            let err = FaultSpec::parse(bad).expect_err(&String::from_utf8_lossy(bad));
            assert!(err.0.contains("object"), "{err}");
        }
        assert!(FaultSpec::parse(b" \n {}").is_ok());
    }

    #[test]
    fn the_image_answer_is_304_or_the_bytes() {
        let etag = HeaderValue::from_static("\"abc\"");
        let png = HeaderValue::from_static("image/png");
        let fresh = image_answer(
            png.clone(),
            Some(etag.clone()),
            Bytes::from_static(b"png"),
            &HeaderMap::new(),
        );
        assert_eq!(fresh.status(), StatusCode::OK);
        assert_eq!(fresh.headers()[CONTENT_TYPE], "image/png");
        assert_eq!(fresh.headers()[ETAG], "\"abc\"");
        assert_eq!(fresh.headers()[CACHE_CONTROL], IMAGE_CACHE_CONTROL);
        let mut req = HeaderMap::new();
        req.insert(IF_NONE_MATCH, etag.clone());
        let cached = image_answer(png, Some(etag), Bytes::from_static(b"png"), &req);
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
        assert!(cached.headers().get(CONTENT_TYPE).is_none());
        assert_eq!(cached.headers()[ETAG], "\"abc\"");
        assert_eq!(cached.headers()[CACHE_CONTROL], IMAGE_CACHE_CONTROL);
    }
}
