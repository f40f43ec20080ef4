//! The handlers behind superpower's routes.

use std::sync::Arc;

use bytes::Bytes;
use common::http::body::{full, if_none_match, json, Response};
use common::metrics::SUPERPOWER_FALLBACK_RESPONSES_TOTAL;
use common::model::CharacterView;
use http::header::{HeaderValue, ACCEPT, CACHE_CONTROL, CONTENT_TYPE, ETAG, SET_COOKIE, VARY};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use crate::app::App;
use crate::cache::CachedImage;
use crate::error::AppError;
use crate::identity::{Identity, UserId};
use crate::model::{Answer, Character};
use crate::negotiate::{self, Format};
use crate::render::{html, STYLESHEET};

/// Header on answers served from the last-known-good cache.
pub const DEGRADED_HEADER: &str = "x-superpower-degraded";
/// Header naming the powersource instance that answered.
pub const INSTANCE_HEADER: &str = "x-superpower-instance";
/// Largest character JSON accepted from a powersource.
const CHARACTER_LIMIT: usize = 64 * 1024;
/// Largest image accepted from a powersource (the loader refuses images over 5 MiB).
const IMAGE_LIMIT: usize = 6 * 1024 * 1024;

/// `GET /`: the user's superpower, as HTML or JSON.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn index(app: &App, headers: &HeaderMap) -> Response {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok());
    let Some(format) = negotiate::choose(accept) else {
        return AppError::NotAcceptable.into_response(Format::Html);
    };
    let identity = Identity::from_headers(headers);
    let mut resp = match superpower_of(app, identity.user).await {
        Ok((character, instance)) => {
            if app.switches.fallback() {
                app.fallback.remember(identity.user.as_u128(), &character);
            }
            render(format, &character, Some(&instance))
        }
        Err(err) => match app
            .switches
            .fallback()
            .then(|| app.fallback.recall(identity.user.as_u128()))
            .flatten()
        {
            Some(character) => {
                metrics::counter!(SUPERPOWER_FALLBACK_RESPONSES_TOTAL).increment(1);
                tracing::info!(user = %identity.user, error = %err, "answering from the fallback cache");
                let mut resp = render(format, &character, None);
                resp.headers_mut()
                    .insert(DEGRADED_HEADER, HeaderValue::from_static("true"));
                resp
            }
            None => err.into_response(format),
        },
    };
    let h = resp.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(VARY, HeaderValue::from_static("Accept, Cookie"));
    if identity.is_new {
        if let Ok(v) = HeaderValue::from_str(&identity.set_cookie()) {
            h.insert(SET_COOKIE, v);
        }
    }
    resp
}

/// The character of `user` and the name of the instance that said so.
async fn superpower_of(app: &App, user: UserId) -> Result<(Arc<Character>, String), AppError> {
    let key = user.as_bytes();
    let path = if app.switches.stable_assignment() {
        format!("/assignments/{user}")
    } else {
        #[derive(Deserialize)]
        struct Random {
            character_id: u64,
        }
        let routed = app
            .router
            .get(key, "/random", CHARACTER_LIMIT)
            .await
            .map_err(AppError::Unavailable)?;
        let random: Random = parse(&routed.reply.body, &routed.instance)?;
        format!("/characters/{}", random.character_id)
    };
    let routed = app
        .router
        .get(key, &path, CHARACTER_LIMIT)
        .await
        .map_err(AppError::Unavailable)?;
    if routed.reply.status != StatusCode::OK {
        return Err(AppError::BadUpstream {
            instance: routed.instance.name().to_owned(),
            detail: format!("{path} answered {}", routed.reply.status),
        });
    }
    let view: CharacterView = parse(&routed.reply.body, &routed.instance)?;
    let instance = routed
        .reply
        .headers
        .get("x-powersource-instance")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(routed.instance.name())
        .to_owned();
    Ok((Arc::new(Character::from(view)), instance))
}

fn parse<T: serde::de::DeserializeOwned>(
    body: &Bytes,
    instance: &crate::fleet::Instance,
) -> Result<T, AppError> {
    serde_json::from_slice(body).map_err(|e| AppError::BadUpstream {
        instance: instance.name().to_owned(),
        detail: e.to_string(),
    })
}

