//! powersource: superpower's back end. Serves characters, their images and stable user
//! assignments from a sled store filled by `loader ingest`, over hyper 1.x (through the shared
//! scaffolding in [`common::http`]).
//!
//! # Layout
//! - [`config`]: [`Settings`], the flags with their environment fallbacks.
//! - [`startup`]: [`App`] (open the store, load the dataset, build the ring) and [`run`].
//! - [`catalog`]: the loaded dataset: eligible characters with pre-rendered JSON, images from sled.
//! - [`assign`]: the consistent-hash ring that assigns a character to a user key.
//! - [`routes`]: every route in one `match (method, route)`.
//! - [`handlers`]: one function per product and operational route.
//! - [`faults`]: injected latency, errors and hangs.
//! - [`admin`]: the admin API (`/admin/faults`) and its bearer-token check.
//! - [`error`]: [`Error`] and the one place an error becomes an HTTP answer.

pub mod admin;
pub mod assign;
pub mod catalog;
pub mod config;
pub mod error;
pub mod faults;
pub mod handlers;
pub mod routes;
pub mod startup;

pub use config::Settings;
pub use error::Error;
pub use startup::{run, App};
