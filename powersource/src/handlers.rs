//! One function per route. Handlers return `Result<Response, ApiError>`; the status of an error
//! is chosen in [`ApiError::into_response`](crate::error::ApiError::into_response), not here.

use std::sync::Arc;

use bytes::Bytes;
use common::model::CharacterId;
use http::header::{HeaderValue, ETAG};
use http::{HeaderMap, StatusCode};
use service::api::{image_answer, valid_user_key, HealthDetail, RandomAnswer, PAGE_TARGET_BYTES};
use service::http::body::{full, json, Response};
use service::http::ops;

use crate::catalog::Entry;
use crate::error::ApiError;
use crate::state::State;

/// `GET /characters/{id}`: the eligible character `id`, from memory.
///
/// # Errors
/// [`ApiError::BadId`] for a non-numeric id, [`ApiError::NotFound`] for an unknown or non-eligible
/// one.
pub fn character(state: &State, id: &str) -> Result<Response, ApiError> {
    let entry = state
        .catalog
        .character(parse_id(id)?)
        .ok_or(ApiError::NotFound)?;
    Ok(character_json(entry))
}

/// `GET /characters/{id}/image`: the image bytes with `Content-Type`, `ETag` and
/// `Cache-Control`; 304 when `If-None-Match` matches.
///
/// # Errors
/// As [`character`], plus store errors.
pub async fn image(state: Arc<State>, id: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let id = parse_id(id)?;
    if state.catalog.character(id).is_none() {
        return Err(ApiError::NotFound);
    }
    let span = tracing::Span::current();
    let record = tokio::task::spawn_blocking(move || span.in_scope(|| state.catalog.image(id)))
        .await??
        .ok_or_else(|| {
            tracing::warn!(id, "eligible character has no image in the store");
            ApiError::NotFound
        })?;
    let content_type = HeaderValue::from_str(&record.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let etag = HeaderValue::from_str(&record.etag).ok();
    Ok(image_answer(
        content_type,
        etag,
        record.bytes.into(),
        headers,
    ))
}

/// `GET /assignments/{user_key}`: the character assigned to this user, the same on every
/// instance with the same dataset.
///
/// # Errors
/// [`ApiError::BadUserKey`] for an invalid key, [`ApiError::NoCharacters`] for an empty store.
pub fn assignment(state: &State, user_key: &str) -> Result<Response, ApiError> {
    if !valid_user_key(user_key) {
        return Err(ApiError::BadUserKey);
    }
    let entry = state
        .catalog
        .assign(user_key)
        .ok_or(ApiError::NoCharacters)?;
    Ok(character_json(entry))
}

/// `GET /random`: `{"character_id": N}`, a uniformly random eligible character (the original
/// demo's route).
///
/// # Errors
/// [`ApiError::NoCharacters`] for an empty store.
pub fn random(state: &State) -> Result<Response, ApiError> {
    let entry = state.catalog.random().ok_or(ApiError::NoCharacters)?;
    Ok(json(
        StatusCode::OK,
        &RandomAnswer {
            character_id: entry.id,
        },
    ))
}

/// `GET /characters?after={id}`: a page of every eligible character in id order
/// ([`CharacterPage`](service::api::CharacterPage)), written from the JSON each entry already
/// holds; its `ETag` is the dataset's fingerprint, and a request that has it gets 304.
///
/// # Errors
/// [`ApiError::BadId`] for an `after` that is not an id, [`ApiError::NoCharacters`] for an
/// empty store.
pub fn characters(
    state: &State,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let after = match query.and_then(|q| q.split('&').find_map(|p| p.strip_prefix("after="))) {
        Some(id) => Some(parse_id(id)?),
        None => None,
    };
    let (Some((_, info)), true) = (state.catalog.info(), state.catalog.eligible() > 0) else {
        return Err(ApiError::NoCharacters);
    };
    let etag = HeaderValue::from_str(&format!("\"{}\"", info.fingerprint)).ok();
    if let Some(etag) = &etag {
        if service::http::body::if_none_match(headers, etag) {
            let mut resp = full(StatusCode::NOT_MODIFIED, "application/json", Bytes::new());
            resp.headers_mut().insert(ETAG, etag.clone());
            return Ok(resp);
        }
    }
    let (entries, more) = state.catalog.page(after, PAGE_TARGET_BYTES);
    let mut body = Vec::with_capacity(PAGE_TARGET_BYTES + 1024);
    body.extend_from_slice(b"{\"fingerprint\":");
    serde_json::to_writer(&mut body, &info.fingerprint).expect("a string always serializes");
    body.extend_from_slice(b",\"characters\":[");
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&e.json);
    }
    body.extend_from_slice(b"],\"next\":");
    match entries.last().filter(|_| more) {
        Some(last) => body.extend_from_slice(last.id.to_string().as_bytes()),
        None => body.extend_from_slice(b"null"),
    }
    body.push(b'}');
    let mut resp = full(StatusCode::OK, "application/json", Bytes::from(body));
    if let Some(etag) = etag {
        resp.headers_mut().insert(ETAG, etag);
    }
    Ok(resp)
}

/// `GET /health`: 200 when the store is open and holds eligible characters, else 503.
pub fn health(state: &State) -> Response {
    let eligible = state.catalog.eligible();
    let info = state.catalog.info();
    let detail = HealthDetail {
        instance: state.name.clone(),
        eligible_characters: eligible,
        generation: info.map(|(generation, _)| generation),
        fingerprint: info.map(|(_, info)| info.fingerprint.clone()),
    };
    ops::health(
        eligible > 0,
        serde_json::to_value(detail).expect("a HealthDetail always serializes"),
    )
}

fn character_json(entry: &Entry) -> Response {
    full(StatusCode::OK, "application/json", entry.json.clone())
}

/// Ids are plain decimal digits (no sign, no spaces) that fit a u64.
fn parse_id(id: &str) -> Result<CharacterId, ApiError> {
    common::model::parse_id(id).ok_or(ApiError::BadId)
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
            assert!(matches!(parse_id(bad), Err(ApiError::BadId)), "{bad}");
        }
    }
}
