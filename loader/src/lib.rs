//! The superpower loader: the dataset format, the fictional sample dataset, and the atomic ingest
//! of a dataset into the sled stores powersource serves from.
//!
//! # Layout
//! - [`dataset`]: the dataset format, and [`dataset::Dataset::load`], which reads and validates a
//!   dataset folder (`characters.json` + `images/`) with errors that name the file, the record
//!   and the problem. Its private modules, one concern each:
//!   - `dataset::format`: the folder layout, the limits, the Marvel character JSON types, the
//!     size of a character's JSON answer and the learn-more url rule;
//!   - `dataset::parse`: `characters.json` read within its size limit, record by record, with
//!     file positions;
//!   - `dataset::images`: the image checks (shared with `collect`), the bounded read of regular
//!     files only, the ETag;
//!   - `dataset::error`: [`dataset::DatasetError`], [`dataset::Problem`], [`dataset::Warning`];
//!   - `dataset::entry`: one validated character and its image file;
//!   - `dataset::fingerprint`: the content digest of a dataset;
//!   - `dataset::load`: [`dataset::Dataset`], running the checks in order, and the counts.
//! - [`sample`]: [`sample::write`] generates the original, fictional sample dataset
//!   deterministically, portraits included (`sample::portrait` draws them, `sample::words` holds
//!   the word lists the names are made from).
//! - [`ingest`]: [`ingest::ingest`] writes a validated dataset into an open
//!   [`common::store::Store`] through its atomic generation switch.
//! - [`collect`]: `loader collect characters|images`, gathering the real data from the Marvel
//!   API into a dataset folder (resumable, with retries and progress); its own `# Layout` lists
//!   its modules (`auth`, `http`, `api`, `characters`, `images`, `fsutil`, `progress`, `cli`,
//!   `error`).
//! - [`cli`]: the `loader` command line (clap): `sample`, `ingest`, `collect`.
//! - [`error`]: the error of a command.
//!
//! # Example
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::path::Path::new("var/sample");
//! loader::sample::write(dir, 250, loader::sample::DEFAULT_SEED)?;
//! let dataset = loader::dataset::Dataset::load(dir)?;
//! let store = common::store::Store::open(std::path::Path::new("var/stores/demo"))?;
//! loader::ingest::ingest(&dataset, &store, &loader::ingest::Options::default())?;
//! # Ok(()) }
//! ```

pub mod cli;
pub mod collect;
pub mod dataset;
pub mod error;
pub mod ingest;
pub mod sample;

pub use error::Error;
