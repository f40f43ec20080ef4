//! `loader sample`: deterministic, in the Marvel format, with the variety the app must handle.

use std::collections::HashSet;

use crate::support::*;

#[test]
fn sample_is_deterministic_and_in_the_marvel_format() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for dir in [&a, &b] {
        let out = run(&["sample", "--out", s(dir)]);
        assert!(out.status.success(), "{}", texts(&out).1);
        assert!(
            texts(&out).0.contains("wrote 250 characters"),
            "{}",
            texts(&out).0
        );
    }
    // byte-identical
    let json = std::fs::read(a.join("characters.json")).unwrap();
    assert_eq!(json, std::fs::read(b.join("characters.json")).unwrap());
    let mut files: Vec<_> = std::fs::read_dir(a.join("images"))
        .unwrap()
        .map(|f| f.unwrap().file_name())
        .collect();
    files.sort();
    for f in &files {
        assert!(
            std::fs::read(a.join("images").join(f)).unwrap()
                == std::fs::read(b.join("images").join(f)).unwrap(),
            "{f:?} differs"
        );
    }
    assert_eq!(
        std::fs::read_dir(b.join("images")).unwrap().count(),
        files.len()
    );

    let chars = characters(&a);
    assert_eq!(chars.len(), 250);
    let mut ids = HashSet::new();
    let (mut empty, mut placeholders, mut no_detail, mut non_ascii, mut png, mut jpg) =
        (0, 0, 0, 0, 0, 0);
    for c in &chars {
        let id = c["id"].as_u64().unwrap();
        assert!(id >= 1_010_000, "id {id} outside Marvel's range");
        assert!(ids.insert(id), "duplicate id {id}");
        for field in ["name", "description", "modified", "resourceURI"] {
            assert!(c[field].is_string(), "{field} of {id}");
        }
        assert!(c["thumbnail"]["path"].is_string() && c["thumbnail"]["extension"].is_string());
        for list in ["comics", "series", "stories", "events"] {
            let l = &c[list];
            assert!(
                l["available"].is_u64() && l["collectionURI"].is_string(),
                "{list} of {id}"
            );
            let items = l["items"].as_array().unwrap();
            assert_eq!(l["returned"].as_u64().unwrap() as usize, items.len());
            assert!(items
                .iter()
                .all(|i| i["resourceURI"].is_string() && i["name"].is_string()));
        }
        let urls = c["urls"].as_array().unwrap();
        assert!(urls
            .iter()
            .all(|u| u["type"].is_string() && u["url"].is_string()));
        let text = c.to_string().to_lowercase();
        assert!(!text.contains("marvel"), "{id} mentions Marvel");
        if c["description"] == "" {
            empty += 1;
        }
        if !urls.iter().any(|u| u["type"] == "detail") {
            no_detail += 1;
        }
        if !c["name"].as_str().unwrap().is_ascii() {
            non_ascii += 1;
        }
        let image = image_path(&a, c);
        if is_placeholder(c) {
            placeholders += 1;
            assert!(!image.exists(), "placeholder {id} has an image file");
            continue;
        }
        let bytes = std::fs::read(&image).unwrap_or_else(|e| panic!("{}: {e}", image.display()));
        assert!(
            bytes.len() < 32 * 1024,
            "{} is {} bytes",
            image.display(),
            bytes.len()
        );
        let format = match c["thumbnail"]["extension"].as_str().unwrap() {
            "png" => {
                png += 1;
                assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
                image::ImageFormat::Png
            }
            "jpg" => {
                jpg += 1;
                assert!(bytes.starts_with(&[0xFF, 0xD8, 0xFF]));
                image::ImageFormat::Jpeg
            }
            other => panic!("unexpected extension {other}"),
        };
        let img = image::load_from_memory_with_format(&bytes, format).expect("the image decodes");
        assert_eq!((img.width(), img.height()), (300, 450));
    }
    assert!(empty >= 10, "{empty} empty descriptions");
    assert!(
        (8..=20).contains(&placeholders),
        "{placeholders} placeholders (~5% expected)"
    );
    assert!(no_detail >= 10, "{no_detail} without a detail url");
    assert!(non_ascii >= 10, "{non_ascii} non-ASCII names");
    assert!(png >= 50 && jpg >= 50, "{png} png, {jpg} jpg");
    let names: String = chars.iter().map(|c| c["name"].as_str().unwrap()).collect();
    for ch in ['é', 'ö', 'ñ', 'ō', 'ß'] {
        assert!(names.contains(ch), "no name with {ch}");
    }

    // another seed, another dataset
    let c = tmp.path().join("c");
    assert!(
        run(&["sample", "--out", s(&c), "--count", "20", "--seed", "9"])
            .status
            .success()
    );
    let other = characters(&c);
    assert_eq!(other.len(), 20);
    assert_ne!(other[0]["name"], chars[0]["name"]);
}

#[test]
fn image_kib_pads_images_to_about_that_size_and_they_still_decode() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let out = run(&[
        "sample",
        "--out",
        s(&dir),
        "--count",
        "8",
        "--image-kib",
        "50",
    ]);
    assert!(out.status.success(), "{}", texts(&out).1);
    let mut seen = 0;
    for c in characters(&dir).iter().filter(|c| !is_placeholder(c)) {
        let bytes = std::fs::read(image_path(&dir, c)).unwrap();
        assert!(
            (49 * 1024..=51 * 1024).contains(&bytes.len()),
            "{} bytes",
            bytes.len()
        );
        let img = image::load_from_memory(&bytes).expect("a padded image decodes");
        assert_eq!(img.height(), 450);
        seen += 1;
    }
    assert!(seen >= 7);
    let dataset = loader::dataset::Dataset::load(&dir).expect("a padded dataset validates");
    assert_eq!(dataset.counts().images, seen);
}
