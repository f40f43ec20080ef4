//! The typed client of the powersource API (the contract in [`service::api`]): one method per
//! call superpower makes, so no path, header name or answer shape of powersource appears
//! anywhere else in superpower.
//!
//! Product calls (`assignment`, `random`, `character`, `image`) go through the [`Router`]:
//! the ring, failover, hedging and deadlines. Calls to one named instance ([`health`], the
//! faults of the admin API) go straight to it through the pooled [`Backend`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::model::CharacterId;
use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use serde::de::DeserializeOwned;
use service::api::{self, FaultSpec, RandomAnswer, INSTANCE_HEADER};

use crate::cache::CachedImage;
use crate::client::{Backend, CallError, Reply};
use crate::fleet::{Fleet, Instance};
use crate::identity::UserId;
use crate::model::Character;
use crate::routing::{RouteError, Routed, Router};

/// How long an admin call to one instance may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a product call gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No instance answered in time (or none is healthy).
    #[error(transparent)]
    Unavailable(#[from] RouteError),
    /// An instance answered something the contract does not allow.
    #[error("bad answer from powersource {instance}: {detail}")]
    BadAnswer {
        /// Who answered.
        instance: String,
        /// What was wrong.
        detail: String,
    },
}

/// A character's answer as an instance sent it (a 200): its body, unread, and who sent it.
/// Decoding and rendering it are the handler's ([`crate::answers`]).
#[derive(Debug)]
pub struct CharacterReply {
    routed: Routed,
}

impl CharacterReply {
    /// The body: the character as JSON (the contract's `Character`), not yet decoded.
    pub fn body(&self) -> &[u8] {
        &self.routed.reply.body
    }

    /// The instance's name, as it said it (`X-Powersource-Instance`), else as the fleet names
    /// it: a name longer than the contract allows (a misbehaving peer's) is not passed on.
    pub fn instance(&self) -> &str {
        self.routed
            .reply
            .headers
            .get(&INSTANCE_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|name| name.len() <= api::MAX_INSTANCE_NAME)
            .unwrap_or(self.routed.instance.name())
    }

    /// The error to give when the body breaks the contract (`detail` says how).
    pub fn bad_answer(&self, detail: String) -> UpstreamError {
        bad_answer(&self.routed, detail)
    }
}

/// What [`Powersource::image`] got.
#[derive(Debug)]
pub enum ImageFetch {
    /// The image (200).
    Image(CachedImage),
    /// The copy whose ETag was sent is still the image (304).
    NotModified,
    /// The character has no image (404).
    Missing,
}

/// What [`Powersource::catalog`] got from one instance.
#[derive(Debug)]
pub enum CatalogFetch {
    /// The dataset is still the one whose fingerprint was sent (304).
    NotModified,
    /// The characters of the dataset `fingerprint`, in id order: all of them, or (`complete`
    /// false) the first ones, up to the byte budget of the call.
    Listing {
        /// The dataset's fingerprint.
        fingerprint: String,
        /// The characters.
        characters: Vec<Character>,
        /// Whether every page was read.
        complete: bool,
    },
}

/// The powersource API as superpower calls it.
pub struct Powersource {
    router: Router,
    /// The `Authorization` value of admin calls; `None` when no token is configured.
    admin_authorization: Option<HeaderValue>,
}

