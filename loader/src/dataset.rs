//! The dataset format, and loading plus validating a dataset folder.
//!
//! A dataset is a folder:
//! - `characters.json`: a JSON array of character objects exactly as the Marvel API's
//!   `/v1/public/characters` returns them in `data.results` ([`MarvelCharacter`]);
//! - `images/{slug}.{extension}`: one image per character, where `slug` is
//!   `slug::slugify(name)` and `extension` is the character's `thumbnail.extension`.
//!
//! A character whose thumbnail path ends in [`PLACEHOLDER`] (Marvel's "image not available"
//! picture) is not eligible and has no image file. A character whose image file is missing is
//! not eligible either, and [`Dataset::load`] records a [`Warning`] for it, so that a partly
//! collected dataset still loads. Everything else that is wrong is a [`DatasetError`] that names
//! the file, the record and the problem.
//!
//! [`Dataset::load`] reads and checks every image but keeps only its digest; [`ImageFile::read`]
//! reads the bytes again when they are written, so ingesting a large dataset does not hold all its
//! images in memory.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};

use common::model::{content_type_for_extension, CharacterId, CharacterRecord, ImageRecord};
use image::ImageFormat;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// The characters file inside a dataset folder.
pub const CHARACTERS_FILE: &str = "characters.json";
/// The images folder inside a dataset folder.
pub const IMAGES_DIR: &str = "images";
/// The largest image file accepted: 5 MiB.
pub const MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024;
/// How Marvel's placeholder thumbnail path ends; such characters are not eligible.
pub const PLACEHOLDER: &str = "image_not_available";
/// The `urls[].type` whose url becomes the character's "learn more" link.
pub const DETAIL_URL_TYPE: &str = "detail";

// ---------------------------------------------------------------------------------------------
// The Marvel JSON types
// ---------------------------------------------------------------------------------------------

/// One character as the Marvel API returns it in `data.results` of `/v1/public/characters`.
///
/// `id`, `name` and `thumbnail` are required; the other fields default when absent (a hand-written
/// dataset need not spell out empty summaries) but must have the right shape when present.
/// Unknown fields are ignored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarvelCharacter {
    /// Marvel's numeric id (for example 1009610); positive.
    pub id: CharacterId,
    /// Display name, any Unicode.
    pub name: String,
    /// Often empty in Marvel's data; `null` reads as empty.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub description: String,
    /// Last change, as Marvel writes it (`2014-04-29T14:18:17-0400`); kept verbatim.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub modified: String,
    /// Where the picture lives; also says the image file's extension.
    pub thumbnail: Thumbnail,
    /// The API url of this character.
    #[serde(rename = "resourceURI", default, deserialize_with = "null_as_empty")]
    pub resource_uri: String,
    /// Comics the character appears in.
    #[serde(default)]
    pub comics: ResourceList,
    /// Series the character appears in.
    #[serde(default)]
    pub series: ResourceList,
    /// Stories the character appears in.
    #[serde(default)]
    pub stories: ResourceList,
    /// Events the character appears in.
    #[serde(default)]
    pub events: ResourceList,
    /// Public web pages: `detail`, `wiki`, `comiclink`.
    #[serde(default)]
    pub urls: Vec<Url>,
}

/// Marvel's image reference: the url is `{path}.{extension}` (or with a size variant in between).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thumbnail {
    /// Url without the extension; ends in [`PLACEHOLDER`] for characters without a picture.
    pub path: String,
    /// `jpg`, `png` or `gif`; the image file in the dataset has this extension.
    pub extension: String,
}

/// A typed public url of a character.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Url {
    /// `detail`, `wiki` or `comiclink`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The address.
    pub url: String,
}

/// A Marvel "resource list": how many related items exist and the first few of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceList {
    /// How many items exist in total.
    pub available: u32,
    /// The API url of the full list.
    #[serde(rename = "collectionURI", default)]
    pub collection_uri: String,
    /// The first items (Marvel returns at most 20).
    #[serde(default)]
    pub items: Vec<ResourceSummary>,
    /// How many items are in `items`.
    pub returned: u32,
}

/// One item of a [`ResourceList`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceSummary {
    /// The API url of the item.
    #[serde(rename = "resourceURI")]
    pub resource_uri: String,
    /// Its title.
    pub name: String,
    /// Stories only: `cover`, `interiorStory`…
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

impl MarvelCharacter {
    /// The slug naming the character's image file: `slug::slugify(name)`.
    pub fn slug(&self) -> String {
        slug::slugify(&self.name)
    }

