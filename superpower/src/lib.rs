//! superpower, the front end: gives each user a character ("your superpower") and keeps two
//! promises — the same superpower every time you come back, in under a second — while
//! powersource instances fail.
//!
//! # Layout
//! - [`config`]: [`Settings`], the flags with their environment fallbacks.
//! - [`startup`]: [`Application`]: membership, health checks, the state, serving.
//! - [`state`]: [`State`], what every handler shares.
//! - [`routes`]: every route on one screen; errors become answers here. [`handlers`] and
//!   [`admin`] do the work.
//! - [`identity`]: the `superpower_id` cookie; [`negotiate`]: HTML or JSON by `Accept`.
//! - [`powersource`]: the typed client of the powersource API (`service::api`): it returns
//!   the answers; decoding and rendering a character are the handlers' ([`answers`]).
//! - [`routing`]: one answer from the fleet: failover, hedging, deadlines; [`attempt_span`]:
//!   the client span of each attempt (traces on).
//! - [`fleet`]: known instances and their health; [`membership`]: DNS and health-check tasks.
//! - [`ring`]: the consistent-hash ring (a pure data structure over named members), with
//!   failover order.
//! - [`client`]: the pooled HTTP client.
//! - [`answers`]: powersource answers already decoded and rendered, per thread, by body.
//! - [`remembered`]: the `superpower_last` cookie, each user's last known character signed
//!   under the key the replicas share; [`catalog`]: the characters to render it from.
//! - [`peers`]: the replicas of one front end share their switches and promises.
//! - [`cache`]: the image cache.
//! - [`switches`]: the resilience switches; [`latency`]: the hedge delay estimate.
//! - [`promises`]: both promises measured live (the identity check, latency), a ring of the
//!   last minute, the JSON of `/promises.json`.
//! - [`model`], [`render`]: what is shown, as JSON and as the maud page.
//! - [`error`]: [`StartError`] (start-up) and [`ApiError`] (requests, with their one mapping to
//!   HTTP).
//! - [`cli`]: the command line: serve, or `superpower probe` (the [`probe`] crate).
//! - [`workers`]: serving on one single-threaded runtime per core.

pub mod admin;
pub mod answers;
pub mod attempt_span;
pub mod cache;
pub mod catalog;
pub mod cli;
pub mod client;
pub mod config;
pub mod error;
pub mod fleet;
pub mod handlers;
pub mod identity;
pub mod latency;
pub mod membership;
pub mod model;
pub mod negotiate;
pub mod peers;
pub mod powersource;
pub mod promises;
pub mod remembered;
pub mod render;
pub mod ring;
pub mod routes;
pub mod routing;
pub mod startup;
pub mod state;
pub mod switches;
pub mod workers;

pub use config::Settings;
pub use error::{ApiError, StartError};
pub use startup::Application;
pub use state::State;
