//! Test fixtures shared by the tests of powersource and superpower (dev-only; it depends on
//! the loader and on neither service, so no crate depends on itself through its tests).
//!
//! # Layout
//! - [`sample`]: the sample dataset, written once per test run and shared by every test
//!   process, and stores filled from it through the loader library.
//! - [`http`]: a keep-alive HTTP client that reads each answer whole into a [`http::Reply`].
//! - [`checks`]: assertions both services' tests make alike (HEAD answered as GET, a body
//!   that never arrives).
//! - [`flags`]: the flag tables of docs/CONTRACTS.md, made from the binaries' clap definitions.

pub mod checks;
pub mod flags;
pub mod http;
pub mod sample;
