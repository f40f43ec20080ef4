//! `loader::dataset::Dataset::load` on a folder made from the input: the bytes before the first
//! NUL are `characters.json`; the bytes after it, when there is one, are written as the image
//! file of every record that names a supported extension (so seeds are a JSON file, a NUL and
//! an image). Invariants: never a panic; a loaded dataset's counts add up, its entries are in
//! id order with unique non-zero ids, each image is the one written, re-reading an image gives
//! the validated bytes, and loading again gives the same fingerprint; an error prints.
#![no_main]

use std::fs;

use common::model::content_type_for_extension;
use libfuzzer_sys::fuzz_target;
use loader::dataset::{etag_of, Dataset, MarvelCharacter, Warning, CHARACTERS_FILE, IMAGES_DIR};
use superpower_fuzz::split_nul;

/// Image files written at most, so a long array stays a fast input.
const MAX_IMAGES: usize = 16;

fuzz_target!(|data: &[u8]| {
    let (json, image) = split_nul(data);
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(CHARACTERS_FILE), json).unwrap();
    if let Some(image) = image {
        fs::create_dir(dir.path().join(IMAGES_DIR)).unwrap();
        let text = json.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(json);
        let characters: Vec<MarvelCharacter> = serde_json::from_slice(text).unwrap_or_default();
        for c in characters.iter().take(MAX_IMAGES) {
            // the slug is path-safe; the extension is checked first, as the loader does
            if content_type_for_extension(&c.thumbnail.extension).is_some() && !c.slug().is_empty()
            {
                // a name too long for a file name fails here, and as an error in the loader
                let _ = fs::write(dir.path().join(c.image_file()), image);
            }
        }
    }

    let dataset = match Dataset::load(dir.path()) {
        Ok(dataset) => dataset,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let counts = dataset.counts();
    let entries = dataset.entries();
    assert_eq!(counts.characters, entries.len() as u64);
    assert_eq!(
        counts.characters,
        counts.eligible + counts.placeholders + counts.missing_images
    );
    assert_eq!(counts.images, counts.eligible);
    assert!(entries.windows(2).all(|w| w[0].record.id < w[1].record.id));
    assert!(entries.iter().all(|e| e.record.id != 0));
    let fingerprint = dataset.fingerprint();
    assert!(fingerprint.len() == 64 && fingerprint.bytes().all(|b| b.is_ascii_hexdigit()));

    let mut image_bytes = 0;
    for entry in entries {
        assert_eq!(entry.record.eligible, entry.image.is_some());
        let Some(file) = &entry.image else { continue };
        let written = image.expect("an image no one wrote");
        assert_eq!(file.etag, etag_of(written));
        assert_eq!(file.len, written.len() as u64);
        image_bytes += file.len;
        let record = entry.read_image().unwrap().unwrap();
        assert_eq!(record.bytes, written);
        assert_eq!(record.etag, file.etag);
        assert_eq!(record.content_type, file.content_type);
    }
    assert_eq!(counts.image_bytes, image_bytes);
    let missing = dataset
        .warnings()
        .iter()
        .filter(|w| matches!(w, Warning::MissingImage { .. }))
        .count();
    assert_eq!(counts.missing_images, missing as u64);
    for w in dataset.warnings() {
        assert!(!w.to_string().is_empty());
    }

    let again = Dataset::load(dir.path()).expect("a dataset that loaded once fails to load again");
    assert_eq!(again.fingerprint(), fingerprint);
});
