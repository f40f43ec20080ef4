//! The fictional sample dataset: original characters in the Marvel format, generated
//! deterministically from word lists, with portraits drawn by the program.
//!
//! The same `(count, seed, image size)` always gives byte-identical files. The dataset has the
//! variety the rest of the project must cope with: heroes and villains, empty descriptions
//! (about 1 in 6), placeholder thumbnails (1 in 20, no image file), names that are not ASCII,
//! characters without a "detail" url (1 in 8), PNG and JPEG images (1 in 3 is JPEG). All urls
//! point to the reserved domain [`SITE`]; ids start at [`FIRST_ID`].

mod portrait;
mod words;

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

use crate::dataset::{
    MarvelCharacter, ResourceList, ResourceSummary, Thumbnail, Url, CHARACTERS_FILE, IMAGES_DIR,
    PLACEHOLDER,
};
use words::*;

/// How many characters `loader sample` writes by default.
pub const DEFAULT_COUNT: usize = 250;
/// The seed `loader sample` uses by default (the built-in dataset).
pub const DEFAULT_SEED: u64 = 2024;
/// The fictional site every url points to (`.example` is reserved for examples).
pub const SITE: &str = "superpower-sample.example";
/// Ids start here, inside the range Marvel's own ids use.
pub const FIRST_ID: u64 = 1_010_000;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// How many characters.
    pub count: usize,
    /// The seed; the same seed gives the same dataset.
    pub seed: u64,
    /// Pad every image to about this many KiB (for benchmarks); `None` keeps them as drawn
    /// (a few KiB).
    pub image_kib: Option<u32>,
    /// Give 1 in 20 characters the placeholder thumbnail (and no image). Benchmarks turn this
    /// off to get exactly one image per character.
    pub placeholders: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            count: DEFAULT_COUNT,
            seed: DEFAULT_SEED,
            image_kib: None,
            placeholders: true,
        }
    }
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Characters in `characters.json`.
    pub characters: usize,
    /// Image files written.
    pub images: usize,
    /// Characters with the placeholder thumbnail (no image file).
    pub placeholders: usize,
    /// Bytes of all image files.
    pub image_bytes: u64,
}

/// Why the sample could not be written.
#[derive(Debug, Error)]
#[error("cannot write the sample dataset at {}: {source}", path.display())]
pub struct SampleError {
    /// The file or folder.
    pub path: PathBuf,
    /// What the system said.
    pub source: io::Error,
}

/// Writes the sample dataset of `count` characters from `seed` into folder `dir` (created if
/// needed): `characters.json` and `images/`. Existing files of the same names are replaced.
///
/// # Errors
/// When a file cannot be written.
pub fn write(dir: &Path, count: usize, seed: u64) -> Result<Summary, SampleError> {
    write_with(
        dir,
        &Options {
            count,
            seed,
            ..Options::default()
        },
    )
}

