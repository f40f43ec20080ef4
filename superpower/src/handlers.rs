//! The handlers behind superpower's product and operational routes. Each returns
//! `Result<Response, ApiError>`; the route layer turns an error into an answer.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use http::header::{HeaderValue, CACHE_CONTROL, SET_COOKIE, VARY};
use http::{HeaderMap, StatusCode};
use service::api::image_answer;
use service::http::body::{full, json, Response};
use service::metrics::SUPERPOWER_FALLBACK_RESPONSES_TOTAL;

use crate::answers::{Answers, Prepared};
use crate::cache::{CachedImage, Lookup};
use crate::error::ApiError;
use crate::identity::Identity;
use crate::model::{Answer, Character};
use crate::negotiate::Format;
use crate::powersource::{CharacterReply, ImageFetch, UpstreamError};
use crate::promises::{self, Live, ReplicaWho};
use crate::remembered::Keys;
use crate::render::{html, PROMISES_SCRIPT, STYLESHEET};
use crate::state::State;

/// Header on answers served from the last-known-good cache.
pub const DEGRADED_HEADER: &str = "x-superpower-degraded";
/// Header naming the powersource instance that answered.
pub const INSTANCE_HEADER: &str = "x-superpower-instance";

/// `GET /`: the superpower of `identity`, as `format`; when no instance answers, the user's last
/// known superpower, read from their signed `superpower_last` cookie ([`crate::remembered`]) and
/// rendered from the catalog — on any replica, with no memory of the user here.
///
/// # Errors
/// [`ApiError::Unavailable`] (or a bad upstream answer) when no instance answers and the user
/// has no last known superpower this replica can verify and render.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn index(
    state: &State,
    identity: &Identity,
    headers: &HeaderMap,
    format: Format,
) -> Result<Response, ApiError> {
    let recalled = state.keys.recall(headers, &identity.user);
    match superpower_of(state, identity).await {
        Ok(answer) => {
            let character = answer.character();
            // the identity check: this answer against the one the user's cookie says they had
            // (no check for a user with no verifiable cookie: new, or signed elsewhere)
            state
                .promises
                .identity(recalled.map(|r| r.id), character.id);
            state.catalog.learn(character);
            let mut resp = prepared(format, &answer);
            if Keys::needs_cookie(recalled, character.id) {
                resp.headers_mut().append(
                    SET_COOKIE,
                    state.keys.set_cookie(&identity.user, character.id),
                );
            }
            Ok(resp)
        }
        Err(err) => {
            let known = state
                .switches
                .fallback()
                .then(|| recalled.and_then(|r| state.catalog.get(r.id)))
                .flatten();
            let Some(character) = known else {
                return Err(err.into());
            };
            metrics::counter!(SUPERPOWER_FALLBACK_RESPONSES_TOTAL).increment(1);
            state.promises.degraded();
            tracing::info!(user = %identity.user, error = %err, "answering the last known superpower (degraded)");
            Ok(degraded(format, &character))
        }
    }
}

/// What every answer of `GET /` carries, error or not: never cached, varying by `Accept` and
/// `Cookie`, and a new identity's `Set-Cookie`.
pub fn personalize(mut resp: Response, identity: &Identity) -> Response {
    let h = resp.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(VARY, HeaderValue::from_static("Accept, Cookie"));
    if identity.is_new {
        if let Ok(v) = HeaderValue::from_str(&identity.set_cookie()) {
            h.append(SET_COOKIE, v);
        }
    }
    resp
}

/// The character of a user, by stable assignment, or (the switch off) a random one per visit,
/// prepared for serving (decoded and rendered, or found so in [`State::answers`]).
async fn superpower_of(state: &State, identity: &Identity) -> Result<Arc<Prepared>, UpstreamError> {
    let powersource = &state.powersource;
    let reply = if state.switches.stable_assignment() {
        powersource.assignment(identity.user).await?
    } else {
        let id = powersource.random(identity.user).await?;
        powersource.character(identity.user, id).await?
    };
    prepare(&state.answers, &reply)
}

/// `reply`'s character decoded and rendered (once per body and instance: [`Answers`]).
fn prepare(answers: &Answers, reply: &CharacterReply) -> Result<Arc<Prepared>, UpstreamError> {
    answers.prepare(
        reply.body(),
        reply.instance(),
        |body| serde_json::from_slice(body).map_err(|e| reply.bad_answer(e.to_string())),
        |e| reply.bad_answer(format!("cannot render the answer: {e}")),
    )
}

