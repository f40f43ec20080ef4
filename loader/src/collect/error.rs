//! What can go wrong while collecting.

use std::path::PathBuf;

use thiserror::Error;

/// An error that stops `loader collect`. (A single image that cannot be downloaded is not one
/// of these: it is recorded in [`super::ImagesSummary::failures`] and the run goes on.)
#[derive(Debug, Error)]
pub enum CollectError {
    /// No keys were given.
    #[error(
        "missing Marvel API keys: set {missing} (or pass --public-key / --private-key).\n\
         Get a free key pair at https://developer.marvel.com/ (sign in, then \"Get a Key\"), then:\n  \
         export MARVEL_API_PUBLIC_KEY=your-public-key\n  \
         export MARVEL_API_PRIVATE_KEY=your-private-key"
    )]
    MissingKeys {
        /// Which variables are missing.
        missing: String,
    },
    /// The API said no, in a way that retrying cannot fix (401, 403, 409, other 4xx).
    #[error("the Marvel API refused the request (HTTP {status}{code}): {message}{hint}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The API's `code` field, formatted as `, CodeName`, or empty.
        code: String,
        /// The API's `message` (or `status`) field, or the start of the body.
        message: String,
        /// What the user can do, starting with a newline, or empty.
        hint: String,
    },
    /// Retries were exhausted (429, 5xx, timeouts, connection errors).
    #[error("giving up on {url}: {detail}")]
    GaveUp {
        /// The URL, without the authentication parameters.
        url: String,
        /// The last failure.
        detail: String,
    },
    /// The API answered 200 with something that is not a character page.
    #[error("unexpected answer from {url}: {detail}")]
    BadResponse {
        /// The URL, without the authentication parameters.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// Paging ended before the API's `total` was reached.
    #[error(
        "the Marvel API reported {total} characters but only {unique} distinct ones could be \
         collected ({detail}); nothing was written, run the command again"
    )]
    Incomplete {
        /// The API's `total`.
        total: u64,
        /// Distinct characters collected.
        unique: u64,
        /// Why paging stopped.
        detail: String,
    },
    /// A URL given on the command line or found in the data is not usable.
    #[error("invalid URL {url:?}: {detail}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file holds something other than what was expected.
    #[error("{path}: {detail}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// `characters.json` could not be read within the dataset's limits.
    #[error(transparent)]
    Dataset(Box<crate::dataset::DatasetError>),
    /// Some images could not be collected (the others were; each failure was listed).
    #[error(
        "{failed} of {wanted} images could not be collected; run the command again to retry them"
    )]
    ImagesFailed {
        /// Images that failed.
        failed: u64,
        /// Images wanted.
        wanted: u64,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The HTTP client could not be built (a TLS set-up problem).
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

impl CollectError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CollectError::Io {
            path: path.into(),
            source,
        }
    }
}