fn render(format: Format, c: &Character, instance: Option<&str>) -> Response {
    let mut resp = match format {
        Format::Json => json(
            StatusCode::OK,
            &Answer {
                id: c.id,
                name: &c.name,
                description: &c.description,
                image_url: c.image_url(),
                learn_more_url: c.learn_more_url.as_deref(),
                instance,
                degraded: instance.is_none(),
            },
        ),
        Format::Html => full(
            StatusCode::OK,
            "text/html; charset=utf-8",
            html::character_page(c, instance.is_none()),
        ),
    };
    if let Some(v) = instance.and_then(|i| HeaderValue::from_str(i).ok()) {
        resp.headers_mut().insert(INSTANCE_HEADER, v);
    }
    resp
}

/// `GET /images/{id}`: the image, from the cache or through the ring.
#[tracing::instrument(level = "debug", skip(app, headers))]
pub async fn image(app: &App, id: &str, headers: &HeaderMap) -> Response {
    let Some(id) = common::model::parse_id(id) else {
        return AppError::NotFound.into_response(Format::Json);
    };
    let cached = match app.images.get(id) {
        Some(img) => img,
        None => match fetch_image(app, id).await {
            Ok(Some(img)) => {
                app.images.put(id, img.clone());
                img
            }
            Ok(None) => return AppError::NotFound.into_response(Format::Json),
            Err(err) => return err.into_response(Format::Json),
        },
    };
    serve_image(&cached, headers)
}

async fn fetch_image(app: &App, id: u64) -> Result<Option<Arc<CachedImage>>, AppError> {
    let path = format!("/characters/{id}/image");
    let routed = app
        .router
        .get(&id.to_be_bytes(), &path, IMAGE_LIMIT)
        .await
        .map_err(AppError::Unavailable)?;
    match routed.reply.status {
        StatusCode::OK => {}
        StatusCode::NOT_FOUND => return Ok(None),
        other => {
            return Err(AppError::BadUpstream {
                instance: routed.instance.name().to_owned(),
                detail: format!("{path} answered {other}"),
            })
        }
    }
    let content_type = routed
        .reply
        .headers
        .get(CONTENT_TYPE)
        .cloned()
        .filter(|v| v.as_bytes().starts_with(b"image/"));
    let Some(content_type) = content_type else {
        return Err(AppError::BadUpstream {
            instance: routed.instance.name().to_owned(),
            detail: "image without an image content type".into(),
        });
    };
    Ok(Some(Arc::new(CachedImage {
        content_type,
        etag: routed.reply.headers.get(ETAG).cloned(),
        bytes: routed.reply.body,
    })))
}

fn serve_image(img: &CachedImage, headers: &HeaderMap) -> Response {
    let not_modified = img
        .etag
        .as_ref()
        .is_some_and(|etag| if_none_match(headers, etag));
    let mut resp = if not_modified {
        let mut r = full(
            StatusCode::NOT_MODIFIED,
            "application/octet-stream",
            Bytes::new(),
        );
        r.headers_mut().remove(CONTENT_TYPE);
        r
    } else {
        let mut r = full(
            StatusCode::OK,
            "application/octet-stream",
            img.bytes.clone(),
        );
        r.headers_mut()
            .insert(CONTENT_TYPE, img.content_type.clone());
        r
    };
    let h = resp.headers_mut();
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    if let Some(etag) = &img.etag {
        h.insert(ETAG, etag.clone());
    }
    resp
}

/// `GET /static/superpower.css`.
pub fn stylesheet() -> Response {
    let mut r = full(StatusCode::OK, "text/css; charset=utf-8", STYLESHEET);
    r.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

/// `GET /health`: superpower can answer as long as it runs (known users are served from the
/// fallback even with no instance), so this is 200 with the fleet's state as detail.
pub fn health(app: &App) -> Response {
    let ring = app.router.fleet().ring();
    common::http::ops::health(
        true,
        serde_json::json!({
            "ring_members": ring.len(),
            "known_instances": app.router.fleet().instances().len(),
            "fallback_users": app.fallback.len(),
        }),
    )
}
