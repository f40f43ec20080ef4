//! The on-disk format: the folder layout, and the Marvel JSON types of `characters.json` with
//! what a record says about its image file and its stored record.

use std::io;
use std::path::{Path, PathBuf};

use common::model::{CharacterId, CharacterRecord};
use serde::{Deserialize, Deserializer, Serialize};

/// The characters file inside a dataset folder.
pub const CHARACTERS_FILE: &str = "characters.json";
/// The images folder inside a dataset folder.
pub const IMAGES_DIR: &str = "images";
/// The largest image file accepted: 5 MiB.
pub const MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024;
/// The largest `characters.json` accepted: 64 MiB, far more than Marvel's ~1,560 characters with
/// their comics, series, stories and events need. The file is read whole, so the limit is what
/// keeps a huge file (or a huge field in it) from ballooning the loader's memory.
pub const MAX_CHARACTERS_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// How Marvel's placeholder thumbnail path ends; such characters are not eligible.
pub const PLACEHOLDER: &str = "image_not_available";
/// The `urls[].type` whose url becomes the character's "learn more" link.
pub const DETAIL_URL_TYPE: &str = "detail";
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

/// Whether `url` may be a character's learn-more link: an absolute `http` or `https` url (the
/// scheme in any case, nothing before it, `//` after it) with a host. Browsers follow the link from
/// superpower's page, so `javascript:`, `data:`, `ftp:` and anything else is not stored.
pub fn is_web_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once(':') else {
        return false;
    };
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        && rest.starts_with("//")
        && reqwest::Url::parse(url).is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()))
}

/// The JSON answer powersource gives for `record` (its `CharacterView`, in
/// `service/src/api.rs`), field for field: what superpower reads within
/// [`MAX_CHARACTER_JSON_BYTES`](common::model::MAX_CHARACTER_JSON_BYTES). The loader depends on
/// `common` only, so the view is mirrored here; the test below pins its exact bytes.
#[derive(Serialize)]
struct ServedView<'a> {
    id: CharacterId,
    name: &'a str,
    description: &'a str,
    /// `/characters/{id}/image` (`service::api::image_path`).
    image_url: String,
    learn_more_url: Option<&'a str>,
}

/// How many bytes powersource's JSON answer for `record` takes (serde_json, compact, as
/// powersource renders it), counted without building it.
pub fn served_json_len(record: &CharacterRecord) -> usize {
    /// A writer that only counts.
    struct Count(usize);
    impl io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let view = ServedView {
        id: record.id,
        name: &record.name,
        description: &record.description,
        image_url: format!("/characters/{}/image", record.id),
        learn_more_url: record.learn_more_url.as_deref(),
    };
    let mut count = Count(0);
    serde_json::to_writer(&mut count, &view).expect("a view of strings always serializes");
    count.0
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

    /// The first url of type `detail`, which becomes the "learn more" link when it is a web
    /// url ([`is_web_url`]).
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
            learn_more_url: self
                .detail_url()
                .filter(|url| is_web_url(url))
                .map(str::to_owned),
            eligible,
            modified: self.modified.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marvel_json_reads_with_defaults_and_unknown_fields() {
        let c: MarvelCharacter = serde_json::from_str(
            r#"{"id": 1011334, "name": "3-D Man", "description": null, "extra": [1],
                "thumbnail": {"path": "http://x/i/mg/c/e0/535fecbbb9784", "extension": "jpg"},
                "urls": [{"type": "wiki", "url": "w"}, {"type": "detail", "url": "http://d.example/"}]}"#,
        )
        .unwrap();
        assert_eq!(c.description, "");
        assert_eq!(c.detail_url(), Some("http://d.example/"));
        assert_eq!(c.slug(), "3-d-man");
        assert_eq!(c.image_file(), Path::new("images/3-d-man.jpg"));
        assert!(!c.has_placeholder_thumbnail());
        let r = c.to_record(true);
        assert_eq!(r.learn_more_url.as_deref(), Some("http://d.example/"));
        let mut c = c;
        c.urls[1].url = "javascript:alert(1)".into();
        assert_eq!(c.to_record(true).learn_more_url, None);
    }

    #[test]
    fn only_http_and_https_urls_with_a_host_are_web_urls() {
        for good in [
            "http://marvel.com/x",
            "https://a.example",
            "HTTPS://A.example/?q=1",
        ] {
            assert!(is_web_url(good), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript://x.example/%0aalert(1)",
            "data:text/html,hi",
            "ftp://marvel.com",
            " http://marvel.com",
            "http://",
            "http:marvel.com",
            "marvel.com",
            "",
        ] {
            assert!(!is_web_url(bad), "{bad}");
        }
    }

    #[test]
    fn the_served_length_is_that_of_powersources_answer() {
        let mut r = CharacterRecord {
            id: 7,
            name: "Zoë".into(),
            description: "say \"hi\"\n".into(),
            slug: "zoe".into(),
            learn_more_url: Some("http://x/7".into()),
            eligible: true,
            modified: String::new(),
        };
        let answer = r#"{"id":7,"name":"Zoë","description":"say \"hi\"\n","image_url":"/characters/7/image","learn_more_url":"http://x/7"}"#;
        assert_eq!(served_json_len(&r), answer.len());
        r.learn_more_url = None;
        let answer = r#"{"id":7,"name":"Zoë","description":"say \"hi\"\n","image_url":"/characters/7/image","learn_more_url":null}"#;
        assert_eq!(served_json_len(&r), answer.len());
    }
}
