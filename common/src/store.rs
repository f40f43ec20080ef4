//! The sled store: one module owns its whole format, so that the loader (the only writer) and
//! powersource (the reader) cannot drift apart.
//!
//! # Format
//! - Tree `meta`: key `current` → the current generation (`u64`, big-endian); key
//!   `info.g{N}` → the [`DatasetInfo`] of generation N.
//! - Tree `characters.g{N}`: key = character id (`u64`, big-endian) → [`CharacterRecord`].
//! - Tree `images.g{N}`: key = character id (`u64`, big-endian) → [`ImageRecord`].
//!
//! Every value is one format-version byte ([`FORMAT_VERSION`]) followed by the record in
//! bincode 2 (standard configuration, through serde). A reader refuses a version it does not
//! know instead of misreading it.
//!
//! # Atomic replacement
//! A dataset is written into a fresh generation's trees, flushed, and only then made current by
//! one write of `meta/current` (with its info), flushed again. sled recovers a prefix of its
//! log after a crash, so a `kill -9` at any moment leaves either the old generation current (the
//! new trees are orphans, dropped by the next writer) or the new one, complete. Old generations
//! are dropped after the switch.

use std::path::{Path, PathBuf};

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use thiserror::Error;

use crate::model::{CharacterId, CharacterRecord, ImageRecord};

/// The version byte in front of every stored value.
pub const FORMAT_VERSION: u8 = 1;

/// The most bytes one stored value may hold: well above the largest record (an image, which the
/// loader keeps under 5 MiB). bincode allocates a string of the length it reads before reading
/// it, so without this limit one corrupt length prefix asks for gigabytes and aborts the reader
/// instead of being [`StoreError::Corrupt`] (found by the `store_decode` fuzz target).
pub const MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;

const META_TREE: &[u8] = b"meta";
const CURRENT_KEY: &[u8] = b"current";
const CHARACTERS_PREFIX: &str = "characters.g";
const IMAGES_PREFIX: &str = "images.g";

/// sled's page cache; small, because powersource keeps its hot data in memory anyway. sled 0.34
/// holds more than this under reads: it evicts only once 64 accesses have queued up in a shard
/// (of 256), so a powersource keeps about every image it served ([`crate::memory`]).
const CACHE_CAPACITY: u64 = 16 * 1024 * 1024;

/// What can go wrong with a store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The store could not be opened: a bad path, no permission, or another process holds it.
    #[error("cannot open the store at {path}: {source} (is another process using it?)")]
    Open {
        /// The store's folder.
        path: PathBuf,
        /// What sled said.
        source: sled::Error,
    },
    /// sled failed while reading or writing.
    #[error("store I/O failed: {0}")]
    Sled(#[from] sled::Error),
    /// A value was written by another format version.
    #[error("{what} has format version {found}; this build reads version {FORMAT_VERSION}")]
    Version {
        /// Which value.
        what: String,
        /// The version byte found.
        found: u8,
    },
    /// A value could not be decoded.
    #[error("{what} is corrupt: {detail}")]
    Corrupt {
        /// Which value.
        what: String,
        /// What the decoder said.
        detail: String,
    },
    /// A record could not be encoded (never expected for our types).
    #[error("cannot encode a record: {0}")]
    Encode(String),
}

/// Shorthand for store results.
pub type Result<T> = std::result::Result<T, StoreError>;

/// What a generation holds, written with it and shown by powersource and `loader ingest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// A digest of the dataset's content (characters and image bytes); equal fingerprints mean
    /// equal data, so re-ingesting the same dataset changes nothing.
    pub fingerprint: String,
    /// All characters in the dataset.
    pub characters: u64,
    /// Characters users can be given.
    pub eligible: u64,
    /// Images stored.
    pub images: u64,
    /// Characters whose image file was missing (stored as not eligible).
    pub missing_images: u64,
    /// Total bytes of the stored images.
    pub image_bytes: u64,
    /// When the ingest ran, seconds since the Unix epoch.
    pub ingested_at_unix: u64,
    /// Where the data came from (a folder, or `sample`).
    pub source: String,
}

/// An open store. sled allows one process at a time per store.
pub struct Store {
    db: sled::Db,
}

