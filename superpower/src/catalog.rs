//! The characters this replica may have to render when no powersource answers: every character
//! of the dataset, bounded by the dataset and by bytes (`--catalog-bytes`), never by users.
//!
//! A returning user's last known character comes from their signed cookie
//! ([`crate::remembered`]); its text comes from here. The catalog is filled from a powersource's
//! `GET /characters` pages at start and again whenever the dataset's fingerprint changes (each
//! round is one conditional request: `If-None-Match` with the fingerprint, a 304 while it is
//! the same; [`spawn_refresh`]), and every character an instance serves updates it too, so a
//! character answered once is renderable even before the first listing arrives.
//!
//! Held in an LRU bounded by the bytes the characters take (their strings' allocations and a
//! fixed overhead per entry): a dataset larger than the bound keeps the characters most
//! recently listed or served, and says so in the log.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::model::CharacterId;
use lru::LruCache;
use tokio_util::sync::CancellationToken;

use crate::model::Character;
use crate::powersource::{CatalogFetch, Powersource};

/// What an entry costs beyond its strings: the `Character`, the `Arc`'s counts, the LRU's node
/// and its slot in the hash table.
const ENTRY_OVERHEAD: usize = std::mem::size_of::<Character>() + 16 + 64 + 16;

/// What `c` costs in the catalog, in bytes.
fn cost(c: &Character) -> usize {
    ENTRY_OVERHEAD
        + c.name.capacity()
        + c.description.capacity()
        + c.learn_more_url.as_ref().map_or(0, String::capacity)
}

struct Inner {
    characters: LruCache<CharacterId, Arc<Character>>,
    bytes: usize,
    /// The fingerprint of the dataset the last complete listing came from.
    fingerprint: Option<String>,
}

/// The catalog (see the module doc).
pub struct Catalog {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl Catalog {
    /// An empty catalog of at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        Catalog {
            inner: Mutex::new(Inner {
                characters: LruCache::unbounded(),
                bytes: 0,
                fingerprint: None,
            }),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The character `id`, when the catalog holds it.
    pub fn get(&self, id: CharacterId) -> Option<Arc<Character>> {
        self.lock().characters.get(&id).cloned()
    }

    /// Keeps `c` (an instance just served it): added, or replacing a different text. On the
    /// request path: a character already held (the same `Arc` as the prepared answer's, after
    /// the first time) costs one uncontended lock and a lookup that reorders nothing.
    pub fn learn(&self, c: &Arc<Character>) {
        let mut inner = self.lock();
        match inner.characters.peek_mut(&c.id) {
            Some(known) if Arc::ptr_eq(known, c) => {}
            // the same text from a listing: keep the served one, so the next time is a pointer
            // comparison (same bytes, same cost)
            Some(known) if **known == **c => *known = c.clone(),
            _ => self.insert(&mut inner, c.clone()),
        }
    }

    fn insert(&self, inner: &mut Inner, c: Arc<Character>) {
        let size = cost(&c);
        if size > self.capacity {
            return;
        }
        if let Some(old) = inner.characters.put(c.id, c) {
            inner.bytes -= cost(&old);
        }
        inner.bytes += size;
        while inner.bytes > self.capacity {
            match inner.characters.pop_lru() {
                Some((_, old)) => inner.bytes -= cost(&old),
                None => break,
            }
        }
    }

    /// Replaces the whole catalog with a complete listing of the dataset `fingerprint`.
    /// Returns how many characters it keeps (fewer than listed when they exceed the bound).
    pub fn replace(&self, fingerprint: String, characters: Vec<Character>) -> usize {
        let mut inner = self.lock();
        inner.characters.clear();
        inner.bytes = 0;
        for c in characters {
            self.insert(&mut inner, Arc::new(c));
        }
        inner.fingerprint = Some(fingerprint);
        inner.characters.len()
    }

    /// The fingerprint of the dataset of the last complete listing.
    pub fn fingerprint(&self) -> Option<String> {
        self.lock().fingerprint.clone()
    }

