//! What can be wrong with a dataset: [`DatasetError`] stops loading and names the file, the record
//! ([`RecordRef`]) and the [`Problem`]; a [`Warning`] does not stop it.

use std::fmt;
use std::io;
use std::path::PathBuf;

use common::model::{CharacterId, MAX_CHARACTER_JSON_BYTES};
use thiserror::Error;

use super::format::{MAX_CHARACTERS_FILE_BYTES, MAX_IMAGE_BYTES};

/// Names and urls longer than this many characters are cut in messages (they can be huge; the
/// message only needs to recognise them).
const SHOWN_CHARS: usize = 80;

/// `text` quoted for a message, cut after [`SHOWN_CHARS`] characters.
fn shown(text: &str) -> String {
    if text.chars().count() > SHOWN_CHARS {
        let cut: String = text.chars().take(SHOWN_CHARS).collect();
        format!("{cut:?}…")
    } else {
        format!("{text:?}")
    }
}

/// Which record of `characters.json` a message is about. `id` and `name` are shown when they
/// could be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordRef {
    /// 0-based position in the JSON array.
    pub index: usize,
    /// The record's id, when readable.
    pub id: Option<CharacterId>,
    /// The record's name, when readable.
    pub name: Option<String>,
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record [{}]", self.index)?;
        let name = self.name.as_deref().map(shown);
        match (&self.id, name) {
            (Some(id), Some(name)) => write!(f, " (id {id}, {name})"),
            (Some(id), None) => write!(f, " (id {id})"),
            (None, Some(name)) => write!(f, " ({name})"),
            (None, None) => Ok(()),
        }
    }
}

/// What is wrong with one record or its image.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Problem {
    /// The record does not have the Marvel shape (a missing field, a wrong type…).
    #[error("wrong shape: {detail} (at line {line} column {column})")]
    Shape {
        /// What serde said.
        detail: String,
        /// Line in `characters.json`, 1-based.
        line: usize,
        /// Column in that line, 1-based.
        column: usize,
    },
    /// The id is 0.
    #[error("id must be a positive integer")]
    ZeroId,
    /// The name is empty or has nothing a file name can be made from.
    #[error("name {0:?} has no letters or digits to make the image file name from")]
    UnusableName(String),
    /// Another record has the same id.
    #[error("duplicate id {id} (first used by record [{first_index}])")]
    DuplicateId {
        /// The id.
        id: CharacterId,
        /// The earlier record with it.
        first_index: usize,
    },
    /// `thumbnail.extension` is not one superpower serves.
    #[error("unsupported image extension {0:?} (expected jpg, jpeg, png or gif)")]
    UnsupportedExtension(String),
    /// powersource's JSON answer for the character would be larger than superpower reads
    /// ([`MAX_CHARACTER_JSON_BYTES`]), so users given it would get 503 forever.
    #[error(
        "its JSON answer would be {bytes} bytes, over the limit of {MAX_CHARACTER_JSON_BYTES} \
         bytes (64 KiB) superpower reads for one character; shorten its description or name"
    )]
    AnswerTooLarge {
        /// The answer's size.
        bytes: usize,
    },
    /// The image file is larger than [`MAX_IMAGE_BYTES`].
    #[error("image is {bytes} bytes, over the limit of {MAX_IMAGE_BYTES} bytes (5 MiB)")]
    ImageTooLarge {
        /// Its size.
        bytes: u64,
    },
    /// The bytes are an image of another format than the extension says, or no image at all.
    #[error("image bytes are {found}, not the {extension} its extension says")]
    FormatMismatch {
        /// The file's extension.
        extension: String,
        /// What the bytes look like.
        found: String,
    },
    /// The header of the image cannot be decoded.
    #[error("image header cannot be decoded: {0}")]
    BadImage(String),
    /// The image file changed after the dataset was loaded.
    #[error(
        "image changed on disk after the dataset was checked (ETag was {expected}, now {found})"
    )]
    ImageChanged {
        /// The ETag computed when loading.
        expected: String,
        /// The ETag of the bytes read now.
        found: String,
    },
}

