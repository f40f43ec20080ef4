//! `loader collect images`: download each eligible character's `portrait_uncanny` picture to
//! `DIR/images/{slug}.{extension}`.
//!
//! Up to `concurrency` downloads run at once. A file already present and valid is skipped, so a
//! re-run only fetches what is missing. Each download is checked (status 200, at most
//! [`MAX_IMAGE_BYTES`](crate::dataset::MAX_IMAGE_BYTES), bytes of the image type the extension
//! claims: the dataset's own [`check_image`]; and whole, ending as its format ends: one rule,
//! `incomplete`, for a download and for a file a re-run finds) and written atomically. A
//! download cut short is retried like a 503.
//! A failed image is recorded and the run goes on.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::ImageFormat;
use reqwest::Url;
use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::error::CollectError;
use super::fsutil::{sweep_temp_files, sync_dir, write_atomic};
use super::http::{FetchError, HttpClient, HttpOptions};
use super::progress;
use crate::dataset::{
    check_image, read_characters_file, DatasetError, MarvelCharacter, Problem, CHARACTERS_FILE,
    IMAGES_DIR,
};

/// The Marvel image variant we download: 300×450, the portrait the front end shows.
pub const IMAGE_VARIANT: &str = "portrait_uncanny";

/// The default number of downloads at once.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// What `collect images` needs.
#[derive(Clone, Debug)]
pub struct ImagesOptions {
    /// The dataset folder holding `characters.json`; images go to its `images/`.
    pub data: PathBuf,
    /// When set, replaces the scheme, host and port of every thumbnail url (a path prefix in
    /// it is kept in front of the thumbnail's path).
    pub image_base_url: Option<String>,
    /// Downloads at once (at least 1).
    pub concurrency: usize,
    /// Timeouts and retries.
    pub http: HttpOptions,
}

/// One image that could not be collected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageFailure {
    /// The character's id.
    pub id: u64,
    /// The character's name.
    pub name: String,
    /// The url tried.
    pub url: String,
    /// Why it failed.
    pub reason: String,
}

/// What `collect images` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImagesSummary {
    /// Characters in `characters.json`.
    pub characters: u64,
    /// Characters with Marvel's placeholder thumbnail (no image to fetch).
    pub placeholders: u64,
    /// Image files wanted (eligible characters, less any sharing one file name).
    pub wanted: u64,
    /// Images downloaded in this run.
    pub downloaded: u64,
    /// Bytes downloaded in this run.
    pub bytes: u64,
    /// Images already present and valid.
    pub skipped: u64,
    /// Requests retried (429, 5xx, timeouts).
    pub retries: u64,
    /// Images that could not be collected, in `characters.json` order.
    pub failures: Vec<ImageFailure>,
}

/// One file to fetch.
struct Job {
    id: u64,
    name: String,
    url: Url,
    path: PathBuf,
    format: ImageFormat,
}

enum Outcome {
    Skipped,
    Downloaded(u64),
    Failed(ImageFailure),
}