    /// Whether the thumbnail is Marvel's "image not available" placeholder.
    pub fn has_placeholder_thumbnail(&self) -> bool {
        self.thumbnail
            .path
            .trim_end_matches('/')
            .ends_with(PLACEHOLDER)
    }

    /// The first url of type `detail`, which becomes the "learn more" link.
    pub fn detail_url(&self) -> Option<&str> {
        self.urls
            .iter()
            .find(|u| u.kind == DETAIL_URL_TYPE)
            .map(|u| u.url.as_str())
    }

    /// Where this character's image file is expected, relative to the dataset folder.
    pub fn image_file(&self) -> PathBuf {
        Path::new(IMAGES_DIR).join(format!("{}.{}", self.slug(), self.thumbnail.extension))
    }

    /// The stored record of this character.
    pub fn to_record(&self, eligible: bool) -> CharacterRecord {
        CharacterRecord {
            id: self.id,
            name: self.name.clone(),
            description: self.description.clone(),
            slug: self.slug(),
            learn_more_url: self.detail_url().map(str::to_owned),
            eligible,
            modified: self.modified.clone(),
        }
    }
}

/// The strong ETag of image bytes: the quoted md5 hex digest.
pub fn etag_of(bytes: &[u8]) -> String {
    format!("\"{:x}\"", md5::compute(bytes))
}

/// The stored record of an image.
pub fn image_record(bytes: Vec<u8>, content_type: &str) -> ImageRecord {
    ImageRecord {
        content_type: content_type.to_owned(),
        etag: etag_of(&bytes),
        bytes,
    }
}

// ---------------------------------------------------------------------------------------------
// Errors and warnings
// ---------------------------------------------------------------------------------------------

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
        match (&self.id, &self.name) {
            (Some(id), Some(name)) => write!(f, " (id {id}, {name:?})"),
            (Some(id), None) => write!(f, " (id {id})"),
            (None, Some(name)) => write!(f, " ({name:?})"),
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

// ---------------------------------------------------------------------------------------------
// The loaded dataset
// ---------------------------------------------------------------------------------------------

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
    /// were validated by [`Dataset::load`].
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

/// Counts over a dataset; they go into the store's dataset info.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// All characters.
    pub characters: u64,
    /// Characters with an image, that users can be given.
    pub eligible: u64,
    /// Images (one per eligible character).
    pub images: u64,
    /// Characters whose thumbnail is the placeholder.
    pub placeholders: u64,
    /// Characters whose image file is missing.
    pub missing_images: u64,
    /// Total bytes of the images.
    pub image_bytes: u64,
}

/// A validated dataset: every record and image checked, ready to ingest.
#[derive(Clone, Debug)]
pub struct Dataset {
    dir: PathBuf,
    entries: Vec<Entry>,
    warnings: Vec<Warning>,
    counts: Counts,
    fingerprint: String,
}