/// [`write()`] with every option.
///
/// # Errors
/// When a file cannot be written.
pub fn write_with(dir: &Path, options: &Options) -> Result<Summary, SampleError> {
    let images_dir = dir.join(IMAGES_DIR);
    fs::create_dir_all(&images_dir).map_err(|source| SampleError {
        path: images_dir.clone(),
        source,
    })?;

    let plans = plan(options.count, options.seed, options.placeholders);
    let characters: Vec<&MarvelCharacter> = plans.iter().map(|p| &p.character).collect();
    let mut json =
        serde_json::to_vec_pretty(&characters).expect("sample characters always serialize");
    json.push(b'\n');
    let json_path = dir.join(CHARACTERS_FILE);
    fs::write(&json_path, json).map_err(|source| SampleError {
        path: json_path,
        source,
    })?;

    // Each portrait depends only on its own plan, so drawing them on every core is still
    // deterministic.
    let target = options.image_kib.map(|k| k as usize * 1024);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = plans.len().div_ceil(workers).max(1);
    let results: Vec<Result<(usize, u64), SampleError>> = std::thread::scope(|s| {
        let handles: Vec<_> = plans
            .chunks(chunk)
            .map(|part| s.spawn(move || draw_all(dir, part, target)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a portrait worker panicked"))
            .collect()
    });
    let mut summary = Summary {
        characters: plans.len(),
        placeholders: plans.iter().filter(|p| p.image.is_none()).count(),
        ..Summary::default()
    };
    for r in results {
        let (images, bytes) = r?;
        summary.images += images;
        summary.image_bytes += bytes;
    }
    Ok(summary)
}

/// One character to write: its JSON and, unless it has the placeholder, its portrait.
struct Plan {
    character: MarvelCharacter,
    image: Option<PortraitPlan>,
}

struct PortraitPlan {
    look: portrait::Look,
    jpeg: bool,
    /// Seeds the padding bytes.
    pad_seed: u64,
}

fn draw_all(
    dir: &Path,
    plans: &[Plan],
    target: Option<usize>,
) -> Result<(usize, u64), SampleError> {
    let (mut images, mut bytes) = (0, 0);
    for p in plans {
        let Some(img) = &p.image else { continue };
        let pixels = img.look.draw();
        let mut rng = ChaCha8Rng::seed_from_u64(img.pad_seed);
        let data = if img.jpeg {
            let mut d = portrait::jpeg(&pixels);
            if let Some(t) = target {
                portrait::pad_jpeg(&mut d, t, &mut rng);
            }
            d
        } else {
            let mut d = portrait::png(&pixels);
            if let Some(t) = target {
                portrait::pad_png(&mut d, t, &mut rng);
            }
            d
        };
        let path = dir.join(p.character.image_file());
        fs::write(&path, &data).map_err(|source| SampleError { path, source })?;
        images += 1;
        bytes += data.len() as u64;
    }
    Ok((images, bytes))
}

/// Decides every character, in order. Every character gets its own random stream, seeded from
/// the master stream, so one character's choices never shift another's.
fn plan(count: usize, seed: u64, placeholders: bool) -> Vec<Plan> {
    let mut master = ChaCha8Rng::seed_from_u64(seed);
    let mut slugs = HashSet::new();
    let mut id = FIRST_ID;
    let mut plans = Vec::with_capacity(count);
    for i in 0..count {
        let mut rng = ChaCha8Rng::seed_from_u64(master.random());
        id += rng.random_range(1..=9);
        let name = unique_name(&mut rng, i, &mut slugs);
        let villain = rng.random_bool(0.4);
        let placeholder = placeholders && i % 20 == 13;
        let jpeg = i % 3 == 1;
        let extension = if jpeg || placeholder { "jpg" } else { "png" };
        let thumb_path = if placeholder {
            format!("https://images.{SITE}/portraits/{PLACEHOLDER}")
        } else {
            format!(
                "https://images.{SITE}/portraits/{:x}/{:012x}",
                rng.random_range(0..16),
                rng.random::<u64>() >> 16
            )
        };
        let description = if i % 6 == 2 {
            String::new()
        } else {
            describe(&mut rng, &name, villain)
        };
        let slug = slug::slugify(&name);
        let mut urls = Vec::new();
        if i % 8 != 5 {
            urls.push(Url {
                kind: "detail".into(),
                url: format!("https://www.{SITE}/characters/{id}/{slug}?utm_source=sample"),
            });
        }
        urls.push(Url {
            kind: "wiki".into(),
            url: format!("https://wiki.{SITE}/{slug}"),
        });
        if rng.random_bool(0.5) {
            urls.push(Url {
                kind: "comiclink".into(),
                url: format!("https://www.{SITE}/comics/characters/{id}/{slug}"),
            });
        }
        let resource = format!("https://api.{SITE}/v1/public/characters/{id}");
        let character = MarvelCharacter {
            id,
            description,
            modified: timestamp(&mut rng),
            thumbnail: Thumbnail {
                path: thumb_path,
                extension: extension.into(),
            },
            comics: resources(&mut rng, &resource, "comics", &name),
            series: resources(&mut rng, &resource, "series", &name),
            stories: resources(&mut rng, &resource, "stories", &name),
            events: resources(&mut rng, &resource, "events", &name),
            resource_uri: resource,
            urls,
            name,
        };
        let image = (!placeholder).then(|| PortraitPlan {
            look: portrait::Look::random(&mut rng, villain),
            jpeg,
            pad_seed: rng.random(),
        });
        plans.push(Plan { character, image });
    }
    plans
}

fn pick<'a>(rng: &mut impl Rng, list: &[&'a str]) -> &'a str {
    list.choose(rng).copied().unwrap_or_default()
}

