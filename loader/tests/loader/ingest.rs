//! `loader ingest`: what lands in the store, re-ingest, several stores, the built-in sample,
//! missing images.

use std::process::Command;
use std::time::Duration;

use common::store::Store;
use loader::dataset::Dataset;

use crate::support::*;

#[test]
fn ingest_writes_every_record_and_image_as_the_dataset_says() {
    let tmp = tempfile::tempdir().unwrap();
    let data = sample(tmp.path(), "data", 40, 5);
    let store_path = tmp.path().join("store");
    let (stdout, _) = ingest_ok(&data, &store_path);
    assert!(stdout.contains("ingested 40 characters"), "{stdout}");
    assert!(stdout.contains("generation 1"), "{stdout}");

    let store = Store::open(&store_path).unwrap();
    let dataset = Dataset::load(&data).unwrap();
    assert_holds(&store, &dataset);

    // and the records say what characters.json says
    let snap = store.current().unwrap().unwrap();
    assert_eq!(snap.info().characters, 40);
    assert_eq!(snap.info().source, s(&data));
    for c in characters(&data) {
        let id = c["id"].as_u64().unwrap();
        let r = snap.character(id).unwrap().unwrap();
        assert_eq!(r.name, c["name"].as_str().unwrap());
        assert_eq!(r.description, c["description"].as_str().unwrap());
        assert_eq!(r.modified, c["modified"].as_str().unwrap());
        let detail = c["urls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["type"] == "detail")
            .map(|u| u["url"].as_str().unwrap().to_owned());
        assert_eq!(r.learn_more_url, detail);
        assert_eq!(r.eligible, !is_placeholder(&c));
        match snap.image(id).unwrap() {
            Some(img) => {
                let bytes = std::fs::read(image_path(&data, &c)).unwrap();
                assert_eq!(img.etag, format!("\"{:x}\"", md5::compute(&bytes)));
                let ext = c["thumbnail"]["extension"].as_str().unwrap();
                assert_eq!(
                    img.content_type,
                    if ext == "png" {
                        "image/png"
                    } else {
                        "image/jpeg"
                    }
                );
                assert!(img.bytes == bytes);
            }
            None => assert!(is_placeholder(&c), "{id} has no image"),
        }
    }
}

#[test]
fn reingesting_the_same_data_changes_nothing_and_new_data_replaces_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = sample(tmp.path(), "data", 20, 1);
    let store_path = tmp.path().join("store");
    ingest_ok(&data, &store_path);
    let first = {
        let store = Store::open(&store_path).unwrap();
        let snap = store.current().unwrap().unwrap();
        (snap.generation(), snap.info().clone())
    };
    // the same data from another folder is the same dataset
    let copy = tmp.path().join("copy");
    copy_dataset(&data, &copy);
    let (stdout, _) = ingest_ok(&copy, &store_path);
    assert!(stdout.contains("unchanged"), "{stdout}");
    {
        let store = Store::open(&store_path).unwrap();
        let snap = store.current().unwrap().unwrap();
        assert_eq!((snap.generation(), snap.info().clone()), first);
        assert_eq!(store.generations(), vec![first.0]);
    }
    // a changed description is a new dataset
    let mut chars = characters(&copy);
    chars[3]["description"] = "Changed.".into();
    write_characters(&copy, &chars);
    let (stdout, _) = ingest_ok(&copy, &store_path);
    assert!(stdout.contains("generation 2"), "{stdout}");
    let store = Store::open(&store_path).unwrap();
    assert_holds(&store, &Dataset::load(&copy).unwrap());
    assert_eq!(
        store.generations(),
        vec![2],
        "the old generation is dropped"
    );
}