impl Dataset {
    /// Reads and validates the dataset in folder `dir`.
    ///
    /// Checks, in this order: `characters.json` is readable JSON and an array; each record has
    /// the Marvel shape, a positive id and a usable name; ids are unique; each non-placeholder
    /// character's extension is jpg, jpeg, png or gif, and its image file (when present) is at
    /// most 5 MiB and really is an image of that format with a decodable header.
    ///
    /// # Errors
    /// The first problem found, as a [`DatasetError`] naming the file, the record and the problem.
    pub fn load(dir: &Path) -> Result<Dataset, DatasetError> {
        let json_path = dir.join(CHARACTERS_FILE);
        let characters = parse_characters(&json_path)?;

        let mut warnings = Vec::new();
        let mut first_by_id: HashMap<CharacterId, usize> = HashMap::new();
        let mut first_by_slug: HashMap<String, usize> = HashMap::new();
        let mut entries = Vec::with_capacity(characters.len());
        let mut counts = Counts::default();

        for (index, c) in characters.iter().enumerate() {
            let record_ref = || RecordRef {
                index,
                id: Some(c.id),
                name: Some(c.name.clone()),
            };
            let bad = |problem| DatasetError::Record {
                file: json_path.clone(),
                record: Box::new(record_ref()),
                problem,
            };
            if c.id == 0 {
                return Err(bad(Problem::ZeroId));
            }
            let slug = c.slug();
            if slug.is_empty() {
                return Err(bad(Problem::UnusableName(c.name.clone())));
            }
            if let Some(&first_index) = first_by_id.get(&c.id) {
                return Err(bad(Problem::DuplicateId {
                    id: c.id,
                    first_index,
                }));
            }
            first_by_id.insert(c.id, index);
            counts.characters += 1;

            if c.has_placeholder_thumbnail() {
                counts.placeholders += 1;
                entries.push(Entry {
                    index,
                    record: c.to_record(false),
                    image: None,
                });
                continue;
            }
            let extension = c.thumbnail.extension.as_str();
            let (Some(content_type), Some(format)) = (
                content_type_for_extension(extension),
                ImageFormat::from_extension(extension),
            ) else {
                return Err(bad(Problem::UnsupportedExtension(extension.to_owned())));
            };
            let path = dir.join(c.image_file());
            match first_by_slug.get(&slug) {
                Some(&first_index) => warnings.push(Warning::SharedImage {
                    record: record_ref(),
                    first_index,
                    path: path.clone(),
                }),
                None => {
                    first_by_slug.insert(slug, index);
                }
            }
            let image_err = |problem| DatasetError::Record {
                file: path.clone(),
                record: Box::new(record_ref()),
                problem,
            };

            let len = match fs::metadata(&path) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    counts.missing_images += 1;
                    warnings.push(Warning::MissingImage {
                        record: record_ref(),
                        path,
                    });
                    entries.push(Entry {
                        index,
                        record: c.to_record(false),
                        image: None,
                    });
                    continue;
                }
                Err(source) => return Err(DatasetError::Io { path, source }),
            };
            if len > MAX_IMAGE_BYTES {
                return Err(image_err(Problem::ImageTooLarge { bytes: len }));
            }
            // the file can grow between the metadata and the read: check_image checks the size
            // of what was read too
            let bytes = read_limited(&path)?;
            check_image(&bytes, format, extension).map_err(image_err)?;
            counts.eligible += 1;
            counts.images += 1;
            counts.image_bytes += bytes.len() as u64;
            let image = ImageFile {
                path,
                content_type,
                etag: etag_of(&bytes),
                len: bytes.len() as u64,
            };
            entries.push(Entry {
                index,
                record: c.to_record(true),
                image: Some(image),
            });
        }

        entries.sort_by_key(|e| e.record.id);
        let fingerprint = fingerprint(&entries);
        Ok(Dataset {
            dir: dir.to_owned(),
            entries,
            warnings,
            counts,
            fingerprint,
        })
    }

    /// The folder the dataset was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The characters, in id order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// What did not stop loading but the user should hear about.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The counts.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// A SHA-256 digest (hex) of the records and the image bytes (through their ETags). Equal
    /// fingerprints mean equal content, wherever the folder is.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// Version tag hashed into every fingerprint, so a change of what is hashed changes them all.
const FINGERPRINT_TAG: &[u8] = b"superpower-dataset-v1\n";

fn fingerprint(entries: &[Entry]) -> String {
    let mut h = Sha256::new();
    h.update(FINGERPRINT_TAG);
    for e in entries {
        let json = serde_json::to_vec(&e.record).expect("a CharacterRecord always serializes");
        h.update((json.len() as u64).to_be_bytes());
        h.update(&json);
        match &e.image {
            Some(img) => {
                h.update(b"I");
                h.update(img.content_type.as_bytes());
                h.update(b" ");
                h.update(img.etag.as_bytes());
            }
            None => h.update(b"-"),
        }
        h.update(b"\n");
    }
    format!("{:x}", h.finalize())
}

/// Reads a file, but never more than one byte over [`MAX_IMAGE_BYTES`].
fn read_limited(path: &Path) -> Result<Vec<u8>, DatasetError> {
    let io_err = |source| DatasetError::Io {
        path: path.to_owned(),
        source,
    };
    let file = fs::File::open(path).map_err(io_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_IMAGE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    Ok(bytes)
}

/// Checks that `bytes` are an image superpower can serve as `format`: at most
/// [`MAX_IMAGE_BYTES`], and an image of that format by its magic bytes and header (the pixels are
/// not decoded). `extension` is the one the record claims, for the message. Used when a dataset
/// is loaded and by `loader collect images` on every download, so both accept the same files.
///
/// # Errors
/// [`Problem::ImageTooLarge`], [`Problem::FormatMismatch`] (another format, or no image at all:
/// an HTML error page, say) or [`Problem::BadImage`] (the header cannot be decoded).
pub fn check_image(bytes: &[u8], format: ImageFormat, extension: &str) -> Result<(), Problem> {
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return Err(Problem::ImageTooLarge {
            bytes: bytes.len() as u64,
        });
    }
    let found = image::guess_format(bytes).map_err(|_| Problem::FormatMismatch {
        extension: extension.to_owned(),
        found: "not a known image format".to_owned(),
    })?;
    if found != format {
        return Err(Problem::FormatMismatch {
            extension: extension.to_owned(),
            found: format!("{found:?}").to_uppercase(),
        });
    }
    image::ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| Problem::BadImage(e.to_string()))?;
    Ok(())
}