/// Downloads the images of the dataset at `options.data`.
///
/// # Errors
/// Only for what stops the whole run: `characters.json` missing or not a character array, a bad
/// `--image-base-url`, the images folder not writable. Failed images are in
/// [`ImagesSummary::failures`].
pub async fn collect_images(options: &ImagesOptions) -> Result<ImagesSummary, CollectError> {
    let characters = read_characters(&options.data.join(CHARACTERS_FILE))?;
    let base = options
        .image_base_url
        .as_deref()
        .map(|b| {
            let url = Url::parse(b).map_err(|e| CollectError::Url {
                url: b.to_owned(),
                detail: e.to_string(),
            })?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(CollectError::Url {
                    url: b.to_owned(),
                    detail: "must be http or https".into(),
                });
            }
            Ok(url)
        })
        .transpose()?;
    let images_dir = options.data.join(IMAGES_DIR);
    fs::create_dir_all(&images_dir).map_err(|e| CollectError::io(&images_dir, e))?;
    sweep_temp_files(&images_dir);

    let mut summary = ImagesSummary {
        characters: characters.len() as u64,
        ..Default::default()
    };
    let mut jobs = Vec::new();
    let mut seen = HashSet::new();
    for character in &characters {
        if character.has_placeholder_thumbnail() {
            summary.placeholders += 1;
            continue;
        }
        let path = options.data.join(character.image_file());
        if !seen.insert(path.clone()) {
            // Two names with one slug share a file; the dataset loader reads it for both.
            continue;
        }
        let url = image_url(character, base.as_ref());
        let format = ImageFormat::from_extension(&character.thumbnail.extension)
            .filter(|f| matches!(f, ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif));
        match (url, format) {
            (Ok(url), Some(format)) => jobs.push(Job {
                id: character.id,
                name: character.name.clone(),
                url,
                path,
                format,
            }),
            (url, format) => summary.failures.push(ImageFailure {
                id: character.id,
                name: character.name.clone(),
                url: url
                    .as_ref()
                    .map(Url::to_string)
                    .unwrap_or_else(|_| character.thumbnail.path.clone()),
                reason: match (url, format) {
                    (Err(e), _) => e,
                    _ => format!(
                        "unsupported image extension {:?}",
                        character.thumbnail.extension
                    ),
                },
            }),
        }
    }
    summary.wanted = (jobs.len() + summary.failures.len()) as u64;

    let http = Arc::new(HttpClient::new(options.http, options.concurrency)?);
    let bar = progress::bar(jobs.len() as u64, "images");
    let limit = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for job in jobs {
        let permit = Arc::clone(&limit)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (http, task_bar) = (Arc::clone(&http), bar.clone());
        tasks.spawn(async move {
            let outcome = fetch_one(&http, &job, &task_bar).await;
            drop(permit);
            task_bar.inc(1);
            outcome
        });
        // Reap what already finished, so the set stays about `concurrency` tasks long.
        while let Some(joined) = tasks.try_join_next() {
            record(joined, &mut summary, &bar);
        }
    }
    while let Some(joined) = tasks.join_next().await {
        record(joined, &mut summary, &bar);
    }
    bar.finish_and_clear();
    sync_dir(&images_dir)?;
    summary.retries = http.retries();
    // Failures in characters.json order, whatever order the downloads finished in.
    let order: HashMap<u64, usize> = characters
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id, i))
        .collect();
    summary
        .failures
        .sort_by_key(|f| order.get(&f.id).copied().unwrap_or(usize::MAX));
    Ok(summary)
}

