//! `loader collect characters`: page through `/v1/public/characters` and write
//! `characters.json`.
//!
//! # Paging
//! `limit=100`, and the next `offset` is the previous one plus the `count` the API actually
//! returned (the original script added 101 and lost one character per page), until `total` is
//! reached. Characters are deduplicated by id; if the distinct characters do not add up to
//! `total`, the run fails and writes nothing.
//!
//! # Resuming
//! Each page is appended, as one JSON line, to `DIR/.collect-state.jsonl` (first line: a header
//! naming the API URL and page size) and fsynced. A re-run against the same API replays those
//! pages and goes on from the next offset; a line cut short by a crash is dropped. When every
//! page is in, `characters.json` is written atomically and the state file removed.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::api::{MarvelApi, Page};
use super::auth::Credentials;
use super::error::CollectError;
use super::fsutil::{sweep_temp_files, write_atomic};
use super::http::{HttpClient, HttpOptions};
use super::progress;
use crate::dataset::MarvelCharacter;

/// The file name of the collected characters.
pub const CHARACTERS_FILE: &str = "characters.json";
/// The partial-progress file kept while collecting.
pub const STATE_FILE: &str = ".collect-state.jsonl";
const STATE_VERSION: u32 = 1;

/// What `collect characters` needs.
#[derive(Clone, Debug)]
pub struct CharactersOptions {
    /// The dataset folder to write `characters.json` into (created if missing).
    pub out: PathBuf,
    /// The API's base URL ([`super::DEFAULT_API_URL`] for the real one).
    pub api_url: String,
    /// The keys.
    pub credentials: Credentials,
    /// Characters per page (at most [`super::MAX_PAGE_SIZE`]).
    pub page_size: u32,
    /// Timeouts and retries.
    pub http: HttpOptions,
}

/// What `collect characters` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CharactersSummary {
    /// The file written.
    pub path: PathBuf,
    /// Distinct characters written (= the API's `total`).
    pub characters: u64,
    /// Pages fetched in this run.
    pub pages_fetched: u64,
    /// Pages replayed from the state file of an interrupted run.
    pub pages_resumed: u64,
    /// Characters the API returned more than once (dropped).
    pub duplicates: u64,
    /// Requests retried (429, 5xx, timeouts).
    pub retries: u64,
}

#[derive(Serialize, Deserialize, PartialEq, Eq)]
struct Header {
    version: u32,
    api_url: String,
    page_size: u32,
}

#[derive(Serialize, Deserialize)]
struct StoredPage {
    offset: u64,
    count: u64,
    total: u64,
    results: Vec<Value>,
}

/// The characters gathered so far, deduplicated, in API order.
#[derive(Default)]
struct Gathered {
    characters: Vec<Value>,
    ids: HashSet<u64>,
    duplicates: u64,
    /// The next offset to ask for.
    next_offset: u64,
    /// The API's latest `total`, once a page has been seen.
    total: Option<u64>,
}

impl Gathered {
    /// Adds a page, checking each result is a character object with an id and a name.
    fn add(
        &mut self,
        offset: u64,
        count: u64,
        total: u64,
        results: Vec<Value>,
    ) -> Result<(), String> {
        for (i, character) in results.into_iter().enumerate() {
            // The same type `Dataset::load` reads, so that what we write will load.
            let id = MarvelCharacter::deserialize(&character)
                .map_err(|e| {
                    format!("result {i} of the page at offset {offset} is not a character: {e}")
                })?
                .id;
            if self.ids.insert(id) {
                self.characters.push(character);
            } else {
                self.duplicates += 1;
            }
        }
        self.next_offset = offset + count;
        self.total = Some(total);
        Ok(())
    }

    fn done(&self) -> bool {
        self.total.is_some_and(|total| self.next_offset >= total)
    }
}