#[test]
fn several_stores_get_the_same_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let data = sample(tmp.path(), "data", 15, 2);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    ingest_ok(&data, &a);
    let out = run(&[
        "ingest",
        "--data",
        s(&data),
        "--store",
        s(&a),
        "--store",
        s(&b),
    ]);
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.lines().next().unwrap().contains("unchanged"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .nth(1)
            .unwrap()
            .contains("ingested 15 characters"),
        "{stdout}"
    );
    let dataset = Dataset::load(&data).unwrap();
    for p in [&a, &b] {
        assert_holds(&Store::open(p).unwrap(), &dataset);
    }
    let out = run(&[
        "ingest",
        "--data",
        s(&data),
        "--store",
        s(&a),
        "--store",
        s(&a),
    ]);
    assert!(!out.status.success());
    assert!(
        texts(&out).1.contains("more than once"),
        "{}",
        texts(&out).1
    );
}

#[test]
fn without_data_the_builtin_sample_is_ingested() {
    let tmp = tempfile::tempdir().unwrap();
    let store_path = tmp.path().join("store");
    let out = run(&["ingest", "--store", s(&store_path)]);
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("ingested 250 characters"), "{stdout}");
    let expected = sample(
        tmp.path(),
        "sample",
        loader::sample::DEFAULT_COUNT,
        loader::sample::DEFAULT_SEED,
    );
    let store = Store::open(&store_path).unwrap();
    assert_holds(&store, &Dataset::load(&expected).unwrap());
    assert!(store
        .current()
        .unwrap()
        .unwrap()
        .info()
        .source
        .starts_with("sample"));
}

#[test]
fn a_missing_image_is_ingested_as_not_eligible_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let data = sample(tmp.path(), "data", 30, 3);
    let chars = characters(&data);
    let gone: Vec<_> = chars
        .iter()
        .filter(|c| !is_placeholder(c))
        .take(2)
        .collect();
    for c in &gone {
        std::fs::remove_file(image_path(&data, c)).unwrap();
    }
    let store_path = tmp.path().join("store");
    let (stdout, stderr) = ingest_ok(&data, &store_path);
    for c in &gone {
        assert!(stderr.contains(c["name"].as_str().unwrap()), "{stderr}");
    }
    assert!(
        stderr.contains("2 characters have no image file"),
        "{stderr}"
    );
    assert!(stdout.contains("2 missing images"), "{stdout}");

    let store = Store::open(&store_path).unwrap();
    let snap = store.current().unwrap().unwrap();
    assert_eq!(snap.info().missing_images, 2);
    for c in &gone {
        let id = c["id"].as_u64().unwrap();
        assert!(!snap.character(id).unwrap().unwrap().eligible);
        assert!(snap.image(id).unwrap().is_none());
    }
    assert_holds(&store, &Dataset::load(&data).unwrap());
}