impl Store {
    /// Opens (or creates) the store in the folder `path`.
    ///
    /// # Errors
    /// [`StoreError::Open`] when sled cannot open it, for example while another process holds it.
    pub fn open(path: &Path) -> Result<Self> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_CAPACITY)
            .open()
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        Ok(Store { db })
    }

    /// A store that lives in a temporary folder and disappears when dropped (for tests).
    ///
    /// # Errors
    /// When sled cannot create it.
    pub fn temporary() -> Result<Self> {
        let db = sled::Config::new()
            .temporary(true)
            .cache_capacity(CACHE_CAPACITY)
            .open()?;
        Ok(Store { db })
    }

    fn meta(&self) -> Result<sled::Tree> {
        Ok(self.db.open_tree(META_TREE)?)
    }

    fn current_generation(&self) -> Result<Option<u64>> {
        let meta = self.meta()?;
        match meta.get(CURRENT_KEY)? {
            None => Ok(None),
            Some(v) => {
                let bytes: [u8; 8] = v.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                    what: "meta/current".into(),
                    detail: format!("{} bytes, expected 8", v.len()),
                })?;
                Ok(Some(u64::from_be_bytes(bytes)))
            }
        }
    }

    /// The current dataset, or `None` for a store nothing was ingested into.
    ///
    /// # Errors
    /// On I/O errors or a corrupt or foreign-version info record.
    pub fn current(&self) -> Result<Option<Snapshot>> {
        let Some(generation) = self.current_generation()? else {
            return Ok(None);
        };
        let meta = self.meta()?;
        let key = info_key(generation);
        let raw = meta.get(&key)?.ok_or_else(|| StoreError::Corrupt {
            what: format!("meta/{}", String::from_utf8_lossy(&key)),
            detail: "missing".into(),
        })?;
        let info: DatasetInfo = decode(&raw, "dataset info")?;
        Ok(Some(Snapshot {
            generation,
            info,
            characters: self
                .db
                .open_tree(tree_name(CHARACTERS_PREFIX, generation))?,
            images: self.db.open_tree(tree_name(IMAGES_PREFIX, generation))?,
        }))
    }

    /// Starts writing a new generation. Drops what a crashed writer left behind first.
    ///
    /// # Errors
    /// On I/O errors.
    pub fn begin(&self) -> Result<GenerationWriter<'_>> {
        let current = self.current_generation()?;
        self.drop_generations_except(current)?;
        let generation = current.map_or(1, |g| g + 1);
        Ok(GenerationWriter {
            store: self,
            generation,
            characters: self
                .db
                .open_tree(tree_name(CHARACTERS_PREFIX, generation))?,
            images: self.db.open_tree(tree_name(IMAGES_PREFIX, generation))?,
        })
    }

    /// Drops every generation's trees and info except `keep`.
    fn drop_generations_except(&self, keep: Option<u64>) -> Result<()> {
        let meta = self.meta()?;
        for name in self.db.tree_names() {
            let name = String::from_utf8_lossy(&name).into_owned();
            let generation = name
                .strip_prefix(CHARACTERS_PREFIX)
                .or_else(|| name.strip_prefix(IMAGES_PREFIX))
                .and_then(|g| g.parse::<u64>().ok());
            if let Some(g) = generation {
                if Some(g) != keep {
                    self.db.drop_tree(name.as_bytes())?;
                    meta.remove(info_key(g))?;
                }
            }
        }
        self.db.flush()?;
        Ok(())
    }

    /// Generations whose trees exist (the current one, plus orphans a crash may have left).
    pub fn generations(&self) -> Vec<u64> {
        let mut g: Vec<u64> = self
            .db
            .tree_names()
            .iter()
            .filter_map(|n| {
                std::str::from_utf8(n)
                    .ok()?
                    .strip_prefix(CHARACTERS_PREFIX)?
                    .parse()
                    .ok()
            })
            .collect();
        g.sort_unstable();
        g
    }
}

/// A new generation being written. Nothing is visible to readers until [`commit`](Self::commit).
pub struct GenerationWriter<'a> {
    store: &'a Store,
    generation: u64,
    characters: sled::Tree,
    images: sled::Tree,
}