/// Collects every character into `options.out/characters.json`.
///
/// # Errors
/// Missing folder permissions, a rejected request (bad keys), retries exhausted, an answer that
/// is not a character page, or a `total` that paging cannot reach. On error the previous
/// `characters.json` (if any) is untouched, and the pages fetched so far stay in the state file
/// for the next run (except when the `total` cannot be reached: then the next run starts over).
pub async fn collect_characters(
    options: &CharactersOptions,
) -> Result<CharactersSummary, CollectError> {
    let page_size = options.page_size.clamp(1, super::api::MAX_PAGE_SIZE);
    fs::create_dir_all(&options.out).map_err(|e| CollectError::io(&options.out, e))?;
    sweep_temp_files(&options.out);
    let http = HttpClient::new(options.http, 1)?;
    let api = MarvelApi::new(&http, &options.api_url, &options.credentials)?;

    let header = Header {
        version: STATE_VERSION,
        api_url: options.api_url.clone(),
        page_size,
    };
    let state_path = options.out.join(STATE_FILE);
    let (mut gathered, pages_resumed) = resume(&state_path, &header)?;
    let mut state = open_state(&state_path, &header, pages_resumed > 0)?;

    let bar = progress::bar(gathered.total.unwrap_or(0), "characters");
    bar.set_position(gathered.characters.len() as u64);
    let mut pages_fetched = 0;
    while !gathered.done() {
        let offset = gathered.next_offset;
        let page: Page = api.characters(offset, page_size, &bar).await?;
        let bad = |detail: String| CollectError::BadResponse {
            url: api.endpoint(),
            detail,
        };
        if page.offset != offset {
            return Err(bad(format!(
                "asked for offset {offset}, got offset {}",
                page.offset
            )));
        }
        if page.count != page.results.len() as u64 {
            return Err(bad(format!(
                "page at offset {offset} says count {} but holds {} results",
                page.count,
                page.results.len()
            )));
        }
        if page.count == 0 && offset < page.total {
            let _ = fs::remove_file(&state_path);
            return Err(CollectError::Incomplete {
                total: page.total,
                unique: gathered.characters.len() as u64,
                detail: format!("the page at offset {offset} came back empty"),
            });
        }
        let stored = StoredPage {
            offset,
            count: page.count,
            total: page.total,
            results: page.results,
        };
        let line = serde_json::to_string(&stored).map_err(|e| bad(e.to_string()))?;
        gathered
            .add(offset, stored.count, stored.total, stored.results)
            .map_err(bad)?;
        writeln!(state, "{line}")
            .and_then(|()| state.sync_data())
            .map_err(|e| CollectError::io(&state_path, e))?;
        pages_fetched += 1;
        bar.set_length(page.total);
        bar.set_position(gathered.characters.len() as u64);
    }
    bar.finish_and_clear();

    let total = gathered.total.unwrap_or(0);
    if gathered.characters.len() as u64 != total {
        let _ = fs::remove_file(&state_path);
        return Err(CollectError::Incomplete {
            total,
            unique: gathered.characters.len() as u64,
            detail: format!(
                "{} duplicates were returned while paging; the data changed during the run",
                gathered.duplicates
            ),
        });
    }

    let path = options.out.join(CHARACTERS_FILE);
    write_atomic(&path, |w| {
        serde_json::to_writer_pretty(&mut *w, &gathered.characters)?;
        w.write_all(b"\n")
    })?;
    drop(state);
    fs::remove_file(&state_path).map_err(|e| CollectError::io(&state_path, e))?;
    Ok(CharactersSummary {
        path,
        characters: total,
        pages_fetched,
        pages_resumed,
        duplicates: gathered.duplicates,
        retries: http.retries(),
    })
}

