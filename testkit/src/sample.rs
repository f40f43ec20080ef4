//! The sample dataset and stores filled from it: the one place tests build a store.
//!
//! The dataset is generated once per test run (nextest runs each test in its own process) into
//! a folder under the system's temp dir named by the dataset's count and seed: written to a
//! temporary folder first, then renamed into place, so a process only ever sees a complete one.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::model::CharacterId;
use common::store::Store;
use loader::dataset::{Dataset, Entry};

/// Characters in the sample dataset the tests use.
pub const COUNT: usize = loader::sample::DEFAULT_COUNT;

/// The sample dataset's folder, written once and shared by every test process.
pub fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let parent = std::env::temp_dir();
        let dir = parent.join(format!(
            "superpower-testkit-sample-{}-{}-{}",
            env!("CARGO_PKG_VERSION"),
            COUNT,
            loader::sample::DEFAULT_SEED
        ));
        if !dir.join("characters.json").exists() {
            let tmp = tempfile::tempdir_in(&parent).expect("temp dir");
            loader::sample::write(tmp.path(), COUNT, loader::sample::DEFAULT_SEED)
                .expect("sample dataset");
            // another process may have won the race: either way a complete dataset is in place
            let _ = std::fs::rename(tmp.keep(), &dir);
        }
        dir
    })
}

/// The sample dataset as the loader loads (and validates) it, once per process.
pub fn dataset() -> &'static Dataset {
    static DATASET: OnceLock<Dataset> = OnceLock::new();
    DATASET.get_or_init(|| Dataset::load(dir()).expect("the sample dataset loads"))
}

/// The sample dataset's entries (record + image file), eligible or not.
pub fn entries() -> &'static [Entry] {
    dataset().entries()
}

/// The eligible ids of the sample dataset, in id order.
pub fn eligible_ids() -> Vec<CharacterId> {
    let mut ids: Vec<CharacterId> = entries()
        .iter()
        .filter(|e| e.record.eligible)
        .map(|e| e.record.id)
        .collect();
    ids.sort_unstable();
    ids
}

/// Opens the store at `path` and ingests the sample dataset into it.
pub fn ingest_into(path: &Path) -> Store {
    let store = Store::open(path).expect("store opens");
    loader::ingest::ingest(dataset(), &store, &loader::ingest::Options::default()).expect("ingest");
    store
}

/// Ingests a variant of the sample dataset into a new store at `path` (closed again before
/// returning): the dataset is copied to a temp dir, `change` edits the copy (for example
/// replaces an image file), and the copy is loaded and ingested. `change` gets the copy's
/// folder; [`variant_path`] maps a sample file's path into it.
///
/// # Panics
/// When the copy, the load or the ingest fails (a test fixture).
pub fn ingest_variant(path: &Path, change: impl FnOnce(&Path)) {
    let tmp = tempfile::tempdir().expect("temp dir");
    copy_dir(dir(), tmp.path());
    change(tmp.path());
    let dataset = Dataset::load(tmp.path()).expect("the variant loads");
    let store = Store::open(path).expect("store opens");
    loader::ingest::ingest(&dataset, &store, &loader::ingest::Options::default()).expect("ingest");
}

/// Where the sample file `file` is in a copy of the dataset at `copy` ([`ingest_variant`]).
///
/// # Panics
/// When `file` is not in the sample dataset's folder.
pub fn variant_path(copy: &Path, file: &Path) -> PathBuf {
    copy.join(
        file.strip_prefix(dir())
            .expect("a file of the sample dataset"),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A fresh store in its own temp dir, open, with the sample dataset ingested (or empty).
pub fn fresh_store(ingest: bool) -> (tempfile::TempDir, PathBuf, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store");
    let store = if ingest {
        ingest_into(&path)
    } else {
        Store::open(&path).expect("store opens")
    };
    (dir, path, store)
}

/// Opens a store that was just closed in this process. sled's background threads can hold
/// its file lock for a moment after the last handle is dropped, so retry (bounded, 10 s).
pub async fn reopen(path: &Path) -> Store {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(path) {
            Ok(store) => return store,
            Err(err) => {
                assert!(
                    Instant::now() < deadline,
                    "cannot reopen {}: {err}",
                    path.display()
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