    /// Characters held.
    pub fn len(&self) -> usize {
        self.lock().characters.len()
    }

    /// No character held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held, as counted against the bound.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// The bound, in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// One round: asks the instances on the ring, in ring order, for the listing until one answers;
/// a 304 (same fingerprint) ends the round at once. Returns whether the catalog is current.
pub async fn refresh(catalog: &Catalog, powersource: &Powersource) -> bool {
    let members: Vec<_> = powersource.fleet().ring().members().to_vec();
    for inst in members {
        let known = catalog.fingerprint();
        match powersource
            .catalog(&inst, known.as_deref(), catalog.capacity())
            .await
        {
            Ok(CatalogFetch::NotModified) => return true,
            Ok(CatalogFetch::Listing {
                fingerprint,
                characters,
                complete,
            }) => {
                let listed = characters.len();
                let kept = catalog.replace(fingerprint.clone(), characters);
                if kept < listed || !complete {
                    tracing::warn!(
                        listed,
                        kept,
                        bytes = catalog.bytes(),
                        capacity = catalog.capacity(),
                        "the dataset does not fit --catalog-bytes: the characters outside it cannot be served degraded"
                    );
                } else {
                    tracing::info!(characters = kept, bytes = catalog.bytes(), %fingerprint, from = inst.name(), "catalog filled");
                }
                return true;
            }
            Err(err) => {
                tracing::debug!(instance = inst.name(), error = %err, "no catalog listing from this instance");
            }
        }
    }
    false
}

/// Refreshes the catalog every `interval` (sooner, every second, while no listing has
/// arrived or the last round found no instance) until cancelled. The first round is the
/// caller's (start-up fills the catalog before serving).
pub fn spawn_refresh(
    catalog: Arc<Catalog>,
    powersource: Arc<Powersource>,
    interval: Duration,
    cancel: CancellationToken,
) {
    tokio::spawn(async move {
        let mut current = catalog.fingerprint().is_some();
        loop {
            let wait = if current && catalog.fingerprint().is_some() {
                interval
            } else {
                interval.min(Duration::from_secs(1))
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            current = refresh(&catalog, &powersource).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn character(id: CharacterId, text: &str) -> Character {
        Character {
            id,
            name: format!("N{id}"),
            description: text.to_owned(),
            learn_more_url: None,
        }
    }

    #[test]
    fn it_is_bounded_by_bytes_and_counts_them_back() {
        let one = cost(&character(1, "x"));
        let c = Catalog::new(3 * one);
        let kept = c.replace("fp".into(), (1..=5).map(|i| character(i, "x")).collect());
        assert_eq!(kept, 3);
        assert!(c.bytes() <= c.capacity());
        assert!(
            c.get(5).is_some() && c.get(1).is_none(),
            "the last listed are kept"
        );
        c.learn(&Arc::new(character(9, "x")));
        assert_eq!(c.len(), 3);
        assert!(c.get(9).is_some());
        let huge = Arc::new(character(10, &"y".repeat(4 * one)));
        c.learn(&huge);
        assert!(
            c.get(10).is_none(),
            "larger than the whole catalog: not kept"
        );
        c.replace("fp2".into(), Vec::new());
        assert_eq!((c.len(), c.bytes()), (0, 0));
        assert_eq!(c.fingerprint().as_deref(), Some("fp2"));
    }

    #[test]
    fn a_served_character_with_new_text_replaces_the_old() {
        let c = Catalog::new(1 << 20);
        c.learn(&Arc::new(character(1, "old")));
        let before = c.bytes();
        c.learn(&Arc::new(character(1, "new text")));
        assert_eq!(c.get(1).unwrap().description, "new text");
        assert_eq!(c.len(), 1);
        assert!(c.bytes() > before);
        c.learn(&Arc::new(character(1, "new text")));
        assert_eq!(c.len(), 1);
    }
}