/// The answer of a powersource answer, as prepared (see [`crate::answers`]).
fn prepared(format: Format, answer: &Prepared) -> Response {
    let mut resp = match format {
        Format::Json => full(StatusCode::OK, "application/json", answer.json()),
        Format::Html => full(StatusCode::OK, "text/html; charset=utf-8", answer.html()),
    };
    if let Some(v) = answer.instance_header() {
        resp.headers_mut().insert(INSTANCE_HEADER, v.clone());
    }
    resp
}

/// The answer of a character from the fallback cache (degraded: no instance answered).
fn degraded(format: Format, c: &Character) -> Response {
    let mut resp = match format {
        Format::Json => json(StatusCode::OK, &Answer::of(c, None)),
        Format::Html => full(
            StatusCode::OK,
            "text/html; charset=utf-8",
            html::character_page(c, true),
        ),
    };
    resp.headers_mut()
        .insert(DEGRADED_HEADER, HeaderValue::from_static("true"));
    resp
}

/// `GET /images/{id}`: the image, from the cache or through the ring; 304 when the client has
/// it.
///
/// A cached image is served as is while fresh (`--image-ttl-ms`); after that it is revalidated
/// with its ETag: a 304 keeps it (fresh again), a 200 replaces it, a 404 drops it. When no
/// instance answers, the stale copy is served rather than nothing.
///
/// # Errors
/// [`ApiError::NotFound`] for a bad or unknown id; [`ApiError::Unavailable`] when no instance
/// answers and nothing is cached.
#[tracing::instrument(level = "debug", skip(state, headers))]
pub async fn image(state: &State, id: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let id = common::model::parse_id(id).ok_or(ApiError::NotFound)?;
    let stale = match state.images.get(id) {
        Some(Lookup { image, fresh: true }) => return Ok(answer_image(&image, headers)),
        Some(Lookup { image, .. }) => Some(image),
        None => None,
    };
    let etag = stale.as_ref().and_then(|img| img.etag.as_ref());
    let cached = match (state.powersource.image(id, etag).await, stale) {
        (Ok(ImageFetch::Image(mut img)), _) => {
            // its own bytes, counted until the last answer sending them is done
            img.bytes = state
                .images
                .hold(&img.bytes)
                .ok_or(ApiError::Busy("images held in memory at their bound"))?;
            let img = Arc::new(img);
            state.images.put(id, img.clone());
            img
        }
        (Ok(ImageFetch::NotModified), Some(img)) => {
            state.images.put(id, img.clone());
            img
        }
        // (powersource::image reports a 304 only to a conditional call, which needs a copy)
        (Ok(ImageFetch::NotModified), None) => {
            return Err(ApiError::BadUpstream {
                instance: "any".into(),
                detail: "304 to an unconditional image request".into(),
            })
        }
        (Ok(ImageFetch::Missing), _) => {
            state.images.remove(id);
            return Err(ApiError::NotFound);
        }
        (Err(err), Some(img)) => {
            tracing::debug!(id, error = %err, "image not revalidated; serving the cached copy");
            img
        }
        (Err(err), None) => return Err(err.into()),
    };
    Ok(answer_image(&cached, headers))
}

