//! Helpers shared by the loader tests: run the real binary, make datasets, check stores.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::store::Store;
use loader::dataset::Dataset;
use serde_json::Value;

/// The `loader` binary under test.
pub fn loader() -> Command {
    Command::new(env!("CARGO_BIN_EXE_loader"))
}

/// Runs the binary with `args`, returning its output.
pub fn run(args: &[&str]) -> Output {
    loader()
        .args(args)
        .env_remove("LOADER_DATA")
        .env_remove("LOADER_STORE")
        .env_remove("POWERSOURCE_MEMORY_LIMIT_MIB")
        .output()
        .expect("loader runs")
}

/// Runs the binary with `args` like [`run`], but gives up after `limit`: the process is killed
/// and the test fails (for input that could make the loader hang).
pub fn run_bounded(args: &[&str], limit: Duration) -> Output {
    let child = loader()
        .args(args)
        .env_remove("LOADER_DATA")
        .env_remove("LOADER_STORE")
        .env_remove("POWERSOURCE_MEMORY_LIMIT_MIB")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("loader runs");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("loader runs"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("loader {args:?} still running after {limit:?}: it hangs");
        }
    }
}

/// Text of stdout and stderr.
pub fn texts(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `loader ingest --data DATA --store STORE`, then `extra` arguments.
pub fn ingest(data: &Path, store: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["ingest", "--data", s(data), "--store", s(store)];
    args.extend_from_slice(extra);
    run(&args)
}

/// Runs `loader ingest --data DATA --store STORE` and asserts success.
pub fn ingest_ok(data: &Path, store: &Path) -> (String, String) {
    let out = ingest(data, store, &[]);
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "ingest failed: {stderr}");
    (stdout, stderr)
}

/// A path as a `&str` argument.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// A temp dir holding a sample dataset of `count` characters, in `tmp/name`.
pub fn sample(tmp: &Path, name: &str, count: usize, seed: u64) -> PathBuf {
    let dir = tmp.join(name);
    loader::sample::write(&dir, count, seed).expect("sample writes");
    dir
}

/// Copies a dataset folder (one level of `images/`).
pub fn copy_dataset(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("images")).unwrap();
    std::fs::copy(from.join("characters.json"), to.join("characters.json")).unwrap();
    for f in std::fs::read_dir(from.join("images")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), to.join("images").join(f.file_name())).unwrap();
    }
}

/// `characters.json` as JSON values.
pub fn characters(dir: &Path) -> Vec<Value> {
    let text = std::fs::read(dir.join("characters.json")).unwrap();
    serde_json::from_slice::<Vec<Value>>(&text).unwrap()
}

/// Writes `characters.json` from JSON values.
pub fn write_characters(dir: &Path, chars: &[Value]) {
    std::fs::write(
        dir.join("characters.json"),
        serde_json::to_vec_pretty(chars).unwrap(),
    )
    .unwrap();
}

/// The image file of a character value.
pub fn image_path(dir: &Path, c: &Value) -> PathBuf {
    let name = c["name"].as_str().unwrap();
    let ext = c["thumbnail"]["extension"].as_str().unwrap();
    dir.join("images")
        .join(format!("{}.{ext}", slug::slugify(name)))
}

/// Whether a character value has the placeholder thumbnail.
pub fn is_placeholder(c: &Value) -> bool {
    c["thumbnail"]["path"]
        .as_str()
        .unwrap()
        .ends_with("image_not_available")
}

/// Asserts that `store` holds exactly `dataset`, complete: its fingerprint and counts, every
/// record, and every image byte for byte (compared with the files).
pub fn assert_holds(store: &Store, dataset: &Dataset) {
    let snap = store
        .current()
        .expect("store readable")
        .expect("store holds a dataset");
    let info = snap.info();
    assert_eq!(info.fingerprint, dataset.fingerprint(), "fingerprint");
    let counts = dataset.counts();
    assert_eq!(info.characters, counts.characters);
    assert_eq!(info.eligible, counts.eligible);
    assert_eq!(info.images, counts.images);
    assert_eq!(info.missing_images, counts.missing_images);
    let stored: Vec<_> = snap
        .characters()
        .collect::<Result<_, _>>()
        .expect("records decode");
    let expected: Vec<_> = dataset.entries().iter().map(|e| e.record.clone()).collect();
    assert_eq!(stored, expected, "character records");
    assert_eq!(snap.image_count() as u64, counts.images, "image count");
    for e in dataset.entries() {
        let stored = snap.image(e.record.id).expect("image decodes");
        match &e.image {
            Some(file) => {
                let stored = stored.unwrap_or_else(|| panic!("image of {} missing", e.record.id));
                assert_eq!(stored.content_type, file.content_type);
                assert_eq!(stored.etag, file.etag);
                assert!(
                    stored.bytes == std::fs::read(&file.path).unwrap(),
                    "image bytes of {}",
                    e.record.id
                );
            }
            None => assert!(stored.is_none(), "ineligible {} has an image", e.record.id),
        }
    }
}
