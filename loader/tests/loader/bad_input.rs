//! Bad input: a non-zero exit, a message naming the file, the record and the problem, and the
//! store still holding the dataset it held before.

use std::path::{Path, PathBuf};

use common::store::Store;
use loader::dataset::Dataset;
use serde_json::Value;

use crate::support::*;

/// A good dataset ingested into a store, and a copy of it to break.
struct Case {
    _tmp: tempfile::TempDir,
    good: PathBuf,
    bad: PathBuf,
    store: PathBuf,
}

fn case() -> Case {
    let tmp = tempfile::tempdir().unwrap();
    let good = sample(tmp.path(), "good", 24, 11);
    let store = tmp.path().join("store");
    ingest_ok(&good, &store);
    let bad = tmp.path().join("bad");
    copy_dataset(&good, &bad);
    Case {
        good,
        bad,
        store,
        _tmp: tmp,
    }
}

impl Case {
    /// Ingests the broken copy: asserts failure, that stderr has every `needle`, and that the
    /// store still holds the good dataset.
    fn fails_with(&self, needles: &[&str]) {
        let out = run(&["ingest", "--data", s(&self.bad), "--store", s(&self.store)]);
        let (stdout, stderr) = texts(&out);
        assert!(
            !out.status.success(),
            "ingest of bad data succeeded: {stdout}"
        );
        for n in needles {
            assert!(stderr.contains(n), "stderr lacks {n:?}: {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_holds(
            &Store::open(&self.store).unwrap(),
            &Dataset::load(&self.good).unwrap(),
        );
    }

    fn chars(&self) -> Vec<Value> {
        characters(&self.bad)
    }

    /// The first character with an image of extension `ext`: (index, value, its file).
    fn with_image(&self, ext: &str) -> (usize, Value, PathBuf) {
        let chars = self.chars();
        let (i, c) = chars
            .iter()
            .enumerate()
            .find(|(_, c)| !is_placeholder(c) && c["thumbnail"]["extension"] == ext)
            .expect("the sample has such a character");
        (i, c.clone(), image_path(&self.bad, c))
    }
}

fn record_label(i: usize, c: &Value) -> String {
    format!(
        "record [{i}] (id {}, {:?})",
        c["id"],
        c["name"].as_str().unwrap()
    )
}

fn json_file(dir: &Path) -> String {
    dir.join("characters.json").display().to_string()
}

#[test]
fn malformed_json_is_refused_with_its_line_and_column() {
    let c = case();
    let text = std::fs::read_to_string(c.bad.join("characters.json")).unwrap();
    // break line 3: `"id": 1010003,` loses its comma
    let mut lines: Vec<&str> = text.lines().collect();
    let fixed = lines[2].trim_end_matches(',').to_owned();
    lines[2] = &fixed;
    std::fs::write(c.bad.join("characters.json"), lines.join("\n")).unwrap();
    c.fails_with(&[&json_file(&c.bad), "malformed JSON at line 4 column"]);
}

#[test]
fn a_file_that_is_not_an_array_is_refused() {
    let c = case();
    std::fs::write(
        c.bad.join("characters.json"),
        r#"{"data": {"results": []}}"#,
    )
    .unwrap();
    c.fails_with(&[
        &json_file(&c.bad),
        "expected a JSON array",
        "found an object",
    ]);
}

#[test]
fn a_record_of_the_wrong_shape_is_named() {
    let c = case();
    let mut chars = c.chars();
    chars[3]["comics"]["available"] = "many".into();
    write_characters(&c.bad, &chars);
    c.fails_with(&[
        &json_file(&c.bad),
        &record_label(3, &chars[3]),
        "wrong shape",
        "invalid type: string \"many\"",
        "at line",
    ]);

    copy_dataset(&c.good, &c.bad);
    let mut chars = c.chars();
    chars[5].as_object_mut().unwrap().remove("thumbnail");
    write_characters(&c.bad, &chars);
    c.fails_with(&[&record_label(5, &chars[5]), "missing field `thumbnail`"]);

    copy_dataset(&c.good, &c.bad);
    let mut chars = c.chars();
    chars[6]["id"] = "1010000".into();
    write_characters(&c.bad, &chars);
    c.fails_with(&[
        "record [6]",
        chars[6]["name"].as_str().unwrap(),
        "invalid type: string",
    ]);
}

#[test]
fn duplicate_ids_are_refused() {
    let c = case();
    let mut chars = c.chars();
    chars[7]["id"] = chars[2]["id"].clone();
    write_characters(&c.bad, &chars);
    let id = chars[2]["id"].to_string();
    c.fails_with(&[
        &json_file(&c.bad),
        &record_label(7, &chars[7]),
        &format!("duplicate id {id} (first used by record [2])"),
    ]);
}

#[test]
fn an_image_over_5_mib_is_refused() {
    let c = case();
    let (i, ch, file) = c.with_image("png");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.resize(5 * 1024 * 1024 + 1, 0);
    std::fs::write(&file, bytes).unwrap();
    c.fails_with(&[
        &file.display().to_string(),
        &record_label(i, &ch),
        "over the limit",
        "5 MiB",
    ]);
}

#[test]
fn image_bytes_of_another_format_are_refused() {
    let c = case();
    let (_, _, jpg) = c.with_image("jpg");
    let (i, ch, png) = c.with_image("png");
    std::fs::copy(&jpg, &png).unwrap();
    c.fails_with(&[
        &png.display().to_string(),
        &record_label(i, &ch),
        "image bytes are JPEG, not the png its extension says",
    ]);

    copy_dataset(&c.good, &c.bad);
    let (i, ch, jpg) = c.with_image("jpg");
    std::fs::write(&jpg, "<html>not found</html>").unwrap();
    c.fails_with(&[
        &jpg.display().to_string(),
        &record_label(i, &ch),
        "not a known image format",
    ]);

    copy_dataset(&c.good, &c.bad);
    let (i, ch, png) = c.with_image("png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\nthis is no header").unwrap();
    c.fails_with(&[
        &png.display().to_string(),
        &record_label(i, &ch),
        "header cannot be decoded",
    ]);
}

#[test]
fn an_unsupported_extension_is_refused() {
    let c = case();
    let mut chars = c.chars();
    let (i, _, _) = c.with_image("png");
    chars[i]["thumbnail"]["extension"] = "webp".into();
    write_characters(&c.bad, &chars);
    c.fails_with(&[
        &record_label(i, &chars[i]),
        "unsupported image extension \"webp\"",
    ]);
}

#[test]
fn a_missing_dataset_folder_is_refused() {
    let c = case();
    std::fs::remove_file(c.bad.join("characters.json")).unwrap();
    c.fails_with(&[&json_file(&c.bad), "cannot read"]);
}

/// The JSON powersource answers for a character (its `CharacterView`), as serde_json writes it.
fn answer_len(c: &Value) -> usize {
    let id = c["id"].as_u64().unwrap();
    let detail = c["urls"]
        .as_array()
        .and_then(|urls| urls.iter().find(|u| u["type"] == "detail"))
        .map(|u| u["url"].clone())
        .unwrap_or(Value::Null);
    serde_json::json!({
        "id": id,
        "name": c["name"],
        "description": c["description"],
        "image_url": format!("/characters/{id}/image"),
        "learn_more_url": detail,
    })
    .to_string()
    .len()
}

#[test]
fn a_character_whose_answer_superpower_would_refuse_is_refused() {
    let limit = common::model::MAX_CHARACTER_JSON_BYTES;
    assert_eq!(limit, 64 * 1024);
    let c = case();
    let mut chars = c.chars();
    chars[4]["description"] = "x".repeat(66_000).into();
    write_characters(&c.bad, &chars);
    let bytes = answer_len(&chars[4]);
    c.fails_with(&[
        &json_file(&c.bad),
        &record_label(4, &chars[4]),
        &format!(
            "its JSON answer would be {bytes} bytes, over the limit of {limit} bytes (64 KiB)"
        ),
    ]);

    // escapes count: 33,000 quotes are 66,000 bytes of JSON
    copy_dataset(&c.good, &c.bad);
    let mut chars = c.chars();
    chars[5]["description"] = "\"".repeat(33_000).into();
    write_characters(&c.bad, &chars);
    c.fails_with(&[&record_label(5, &chars[5]), "over the limit of 65536 bytes"]);

    // an answer of exactly the limit is served, so it is accepted
    copy_dataset(&c.good, &c.bad);
    let mut chars = c.chars();
    chars[4]["description"] = "".into();
    let room = limit - answer_len(&chars[4]);
    chars[4]["description"] = "é".repeat(room / 2).into();
    if room % 2 == 1 {
        chars[4]["description"] = format!("{}x", chars[4]["description"].as_str().unwrap()).into();
    }
    assert_eq!(answer_len(&chars[4]), limit);
    write_characters(&c.bad, &chars);
    ingest_ok(&c.bad, &c._tmp.path().join("other-store"));
}

#[test]
fn a_characters_json_over_its_size_limit_is_refused_without_reading_it() {
    let c = case();
    // sparse: 64 MiB + 1 bytes of nothing on disk
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(c.bad.join("characters.json"))
        .unwrap();
    file.set_len(64 * 1024 * 1024 + 1).unwrap();
    drop(file);
    c.fails_with(&[
        &json_file(&c.bad),
        "is 67108865 bytes, over the limit of 67108864 bytes (64 MiB)",
    ]);
}

#[test]
fn a_characters_json_that_is_a_fifo_is_refused_not_waited_on() {
    let c = case();
    let json = c.bad.join("characters.json");
    std::fs::remove_file(&json).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&json)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");
    let out = run_bounded(
        &["ingest", "--data", s(&c.bad), "--store", s(&c.store)],
        std::time::Duration::from_secs(30),
    );
    assert!(!out.status.success());
    let stderr = texts(&out).1;
    assert!(
        stderr.contains(&json_file(&c.bad)) && stderr.contains("not a regular file (a FIFO)"),
        "{stderr}"
    );
}
