//! superpower's integration tests: one binary, a module per feature, all over real HTTP.

mod helpers;

mod admin;
mod failures;
mod limits;
mod membership;
mod misbehaving;
mod pages;
mod promises;
mod replicas;
mod shutdown;