impl GenerationWriter<'_> {
    /// The generation number being written.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Adds a character record.
    ///
    /// # Errors
    /// On I/O errors.
    pub fn put_character(&self, record: &CharacterRecord) -> Result<()> {
        self.characters.insert(id_key(record.id), encode(record)?)?;
        Ok(())
    }

    /// Adds the image of character `id`.
    ///
    /// # Errors
    /// On I/O errors.
    pub fn put_image(&self, id: CharacterId, image: &ImageRecord) -> Result<()> {
        self.images.insert(id_key(id), encode(image)?)?;
        Ok(())
    }

    /// Makes this generation current, durably, then drops the previous ones.
    ///
    /// # Errors
    /// On I/O errors; the previous generation then stays current.
    pub fn commit(self, info: &DatasetInfo) -> Result<()> {
        let db = &self.store.db;
        // 1. the new trees are durable before anything points at them
        db.flush()?;
        // 2. one atomic batch switches the pointer
        let meta = self.store.meta()?;
        let mut batch = sled::Batch::default();
        batch.insert(info_key(self.generation), encode(info)?);
        batch.insert(CURRENT_KEY, &self.generation.to_be_bytes());
        meta.apply_batch(batch)?;
        db.flush()?;
        // 3. the old generations are garbage now
        self.store.drop_generations_except(Some(self.generation))?;
        Ok(())
    }
}

/// The current dataset of a store, as opened at one moment.
pub struct Snapshot {
    generation: u64,
    info: DatasetInfo,
    characters: sled::Tree,
    images: sled::Tree,
}

impl Snapshot {
    /// The generation number.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// What the dataset holds.
    pub fn info(&self) -> &DatasetInfo {
        &self.info
    }

    /// The record of character `id`.
    ///
    /// # Errors
    /// On I/O errors or a corrupt record.
    pub fn character(&self, id: CharacterId) -> Result<Option<CharacterRecord>> {
        self.characters
            .get(id_key(id))?
            .map(|v| decode(&v, "character record"))
            .transpose()
    }

    /// The image of character `id`.
    ///
    /// # Errors
    /// On I/O errors or a corrupt record.
    pub fn image(&self, id: CharacterId) -> Result<Option<ImageRecord>> {
        self.images
            .get(id_key(id))?
            .map(|v| decode(&v, "image record"))
            .transpose()
    }

    /// Every character record, in id order.
    pub fn characters(&self) -> impl Iterator<Item = Result<CharacterRecord>> + '_ {
        self.characters
            .iter()
            .values()
            .map(|v| decode(&v?, "character record"))
    }

    /// How many images the generation holds.
    pub fn image_count(&self) -> usize {
        self.images.len()
    }
}

fn tree_name(prefix: &str, generation: u64) -> String {
    format!("{prefix}{generation}")
}

fn info_key(generation: u64) -> Vec<u8> {
    format!("info.g{generation}").into_bytes()
}

fn id_key(id: CharacterId) -> [u8; 8] {
    id.to_be_bytes()
}

