//! powersource: superpower's back end. Serves characters, their images and stable user
//! assignments from a sled store filled by `loader ingest`, over hyper 1.x (through the shared
//! service kit, the `service` crate, whose `api` module is the contract this crate serves).
//!
//! # Layout
//! - [`config`]: [`Settings`], the flags with their environment fallbacks.
//! - [`startup`]: [`Application`]: open the store, load the dataset, build the ring, serve.
//! - [`state`]: [`State`], what every handler shares.
//! - [`catalog`]: the loaded dataset: eligible characters with pre-rendered JSON, images from sled.
//! - [`assign`]: the consistent-hash ring that assigns a character to a user key.
//! - [`routes`]: every route in one `match (method, route)`; errors become answers here.
//! - [`handlers`]: one function per product and operational route.
//! - [`faults`]: injected latency, errors and hangs.
//! - [`admin`]: the admin API (`/admin/faults`) and its bearer-token check.
//! - [`error`]: [`StartError`] (start-up) and [`ApiError`] (requests, with their one mapping to
//!   HTTP).

pub mod admin;
pub mod assign;
pub mod catalog;
pub mod config;
pub mod error;
pub mod faults;
pub mod handlers;
pub mod routes;
pub mod startup;
pub mod state;

pub use config::Settings;
pub use error::{ApiError, StartError};
pub use startup::Application;
pub use state::State;