fn compound(rng: &mut impl Rng) -> String {
    format!("{}{}", pick(rng, STEMS), pick(rng, ENDINGS))
}

/// A name whose slug no earlier character has. Every twelfth character gets a name that is not
/// ASCII.
fn unique_name(rng: &mut impl Rng, index: usize, slugs: &mut HashSet<String>) -> String {
    for attempt in 0.. {
        let mut name = if index % 12 == 7 && attempt == 0 {
            // cycle through the lists, so that every accent shows up in a default-size sample
            let k = index / 12;
            format!(
                "{} {}",
                ACCENTED_GIVEN_NAMES[k % ACCENTED_GIVEN_NAMES.len()],
                ACCENTED_SURNAMES[k % ACCENTED_SURNAMES.len()]
            )
        } else if index % 12 == 7 {
            match rng.random_range(0..3) {
                0 => format!(
                    "{} {}",
                    pick(rng, ACCENTED_GIVEN_NAMES),
                    pick(rng, ACCENTED_SURNAMES)
                ),
                1 => format!(
                    "{} {}",
                    pick(rng, &["Señor", "Señora", "Fräulein"]),
                    compound(rng)
                ),
                _ => format!(
                    "{} ({})",
                    compound(rng),
                    pick(rng, &["Zürich", "Ōsaka", "Córdoba"])
                ),
            }
        } else {
            match rng.random_range(0..100) {
                0..22 => format!("{} {}", pick(rng, TITLES), compound(rng)),
                22..45 => compound(rng),
                45..60 => format!("The {} {}", pick(rng, ADJECTIVES), pick(rng, ROLES)),
                60..90 => format!("{} {}", pick(rng, GIVEN_NAMES), pick(rng, SURNAMES)),
                _ => format!("{} ({})", compound(rng), pick(rng, VARIANTS)),
            }
        };
        if attempt >= 20 {
            // the lists are running out for this count: number the name
            name = format!("{name} {}", attempt - 18);
        }
        if slugs.insert(slug::slugify(&name)) {
            return name;
        }
    }
    unreachable!("the numbered names above are unique")
}

fn describe(rng: &mut impl Rng, name: &str, villain: bool) -> String {
    let city = pick(rng, CITIES);
    let origin = pick(rng, ORIGINS).replace("{city}", city);
    let power = pick(rng, POWERS);
    let motive = pick(
        rng,
        if villain {
            VILLAIN_MOTIVES
        } else {
            HERO_MOTIVES
        },
    )
    .replace("{city}", city);
    format!("{name} {origin}, and can now {power}. {motive}")
}

fn timestamp(rng: &mut impl Rng) -> String {
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}-0{}00",
        rng.random_range(2010..=2020),
        rng.random_range(1..=12),
        rng.random_range(1..=28),
        rng.random_range(0..24),
        rng.random_range(0..60),
        rng.random_range(0..60),
        rng.random_range(4..=5),
    )
}

fn resources(rng: &mut impl Rng, base: &str, kind: &str, name: &str) -> ResourceList {
    let available: u32 = rng.random_range(0..=60);
    let shown = available.min(3);
    let items = (0..shown)
        .map(|n| {
            let saga = pick(rng, SAGA_WORDS);
            let item_id = rng.random_range(10_000..90_000);
            let (title, story_kind) = match kind {
                "comics" => (
                    format!(
                        "{name}: {saga} ({}) #{}",
                        rng.random_range(1990..=2020),
                        n + 1
                    ),
                    None,
                ),
                "series" => {
                    let y = rng.random_range(1990..=2015);
                    (
                        format!("{name}: {saga} ({y} - {})", y + rng.random_range(1..=6)),
                        None,
                    )
                }
                "stories" => {
                    let k = if rng.random_bool(0.5) {
                        "cover"
                    } else {
                        "interiorStory"
                    };
                    (format!("{saga} {}/{}", n + 1, shown), Some(k.to_owned()))
                }
                _ => (format!("The {saga}"), None),
            };
            ResourceSummary {
                resource_uri: format!("https://api.{SITE}/v1/public/{kind}/{item_id}"),
                name: title,
                kind: story_kind,
            }
        })
        .collect::<Vec<_>>();
    ResourceList {
        available,
        collection_uri: format!("{base}/{kind}"),
        returned: items.len() as u32,
        items,
    }
}
