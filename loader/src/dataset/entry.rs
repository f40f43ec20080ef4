//! One validated character ([`Entry`]) and its checked image file ([`ImageFile`]), which is read
//! again only when it is written to a store.

use std::path::PathBuf;

use common::model::{CharacterRecord, ImageRecord};

use super::error::{DatasetError, Problem, RecordRef};
use super::images::{etag_of, read_limited};

/// An image file that passed the checks, ready to be read when it is written to a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageFile {
    /// The file.
    pub path: PathBuf,
    /// `image/png`, `image/jpeg` or `image/gif`.
    pub content_type: &'static str,
    /// The strong ETag of its bytes (see [`etag_of`]).
    pub etag: String,
    /// Its size in bytes.
    pub len: u64,
}

/// One character ready to be ingested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its position in `characters.json` (for messages).
    pub index: usize,
    /// What the store will hold for it.
    pub record: CharacterRecord,
    /// Its image, for eligible characters.
    pub image: Option<ImageFile>,
}

impl Entry {
    /// Which record this is, for messages.
    pub fn record_ref(&self) -> RecordRef {
        RecordRef {
            index: self.index,
            id: Some(self.record.id),
            name: Some(self.record.name.clone()),
        }
    }

    /// Reads the image bytes again (for eligible characters) and checks they are the ones that
    /// were validated by [`Dataset::load`](super::Dataset::load).
    ///
    /// # Errors
    /// [`DatasetError::Io`] when the file cannot be read, [`DatasetError::Record`] with
    /// [`Problem::ImageChanged`] when its content changed since the dataset was loaded.
    pub fn read_image(&self) -> Result<Option<ImageRecord>, DatasetError> {
        let Some(image) = &self.image else {
            return Ok(None);
        };
        let bytes = read_limited(&image.path)?;
        let found = etag_of(&bytes);
        if found != image.etag {
            return Err(DatasetError::Record {
                file: image.path.clone(),
                record: Box::new(self.record_ref()),
                problem: Problem::ImageChanged {
                    expected: image.etag.clone(),
                    found,
                },
            });
        }
        Ok(Some(ImageRecord {
            content_type: image.content_type.to_owned(),
            etag: found,
            bytes,
        }))
    }
}
