//! Recently served images, bounded in bytes (fresh for a TTL, then revalidated), and the
//! memory of every image on its way to a client, in the cache or not ([`ImageCache::hold`]):
//! an image a slow client is still reading after the cache dropped it is still counted. Each user's last
//! known character is not kept here: it travels with the user ([`crate::remembered`]), and the
//! characters to render it from are in [`crate::catalog`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lru::LruCache;

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

/// What an entry costs beyond its image's bytes: the `CachedImage` and its `Arc`, the header
/// values, the LRU's node and its slot.
const ENTRY_OVERHEAD: usize = std::mem::size_of::<CachedImage>() + 16 + 2 * 64 + 64 + 16;

/// What `image` costs in the cache, in bytes.
fn cost(image: &CachedImage) -> usize {
    ENTRY_OVERHEAD + image.bytes.len()
}

/// Recently served images, at most `capacity` bytes in all (their bytes and each entry's
/// overhead), each fresh for `ttl` after it was fetched or revalidated.
pub struct ImageCache {
    inner: Mutex<(LruCache<u64, Entry>, usize)>,
    capacity: usize,
    ttl: Duration,
    /// Bytes of images held anywhere (in the cache, in answers being sent), in KiB:
    /// [`HELD_FACTOR`] × the cache's capacity.
    held: Arc<tokio::sync::Semaphore>,
}

/// Images held in memory at most, anywhere: this many times the cache's capacity (the cache's
/// own images, and as much again on their way to clients after the cache let them go).
pub const HELD_FACTOR: usize = 2;

/// The bytes of images held anywhere with a cache of `capacity`: [`HELD_FACTOR`] × it, and at
/// least room for the largest image (with the cache off, images are still served).
fn held_bytes(capacity: usize) -> usize {
    capacity
        .saturating_mul(HELD_FACTOR)
        .max(service::api::MAX_IMAGE_BYTES)
}

/// An image's bytes and the part of the budget they hold, given back when the last copy of the
/// `Bytes` made of it is dropped (the cache's and every answer's).
struct Held {
    bytes: Vec<u8>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl ImageCache {
    /// A cache of at most `capacity` bytes whose entries are fresh for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        ImageCache {
            inner: Mutex::new((LruCache::unbounded(), 0)),
            capacity,
            ttl,
            held: Arc::new(tokio::sync::Semaphore::new(
                held_bytes(capacity).div_ceil(1024),
            )),
        }
    }

    /// `image` (an answer's bytes) as bytes of their own, exactly their size, counted against
    /// the images held ([`HELD_FACTOR`] × the capacity) until the last copy is dropped; `None`
    /// when that budget is spent (the caller answers 503: an image cannot be held now).
    pub fn hold(&self, image: &[u8]) -> Option<Bytes> {
        let kib = u32::try_from(image.len().div_ceil(1024)).ok()?;
        let permit = self.held.clone().try_acquire_many_owned(kib).ok()?;
        Some(Bytes::from_owner(Held {
            bytes: image.to_vec(),
            _permit: permit,
        }))
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
        let size = cost(&image);
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
            *used -= cost(&old.image);
        }
        *used += size;
        while *used > self.capacity {
            match lru.pop_lru() {
                Some((_, old)) => *used -= cost(&old.image),
                None => break,
            }
        }
    }

    /// Forgets the image of `id` (powersource says it has none now).
    pub fn remove(&self, id: u64) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (lru, used) = &mut *guard;
        if let Some(old) = lru.pop(&id) {
            *used -= cost(&old.image);
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

    #[test]
    fn image_cache_is_bounded_by_bytes() {
        // room for 10 bytes of images and two entries' overhead
        let c = ImageCache::new(10 + 2 * ENTRY_OVERHEAD, Duration::from_secs(60));
        let img = |n: usize| {
            Arc::new(CachedImage {
                content_type: http::HeaderValue::from_static("image/png"),
                etag: None,
                bytes: Bytes::from(vec![0u8; n]),
            })
        };
        c.put(1, img(6));
        c.put(2, img(4));
        assert_eq!(c.bytes(), 10 + 2 * ENTRY_OVERHEAD);
        c.put(3, img(5));
        assert!(c.get(1).is_none());
        assert!(c.bytes() <= 10 + 2 * ENTRY_OVERHEAD);
        c.put(4, img(11 + 2 * ENTRY_OVERHEAD));
        assert!(c.get(4).is_none(), "larger than the cache: not kept");
        assert!(c.get(3).unwrap().fresh);
        c.remove(3);
        assert!(c.get(3).is_none());
    }

    #[test]
    fn images_go_stale_after_the_ttl_and_a_put_freshens_them() {
        let c = ImageCache::new(100 + ENTRY_OVERHEAD, Duration::ZERO);
        let img = Arc::new(CachedImage {
            content_type: http::HeaderValue::from_static("image/png"),
            etag: None,
            bytes: Bytes::from_static(b"png"),
        });
        c.put(1, img.clone());
        assert!(!c.get(1).unwrap().fresh, "a zero TTL: always revalidate");
        let c = ImageCache::new(100 + ENTRY_OVERHEAD, Duration::from_secs(60));
        c.put(1, img);
        assert!(c.get(1).unwrap().fresh);
        assert_eq!(c.bytes(), 3 + ENTRY_OVERHEAD);
    }

    #[test]
    fn images_held_anywhere_are_bounded_and_given_back_when_dropped() {
        let capacity = service::api::MAX_IMAGE_BYTES;
        let c = ImageCache::new(capacity, Duration::from_secs(60));
        // twice the capacity in all: two images of the capacity, not a third
        let a = c.hold(&vec![1u8; capacity]).expect("room");
        let b = c.hold(&vec![2u8; capacity]).expect("room");
        assert!(c.hold(&[3u8; 1]).is_none(), "the budget is spent");
        assert!(a.iter().all(|&x| x == 1) && a.len() == capacity);
        // a copy (an answer being sent) keeps it held; the last one gives it back
        let answer = b.clone();
        drop(b);
        assert!(c.hold(&[3u8; 1]).is_none());
        drop(answer);
        assert!(c.hold(&vec![3u8; capacity]).is_some());
        drop(a);
        // with the cache off, the largest image can still be held (and served)
        let off = ImageCache::new(0, Duration::from_secs(60));
        assert!(off.hold(&vec![4u8; capacity]).is_some());
    }
}
