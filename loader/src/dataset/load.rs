//! Loading a dataset folder: [`Dataset::load`] checks every record and image in order and keeps
//! the [`Entry`]s, the [`Warning`]s, the [`Counts`] and the fingerprint.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use common::model::{content_type_for_extension, CharacterId, MAX_CHARACTER_JSON_BYTES};
use image::ImageFormat;

use super::entry::{Entry, ImageFile};
use super::error::{DatasetError, Problem, RecordRef, Warning};
use super::fingerprint::fingerprint;
use super::format::{served_json_len, CHARACTERS_FILE, MAX_IMAGE_BYTES};
use super::images::{check_image, etag_of, not_a_file, read_limited};
use super::parse::parse_characters;

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
    /// Characters whose image file is missing or unusable (not a regular file).
    pub missing_images: u64,
    /// Total bytes of the images.
    pub image_bytes: u64,
    /// Total bytes of the eligible characters' JSON answers, which powersource keeps in memory.
    pub answer_bytes: u64,
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
    /// Checks, in this order: `characters.json` is at most 64 MiB, readable JSON and an array; each record has
    /// the Marvel shape, a positive id and a usable name; ids are unique; the JSON answer
    /// powersource would give for it fits what superpower reads; each non-placeholder
    /// character's extension is jpg, jpeg, png or gif, and its image file (when present) is at
    /// most 5 MiB and really is an image of that format with a decodable header.
    ///
    /// # Errors
    /// The first problem found, as a [`DatasetError`] naming the file, the record and the problem.
    pub fn load(dir: &Path) -> Result<Dataset, DatasetError> {
        let json_path = dir.join(CHARACTERS_FILE);
        let characters = parse_characters(&json_path)?;
        // images must resolve (symlinks followed) to files inside this folder
        let canonical_dir = fs::canonicalize(dir).map_err(|source| DatasetError::Io {
            path: dir.to_owned(),
            source,
        })?;

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
            let mut record = c.to_record(false);
            if let Some(url) = c.detail_url() {
                if record.learn_more_url.is_none() {
                    warnings.push(Warning::NotAWebLink {
                        record: record_ref(),
                        path: json_path.clone(),
                        url: url.to_owned(),
                    });
                }
            }
            let answer = served_json_len(&record);
            if answer > MAX_CHARACTER_JSON_BYTES {
                return Err(bad(Problem::AnswerTooLarge { bytes: answer }));
            }
            counts.characters += 1;

            let image = if c.has_placeholder_thumbnail() {
                counts.placeholders += 1;
                None
            } else {
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
                let claim = Claim {
                    content_type,
                    format,
                    extension,
                };
                match load_image(&path, &canonical_dir, &claim, record_ref)? {
                    Ok(image) => {
                        counts.eligible += 1;
                        counts.answer_bytes += answer as u64;
                        counts.images += 1;
                        counts.image_bytes += image.len;
                        Some(image)
                    }
                    Err(unusable) => {
                        counts.missing_images += 1;
                        let record = record_ref();
                        warnings.push(match unusable {
                            Unusable::Missing => Warning::MissingImage { record, path },
                            Unusable::NotAFile(kind) => Warning::NotAFile { record, path, kind },
                            Unusable::Outside(target) => Warning::OutsideDataset {
                                record,
                                path,
                                target,
                                dir: canonical_dir.clone(),
                            },
                        });
                        None
                    }
                }
            };
            record.eligible = image.is_some();
            entries.push(Entry {
                index,
                record,
                image,
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

    /// What a powersource serving this dataset keeps in memory, for the estimate of
    /// [`common::memory`].
    pub fn need(&self) -> common::memory::Need {
        common::memory::Need {
            eligible: self.counts.eligible,
            answer_bytes: self.counts.answer_bytes,
            image_bytes: self.counts.image_bytes,
        }
    }

    /// A SHA-256 digest (hex) of the records and the image bytes (through their ETags). Equal
    /// fingerprints mean equal content, wherever the folder is.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// Why a character's image file cannot be used, making it not eligible (with a [`Warning`]).
enum Unusable {
    /// There is no such file.
    Missing,
    /// It is not a regular file: what it is (a FIFO, a directory…). Reading a FIFO would wait
    /// for a writer forever; a device may never end.
    NotAFile(&'static str),
    /// It is a symlink (or under one) that resolves to this path, outside the dataset folder: a
    /// dataset must not make the loader read, and powersource serve, any file on the machine.
    Outside(PathBuf),
}

/// What a record says its image is.
struct Claim<'a> {
    /// What the extension maps to.
    content_type: &'static str,
    /// The format the bytes must have.
    format: ImageFormat,
    /// The extension the record names, for messages.
    extension: &'a str,
}

/// Checks the image file at `path` that a record claims is the image `claim` says:
/// [`Unusable`] when the file is missing, resolves outside `canonical_dir` (the dataset folder,
/// canonical) or is not a regular file (it is then never opened), an error naming the file and
/// `record_ref()` when it is too large or not the image it claims to be.
fn load_image(
    path: &Path,
    canonical_dir: &Path,
    claim: &Claim<'_>,
    record_ref: impl Fn() -> RecordRef,
) -> Result<Result<ImageFile, Unusable>, DatasetError> {
    let image_err = |problem| DatasetError::Record {
        file: path.to_owned(),
        record: Box::new(record_ref()),
        problem,
    };
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Err(Unusable::Missing)),
        Err(source) => {
            return Err(DatasetError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    let canonical = fs::canonicalize(path).map_err(|source| DatasetError::Io {
        path: path.to_owned(),
        source,
    })?;
    if !canonical.starts_with(canonical_dir) {
        return Ok(Err(Unusable::Outside(canonical)));
    }
    if let Some(kind) = not_a_file(&meta.file_type()) {
        return Ok(Err(Unusable::NotAFile(kind)));
    }
    let len = meta.len();
    if len > MAX_IMAGE_BYTES {
        return Err(image_err(Problem::ImageTooLarge { bytes: len }));
    }
    // the file can grow between the metadata and the read: check_image checks the size
    // of what was read too
    let bytes = read_limited(path)?;
    check_image(&bytes, claim.format, claim.extension).map_err(image_err)?;
    // The ingest reads `path` again and refuses bytes whose ETag differs, so a link switched
    // to another file afterwards cannot smuggle that file in.
    Ok(Ok(ImageFile {
        path: path.to_owned(),
        content_type: claim.content_type,
        etag: etag_of(&bytes),
        len: bytes.len() as u64,
    }))
}
