//! `loader collect`: gather the real characters and their images from the Marvel API into a
//! dataset folder ([`crate::dataset`] format) — every character exactly once, resumable,
//! polite (retries with backoff and jitter, `Retry-After`), with progress.
//!
//! # Layout
//! - [`auth`]: the keys (private key kept in `secrecy`) and the `ts`/`apikey`/`hash` signature.
//! - `http`: the shared reqwest (rustls) client with retries; [`HttpOptions`], [`RetryPolicy`].
//! - `api`: one signed call of `/v1/public/characters`, and the API's errors made readable.
//! - [`characters`]: paging into `characters.json`, with a resumable state file.
//! - [`images`]: bounded-concurrency downloads into `images/{slug}.{extension}`.
//! - `fsutil`: atomic file replacement (temp file, fsync, rename, fsync the folder).
//! - `progress`: indicatif bars on a terminal, nothing otherwise.
//! - [`cli`]: the `collect` subcommand's arguments and its runner.
//! - [`error`]: what can go wrong ([`CollectError`]).

mod api;
pub mod auth;
pub mod characters;
pub mod cli;
pub mod error;
mod fsutil;
mod http;
pub mod images;
mod progress;

pub use api::{DEFAULT_API_URL, MAX_PAGE_SIZE};
pub use auth::Credentials;
pub use characters::{collect_characters, CharactersOptions, CharactersSummary};
pub use error::CollectError;
pub use http::{HttpOptions, RetryPolicy};
pub use images::{collect_images, ImageFailure, ImagesOptions, ImagesSummary, DEFAULT_CONCURRENCY};
