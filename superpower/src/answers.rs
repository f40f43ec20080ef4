//! Prepared answers of `GET /`: a powersource answer superpower has seen before is not decoded
//! and rendered again. An entry is keyed by the exact bytes of the upstream body together with
//! the name of the instance that answered (both compared for equality on every hit; the hash
//! only finds the slot), and holds the decoded character, the rendered JSON and HTML bodies and
//! the prepared `x-superpower-instance` value.
//!
//! Nothing stale can be served: a character that changes (a new dataset generation, a
//! re-ingest, a different character for the user) comes as different bytes, so it is a
//! different key, and the old entry just ages out. A body that does not decode is never
//! cached (the caller's error path is unchanged).
//!
//! Each worker thread has its own cache (thread per core, see [`crate::workers`]): a lookup
//! takes no lock and touches no other core's memory. The bound is in bytes per thread, least
//! recently used first out; the HTML page of an entry that is cached is rendered with it (on
//! the miss), so what an entry holds is known when it is counted. With the cache off nothing is
//! hashed and the page is rendered only when asked for, as before this cache.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::header::HeaderValue;
use lru::LruCache;
use service::api::CharacterView;
use thread_local::ThreadLocal;

use crate::model::{Answer, Character};
use crate::render::html;

/// What an entry costs besides its bytes (the `Arc`s, the LRU's node and slot), counted with
/// them so a bound in bytes also bounds the entries.
const ENTRY_OVERHEAD: usize = 256;

/// A powersource answer, decoded and rendered once.
#[derive(Debug)]
pub struct Prepared {
    /// The upstream body exactly as received (an owned copy: the reply's buffer is not kept).
    body: Bytes,
    /// The name of the instance that answered.
    instance: Box<str>,
    /// The character (shared with the catalog, which degraded answers read).
    character: Arc<Character>,
    /// The value of `x-superpower-instance`; `None` when the name cannot be a header value.
    instance_header: Option<HeaderValue>,
    /// The JSON answer.
    json: Bytes,
    /// The HTML page: rendered with the entry when it is cached, else when first asked for.
    html: OnceLock<Bytes>,
}

impl Prepared {
    /// The answer of `view`, decoded from `body` as `instance` sent it: the JSON rendered, and
    /// the HTML page too when `page` (else when [`Prepared::html`] first asks for it).
    ///
    /// # Errors
    /// When the JSON answer cannot be serialized (it cannot: its fields are strings, a number
    /// and a bool; the error is passed on rather than a panic).
    pub fn new(
        body: &[u8],
        view: CharacterView,
        instance: &str,
        page: bool,
    ) -> Result<Self, serde_json::Error> {
        let character = Character::from(view);
        let mut json = serde_json::to_vec(&Answer::of(&character, Some(instance)))?;
        // the bound counts lengths: the allocations are made no larger (a rendered buffer grows
        // by doubling, and kept as it is it would hold up to twice what is counted)
        json.shrink_to_fit();
        let html = OnceLock::new();
        if page {
            let _ = html.set(page_of(&character));
        }
        Ok(Prepared {
            body: Bytes::copy_from_slice(body),
            instance: instance.into(),
            character: Arc::new(character),
            instance_header: HeaderValue::from_str(instance).ok(),
            json: Bytes::from(json),
            html,
        })
    }

    /// The character.
    pub fn character(&self) -> &Arc<Character> {
        &self.character
    }

    /// The name of the instance that answered.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The value of the `x-superpower-instance` header (`None`: the name is not a valid
    /// header value, and the header is left out, as before this cache).
    pub fn instance_header(&self) -> Option<&HeaderValue> {
        self.instance_header.as_ref()
    }

    /// The JSON answer's body (a reference count, not a copy).
    pub fn json(&self) -> Bytes {
        self.json.clone()
    }

    /// The HTML page's body (a reference count, not a copy, once rendered).
    pub fn html(&self) -> Bytes {
        self.html.get_or_init(|| page_of(&self.character)).clone()
    }

    /// The bytes this entry holds, as the bound counts them.
    fn size(&self) -> usize {
        let c = &self.character;
        self.body.len()
            + self.instance.len() * 2
            + c.name.len()
            + c.description.len()
            + c.learn_more_url.as_ref().map_or(0, String::len)
            + self.json.len()
            + self.html.get().map_or(0, Bytes::len)
            + ENTRY_OVERHEAD
    }