#[test]
fn a_dataset_over_powersources_memory_limit_is_ingested_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let data = sample(tmp.path(), "data", 250, 6);
    let need = Dataset::load(&data).unwrap().need();
    // the sample fits the manifests' limit (128 MiB, the default): not a word
    let (_, stderr) = ingest_ok(&data, &tmp.path().join("fits"));
    assert!(!stderr.contains("memory limit"), "{stderr}");

    // 13 MiB is less than it needs: ingested all the same, with the estimate and what fits
    let expected = format!("warning: {}\n", need.over(13).expect("over 13 MiB"));
    let store_path = tmp.path().join("small");
    let out = ingest(&data, &store_path, &["--memory-limit-mib", "13"]);
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("ingested 250 characters"), "{stdout}");
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: {} eligible characters with ",
            need.eligible
        )) && stderr.contains("over its memory limit of 13 MiB, which fits about ")
            && stderr.contains("--memory-limit-mib"),
        "{stderr}"
    );
    assert_holds(
        &Store::open(&store_path).unwrap(),
        &Dataset::load(&data).unwrap(),
    );

    // the limit can come from the variable powersource reads too
    let out = loader()
        .args(["ingest", "--data", s(&data), "--store"])
        .arg(tmp.path().join("env"))
        .env_remove("LOADER_DATA")
        .env_remove("LOADER_STORE")
        .env("POWERSOURCE_MEMORY_LIMIT_MIB", "13")
        .output()
        .unwrap();
    let (_, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn a_dataset_with_no_eligible_character_is_refused_unless_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = sample(tmp.path(), "data", 12, 4);
    std::fs::remove_dir_all(data.join("images")).unwrap();
    let store_path = tmp.path().join("store");
    let out = ingest(&data, &store_path, &[]);
    let (stdout, stderr) = texts(&out);
    assert!(!out.status.success(), "ingested: {stdout}");
    assert!(
        stderr.contains("has no eligible character")
            && stderr.contains("every powersource serving it would be unhealthy")
            && stderr.contains("--allow-empty"),
        "{stderr}"
    );
    assert!(!store_path.exists(), "a store was opened");

    // an empty array too
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("characters.json"), "[]").unwrap();
    let out = ingest(&empty, &store_path, &[]);
    assert!(!out.status.success());
    assert!(texts(&out).1.contains("--allow-empty"), "{}", texts(&out).1);

    // asked explicitly: ingested, with nothing to serve
    let out = ingest(&data, &store_path, &["--allow-empty"]);
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("ingested 12 characters (0 eligible"),
        "{stdout}"
    );
    let store = Store::open(&store_path).unwrap();
    assert_eq!(store.current().unwrap().unwrap().info().eligible, 0);
    assert_holds(&store, &Dataset::load(&data).unwrap());

    // the library refuses it too, unless told
    let dataset = Dataset::load(&empty).unwrap();
    let other = Store::open(&tmp.path().join("other")).unwrap();
    let err =
        loader::ingest::ingest(&dataset, &other, &loader::ingest::Options::default()).unwrap_err();
    assert!(err.to_string().contains("no eligible character"), "{err}");
    assert!(other.current().unwrap().is_none());
    let options = loader::ingest::Options {
        allow_empty: true,
        ..Default::default()
    };
    loader::ingest::ingest(&dataset, &other, &options).unwrap();
    assert!(other.current().unwrap().is_some());
}