/// Why a dataset cannot be loaded.
#[derive(Debug, Error)]
pub enum DatasetError {
    /// A file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// `characters.json` is larger than [`MAX_CHARACTERS_FILE_BYTES`] (it is not read).
    #[error(
        "{}: file is {bytes} bytes, over the limit of {MAX_CHARACTERS_FILE_BYTES} bytes (64 MiB)",
        path.display()
    )]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (at least; reading stops one byte over the limit).
        bytes: u64,
    },
    /// `characters.json` is not valid JSON.
    #[error("{}: malformed JSON at line {line} column {column}: {detail}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        detail: String,
    },
    /// `characters.json` is valid JSON but not an array.
    #[error("{}: expected a JSON array of characters (the API's data.results), found {found}", path.display())]
    NotAnArray {
        /// The file.
        path: PathBuf,
        /// What it holds instead.
        found: &'static str,
    },
    /// One record, or its image, is wrong.
    #[error("{}: {record}: {problem}", file.display())]
    Record {
        /// `characters.json`, or the image file when the problem is the image.
        file: PathBuf,
        /// Which record.
        record: Box<RecordRef>,
        /// What is wrong.
        problem: Problem,
    },
}

/// Something worth telling the user that does not stop the dataset from loading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// The image file of a character is missing: the character is stored as not eligible.
    MissingImage {
        /// Which record.
        record: RecordRef,
        /// The file that was expected.
        path: PathBuf,
    },
    /// The image "file" of a character is not a regular file (a FIFO, a directory, a device):
    /// it is not read, and the character is stored as not eligible, as if it were missing.
    NotAFile {
        /// Which record.
        record: RecordRef,
        /// The path that was expected to be the image.
        path: PathBuf,
        /// What it is instead ("a FIFO", "a directory"…).
        kind: &'static str,
    },
    /// The image path of a character resolves (through a symlink) to a file outside the dataset
    /// folder: it is not read, and the character is stored as not eligible.
    OutsideDataset {
        /// Which record.
        record: RecordRef,
        /// The path that was expected to be the image.
        path: PathBuf,
        /// Where it leads, canonical.
        target: PathBuf,
        /// The dataset folder, canonical.
        dir: PathBuf,
    },
    /// The `detail` url of a character is not an `http` or `https` url (`javascript:`,
    /// `data:`…): the character is stored without a learn-more link.
    NotAWebLink {
        /// Which record.
        record: RecordRef,
        /// `characters.json`.
        path: PathBuf,
        /// The url.
        url: String,
    },
    /// Two characters' names make the same slug, so they share one image file.
    SharedImage {
        /// The later record.
        record: RecordRef,
        /// The earlier record with the same slug.
        first_index: usize,
        /// The shared file.
        path: PathBuf,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::MissingImage { record, path } => {
                write!(
                    f,
                    "{}: {record}: image file missing; stored as not eligible",
                    path.display()
                )
            }
            Warning::NotAFile { record, path, kind } => write!(
                f,
                "{}: {record}: image is not a regular file ({kind}); not read, stored as not \
                 eligible",
                path.display()
            ),
            Warning::OutsideDataset {
                record,
                path,
                target,
                dir,
            } => write!(
                f,
                "{}: {record}: image leads to {}, outside the dataset folder {}; not read, \
                 stored as not eligible",
                path.display(),
                target.display(),
                dir.display()
            ),
            Warning::NotAWebLink { record, path, url } => write!(
                f,
                "{}: {record}: detail url {} is not an http or https url; stored without a \
                 learn-more link",
                path.display(),
                shown(url)
            ),
            Warning::SharedImage {
                record,
                first_index,
                path,
            } => write!(
                f,
                "{}: {record}: shares its image file with record [{first_index}] (same slug)",
                path.display()
            ),
        }
    }
}