/// Parses `characters.json` record by record, so that a shape error names its record.
fn parse_characters(path: &Path) -> Result<Vec<MarvelCharacter>, DatasetError> {
    let raw = fs::read(path).map_err(|source| DatasetError::Io {
        path: path.to_owned(),
        source,
    })?;
    let text = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&raw);

    let first = text.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let items: Vec<&RawValue> = match serde_json::from_slice(text) {
        Ok(items) => items,
        Err(e) if e.is_syntax() || e.is_eof() || e.is_io() || first == Some(b'[') => {
            return Err(DatasetError::Json {
                path: path.to_owned(),
                line: e.line(),
                column: e.column(),
                detail: strip_position(&e.to_string()),
            })
        }
        Err(_) => {
            let found = match first {
                Some(b'{') => "an object",
                Some(b'"') => "a string",
                Some(b't' | b'f') => "a boolean",
                Some(b'n') => "null",
                None => "nothing",
                _ => "a number",
            };
            return Err(DatasetError::NotAnArray {
                path: path.to_owned(),
                found,
            });
        }
    };

    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            serde_json::from_str::<MarvelCharacter>(item.get()).map_err(|e| {
                // where this record starts in the file, to give absolute positions
                let start = item.get().as_ptr() as usize - text.as_ptr() as usize;
                let (line, column) = absolute_position(text, start, e.line(), e.column());
                let loose: Option<serde_json::Value> = serde_json::from_str(item.get()).ok();
                let id = loose.as_ref().and_then(|v| v.get("id")?.as_u64());
                let name = loose
                    .as_ref()
                    .and_then(|v| Some(v.get("name")?.as_str()?.to_owned()));
                DatasetError::Record {
                    file: path.to_owned(),
                    record: Box::new(RecordRef { index, id, name }),
                    problem: Problem::Shape {
                        detail: strip_position(&e.to_string()),
                        line,
                        column,
                    },
                }
            })
        })
        .collect()
}

/// serde_json appends " at line L column C" to its messages; we print positions ourselves.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Turns a (line, column) inside a record that starts at byte `start` of `text` into the
/// position in the whole file.
fn absolute_position(text: &[u8], start: usize, line: usize, column: usize) -> (usize, usize) {
    let before = &text[..start];
    let start_line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let start_column = 1 + before.iter().rev().take_while(|&&b| b != b'\n').count();
    if line <= 1 {
        (start_line, start_column + column.saturating_sub(1))
    } else {
        (start_line + line - 1, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_inside_a_record_become_file_positions() {
        let text = b"[\n  {\"a\": 1},\n  {\"b\":\n 2}\n]";
        let start = 16; // the second '{'
        assert_eq!(text[start], b'{');
        assert_eq!(absolute_position(text, start, 1, 1), (3, 3));
        assert_eq!(absolute_position(text, start, 2, 2), (4, 2));
    }

    #[test]
    fn marvel_json_reads_with_defaults_and_unknown_fields() {
        let c: MarvelCharacter = serde_json::from_str(
            r#"{"id": 1011334, "name": "3-D Man", "description": null, "extra": [1],
                "thumbnail": {"path": "http://x/i/mg/c/e0/535fecbbb9784", "extension": "jpg"},
                "urls": [{"type": "wiki", "url": "w"}, {"type": "detail", "url": "d"}]}"#,
        )
        .unwrap();
        assert_eq!(c.description, "");
        assert_eq!(c.detail_url(), Some("d"));
        assert_eq!(c.slug(), "3-d-man");
        assert_eq!(c.image_file(), Path::new("images/3-d-man.jpg"));
        assert!(!c.has_placeholder_thumbnail());
        let r = c.to_record(true);
        assert_eq!(r.learn_more_url.as_deref(), Some("d"));
    }

    #[test]
    fn the_etag_is_a_quoted_md5() {
        assert_eq!(etag_of(b""), "\"d41d8cd98f00b204e9800998ecf8427e\"");
    }
}
