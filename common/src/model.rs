//! The character as superpower knows it: the stored records, the id format, and the size limit
//! on one character's JSON answer that both the loader and superpower read.

use serde::{Deserialize, Serialize};

/// The largest JSON answer for one character (powersource's `CharacterView`: id, name,
/// description, image url and learn-more url) that superpower reads: 64 KiB. A larger answer is
/// refused, so the user would get 503 forever; the loader therefore refuses a character whose
/// answer would be larger. `service::api::MAX_CHARACTER_BYTES` is this constant.
pub const MAX_CHARACTER_JSON_BYTES: usize = 64 * 1024;

/// Marvel character ids are positive integers (for example 1009610); the sample dataset uses the
/// same range.
pub type CharacterId = u64;

/// What a store holds for one character. Written by the loader, read by powersource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharacterRecord {
    /// The dataset's id (Marvel's `id`).
    pub id: CharacterId,
    /// Display name, any Unicode.
    pub name: String,
    /// May be empty: many Marvel characters have no description.
    pub description: String,
    /// The slugified name; the image file in a dataset is `images/{slug}.{extension}`.
    pub slug: String,
    /// The Marvel "detail" url, when the character has one.
    pub learn_more_url: Option<String>,
    /// Whether users can be given this character: it has a real image (not Marvel's
    /// "image_not_available" placeholder, not a missing file). Ineligible characters are stored
    /// so that counts add up, but never served.
    pub eligible: bool,
    /// Marvel's `modified` timestamp, kept verbatim.
    pub modified: String,
}

/// An image as stored: the bytes and what the HTTP answer needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// `image/png`, `image/jpeg` or `image/gif`.
    pub content_type: String,
    /// A strong ETag (quoted), computed once at ingest from the bytes.
    pub etag: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

/// Parses a character id from a path segment: ASCII digits only (no sign, no spaces), and it
/// must fit a [`CharacterId`]; `None` otherwise.
pub fn parse_id(s: &str) -> Option<CharacterId> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The content type for an image file extension, or `None` when superpower does not serve it.
pub fn content_type_for_extension(ext: &str) -> Option<&'static str> {
    match ext.to_ascii_lowercase().as_str() {
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "gif" => Some("image/gif"),
        _ => None,
    }
}
