//! One function per route. Handlers return `Result<Response, Error>`; the status of an error
//! is chosen in [`Error::into_response`](crate::error::Error::into_response), not here.

use std::sync::Arc;

use common::http::body::if_none_match;
use common::http::body::{full, json, Body, Response};
use common::http::ops;
use common::model::CharacterId;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, ETAG};
use http::{HeaderMap, StatusCode};
use serde_json::json;

use crate::assign::valid_user_key;
use crate::catalog::Entry;
use crate::error::Error;
use crate::startup::State;

/// Images are addressed by character id, not by content: a re-ingest may change one. So
/// browsers and superpower keep them a day and then revalidate with the ETag (a cheap 304).
const IMAGE_CACHE_CONTROL: &str = "public, max-age=86400";

/// `GET /characters/{id}`: the eligible character `id`, from memory.
///
/// # Errors
/// [`Error::BadId`] for a non-numeric id, [`Error::NotFound`] for an unknown or non-eligible
/// one.
pub fn character(state: &State, id: &str) -> Result<Response, Error> {
    let entry = state
        .catalog
        .character(parse_id(id)?)
        .ok_or(Error::NotFound)?;
    Ok(character_json(entry))
}

/// `GET /characters/{id}/image`: the image bytes with `Content-Type`, `ETag` and
/// `Cache-Control`; 304 when `If-None-Match` matches.
///
/// # Errors
/// As [`character`], plus store errors.
pub async fn image(state: Arc<State>, id: &str, headers: &HeaderMap) -> Result<Response, Error> {
    let id = parse_id(id)?;
    if state.catalog.character(id).is_none() {
        return Err(Error::NotFound);
    }
    let span = tracing::Span::current();
    let record = tokio::task::spawn_blocking(move || span.in_scope(|| state.catalog.image(id)))
        .await??
        .ok_or_else(|| {
            tracing::warn!(id, "eligible character has no image in the store");
            Error::NotFound
        })?;
    let etag = HeaderValue::from_str(&record.etag).ok();
    let not_modified = etag.as_ref().is_some_and(|e| if_none_match(headers, e));
    let mut resp = if not_modified {
        let mut r = http::Response::new(Body::default());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let content_type = HeaderValue::from_str(&record.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream"));
        let mut r = full(StatusCode::OK, "application/octet-stream", record.bytes);
        r.headers_mut().insert(CONTENT_TYPE, content_type);
        r
    };
    if let Some(etag) = etag {
        resp.headers_mut().insert(ETAG, etag);
    }
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(IMAGE_CACHE_CONTROL));
    Ok(resp)
}

/// `GET /assignments/{user_key}`: the character assigned to this user, the same on every
/// instance with the same dataset.
///
/// # Errors
/// [`Error::BadUserKey`] for an invalid key, [`Error::NoCharacters`] for an empty store.
pub fn assignment(state: &State, user_key: &str) -> Result<Response, Error> {
    if !valid_user_key(user_key) {
        return Err(Error::BadUserKey);
    }
    let entry = state.catalog.assign(user_key).ok_or(Error::NoCharacters)?;
    Ok(character_json(entry))
}

/// `GET /random`: `{"character_id": N}`, a uniformly random eligible character (the original
/// demo's route).
///
/// # Errors
/// [`Error::NoCharacters`] for an empty store.
pub fn random(state: &State) -> Result<Response, Error> {
    let entry = state.catalog.random().ok_or(Error::NoCharacters)?;
    Ok(json(StatusCode::OK, &json!({ "character_id": entry.id })))
}

/// `GET /health`: 200 when the store is open and holds eligible characters, else 503.
pub fn health(state: &State) -> Response {
    let eligible = state.catalog.eligible();
    let mut detail = json!({ "instance": state.name, "eligible_characters": eligible });
    if let Some((generation, info)) = state.catalog.info() {
        detail["generation"] = generation.into();
        detail["fingerprint"] = info.fingerprint.clone().into();
    }
    ops::health(eligible > 0, detail)
}

fn character_json(entry: &Entry) -> Response {
    full(StatusCode::OK, "application/json", entry.json.clone())
}

/// Ids are plain decimal digits (no sign, no spaces) that fit a u64.
fn parse_id(id: &str) -> Result<CharacterId, Error> {
    common::model::parse_id(id).ok_or(Error::BadId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(parse_id("1009610").unwrap(), 1009610);
        assert_eq!(parse_id("007").unwrap(), 7);
        for bad in [
            "",
            "-1",
            "+1",
            "1.5",
            "abc",
            " 1",
            "99999999999999999999999",
        ] {
            assert!(matches!(parse_id(bad), Err(Error::BadId)), "{bad}");
        }
    }
}
