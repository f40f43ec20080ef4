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
//! the file, the record and the problem — among them a character whose JSON answer
//! ([`served_json_len`]) would be over what superpower reads
//! ([`MAX_CHARACTER_JSON_BYTES`](common::model::MAX_CHARACTER_JSON_BYTES)), and a
//! `characters.json` over [`MAX_CHARACTERS_FILE_BYTES`].
//!
//! [`Dataset::load`] reads and checks every image but keeps only its digest; [`Entry::read_image`]
//! reads the bytes again when they are written, so ingesting a large dataset does not hold all its
//! images in memory.
//!
//! # Layout
//! - `format`: the folder layout ([`CHARACTERS_FILE`], [`IMAGES_DIR`]), the limits, the Marvel
//!   JSON types ([`MarvelCharacter`] and its parts) and the size of a character's answer
//!   ([`served_json_len`]).
//! - `parse`: reading `characters.json` within its size limit (also for `loader collect
//!   images`), record by record, with positions in the whole file.
//! - `images`: the image checks ([`check_image`], shared with `loader collect`), the size-limited
//!   read and the ETag ([`etag_of`]).
//! - `error`: [`DatasetError`], [`Problem`], [`RecordRef`] and [`Warning`].
//! - `entry`: one validated character ([`Entry`]) and its image file ([`ImageFile`]).
//! - `fingerprint`: the content digest behind [`Dataset::fingerprint`].
//! - `load`: [`Dataset::load`], which runs the checks in order, and [`Counts`].
//!
//! Dependencies run one way: `error` uses `format`; `images` uses both; `parse` uses all three;
//! `entry` uses `images` and `error`; `fingerprint` uses `entry`; `load` uses them all. This
//! module only re-exports.

mod entry;
mod error;
mod fingerprint;
mod format;
mod images;
mod load;
mod parse;

pub use entry::{Entry, ImageFile};
pub use error::{DatasetError, Problem, RecordRef, Warning};
pub use format::{
    is_web_url, served_json_len, MarvelCharacter, ResourceList, ResourceSummary, Thumbnail, Url,
    CHARACTERS_FILE, DETAIL_URL_TYPE, IMAGES_DIR, MAX_CHARACTERS_FILE_BYTES, MAX_IMAGE_BYTES,
    PLACEHOLDER,
};
pub use images::{check_image, etag_of, image_record};
pub use load::{Counts, Dataset};
pub(crate) use parse::read_characters_file;
