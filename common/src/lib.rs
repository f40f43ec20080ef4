//! The domain every superpower binary shares, with no HTTP in it: the loader (and anything else
//! that only reads or writes stores) depends on this crate alone.
//!
//! # Layout
//! - [`model`]: the character and image records as stored.
//! - [`store`]: the sled store format (trees, keys, versioned bincode records, atomic generations),
//!   owned here so that the loader (writer) and powersource (reader) cannot drift apart.
//! - [`hashing`]: the fixed-key hash behind every consistent-hash ring, stable across machines,
//!   restarts and compiler versions.
//! - [`memory`]: how much memory a powersource needs for a dataset, and the warning (at ingest
//!   and at start) when that is over its limit.
//!
//! The HTTP service kit both services are built on (and the superpower ↔ powersource wire
//! contract) is the `service` crate.

pub mod hashing;
pub mod memory;
pub mod model;
pub mod store;