#[test]
fn an_image_that_is_not_a_regular_file_makes_its_character_not_eligible() {
    let tmp = tempfile::tempdir().unwrap();
    let data = sample(tmp.path(), "data", 30, 6);
    let chars = characters(&data);
    let with_image: Vec<_> = chars.iter().filter(|c| !is_placeholder(c)).collect();
    let (fifo, dir) = (with_image[0], with_image[1]);
    let fifo_path = image_path(&data, fifo);
    std::fs::remove_file(&fifo_path).unwrap();
    let made = Command::new("mkfifo").arg(&fifo_path).status().unwrap();
    assert!(made.success(), "mkfifo failed");
    let dir_path = image_path(&data, dir);
    std::fs::remove_file(&dir_path).unwrap();
    std::fs::create_dir(&dir_path).unwrap();

    let store_path = tmp.path().join("store");
    let out = run_bounded(
        &["ingest", "--data", s(&data), "--store", s(&store_path)],
        Duration::from_secs(30),
    );
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    for (c, path) in [(fifo, &fifo_path), (dir, &dir_path)] {
        let line = stderr
            .lines()
            .find(|l| l.contains(c["name"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("no warning for {}: {stderr}", c["name"]));
        assert!(
            line.contains(&path.display().to_string())
                && line.contains("not a regular file")
                && line.contains("stored as not eligible"),
            "{line}"
        );
    }
    assert!(stdout.contains("2 missing images"), "{stdout}");
    let store = Store::open(&store_path).unwrap();
    let snap = store.current().unwrap().unwrap();
    for c in [fifo, dir] {
        let id = c["id"].as_u64().unwrap();
        assert!(!snap.character(id).unwrap().unwrap().eligible);
        assert!(snap.image(id).unwrap().is_none());
    }
}

#[test]
fn an_image_linked_from_outside_the_dataset_is_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let data = sample(tmp.path(), "data", 30, 8);
    let chars = characters(&data);
    let with_image: Vec<_> = chars.iter().filter(|c| !is_placeholder(c)).collect();
    let (outside, inside) = (with_image[0], with_image[1]);

    // a valid image, but outside the dataset folder, reached through a symlink
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let outside_path = image_path(&data, outside);
    let target = elsewhere.join(outside_path.file_name().unwrap());
    std::fs::rename(&outside_path, &target).unwrap();
    std::os::unix::fs::symlink(&target, &outside_path).unwrap();
    // a symlink to a file inside the dataset folder is fine
    let inside_path = image_path(&data, inside);
    let moved = data.join(format!(
        "kept-{}",
        inside_path.file_name().unwrap().to_str().unwrap()
    ));
    std::fs::rename(&inside_path, &moved).unwrap();
    std::os::unix::fs::symlink(
        std::path::Path::new("..").join(moved.file_name().unwrap()),
        &inside_path,
    )
    .unwrap();

    let store_path = tmp.path().join("store");
    let (stdout, stderr) = ingest_ok(&data, &store_path);
    let line = stderr
        .lines()
        .find(|l| l.contains(outside["name"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("no warning for {}: {stderr}", outside["name"]));
    let canonical = std::fs::canonicalize(&target).unwrap();
    assert!(
        line.contains(&outside_path.display().to_string())
            && line.contains(&canonical.display().to_string())
            && line.contains("outside the dataset folder")
            && line.contains("stored as not eligible"),
        "{line}"
    );
    assert!(
        !stderr.contains(inside["name"].as_str().unwrap()),
        "{stderr}"
    );
    assert!(stdout.contains("1 missing images"), "{stdout}");
    let store = Store::open(&store_path).unwrap();
    let snap = store.current().unwrap().unwrap();
    let id = outside["id"].as_u64().unwrap();
    assert!(!snap.character(id).unwrap().unwrap().eligible);
    assert!(snap.image(id).unwrap().is_none());
    let id = inside["id"].as_u64().unwrap();
    assert!(snap.character(id).unwrap().unwrap().eligible);
    assert_eq!(
        snap.image(id).unwrap().unwrap().bytes,
        std::fs::read(&moved).unwrap()
    );
}

#[test]
fn only_http_and_https_learn_more_links_are_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let data = sample(tmp.path(), "data", 30, 9);
    let mut chars = characters(&data);
    let links = [
        ("javascript:alert(document.cookie)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("ftp://marvel.com/characters/1", None),
        (" javascript:alert(1)", None),
        ("http://", None),
        (
            "HTTPS://Marvel.com/characters/2",
            Some("HTTPS://Marvel.com/characters/2"),
        ),
        (
            "http://marvel.com/characters/3",
            Some("http://marvel.com/characters/3"),
        ),
    ];
    for (c, (url, _)) in chars.iter_mut().zip(links) {
        c["urls"] = serde_json::json!([{"type": "detail", "url": url}]);
    }
    write_characters(&data, &chars);
    let store_path = tmp.path().join("store");
    let (_, stderr) = ingest_ok(&data, &store_path);

    let store = Store::open(&store_path).unwrap();
    let snap = store.current().unwrap().unwrap();
    for (c, (url, stored)) in chars.iter().zip(links) {
        let id = c["id"].as_u64().unwrap();
        let record = snap.character(id).unwrap().unwrap();
        assert_eq!(record.learn_more_url.as_deref(), stored, "{url}");
        let warned = stderr
            .lines()
            .find(|l| l.contains(c["name"].as_str().unwrap()));
        match stored {
            None => {
                let line = warned.unwrap_or_else(|| panic!("no warning for {url:?}: {stderr}"));
                assert!(
                    line.contains(&format!("{url:?}"))
                        && line.contains("not an http or https url")
                        && line.contains("stored without a learn-more link"),
                    "{line}"
                );
            }
            Some(_) => assert!(warned.is_none(), "{stderr}"),
        }
    }
}