fn record(
    joined: Result<Outcome, tokio::task::JoinError>,
    summary: &mut ImagesSummary,
    bar: &indicatif::ProgressBar,
) {
    match joined {
        Ok(Outcome::Skipped) => summary.skipped += 1,
        Ok(Outcome::Downloaded(bytes)) => {
            summary.downloaded += 1;
            summary.bytes += bytes;
        }
        Ok(Outcome::Failed(failure)) => {
            summary.failures.push(failure);
            bar.set_message(format!("{} failed", summary.failures.len()));
        }
        // A download task has no panicking path; if one did panic, that is a bug to surface.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Skips, or downloads and writes, one image.
async fn fetch_one(http: &HttpClient, job: &Job, bar: &indicatif::ProgressBar) -> Outcome {
    let fail = |reason: String| {
        Outcome::Failed(ImageFailure {
            id: job.id,
            name: job.name.clone(),
            url: job.url.to_string(),
            reason,
        })
    };
    let path = job.path.clone();
    let format = job.format;
    let present = tokio::task::spawn_blocking(move || existing_is_valid(&path, format))
        .await
        .unwrap_or(false);
    if present {
        return Outcome::Skipped;
    }
    // A download cut short is retried: the same rule a re-run uses to skip a file
    // (`existing_is_valid`), so no file is accepted now and judged incomplete later. Bytes
    // that are not the claimed image at all are refused below, without retries.
    let whole = |bytes: &[u8]| match rejection(bytes, format) {
        Some(_) => Ok(()),
        None => incomplete(bytes, format).map_or(Ok(()), Err),
    };
    let bytes = match http.get_checked(|| job.url.clone(), bar, whole).await {
        Ok(bytes) => bytes,
        Err(FetchError::Status { status, .. }) => return fail(format!("HTTP {status}")),
        Err(transient) => return fail(format!("{} (after retries)", transient.detail())),
    };
    if let Some(problem) = rejection(&bytes, job.format) {
        return fail(problem);
    }
    let len = bytes.len() as u64;
    let path = job.path.clone();
    match tokio::task::spawn_blocking(move || write_atomic(&path, |w| w.write_all(&bytes))).await {
        Ok(Ok(())) => Outcome::Downloaded(len),
        Ok(Err(e)) => fail(e.to_string()),
        Err(e) => fail(format!("writing the file failed: {e}")),
    }
}

/// `{thumbnail.path}/portrait_uncanny.{extension}`, moved onto `base` when given.
fn image_url(character: &MarvelCharacter, base: Option<&Url>) -> Result<Url, String> {
    let raw = format!(
        "{}/{IMAGE_VARIANT}.{}",
        character.thumbnail.path.trim_end_matches('/'),
        character.thumbnail.extension
    );
    let mut url = Url::parse(&raw).map_err(|e| format!("bad thumbnail url {raw:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("thumbnail url {raw:?} is not http or https"));
    }
    if let Some(base) = base {
        let path = format!("{}{}", base.path().trim_end_matches('/'), url.path());
        let query = url.query().map(str::to_owned);
        url = base.clone();
        url.set_path(&path);
        url.set_query(query.as_deref());
    }
    Ok(url)
}

/// Why downloaded bytes are not an image the dataset will accept as `claimed` — the dataset's
/// own [`check_image`], so `collect` never writes a file that `ingest` would refuse — with the
/// start of the bytes when they are something else (an HTML error page, say).
fn rejection(bytes: &[u8], claimed: ImageFormat) -> Option<String> {
    let extension = claimed.extensions_str().first().copied().unwrap_or("?");
    let problem = check_image(bytes, claimed, extension).err()?;
    Some(match problem {
        Problem::FormatMismatch { .. } => {
            let start =
                String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).replace(['\n', '\r'], " ");
            format!("{problem} ({} bytes starting {start:?})", bytes.len())
        }
        other => other.to_string(),
    })
}

/// Whether the file at `path` is a complete image of `format` (so a re-run can skip it): a
/// regular file that passes the dataset's [`check_image`] and is not [`incomplete`] — the rule
/// every download passes too, so a file written once is skipped ever after.
fn existing_is_valid(path: &Path, format: ImageFormat) -> bool {
    // only a regular file is read (a FIFO would block forever); anything else is replaced
    if !fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let Ok(bytes) = fs::read(path) else {
        return false;
    };
    rejection(&bytes, format).is_none() && incomplete(&bytes, format).is_none()
}

/// Why `bytes`, an image of `format` by its header, are cut short: they do not end the way that
/// format ends (PNG's `IEND` chunk, JPEG's end-of-image marker `FF D9` — zero padding after it
/// is allowed —, GIF's trailer `3B`). `None` when they do. [`check_image`] reads only the
/// header, so this is what tells a whole download from one cut short.
fn incomplete(bytes: &[u8], format: ImageFormat) -> Option<String> {
    match format {
        ImageFormat::Png => (!bytes.ends_with(&[0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]))
            .then(|| "incomplete PNG: no IEND chunk at the end".to_owned()),
        ImageFormat::Jpeg => {
            let trimmed = bytes
                .iter()
                .rposition(|&b| b != 0)
                .map_or(&bytes[..0], |end| &bytes[..=end]);
            (!trimmed.ends_with(&[0xFF, 0xD9]))
                .then(|| "incomplete JPEG: no end-of-image marker (FF D9)".to_owned())
        }
        ImageFormat::Gif => (bytes.last() != Some(&0x3B))
            .then(|| "incomplete GIF: no trailer (3B) at the end".to_owned()),
        other => Some(format!("{other:?} is not a format superpower serves")),
    }
}

/// The characters of `characters.json`, read within the dataset's size limit and with the
/// dataset's own type.
fn read_characters(path: &Path) -> Result<Vec<MarvelCharacter>, CollectError> {
    let raw = read_characters_file(path).map_err(|e| match e {
        DatasetError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            CollectError::BadFile {
                path: path.to_owned(),
                detail: "not found: run `loader collect characters --out DIR` first".into(),
            }
        }
        other => CollectError::Dataset(Box::new(other)),
    })?;
    Vec::<MarvelCharacter>::deserialize(&mut serde_json::Deserializer::from_slice(&raw)).map_err(
        |e| CollectError::BadFile {
            path: path.to_owned(),
            detail: format!("not a character array: {e}"),
        },
    )
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::dataset::MAX_IMAGE_BYTES;

    fn character(path: &str, ext: &str) -> MarvelCharacter {
        serde_json::from_value(serde_json::json!({
            "id": 1, "name": "Hero", "thumbnail": {"path": path, "extension": ext}
        }))
        .unwrap()
    }

    fn png() -> Vec<u8> {
        let mut out = Vec::new();
        image::RgbImage::new(3, 2)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn image_url_uses_the_variant_and_the_base() {
        let c = character(
            "http://i.annihil.us/u/prod/marvel/i/mg/3/40/4bb4680432f73",
            "jpg",
        );
        assert_eq!(
            image_url(&c, None).unwrap().as_str(),
            "http://i.annihil.us/u/prod/marvel/i/mg/3/40/4bb4680432f73/portrait_uncanny.jpg"
        );
        let base = Url::parse("http://127.0.0.1:8080/cdn/").unwrap();
        assert_eq!(
            image_url(&c, Some(&base)).unwrap().as_str(),
            "http://127.0.0.1:8080/cdn/u/prod/marvel/i/mg/3/40/4bb4680432f73/portrait_uncanny.jpg"
        );
        assert!(image_url(&character("file:///etc/passwd", "jpg"), None).is_err());
        assert!(image_url(&character("no url", "jpg"), None).is_err());
    }

    #[test]
    fn a_download_must_be_an_image_of_the_claimed_type() {
        let png = png();
        assert_eq!(rejection(&png, ImageFormat::Png), None);
        let err = rejection(&png, ImageFormat::Jpeg).unwrap();
        assert!(err.contains("image bytes are PNG, not the jpg"), "{err}");
        let err = rejection(b"<html>Not found</html>", ImageFormat::Png).unwrap();
        assert!(
            err.contains("not a known image format") && err.contains("<html>"),
            "{err}"
        );
        let huge = vec![0u8; MAX_IMAGE_BYTES as usize + 1];
        let err = rejection(&huge, ImageFormat::Png).unwrap();
        assert!(err.contains("over the limit"), "{err}");
    }

    #[test]
    fn a_cut_file_is_not_valid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        let png = png();
        fs::write(&path, &png).unwrap();
        assert!(existing_is_valid(&path, ImageFormat::Png));
        fs::write(&path, &png[..png.len() - 4]).unwrap();
        assert!(!existing_is_valid(&path, ImageFormat::Png));
        assert!(!existing_is_valid(
            &dir.path().join("missing.png"),
            ImageFormat::Png
        ));
    }

    #[test]
    fn a_jpeg_is_whole_when_it_ends_with_its_marker_padding_allowed() {
        let mut jpeg = Vec::new();
        image::RgbImage::new(3, 2)
            .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        assert_eq!(incomplete(&jpeg, ImageFormat::Jpeg), None);
        let mut padded = jpeg.clone();
        padded.extend([0, 0, 0]);
        assert_eq!(incomplete(&padded, ImageFormat::Jpeg), None);
        let cut = &jpeg[..jpeg.len() - 2];
        assert_eq!(
            rejection(cut, ImageFormat::Jpeg),
            None,
            "its header is fine"
        );
        let why = incomplete(cut, ImageFormat::Jpeg).unwrap();
        assert!(why.contains("no end-of-image marker"), "{why}");
        assert!(incomplete(&png()[..20], ImageFormat::Png).is_some());
        assert!(incomplete(b"GIF89a", ImageFormat::Gif).is_some());
    }
}
