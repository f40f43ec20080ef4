//! The character as superpower knows it: the stored record and the JSON view.

use serde::{Deserialize, Serialize};

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

/// The JSON powersource answers for a character (`/characters/{id}`, `/assignments/{key}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharacterView {
    /// The character's id.
    pub id: CharacterId,
    /// Display name.
    pub name: String,
    /// May be empty.
    pub description: String,
    /// Path of the image on the powersource that answered: `/characters/{id}/image`.
    pub image_url: String,
    /// The "detail" url, or null.
    pub learn_more_url: Option<String>,
}

impl CharacterView {
    /// The view of a stored record.
    pub fn of(record: &CharacterRecord) -> Self {
        CharacterView {
            id: record.id,
            name: record.name.clone(),
            description: record.description.clone(),
            image_url: image_path(record.id),
            learn_more_url: record.learn_more_url.clone(),
        }
    }
}

/// Parses a character id from a path segment: ASCII digits only (no sign, no spaces), and it
/// must fit a [`CharacterId`]; `None` otherwise.
pub fn parse_id(s: &str) -> Option<CharacterId> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Where powersource serves a character's image.
pub fn image_path(id: CharacterId) -> String {
    format!("/characters/{id}/image")
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