/// Encodes a value as stored: the version byte, then bincode.
///
/// # Errors
/// When bincode cannot encode the value.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut out = vec![FORMAT_VERSION];
    let body = bincode::serde::encode_to_vec(value, bincode::config::standard())
        .map_err(|e| StoreError::Encode(e.to_string()))?;
    if body.len() > MAX_VALUE_BYTES {
        return Err(StoreError::Encode(format!(
            "a record of {} bytes is over the {MAX_VALUE_BYTES}-byte limit",
            body.len()
        )));
    }
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes a stored value, checking its version byte.
///
/// # Errors
/// [`StoreError::Version`] for another version, [`StoreError::Corrupt`] for bad bytes.
pub fn decode<T: DeserializeOwned>(raw: &[u8], what: &str) -> Result<T> {
    let (&version, body) = raw.split_first().ok_or_else(|| StoreError::Corrupt {
        what: what.into(),
        detail: "empty value".into(),
    })?;
    if version != FORMAT_VERSION {
        return Err(StoreError::Version {
            what: what.into(),
            found: version,
        });
    }
    let config = bincode::config::standard().with_limit::<MAX_VALUE_BYTES>();
    let (value, used) =
        bincode::serde::decode_from_slice(body, config).map_err(|e| StoreError::Corrupt {
            what: what.into(),
            detail: e.to_string(),
        })?;
    if used != body.len() {
        return Err(StoreError::Corrupt {
            what: what.into(),
            detail: format!("{} trailing bytes", body.len() - used),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: CharacterId, eligible: bool) -> CharacterRecord {
        CharacterRecord {
            id,
            name: format!("Zoë Number {id}"),
            description: String::new(),
            slug: format!("zoe-number-{id}"),
            learn_more_url: (id % 2 == 0).then(|| format!("https://example.test/{id}")),
            eligible,
            modified: "2014-04-29T14:18:17-0400".into(),
        }
    }

    fn info(fingerprint: &str, n: u64) -> DatasetInfo {
        DatasetInfo {
            fingerprint: fingerprint.into(),
            characters: n,
            eligible: n,
            images: n,
            missing_images: 0,
            image_bytes: 3 * n,
            ingested_at_unix: 1,
            source: "test".into(),
        }
    }

    #[test]
    fn records_round_trip_with_their_version_byte() {
        let r = record(1009610, true);
        let bytes = encode(&r).unwrap();
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(decode::<CharacterRecord>(&bytes, "r").unwrap(), r);
        let img = ImageRecord {
            content_type: "image/png".into(),
            etag: "\"x\"".into(),
            bytes: vec![1, 2, 3],
        };
        assert_eq!(
            decode::<ImageRecord>(&encode(&img).unwrap(), "i").unwrap(),
            img
        );
    }

    #[test]
    fn foreign_versions_and_garbage_are_refused() {
        let mut bytes = encode(&record(1, true)).unwrap();
        bytes[0] = 9;
        assert!(matches!(
            decode::<CharacterRecord>(&bytes, "r"),
            Err(StoreError::Version { found: 9, .. })
        ));
        assert!(matches!(
            decode::<CharacterRecord>(&[], "r"),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            decode::<CharacterRecord>(&[FORMAT_VERSION, 0xff], "r"),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_corrupt_length_is_an_error_not_a_huge_allocation() {
        // an image record whose etag claims 4 GiB (the input that made the fuzzer abort)
        let raw = [FORMAT_VERSION, 1, b'3', 0xfc, 0x01, 0xff, 0xff, 0xff];
        assert!(matches!(
            decode::<ImageRecord>(&raw, "i"),
            Err(StoreError::Corrupt { .. })
        ));
        let mut name_of_u64_max = vec![FORMAT_VERSION, 7, 0xfd];
        name_of_u64_max.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            decode::<CharacterRecord>(&name_of_u64_max, "r"),
            Err(StoreError::Corrupt { .. })
        ));
        // the largest image the loader accepts still round-trips
        let big = ImageRecord {
            content_type: "image/png".into(),
            etag: "\"x\"".into(),
            bytes: vec![7; 6 * 1024 * 1024],
        };
        assert_eq!(
            decode::<ImageRecord>(&encode(&big).unwrap(), "i").unwrap(),
            big
        );
        let too_big = ImageRecord {
            bytes: vec![0; MAX_VALUE_BYTES + 1],
            ..big
        };
        assert!(matches!(encode(&too_big), Err(StoreError::Encode(_))));
    }

    #[test]
    fn a_generation_is_invisible_until_committed_and_replaces_the_old_one() {
        let store = Store::temporary().unwrap();
        assert!(store.current().unwrap().is_none());

        let w = store.begin().unwrap();
        for id in 1..=3 {
            w.put_character(&record(id, true)).unwrap();
        }
        assert!(
            store.current().unwrap().is_none(),
            "uncommitted data is not visible"
        );
        w.commit(&info("first", 3)).unwrap();
        let snap = store.current().unwrap().unwrap();
        assert_eq!(snap.info().fingerprint, "first");
        assert_eq!(snap.characters().count(), 3);

        // an abandoned writer (a crash) leaves the current generation alone
        let w = store.begin().unwrap();
        w.put_character(&record(99, true)).unwrap();
        drop(w);
        let snap = store.current().unwrap().unwrap();
        assert_eq!(snap.info().fingerprint, "first");
        assert!(snap.character(99).unwrap().is_none());

        // the next writer cleans the orphan and replaces the dataset
        let w = store.begin().unwrap();
        w.put_character(&record(7, false)).unwrap();
        w.commit(&info("second", 1)).unwrap();
        let snap = store.current().unwrap().unwrap();
        assert_eq!(snap.info().fingerprint, "second");
        assert_eq!(snap.character(7).unwrap().unwrap(), record(7, false));
        assert!(snap.character(1).unwrap().is_none());
        assert_eq!(store.generations(), vec![snap.generation()]);
    }
}
