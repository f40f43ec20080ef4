//! powersource's API tests: one binary, one module per feature. Every test starts a real
//! powersource on 127.0.0.1:0 over its own sled store, ingested from the sample dataset by the
//! loader library, and talks HTTP to it.

mod admin;
mod assignments;
mod characters;
mod faults;
mod helpers;
mod images;
mod memory;
mod ops;
mod shutdown;
mod slow_clients;