fn answer_image(cached: &CachedImage, headers: &HeaderMap) -> Response {
    image_answer(
        cached.content_type.clone(),
        cached.etag.clone(),
        cached.bytes.clone(),
        headers,
    )
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

/// `GET /promises.json`: both promises over the last minute and second by second, with the
/// fleet and the stable-assignment switch as they are now. Needs no token (the audience's
/// screen reads it; `/metrics` shows as much).
///
/// With peers, the whole front end: each second summed over the replicas that answered their
/// last call, and each replica's own line (one that did not answer is shown as such).
pub fn promises_json(state: &State) -> Response {
    let fleet = state.powersource.fleet();
    let live = Live {
        ring_members: fleet.ring().len(),
        known_instances: fleet.instances().len(),
        stable_assignment: state.switches.stable_assignment(),
    };
    let tracking = state.promises.tracking();
    let own = state.promises.seconds();
    if !state.peers.configured() {
        return no_store(json(
            StatusCode::OK,
            &promises::summarize(&own, tracking, live, Vec::new()),
        ));
    }
    let me = state.peers.me();
    let mut lines = vec![promises::replica_line(
        &own,
        tracking,
        ReplicaWho {
            name: me.name.clone(),
            this: true,
            error: None,
        },
    )];
    let mut lists = vec![own];
    for view in state.peers.views() {
        match view.state {
            Some(peer) => {
                lines.push(promises::replica_line(
                    &peer.seconds,
                    peer.tracking,
                    ReplicaWho {
                        name: peer.replica.name,
                        this: false,
                        error: None,
                    },
                ));
                lists.push(peer.seconds);
            }
            None => lines.push(promises::replica_line(
                &[],
                tracking,
                ReplicaWho {
                    name: view.url,
                    this: false,
                    error: view.error.or_else(|| Some("no answer".into())),
                },
            )),
        }
    }
    let merged = promises::merge(&lists);
    no_store(json(
        StatusCode::OK,
        &promises::summarize(&merged, tracking, live, lines),
    ))
}

/// `GET /promises`: the promises, live and read-only (the audience's screen); no token.
pub fn promises_page() -> Response {
    no_store(full(
        StatusCode::OK,
        "text/html; charset=utf-8",
        html::promises_page(),
    ))
}

/// `GET /static/promises.js`: the script that draws the promises (on `/promises` and
/// `/admin`).
pub fn promises_script() -> Response {
    no_store(full(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        PROMISES_SCRIPT,
    ))
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `GET /health`: superpower can answer as long as it runs (known users are served from the
/// fallback even with no instance), so this is 200 with the fleet's state as detail — until
/// the lame duck of a shutdown (`--lame-duck-ms`): then 503 with `"draining": true`, so that
/// balancers stop sending it connections while it still answers.
pub fn health(state: &State) -> Response {
    let fleet = state.powersource.fleet();
    let draining = state.draining.load(Relaxed);
    service::http::ops::health(
        !draining,
        serde_json::json!({
            "draining": draining,
            "ring_members": fleet.ring().len(),
            "known_instances": fleet.instances().len(),
            "catalog_characters": state.catalog.len(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use service::api::CharacterView;

    use super::*;
    use crate::answers::Answers;

    /// The answer as it was rendered before prepared answers: decoded, then serialized (written
    /// out field by field, as the reference the prepared bytes are held to).
    fn fresh(format: Format, c: &Character, instance: Option<&str>) -> Response {
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
        if instance.is_none() {
            resp.headers_mut()
                .insert(DEGRADED_HEADER, HeaderValue::from_static("true"));
        }
        resp
    }

    async fn parts(resp: Response) -> (StatusCode, HeaderMap, bytes::Bytes) {
        let (head, body) = resp.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (head.status, head.headers, body)
    }

    #[tokio::test]
    async fn prepared_and_degraded_answers_are_the_bytes_rendered_fresh() {
        let view = CharacterView {
            id: 1_010_281,
            name: "Dara \"the cold\" Ibáñez <3".into(),
            description: "Pulls the heat out of the air & means it.\nTwice.".into(),
            image_url: "/characters/1010281/image".into(),
            learn_more_url: Some("https://example.com/c?a=1&b=<2>".into()),
        };
        let empty = CharacterView {
            description: " ".into(),
            learn_more_url: None,
            ..view.clone()
        };
        let answers = Answers::new(1 << 20);
        for view in [view, empty] {
            let body = serde_json::to_vec(&view).unwrap();
            for instance in ["powersource-1", "bad\nname"] {
                let decode = |b: &[u8]| serde_json::from_slice::<CharacterView>(b);
                let p = answers.prepare(&body, instance, decode, |e| e).unwrap();
                let again = answers.prepare(&body, instance, decode, |e| e).unwrap();
                assert!(Arc::ptr_eq(&p, &again), "the second is the cached one");
                let c = Character::from(view.clone());
                for format in [Format::Json, Format::Html] {
                    assert_eq!(
                        parts(prepared(format, &again)).await,
                        parts(fresh(format, &c, Some(instance))).await,
                        "{format:?} from {instance:?}"
                    );
                    assert_eq!(
                        parts(degraded(format, again.character())).await,
                        parts(fresh(format, &c, None)).await,
                        "{format:?} degraded"
                    );
                }
            }
        }
    }
}
