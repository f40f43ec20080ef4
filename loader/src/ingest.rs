//! Ingesting a validated [`Dataset`] into one or more sled stores.
//!
//! Each store is written through [`common::store`]: a fresh generation is filled
//! ([`Store::begin`], `put_*`) and made current in one step ([`GenerationWriter::commit`]), so a
//! crash at any moment leaves every store with either its previous complete dataset or the new
//! complete one. A store that already holds a dataset with the same fingerprint is left as it is.
//!
//! Images are read from disk while they are written (one reader thread, a short bounded queue),
//! so memory stays flat however large the dataset is.

use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::model::ImageRecord;
use common::store::{DatasetInfo, GenerationWriter, Store, StoreError};
use indicatif::ProgressBar;
use thiserror::Error;

use crate::dataset::{Dataset, DatasetError};

/// How many images may wait between the reader thread and the writer.
const QUEUE: usize = 32;

/// How to ingest.
#[derive(Clone, Debug)]
pub struct Options {
    /// Recorded as the dataset's source; defaults to the dataset's folder.
    pub source: Option<String>,
    /// Advanced once per character; hidden by default.
    pub progress: ProgressBar,
    /// Ingest a dataset with no eligible character. Off by default: every powersource serving
    /// such a store answers 503 on `/health`, which is only ever wanted on purpose (a test).
    pub allow_empty: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            source: None,
            progress: ProgressBar::hidden(),
            allow_empty: false,
        }
    }
}

/// What happened to one store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The store already held this dataset (same fingerprint): nothing was written.
    Unchanged {
        /// Its current generation, as before.
        generation: u64,
    },
    /// The dataset was written and is now current.
    Replaced {
        /// The new current generation.
        generation: u64,
        /// The fingerprint of the dataset it replaced, if any.
        previous: Option<String>,
    },
}

/// The result of an ingest.
#[derive(Clone, Debug)]
pub struct Report {
    /// The info of the dataset (as stored, for stores that were written).
    pub info: DatasetInfo,
    /// One outcome per store, in the order given.
    pub outcomes: Vec<Outcome>,
    /// How long the ingest took (reading images, writing, flushing).
    pub elapsed: Duration,
}

/// Why an ingest failed. No store's current dataset changed.
#[derive(Debug, Error)]
pub enum IngestError {
    /// The dataset has no eligible character and [`Options::allow_empty`] is off.
    #[error(
        "{}: the dataset has no eligible character ({characters} characters, none with an \
         image), so every powersource serving it would be unhealthy; nothing was ingested \
         (pass --allow-empty to ingest it anyway)",
        dir.display()
    )]
    NoEligible {
        /// The dataset's folder.
        dir: std::path::PathBuf,
        /// How many characters it has.
        characters: u64,
    },
    /// An image could not be read again, or changed after the dataset was loaded.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks that `dataset` has an eligible character, unless `allow_empty`. [`ingest_all`] does
/// it first; the command line calls it before it opens any store.
///
/// # Errors
/// [`IngestError::NoEligible`].
pub fn check_not_empty(dataset: &Dataset, allow_empty: bool) -> Result<(), IngestError> {
    let counts = dataset.counts();
    if counts.eligible == 0 && !allow_empty {
        return Err(IngestError::NoEligible {
            dir: dataset.dir().to_owned(),
            characters: counts.characters,
        });
    }
    Ok(())
}

/// Ingests `dataset` into the already-open `store`.
///
/// # Errors
/// See [`ingest_all`].
pub fn ingest(dataset: &Dataset, store: &Store, options: &Options) -> Result<Report, IngestError> {
    ingest_all(dataset, &[store], options)
}

/// Ingests `dataset` into every store of `stores`, reading each image once.
///
/// Stores that already hold the dataset's fingerprint are not touched. The others each get a new
/// generation, committed one after the other once everything is written; a failure before a
/// store's commit leaves its previous dataset current (the half-written generation is dropped by
/// the next ingest).
///
/// # Errors
/// [`IngestError::NoEligible`] when the dataset has no eligible character (unless
/// [`Options::allow_empty`]), before any store is touched; [`IngestError::Store`] when a store
/// cannot be read or written; [`IngestError::Dataset`] when an image cannot be read again or
/// changed since the dataset was loaded.
pub fn ingest_all(
    dataset: &Dataset,
    stores: &[&Store],
    options: &Options,
) -> Result<Report, IngestError> {
    check_not_empty(dataset, options.allow_empty)?;
    let started = Instant::now();
    let counts = dataset.counts();
    let info = DatasetInfo {
        fingerprint: dataset.fingerprint().to_owned(),
        characters: counts.characters,
        eligible: counts.eligible,
        images: counts.images,
        missing_images: counts.missing_images,
        image_bytes: counts.image_bytes,
        ingested_at_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        source: options
            .source
            .clone()
            .unwrap_or_else(|| dataset.dir().display().to_string()),
    };

    let mut outcomes = Vec::with_capacity(stores.len());
    let mut writers: Vec<(usize, GenerationWriter<'_>, Option<String>)> = Vec::new();
    for (i, store) in stores.iter().enumerate() {
        let current = store.current()?;
        match current {
            Some(snap) if snap.info().fingerprint == info.fingerprint => {
                outcomes.push(Some(Outcome::Unchanged {
                    generation: snap.generation(),
                }));
            }
            other => {
                let previous = other.map(|s| s.info().fingerprint.clone());
                writers.push((i, store.begin()?, previous));
                outcomes.push(None);
            }
        }
    }
    if !writers.is_empty() {
        let only: Vec<&GenerationWriter<'_>> = writers.iter().map(|(_, w, _)| w).collect();
        write_entries(dataset, &only, &options.progress)?;
        options.progress.set_message("flushing");
        for (i, writer, previous) in writers {
            let generation = writer.generation();
            writer.commit(&info)?;
            outcomes[i] = Some(Outcome::Replaced {
                generation,
                previous,
            });
        }
    }
    options.progress.finish_and_clear();
    Ok(Report {
        info,
        outcomes: outcomes
            .into_iter()
            .map(|o| o.expect("every store has an outcome"))
            .collect(),
        elapsed: started.elapsed(),
    })
}

/// Streams every character and image into every writer: one thread reads (and re-checks)
/// images while this one writes.
fn write_entries(
    dataset: &Dataset,
    writers: &[&GenerationWriter<'_>],
    progress: &ProgressBar,
) -> Result<(), IngestError> {
    let entries = dataset.entries();
    std::thread::scope(|s| {
        let (tx, rx) =
            mpsc::sync_channel::<Result<(usize, Option<ImageRecord>), DatasetError>>(QUEUE);
        s.spawn(move || {
            for (i, entry) in entries.iter().enumerate() {
                let item = entry.read_image().map(|img| (i, img));
                let failed = item.is_err();
                // a closed queue means the writer gave up: stop reading
                if tx.send(item).is_err() || failed {
                    break;
                }
            }
        });
        for item in rx {
            let (i, image) = item?;
            let record = &entries[i].record;
            for w in writers {
                w.put_character(record)?;
                if let Some(image) = &image {
                    w.put_image(record.id, image)?;
                }
            }
            progress.inc(1);
        }
        Ok(())
    })
}
