//! The error of a `loader` command: one enum over every module's errors, so that `main` prints
//! one clear message and exits non-zero.

use std::io;

use thiserror::Error;

use crate::dataset::DatasetError;
use crate::ingest::IngestError;
use crate::sample::SampleError;
use common::store::StoreError;

/// Why a `loader` command failed. Each message names the file, the record and the problem
/// where there is one.
#[derive(Debug, Error)]
pub enum Error {
    /// The dataset is not valid.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// Writing a store failed.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// A store could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sample dataset could not be written.
    #[error(transparent)]
    Sample(#[from] SampleError),
    /// `loader collect` failed.
    #[error(transparent)]
    Collect(#[from] crate::collect::CollectError),
    /// No temporary folder for the built-in sample dataset.
    #[error("cannot make a temporary folder for the built-in sample dataset: {0}")]
    TempDir(io::Error),
    /// The same store was named twice (sled lets one writer hold a store).
    #[error("store {0} is given more than once")]
    DuplicateStore(String),
}