impl Powersource {
    /// A client over `router`, sending `admin_token` (when set) to the admin API.
    pub fn new(router: Router, admin_token: Option<&str>) -> Self {
        let admin_authorization =
            admin_token.and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok());
        Powersource {
            router,
            admin_authorization,
        }
    }

    /// The fleet the calls go to.
    pub fn fleet(&self) -> &Arc<Fleet> {
        self.router.fleet()
    }

    /// The client the calls go through.
    pub fn backend(&self) -> &Backend {
        self.router.backend()
    }

    /// `GET /assignments/{user}`: the user's superpower.
    ///
    /// # Errors
    /// [`UpstreamError`] when no instance answers in time or the answer is not a character.
    pub async fn assignment(&self, user: UserId) -> Result<CharacterReply, UpstreamError> {
        self.character_at(user.as_bytes(), &api::assignment_path(user))
            .await
    }

    /// `GET /random`: a random character's id (the original demo's route), routed by `user`.
    ///
    /// # Errors
    /// As [`Powersource::assignment`].
    pub async fn random(&self, user: UserId) -> Result<CharacterId, UpstreamError> {
        let routed = self
            .router
            .get(user.as_bytes(), api::RANDOM_PATH, api::MAX_SMALL_BYTES)
            .await?;
        let answer: RandomAnswer = decode_ok(&routed, api::RANDOM_PATH)?;
        Ok(answer.character_id)
    }

    /// `GET /characters/{id}`, routed by `user`.
    ///
    /// # Errors
    /// As [`Powersource::assignment`].
    pub async fn character(
        &self,
        user: UserId,
        id: CharacterId,
    ) -> Result<CharacterReply, UpstreamError> {
        self.character_at(user.as_bytes(), &api::character_path(id))
            .await
    }

    async fn character_at(&self, key: &[u8], path: &str) -> Result<CharacterReply, UpstreamError> {
        let routed = self.router.get(key, path, api::MAX_CHARACTER_BYTES).await?;
        ok(&routed, path)?;
        Ok(CharacterReply { routed })
    }

    /// `GET /characters/{id}/image`, routed by the id (so an image is cached by one instance's
    /// pool). With `etag` (of the copy superpower holds) the call is conditional
    /// (`If-None-Match`), and a 304 means that copy is still the image.
    ///
    /// # Errors
    /// [`UpstreamError`] when no instance answers in time, or the answer is neither an image,
    /// a 404, nor (for a conditional call) a 304.
    pub async fn image(
        &self,
        id: CharacterId,
        etag: Option<&HeaderValue>,
    ) -> Result<ImageFetch, UpstreamError> {
        let path = api::image_path(id);
        let mut headers = http::HeaderMap::new();
        if let Some(etag) = etag {
            headers.insert(IF_NONE_MATCH, etag.clone());
        }
        let routed = self
            .router
            .get_with(&id.to_be_bytes(), &path, &headers, api::MAX_IMAGE_BYTES)
            .await?;
        match routed.reply.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(ImageFetch::Missing),
            StatusCode::NOT_MODIFIED if etag.is_some() => return Ok(ImageFetch::NotModified),
            other => return Err(bad_answer(&routed, format!("{path} answered {other}"))),
        }
        let Some(content_type) = routed
            .reply
            .headers
            .get(CONTENT_TYPE)
            .filter(|v| v.as_bytes().starts_with(b"image/"))
            .cloned()
        else {
            return Err(bad_answer(
                &routed,
                "image without an image content type".into(),
            ));
        };
        Ok(ImageFetch::Image(CachedImage {
            content_type,
            etag: routed.reply.headers.get(ETAG).cloned(),
            // a view of the connection's read buffer: the handler keeps an exact-size copy
            // (`ImageCache::hold`)
            bytes: routed.reply.body,
        }))
    }

    /// `GET /characters`, page after page, from one instance: the whole listing, or a 304 when
    /// `known` (a fingerprint) is still its dataset's. Stops reading once the pages hold more than
    /// `budget` bytes (the listing is then not `complete`).
    ///
    /// # Errors
    /// [`UpstreamError::BadAnswer`] when the instance cannot be reached or its pages break the
    /// contract (another status, a fingerprint that changes between pages, ids not ascending).
    pub async fn catalog(
        &self,
        inst: &Instance,
        known: Option<&str>,
        budget: usize,
    ) -> Result<CatalogFetch, UpstreamError> {
        let bad = |detail: String| UpstreamError::BadAnswer {
            instance: inst.name().to_owned(),
            detail,
        };
        let mut headers = http::HeaderMap::new();
        if let Some(v) = known.and_then(|fp| HeaderValue::from_str(&format!("\"{fp}\"")).ok()) {
            headers.insert(IF_NONE_MATCH, v);
        }
        let (mut characters, mut fingerprint, mut after, mut read) = (Vec::new(), None, None, 0);
        loop {
            let path = api::characters_path(after);
            let reply = self
                .router
                .backend()
                .get_with(
                    inst.base(),
                    &path,
                    &headers,
                    ADMIN_TIMEOUT,
                    true,
                    api::MAX_PAGE_BYTES,
                )
                .await
                .map_err(|e| bad(format!("{path}: {e}")))?;
            if reply.status == StatusCode::NOT_MODIFIED && after.is_none() && known.is_some() {
                return Ok(CatalogFetch::NotModified);
            }
            if reply.status != StatusCode::OK {
                return Err(bad(format!("{path} answered {}", reply.status)));
            }
            read += reply.body.len();
            let page: api::CharacterPage =
                serde_json::from_slice(&reply.body).map_err(|e| bad(format!("{path}: {e}")))?;
            if fingerprint.get_or_insert_with(|| page.fingerprint.clone()) != &page.fingerprint {
                return Err(bad("the dataset changed during the listing".into()));
            }
            let last = characters.last().map(|c: &Character| c.id);
            let mut previous = last.or(after);
            for view in page.characters {
                if previous.is_some_and(|p| view.id <= p) {
                    return Err(bad(format!("{path}: ids not ascending")));
                }
                previous = Some(view.id);
                characters.push(Character::from(view));
            }
            match page.next {
                Some(next) if previous.is_some_and(|p| next >= p) && read <= budget => {
                    after = Some(next);
                    headers.clear();
                }
                Some(_) if read > budget => {
                    return Ok(CatalogFetch::Listing {
                        fingerprint: fingerprint.unwrap_or_default(),
                        characters,
                        complete: false,
                    })
                }
                Some(next) => return Err(bad(format!("{path}: next {next} goes backwards"))),
                None => {
                    return Ok(CatalogFetch::Listing {
                        fingerprint: fingerprint.unwrap_or_default(),
                        characters,
                        complete: true,
                    })
                }
            }
        }
    }

    /// `GET /admin/faults` of one instance: the faults in force, `None` when it does not
    /// answer with a fault spec.
    pub async fn faults(&self, inst: &Instance) -> Option<FaultSpec> {
        let reply = self.admin(inst, Method::GET, Bytes::new()).await.ok()?;
        (reply.status == StatusCode::OK)
            .then(|| serde_json::from_slice(&reply.body).ok())
            .flatten()
    }

    /// `PUT /admin/faults` (with `body`) or `DELETE /admin/faults` on one instance; its answer
    /// as it gave it.
    ///
    /// # Errors
    /// [`CallError`] when the instance cannot be reached in time.
    pub async fn set_faults(
        &self,
        inst: &Instance,
        method: Method,
        body: Bytes,
    ) -> Result<Reply, CallError> {
        self.admin(inst, method, body).await
    }

    async fn admin(
        &self,
        inst: &Instance,
        method: Method,
        body: Bytes,
    ) -> Result<Reply, CallError> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{}", inst.base(), api::ADMIN_FAULTS_PATH))
            .header(CONTENT_TYPE, "application/json");
        if let Some(auth) = &self.admin_authorization {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| CallError::Protocol(e.to_string()))?;
        self.router
            .backend()
            .send(req, ADMIN_TIMEOUT, true, api::MAX_SMALL_BYTES)
            .await
    }
}

/// `GET /health` of one instance within `timeout`: whether it says it can serve.
pub async fn health(backend: &Backend, inst: &Instance, timeout: Duration) -> bool {
    matches!(
        backend.get(inst.base(), api::HEALTH_PATH, timeout, true, api::MAX_SMALL_BYTES).await,
        Ok(reply) if reply.status.is_success()
    )
}

/// The body of a 200 answer as `T`.
fn decode_ok<T: DeserializeOwned>(routed: &Routed, path: &str) -> Result<T, UpstreamError> {
    ok(routed, path)?;
    serde_json::from_slice(&routed.reply.body).map_err(|e| bad_answer(routed, e.to_string()))
}

/// A 200 answer, or the error of another status.
fn ok(routed: &Routed, path: &str) -> Result<(), UpstreamError> {
    if routed.reply.status == StatusCode::OK {
        Ok(())
    } else {
        Err(bad_answer(
            routed,
            format!("{path} answered {}", routed.reply.status),
        ))
    }
}

fn bad_answer(routed: &Routed, detail: String) -> UpstreamError {
    UpstreamError::BadAnswer {
        instance: routed.instance.name().to_owned(),
        detail,
    }
}
