//! `loader collect` end to end: the real `loader` binary against a local fake of the Marvel API
//! and its image CDN (tests/fake_marvel), then `loader ingest` into the store powersource reads.

mod fake_marvel;

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use fake_marvel::{FakeMarvel, Options};
use loader::dataset::{Dataset, MarvelCharacter};
use serde_json::Value;

const PUBLIC: &str = "MARVEL_API_PUBLIC_KEY";
const PRIVATE: &str = "MARVEL_API_PRIVATE_KEY";

/// Runs `loader ARGS` with the given keys in the environment (and no other Marvel settings).
fn loader(args: &[&str], keys: Option<(&str, &str)>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loader"));
    cmd.args(args)
        .env_remove(PUBLIC)
        .env_remove(PRIVATE)
        .env_remove("MARVEL_API_URL");
    if let Some((public, private)) = keys {
        cmd.env(PUBLIC, public).env(PRIVATE, private);
    }
    cmd.output().expect("the loader binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `loader collect characters --out DIR` against `fake`, with its keys.
fn collect_characters(fake: &FakeMarvel, dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "collect",
        "characters",
        "--out",
        dir.to_str().unwrap(),
        "--api-url",
    ];
    let url = fake.url();
    args.push(&url);
    args.extend_from_slice(extra);
    loader(&args, Some((fake.public_key(), fake.private_key())))
}

/// `loader collect images --data DIR` against `fake` (no keys needed).
fn collect_images(fake: &FakeMarvel, dir: &Path) -> Output {
    let url = fake.url();
    loader(
        &[
            "collect",
            "images",
            "--data",
            dir.to_str().unwrap(),
            "--image-base-url",
            &url,
        ],
        None,
    )
}

fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Files in `dir` whose name starts with a dot (state, temporaries).
fn hidden_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn characters_are_collected_exactly_once_through_a_429_and_a_503() {
    let fake = FakeMarvel::start(Options::default());
    let dir = tempfile::tempdir().unwrap();
    let out = collect_characters(&fake, dir.path(), &[]);
    assert_success(&out);

    // The file is the catalog, in order, each character once, byte-for-byte the API's objects.
    let raw = fs::read(dir.path().join("characters.json")).unwrap();
    let written: Vec<Value> =
        serde_json::from_slice(&raw).expect("characters.json is a JSON array");
    assert_eq!(
        written,
        fake.characters(),
        "every character exactly once, as the API sent it"
    );
    let ids: HashSet<u64> = written.iter().map(|c| c["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), 250);
    let typed: Vec<MarvelCharacter> =
        serde_json::from_slice(&raw).expect("the dataset's own type reads it");
    assert_eq!(typed.len(), 250);

    // 3 pages (100 + 100 + 50); the 429 and the 503 were retried, nothing else was asked.
    assert_eq!(fake.pages_served(), 3);
    assert_eq!(fake.character_requests(), 5);
    let waited = fake
        .throttle_wait()
        .expect("the throttled page was asked again");
    assert!(
        waited >= Duration::from_millis(950),
        "Retry-After: 1 was not honoured: {waited:?}"
    );

    assert!(
        hidden_files(dir.path()).is_empty(),
        "state or temp files left: {:?}",
        hidden_files(dir.path())
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("collected 250 characters") && stdout.contains("2 retries"),
        "{stdout}"
    );
}

#[test]
fn an_interrupted_run_resumes_where_it_stopped() {
    // The page at offset 200 fails once; with no retries the first run stops there.
    let fake = FakeMarvel::start(Options {
        throttle_offset: None,
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = collect_characters(&fake, dir.path(), &["--retries", "0"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("giving up") && stderr.contains("503"),
        "{stderr}"
    );
    assert!(!stderr.contains("hash="), "the signature leaked: {stderr}");
    assert!(
        !dir.path().join("characters.json").exists(),
        "half a characters.json was written"
    );
    assert_eq!(
        hidden_files(dir.path()),
        vec![".collect-state.jsonl".to_owned()]
    );
    assert_eq!(fake.pages_served(), 2);

    let out = collect_characters(&fake, dir.path(), &[]);
    assert_success(&out);
    assert_eq!(
        fake.pages_served(),
        3,
        "the two pages already fetched were fetched again"
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 pages fetched, 2 resumed"), "{stdout}");
    let written: Vec<Value> =
        serde_json::from_slice(&fs::read(dir.path().join("characters.json")).unwrap()).unwrap();
    assert_eq!(written, fake.characters());
    assert!(hidden_files(dir.path()).is_empty());
}

#[test]
fn a_rerun_replaces_characters_json_cleanly() {
    let fake = FakeMarvel::start(Options {
        throttle_offset: None,
        server_error_offset: None,
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    assert_success(&collect_characters(
        &fake,
        dir.path(),
        &["--page-size", "40"],
    ));
    assert_eq!(fake.pages_served(), 7, "250 characters in pages of 40");
    assert_success(&collect_characters(&fake, dir.path(), &[]));
    assert_eq!(fake.pages_served(), 10);
    let written: Vec<Value> =
        serde_json::from_slice(&fs::read(dir.path().join("characters.json")).unwrap()).unwrap();
    assert_eq!(written, fake.characters());
    assert!(hidden_files(dir.path()).is_empty());
}

#[test]
fn bad_keys_get_the_apis_message_and_no_file() {
    let fake = FakeMarvel::start(Options::default());
    let dir = tempfile::tempdir().unwrap();
    let url = fake.url();
    let out_dir = dir.path().to_str().unwrap();
    let args = ["collect", "characters", "--out", out_dir, "--api-url", &url];

    let out = loader(&args, Some((fake.public_key(), "not-the-private-key")));
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    assert!(
        stderr.contains("That hash, timestamp and key combination is invalid"),
        "{stderr}"
    );
    assert!(
        stderr.contains(PRIVATE),
        "the hint names the variable: {stderr}"
    );
    assert!(
        !stderr.contains("not-the-private-key"),
        "the private key leaked: {stderr}"
    );

    let out = loader(&args, Some(("someone-elses-key", fake.private_key())));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("The passed API key is invalid."),
        "{}",
        text(&out.stderr)
    );

    // Rejections are not retried: one request each.
    assert_eq!(fake.character_requests(), 2);
    assert_eq!(fake.rejected(), 2);
    assert!(!dir.path().join("characters.json").exists());
}

#[test]
fn missing_keys_say_how_to_get_them() {
    let fake = FakeMarvel::start(Options::default());
    let dir = tempfile::tempdir().unwrap();
    let url = fake.url();
    let args = [
        "collect",
        "characters",
        "--out",
        dir.path().to_str().unwrap(),
        "--api-url",
        &url,
    ];
    let out = loader(&args, None);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("developer.marvel.com"), "{stderr}");
    assert!(
        stderr.contains(PUBLIC) && stderr.contains(PRIVATE),
        "{stderr}"
    );

    // A blank private key counts as missing; a key given by flag counts as given.
    let mut with_flag: Vec<&str> = args.to_vec();
    with_flag.extend(["--public-key", fake.public_key()]);
    let out = loader(&with_flag, None);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(PRIVATE) && !stderr.contains(&format!("set {PUBLIC}")),
        "{stderr}"
    );
    assert_eq!(fake.character_requests(), 0, "no request without keys");
}

#[test]
fn images_are_downloaded_once_and_a_failure_is_reported_not_fatal() {
    let fake = FakeMarvel::start(Options::default());
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("characters.json"),
        serde_json::to_vec(fake.characters()).unwrap(),
    )
    .unwrap();
    let lost = fake.lost_image_id().unwrap();
    let wanted = fake.with_picture();
    assert_eq!(wanted.len(), 225);

    let out = collect_images(&fake, dir.path());
    assert!(
        !out.status.success(),
        "one image failed, so the exit status is non-zero"
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        stdout.contains("225 wanted, 224 downloaded") && stdout.contains("1 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("25 placeholders skipped"), "{stdout}");
    assert!(
        stderr.contains("1 of 225 images could not be collected"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("(id {lost}): HTTP 404")),
        "{stderr}"
    );

    // Every other picture is on disk, byte for byte, named by slug; nothing else is.
    let images = dir.path().join("images");
    for character in &wanted {
        let c: MarvelCharacter = serde_json::from_value((*character).clone()).unwrap();
        let path = dir.path().join(c.image_file());
        if c.id == lost {
            assert!(!path.exists());
        } else {
            let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                bytes,
                fake.image_bytes(character).unwrap(),
                "{}",
                path.display()
            );
        }
    }
    assert_eq!(
        fs::read_dir(&images).unwrap().count(),
        224,
        "only the images, no temporaries"
    );
    // 225 pictures + one 503 retried.
    assert_eq!(fake.image_requests(), 226);

    // Second run: nothing new, except the lost one (asked again) and one we cut short.
    let victim: MarvelCharacter = serde_json::from_value(wanted[0].clone()).unwrap();
    let victim_path = dir.path().join(victim.image_file());
    let whole = fs::read(&victim_path).unwrap();
    fs::write(&victim_path, &whole[..whole.len() / 2]).unwrap();
    let out = collect_images(&fake, dir.path());
    assert!(!out.status.success());
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("1 downloaded") && stdout.contains("223 already present"),
        "{stdout}"
    );
    assert_eq!(
        fake.image_requests(),
        228,
        "only the lost and the cut image were asked again"
    );
    assert_eq!(fs::read(&victim_path).unwrap(), whole);

    // A partly collected dataset loads: the lost picture makes one character not eligible.
    let dataset = Dataset::load(dir.path()).expect("the collected folder is a valid dataset");
    let counts = dataset.counts();
    assert_eq!(
        (
            counts.characters,
            counts.placeholders,
            counts.missing_images
        ),
        (250, 25, 1)
    );
    assert_eq!(counts.eligible, 224);
}

#[test]
fn bytes_of_the_wrong_type_are_a_failure_not_a_file() {
    // Index 1 is a .jpg whose server sends PNG bytes; index 2 a .png the server cannot find.
    let options = Options {
        count: 12,
        mislabeled_image: Some(1),
        missing_image: Some(2),
        flaky_image: None,
        ..Options::default()
    };
    let fake = FakeMarvel::start(options);
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("characters.json"),
        serde_json::to_vec(fake.characters()).unwrap(),
    )
    .unwrap();
    let out = collect_images(&fake, dir.path());
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("image bytes are PNG, not the jpg its extension says"),
        "{stderr}"
    );
    assert!(stderr.contains("HTTP 404"), "{stderr}");
    assert!(
        stderr.contains("2 of 11 images could not be collected"),
        "{stderr}"
    );
    let mislabeled: MarvelCharacter = serde_json::from_value(fake.characters()[1].clone()).unwrap();
    assert!(
        !dir.path().join(mislabeled.image_file()).exists(),
        "a wrong image was written"
    );
    assert_eq!(fs::read_dir(dir.path().join("images")).unwrap().count(), 9);

    // No characters.json: a clear message.
    let empty = tempfile::tempdir().unwrap();
    let out = loader(
        &[
            "collect",
            "images",
            "--data",
            empty.path().to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("run `loader collect characters --out DIR` first"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn collected_data_ingests_into_the_store_powersource_serves() {
    let fake = FakeMarvel::start(Options {
        throttle_offset: None,
        server_error_offset: None,
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    assert_success(&collect_characters(&fake, dir.path(), &[]));
    let out = collect_images(&fake, dir.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "the lost image fails: {}",
        text(&out.stderr)
    );

    let store = dir.path().join("store");
    let out = loader(
        &[
            "ingest",
            "--data",
            dir.path().to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ],
        None,
    );
    assert_success(&out);

    // What powersource serves is what its catalog reads from the store's current generation
    // through `common::store` (powersource's own tests serve such a store over HTTP).
    let store = common::store::Store::open(&store).unwrap();
    let snapshot = store.current().unwrap().expect("a dataset is current");

    let collected = &fake.characters()[1];
    let id = collected["id"].as_u64().unwrap();
    let record = snapshot.character(id).unwrap().expect("stored");
    assert!(
        record.eligible,
        "a collected character with its image is served"
    );
    assert_eq!(record.name, collected["name"].as_str().unwrap());
    assert_eq!(
        record.description,
        collected["description"].as_str().unwrap()
    );
    assert_eq!(
        record.learn_more_url.as_deref(),
        collected["urls"][0]["url"].as_str()
    );
    let image = snapshot.image(id).unwrap().expect("its image is stored");
    assert_eq!(image.bytes, fake.image_bytes(collected).unwrap().to_vec());

    // The character whose picture was lost is stored but not served.
    let lost = fake.lost_image_id().unwrap();
    let record = snapshot.character(lost).unwrap().expect("stored");
    assert!(
        !record.eligible,
        "a character without its image is not served"
    );
}

#[test]
fn collect_images_refuses_a_characters_json_over_the_datasets_limit() {
    let dir = tempfile::tempdir().unwrap();
    let file = fs::File::create(dir.path().join("characters.json")).unwrap();
    file.set_len(loader::dataset::MAX_CHARACTERS_FILE_BYTES + 1)
        .unwrap(); // sparse
    drop(file);
    let out = loader(
        &["collect", "images", "--data", dir.path().to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("over the limit of 67108864 bytes (64 MiB)"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_jpeg_without_its_end_marker_is_retried_and_reported_not_written() {
    // index 1 is a .jpg whose server always leaves out the final FF D9
    let fake = FakeMarvel::start(Options {
        count: 12,
        truncated_image: Some(1),
        missing_image: None,
        flaky_image: None,
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("characters.json"),
        serde_json::to_vec(fake.characters()).unwrap(),
    )
    .unwrap();
    let cut: MarvelCharacter = serde_json::from_value(fake.characters()[1].clone()).unwrap();
    let cut_path = dir.path().join(cut.image_file());
    let url = fake.url();
    let data = dir.path().to_str().unwrap();
    let args = [
        "collect",
        "images",
        "--data",
        data,
        "--image-base-url",
        &url,
        "--retries",
        "1",
    ];
    let pictures = fake.with_picture().len();
    assert_eq!(pictures, 11);

    for run in 1..=2 {
        let out = loader(&args, None);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(!out.status.success(), "run {run}: {stdout}");
        assert!(
            stderr.contains(&format!("(id {})", cut.id))
                && stderr.contains("incomplete JPEG: no end-of-image marker (FF D9)")
                && stderr.contains("1 of 11 images could not be collected"),
            "run {run}: {stderr}"
        );
        assert!(
            stderr.contains("retrying") && stderr.contains("incomplete JPEG"),
            "run {run}: the cut download was not retried: {stderr}"
        );
        assert!(!cut_path.exists(), "run {run}: the cut JPEG was written");
        // run 1: every picture, the cut one twice; run 2: only the cut one, twice again
        let expected = if run == 1 { pictures + 1 } else { pictures + 3 };
        assert_eq!(fake.image_requests(), expected, "run {run}");
    }
    assert_eq!(
        fs::read_dir(dir.path().join("images")).unwrap().count(),
        10,
        "the 10 whole pictures, nothing else"
    );
}