/// Replays the state file of an interrupted run, if it belongs to the same API and page size.
/// Returns what it holds and how many pages; cuts the file back to its last whole page.
fn resume(path: &Path, header: &Header) -> Result<(Gathered, u64), CollectError> {
    let mut gathered = Gathered::default();
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((gathered, 0)),
        Err(e) => return Err(CollectError::io(path, e)),
    };
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    let mut good_len = 0u64;
    let mut pages = 0;
    let mut first = true;
    loop {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .map_err(|e| CollectError::io(path, e))?;
        if read == 0 || !line.ends_with('\n') {
            break;
        }
        if first {
            first = false;
            if serde_json::from_str::<Header>(&line).ok().as_ref() != Some(header) {
                // Another API or page size: start over.
                return Ok((Gathered::default(), 0));
            }
        } else {
            let Ok(page) = serde_json::from_str::<StoredPage>(&line) else {
                break;
            };
            if page.offset != gathered.next_offset || page.count != page.results.len() as u64 {
                break;
            }
            let mut next = std::mem::take(&mut gathered);
            if next
                .add(page.offset, page.count, page.total, page.results)
                .is_err()
            {
                gathered = Gathered::default();
                pages = 0;
                good_len = 0;
                break;
            }
            gathered = next;
            pages += 1;
        }
        good_len += read as u64;
    }
    if pages == 0 {
        return Ok((Gathered::default(), 0));
    }
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| CollectError::io(path, e))?;
    file.set_len(good_len)
        .map_err(|e| CollectError::io(path, e))?;
    Ok((gathered, pages))
}

/// Opens the state file for appending; a fresh one starts with the header.
fn open_state(path: &Path, header: &Header, resuming: bool) -> Result<File, CollectError> {
    if resuming {
        return OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| CollectError::io(path, e));
    }
    let mut file = File::create(path).map_err(|e| CollectError::io(path, e))?;
    let line = serde_json::to_string(header).map_err(|e| CollectError::BadFile {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    writeln!(file, "{line}")
        .and_then(|()| file.sync_data())
        .map_err(|e| CollectError::io(path, e))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header() -> Header {
        Header {
            version: STATE_VERSION,
            api_url: "http://x".into(),
            page_size: 2,
        }
    }

    fn page(offset: u64, ids: &[u64], total: u64) -> String {
        let results: Vec<Value> = ids.iter().map(|id| character(*id)).collect();
        serde_json::to_string(&StoredPage {
            offset,
            count: ids.len() as u64,
            total,
            results,
        })
        .unwrap()
    }

    fn character(id: u64) -> Value {
        json!({"id": id, "name": format!("n{id}"), "thumbnail": {"path": "http://x/a", "extension": "jpg"}})
    }

    #[test]
    fn resume_replays_whole_pages_and_drops_a_cut_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        let whole = format!(
            "{}\n{}\n{}\n",
            serde_json::to_string(&header()).unwrap(),
            page(0, &[1, 2], 5),
            page(2, &[3, 4], 5)
        );
        let cut = &page(4, &[5], 5)[..10];
        fs::write(&path, format!("{whole}{cut}")).unwrap();
        let (gathered, pages) = resume(&path, &header()).unwrap();
        assert_eq!(pages, 2);
        assert_eq!(gathered.next_offset, 4);
        assert_eq!(gathered.total, Some(5));
        assert_eq!(gathered.characters.len(), 4);
        assert_eq!(fs::read_to_string(&path).unwrap(), whole);
    }

    #[test]
    fn resume_ignores_another_api() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        let other = Header {
            api_url: "http://other".into(),
            ..header()
        };
        fs::write(
            &path,
            format!(
                "{}\n{}\n",
                serde_json::to_string(&other).unwrap(),
                page(0, &[1, 2], 5)
            ),
        )
        .unwrap();
        let (gathered, pages) = resume(&path, &header()).unwrap();
        assert_eq!((pages, gathered.characters.len()), (0, 0));
    }

    #[test]
    fn gathered_dedupes_by_id_and_advances_by_count() {
        let mut g = Gathered::default();
        g.add(0, 2, 4, vec![character(1), character(2)]).unwrap();
        g.add(2, 2, 4, vec![character(2), character(3)]).unwrap();
        assert_eq!((g.characters.len(), g.duplicates, g.next_offset), (3, 1, 4));
        assert!(g.done());
        let err = g.add(4, 1, 5, vec![json!({"name": "no id"})]).unwrap_err();
        assert!(err.contains("offset 4"), "{err}");
    }
}
