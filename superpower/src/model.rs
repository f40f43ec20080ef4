//! What superpower shows: a character, and the JSON answer of `GET /`.

use common::model::CharacterId;
use serde::Serialize;
use service::api::CharacterView;

/// A character as superpower keeps it (the catalog, rendering).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Character {
    /// The dataset id.
    pub id: CharacterId,
    /// Display name.
    pub name: String,
    /// May be empty.
    pub description: String,
    /// The "learn more" link, when there is one.
    pub learn_more_url: Option<String>,
}

impl From<CharacterView> for Character {
    fn from(v: CharacterView) -> Self {
        Character {
            id: v.id,
            name: v.name,
            description: v.description,
            learn_more_url: v.learn_more_url,
        }
    }
}

impl Character {
    /// Where superpower serves this character's image.
    pub fn image_url(&self) -> String {
        format!("/images/{}", self.id)
    }
}

/// The JSON answer of `GET /`.
#[derive(Debug, Serialize)]
pub struct Answer<'a> {
    /// The character's id.
    pub id: CharacterId,
    /// "You are NAME!"
    pub name: &'a str,
    /// May be empty.
    pub description: &'a str,
    /// superpower's own image URL, `/images/{id}`.
    pub image_url: String,
    /// The "learn more" link, or null.
    pub learn_more_url: Option<&'a str>,
    /// The powersource instance that answered; null for a fallback answer.
    pub instance: Option<&'a str>,
    /// True when no instance answered: the character is the one the user's signed cookie names.
    pub degraded: bool,
}

impl<'a> Answer<'a> {
    /// The answer of `c`, served by `instance` (`None`: the one the user's signed cookie names, degraded).
    pub fn of(c: &'a Character, instance: Option<&'a str>) -> Self {
        Answer {
            id: c.id,
            name: &c.name,
            description: &c.description,
            image_url: c.image_url(),
            learn_more_url: c.learn_more_url.as_deref(),
            instance,
            degraded: instance.is_none(),
        }
    }
}
