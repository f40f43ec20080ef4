//! The two bounded in-memory caches: each user's last known character (the fallback that keeps
//! promise 1 when no instance answers) and recently served images (fresh for a TTL, then
//! revalidated).

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lru::LruCache;

use crate::model::Character;

/// Each user's last known character, at most `capacity` users (least recently seen go first).
/// Characters are shared: a user costs an id and a pointer, not a copy of the text.
pub struct Fallback {
    inner: Mutex<FallbackInner>,
}

struct FallbackInner {
    /// (the LRU hashes with foldhash, hashbrown's default)
    users: LruCache<u128, u64>,
    /// foldhash, not std's SipHash: the ids come from the dataset, not from clients.
    characters: HashMap<u64, Arc<Character>, foldhash::fast::RandomState>,
}

impl Fallback {
    /// A cache of at most `capacity` users (at least 1).
    pub fn new(capacity: usize) -> Self {
        let cap = NonZeroUsize::new(capacity.max(1)).expect("at least 1");
        Fallback {
            inner: Mutex::new(FallbackInner {
                users: LruCache::new(cap),
                characters: HashMap::default(),
            }),
        }
    }

    /// Remembers that `user` has `character`; returns the id of the character `user` had
    /// before, when the cache knew them (what the identity check compares: it costs nothing,
    /// the LRU hands back the value it replaces).
    pub fn remember(&self, user: u128, character: &Arc<Character>) -> Option<u64> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let id = character.id;
        match inner.characters.get(&id) {
            // (a prepared answer's character is the very one kept: no comparison of the text)
            Some(known) if Arc::ptr_eq(known, character) || **known == **character => {}
            _ => {
                inner.characters.insert(id, character.clone());
            }
        }
        inner.users.put(user, id)
    }

    /// The last known character of `user`.
    pub fn recall(&self, user: u128) -> Option<Arc<Character>> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let id = *inner.users.get(&user)?;
        inner.characters.get(&id).cloned()
    }

    /// Users remembered.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .users
            .len()
    }

    /// No user remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An image as superpower serves it.
#[derive(Debug)]
pub struct CachedImage {
    /// `image/png` and so on.
    pub content_type: http::HeaderValue,
    /// The powersource's strong ETag, when it gave one.
    pub etag: Option<http::HeaderValue>,
    /// The bytes.
    pub bytes: Bytes,
}

/// A cached image and whether it may still be served without asking powersource.
#[derive(Debug)]
pub struct Lookup {
    /// The image as last fetched (or revalidated).
    pub image: Arc<CachedImage>,
    /// Fetched or revalidated within the TTL; when false, revalidate before serving it (a
    /// re-ingest may have changed the image: images are addressed by character, not content).
    pub fresh: bool,
}

struct Entry {
    image: Arc<CachedImage>,
    stored: Instant,
}

/// Recently served images, at most `capacity` bytes in all, each fresh for `ttl` after it was
/// fetched or revalidated.
pub struct ImageCache {
    inner: Mutex<(LruCache<u64, Entry>, usize)>,
    capacity: usize,
    ttl: Duration,
}

impl ImageCache {
    /// A cache of at most `capacity` bytes whose entries are fresh for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        ImageCache {
            inner: Mutex::new((LruCache::unbounded(), 0)),
            capacity,
            ttl,
        }
    }

    /// The image of character `id`, if cached, and whether it is still fresh.
    pub fn get(&self, id: u64) -> Option<Lookup> {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let entry = guard.0.get(&id)?;
        Some(Lookup {
            image: entry.image.clone(),
            fresh: entry.stored.elapsed() < self.ttl,
        })
    }

    /// Caches an image, fresh from now (also after a 304 revalidated it); images larger than
    /// the whole cache are not kept.
    pub fn put(&self, id: u64, image: Arc<CachedImage>) {
        let size = image.bytes.len();
        if size > self.capacity {
            return;
        }
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (lru, used) = &mut *guard;
        let entry = Entry {
            image,
            stored: Instant::now(),
        };
        if let Some(old) = lru.put(id, entry) {
            *used -= old.image.bytes.len();
        }
        *used += size;
        while *used > self.capacity {
            match lru.pop_lru() {
                Some((_, old)) => *used -= old.image.bytes.len(),
                None => break,
            }
        }
    }

    /// Forgets the image of `id` (powersource says it has none now).
    pub fn remove(&self, id: u64) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (lru, used) = &mut *guard;
        if let Some(old) = lru.pop(&id) {
            *used -= old.image.bytes.len();
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn character(id: u64) -> Arc<Character> {
        Arc::new(Character {
            id,
            name: format!("N{id}"),
            description: String::new(),
            learn_more_url: None,
        })
    }

    #[test]
    fn fallback_is_bounded_and_shares_characters() {
        let f = Fallback::new(2);
        assert_eq!(f.remember(1, &character(10)), None);
        assert_eq!(f.remember(2, &character(10)), None);
        assert_eq!(
            f.remember(2, &character(12)),
            Some(10),
            "the previous character"
        );
        f.remember(3, &character(11));
        assert_eq!(f.len(), 2);
        assert!(
            f.recall(1).is_none(),
            "the least recently seen user went first"
        );
        assert_eq!(f.recall(2).unwrap().id, 12);
        assert_eq!(f.recall(3).unwrap().name, "N11");
    }

    #[test]
    fn image_cache_is_bounded_by_bytes() {
        let c = ImageCache::new(10, Duration::from_secs(60));
        let img = |n: usize| {
            Arc::new(CachedImage {
                content_type: http::HeaderValue::from_static("image/png"),
                etag: None,
                bytes: Bytes::from(vec![0u8; n]),
            })
        };
        c.put(1, img(6));
        c.put(2, img(4));
        assert_eq!(c.bytes(), 10);
        c.put(3, img(5));
        assert!(c.get(1).is_none());
        assert!(c.bytes() <= 10);
        c.put(4, img(11));
        assert!(c.get(4).is_none(), "larger than the cache: not kept");
        assert!(c.get(3).unwrap().fresh);
        c.remove(3);
        assert!(c.get(3).is_none());
    }

    #[test]
    fn images_go_stale_after_the_ttl_and_a_put_freshens_them() {
        let c = ImageCache::new(100, Duration::ZERO);
        let img = Arc::new(CachedImage {
            content_type: http::HeaderValue::from_static("image/png"),
            etag: None,
            bytes: Bytes::from_static(b"png"),
        });
        c.put(1, img.clone());
        assert!(!c.get(1).unwrap().fresh, "a zero TTL: always revalidate");
        let c = ImageCache::new(100, Duration::from_secs(60));
        c.put(1, img);
        assert!(c.get(1).unwrap().fresh);
        assert_eq!(c.bytes(), 3);
    }
}
