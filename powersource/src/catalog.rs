//! The dataset a powersource serves, loaded once at start-up from the current generation of its
//! sled store.
//!
//! Eligible characters are kept in memory with their JSON answer already rendered, so
//! `/characters/{id}` and `/assignments/{key}` never touch sled or serde. Images stay in sled
//! and are read on request (through `spawn_blocking`, by the handler). The assignment ring is
//! built here, once.

use bytes::Bytes;
use common::memory::Need;
use common::model::{CharacterId, ImageRecord};
use common::store::{DatasetInfo, Snapshot, Store, StoreError};
use service::api::CharacterView;

use crate::assign::Assigner;

/// An eligible character, ready to serve.
pub struct Entry {
    /// The character's id.
    pub id: CharacterId,
    /// Its [`CharacterView`] as JSON bytes (cloning `Bytes` is a reference count).
    pub json: Bytes,
}

/// The loaded dataset.
pub struct Catalog {
    /// Eligible characters sorted by id (binary search beats hashing for a few thousand).
    entries: Vec<Entry>,
    assigner: Assigner,
    snapshot: Option<Snapshot>,
    /// Kept open for the snapshot's trees; sled allows one process per store.
    _store: Store,
}

impl Catalog {
    /// Loads the current dataset of an open store. A store nothing was ingested into loads as
    /// an empty catalog (the service then reports 503 on `/health`).
    ///
    /// Blocking: call it from `spawn_blocking`.
    ///
    /// # Errors
    /// When a record cannot be read or decoded.
    pub fn load(store: Store) -> Result<Self, StoreError> {
        let snapshot = store.current()?;
        let mut entries = Vec::new();
        if let Some(snap) = &snapshot {
            entries.reserve_exact(usize::try_from(snap.info().eligible).unwrap_or(0));
            let mut json = Vec::new();
            for record in snap.characters() {
                let record = record?;
                if !record.eligible {
                    continue;
                }
                json.clear();
                serde_json::to_writer(&mut json, &CharacterView::of(&record))
                    .expect("a CharacterView always serializes");
                entries.push(Entry {
                    id: record.id,
                    // an allocation of the answer's exact size
                    json: Bytes::copy_from_slice(&json),
                });
            }
        }
        // sled iterates big-endian keys in order; sort anyway, the lookup depends on it
        entries.sort_unstable_by_key(|e| e.id);
        entries.dedup_by_key(|e| e.id);
        entries.shrink_to_fit();
        let assigner = Assigner::new(entries.iter().map(|e| e.id));
        Ok(Catalog {
            entries,
            assigner,
            snapshot,
            _store: store,
        })
    }

    /// The eligible character `id`.
    pub fn character(&self, id: CharacterId) -> Option<&Entry> {
        self.entries
            .binary_search_by_key(&id, |e| e.id)
            .ok()
            .map(|i| &self.entries[i])
    }

    /// The character assigned to `user_key` (a valid key), or `None` when the catalog is empty.
    pub fn assign(&self, user_key: &str) -> Option<&Entry> {
        self.assigner
            .assign(user_key)
            .and_then(|id| self.character(id))
    }

    /// A character chosen uniformly at random, or `None` when the catalog is empty.
    pub fn random(&self) -> Option<&Entry> {
        if self.entries.is_empty() {
            return None;
        }
        Some(&self.entries[rand::random_range(0..self.entries.len())])
    }

    /// The image of the eligible character `id`, read from sled.
    ///
    /// Blocking: call it from `spawn_blocking`.
    ///
    /// # Errors
    /// On store I/O errors or a corrupt record.
    pub fn image(&self, id: CharacterId) -> Result<Option<ImageRecord>, StoreError> {
        match (&self.snapshot, self.character(id)) {
            (Some(snap), Some(_)) => Ok(snap.image(id)?),
            _ => Ok(None),
        }
    }

    /// A page of `/characters`: the entries after the character `after` (from the first without
    /// it), up to about `budget` bytes of JSON (at least one entry), and whether more follow.
    pub fn page(&self, after: Option<CharacterId>, budget: usize) -> (&[Entry], bool) {
        let start = after.map_or(0, |a| self.entries.partition_point(|e| e.id <= a));
        let rest = &self.entries[start..];
        let mut used = 0;
        let mut n = 0;
        while n < rest.len() && (n == 0 || used + rest[n].json.len() <= budget) {
            used += rest[n].json.len() + 1;
            n += 1;
        }
        (&rest[..n], n < rest.len())
    }

    /// How many characters can be served.
    pub fn eligible(&self) -> usize {
        self.entries.len()
    }

    /// What the loaded dataset takes in memory, for the estimate of [`common::memory`].
    pub fn need(&self) -> Need {
        Need {
            eligible: self.entries.len() as u64,
            answer_bytes: self.entries.iter().map(|e| e.json.len() as u64).sum(),
            image_bytes: self.snapshot.as_ref().map_or(0, |s| s.info().image_bytes),
        }
    }

    /// What the current generation holds, when there is one.
    pub fn info(&self) -> Option<(u64, &DatasetInfo)> {
        self.snapshot.as_ref().map(|s| (s.generation(), s.info()))
    }
}