    fn is(&self, body: &[u8], instance: &str) -> bool {
        *self.body == *body && *self.instance == *instance
    }
}

fn page_of(c: &Character) -> Bytes {
    let mut page = html::character_page(c, false);
    page.shrink_to_fit();
    Bytes::from(page)
}

/// One thread's entries, by the hash of their key, and the bytes they hold.
struct Shard {
    entries: LruCache<u64, Arc<Prepared>>,
    used: usize,
}

/// The prepared answers, at most `capacity` bytes per worker thread; `0` turns the cache off
/// (every answer is decoded and rendered, as before it).
pub struct Answers {
    shards: ThreadLocal<RefCell<Shard>>,
    capacity: usize,
    hasher: foldhash::fast::RandomState,
}

impl Answers {
    /// A cache of at most `capacity` bytes per thread that uses it.
    pub fn new(capacity: usize) -> Self {
        Answers {
            shards: ThreadLocal::new(),
            capacity,
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// The prepared answer of `body` from `instance`: the cached one when this thread has seen
    /// these exact bytes from this instance, else `decode(body)` prepared (and cached).
    ///
    /// # Errors
    /// `decode`'s error (nothing is cached then), or the answer's render error as `render`
    /// maps it.
    pub fn prepare<E>(
        &self,
        body: &[u8],
        instance: &str,
        decode: impl FnOnce(&[u8]) -> Result<CharacterView, E>,
        render: impl FnOnce(serde_json::Error) -> E,
    ) -> Result<Arc<Prepared>, E> {
        if self.capacity == 0 {
            let view = decode(body)?;
            let prepared = Prepared::new(body, view, instance, false).map_err(render)?;
            return Ok(Arc::new(prepared));
        }
        let key = self.hasher.hash_one((body, instance));
        if let Some(hit) = self.with_shard(|s| s.entries.get(&key).cloned()) {
            if hit.is(body, instance) {
                return Ok(hit);
            }
        }
        let view = decode(body)?;
        let prepared = Arc::new(Prepared::new(body, view, instance, true).map_err(render)?);
        self.insert(key, &prepared);
        Ok(prepared)
    }

    /// Caches `prepared` under `key` (replacing what held the slot: an older copy, or, should
    /// two keys ever share a hash, the other one), then evicts down to the bound. An entry
    /// larger than the whole bound is not kept.
    fn insert(&self, key: u64, prepared: &Arc<Prepared>) {
        let size = prepared.size();
        if size > self.capacity {
            return;
        }
        self.with_shard(|shard| {
            if let Some(old) = shard.entries.put(key, prepared.clone()) {
                shard.used -= old.size();
            }
            shard.used += size;
            while shard.used > self.capacity {
                match shard.entries.pop_lru() {
                    Some((_, old)) => shard.used -= old.size(),
                    None => break,
                }
            }
        });
    }

    fn with_shard<T>(&self, f: impl FnOnce(&mut Shard) -> T) -> T {
        let shard = self.shards.get_or(|| {
            RefCell::new(Shard {
                entries: LruCache::unbounded(),
                used: 0,
            })
        });
        // (no borrow outlives this call, and `f` does not call back in)
        f(&mut shard.borrow_mut())
    }

    /// Entries this thread holds.
    pub fn len(&self) -> usize {
        self.with_shard(|s| s.entries.len())
    }

    /// This thread holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes this thread's entries hold, as the bound counts them.
    pub fn bytes(&self) -> usize {
        self.with_shard(|s| s.used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(id: u64, name: &str) -> Vec<u8> {
        serde_json::to_vec(&CharacterView {
            id,
            name: name.into(),
            description: "Pulls the heat out of the air & <means> it.".into(),
            image_url: format!("/characters/{id}/image"),
            learn_more_url: Some("https://example.com/c?a=1&b=2".into()),
        })
        .unwrap()
    }

    fn decode(b: &[u8]) -> Result<CharacterView, String> {
        serde_json::from_slice(b).map_err(|e| e.to_string())
    }

    fn prepare(a: &Answers, b: &[u8], inst: &str) -> Result<Arc<Prepared>, String> {
        a.prepare(b, inst, decode, |e| e.to_string())
    }

    #[test]
    fn a_repeated_answer_is_the_same_entry_and_is_not_decoded_again() {
        let a = Answers::new(1 << 20);
        let b = body(7, "Dara");
        let first = prepare(&a, &b, "powersource-1").unwrap();
        let again = a
            .prepare(
                &b,
                "powersource-1",
                |_| -> Result<CharacterView, String> { panic!("decoded again") },
                |e| e.to_string(),
            )
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn the_bodies_are_those_rendered_fresh() {
        let a = Answers::new(1 << 20);
        let b = body(1_010_281, "Dara Ibáñez \"the <cold>\"");
        let p = prepare(&a, &b, "powersource-2").unwrap();
        let fresh = Character::from(decode(&b).unwrap());
        let json = serde_json::to_vec(&Answer::of(&fresh, Some("powersource-2"))).unwrap();
        assert_eq!(&p.json()[..], &json[..]);
        assert_eq!(
            &p.html()[..],
            html::character_page(&fresh, false).as_bytes()
        );
        assert_eq!(**p.character(), fresh);
        assert_eq!(p.instance(), "powersource-2");
        assert_eq!(p.instance_header().unwrap(), "powersource-2");
    }

    #[test]
    fn a_changed_body_or_another_instance_is_another_entry() {
        let a = Answers::new(1 << 20);
        let old = prepare(&a, &body(7, "Dara"), "p1").unwrap();
        let renamed = prepare(&a, &body(7, "Dara the Second"), "p1").unwrap();
        assert_eq!(old.character().name, "Dara");
        assert_eq!(renamed.character().name, "Dara the Second");
        assert!(std::str::from_utf8(&renamed.json())
            .unwrap()
            .contains("Dara the Second"));
        let other = prepare(&a, &body(8, "Ivo"), "p1").unwrap();
        assert_eq!(other.character().id, 8);
        let elsewhere = prepare(&a, &body(8, "Ivo"), "p2").unwrap();
        assert_eq!(elsewhere.instance(), "p2");
        assert!(std::str::from_utf8(&elsewhere.json())
            .unwrap()
            .contains(r#""instance":"p2""#));
        assert_eq!(a.len(), 4);
    }

    #[test]
    fn a_bad_body_is_an_error_and_is_not_cached() {
        let a = Answers::new(1 << 20);
        assert!(prepare(&a, b"{\"id\":", "p1").is_err());
        assert!(prepare(&a, b"{\"id\":", "p1").is_err(), "still an error");
        assert!(a.is_empty());
    }

    #[test]
    fn the_bound_holds_and_the_least_recently_used_go_first() {
        let one = Prepared::new(&body(1, "N1"), decode(&body(1, "N1")).unwrap(), "p1", true)
            .unwrap()
            .size();
        let a = Answers::new(one * 3 + one / 2);
        let keep = prepare(&a, &body(1, "N1"), "p1").unwrap();
        for id in 2..=20 {
            prepare(&a, &body(id, &format!("N{id}")), "p1").unwrap();
            assert!(a.bytes() <= one * 3 + one / 2, "{} bytes", a.bytes());
            // touching the first keeps it
            let again = a
                .prepare(&body(1, "N1"), "p1", decode, |e| e.to_string())
                .unwrap();
            assert!(Arc::ptr_eq(&keep, &again), "the recently used one stayed");
        }
        assert_eq!(a.len(), 3);
        let evicted = prepare(&a, &body(2, "N2"), "p1").unwrap();
        assert_eq!(
            evicted.character().id,
            2,
            "an evicted one is prepared again"
        );
    }

    #[test]
    fn off_or_too_big_caches_nothing_and_still_answers() {
        let cached = prepare(&Answers::new(1 << 20), &body(3, "N3"), "p1").unwrap();
        for a in [Answers::new(0), Answers::new(16)] {
            let p = prepare(&a, &body(3, "N3"), "p1").unwrap();
            assert_eq!(p.character().id, 3);
            assert_eq!(p.json(), cached.json());
            assert_eq!(p.html(), cached.html(), "the page, rendered when asked for");
            assert!(a.is_empty());
        }
    }
}
