//! superpower, the front end: gives each user a character ("your superpower") and keeps two
//! promises — the same superpower every time you come back, in under a second — while
//! powersource instances fail.
//!
//! # Layout
//! - [`config`]: the settings (flags and environment).
//! - [`app`]: building the state and running the server ([`app::Application`]).
//! - [`routes`]: every route on one screen; [`handlers`] and [`admin`] do the work.
//! - [`identity`]: the `superpower_id` cookie; [`negotiate`]: HTML or JSON by `Accept`.
//! - [`fleet`]: known instances and their health; [`membership`]: DNS and health-check tasks.
//! - [`ring`]: the consistent-hash ring of healthy instances, with failover order.
//! - [`routing`]: one answer from the fleet: failover, hedging, deadlines.
//! - [`client`]: the pooled HTTP client to powersource.
//! - [`cache`]: the last-known-good fallback and the image cache.
//! - [`switches`]: the resilience switches; [`latency`]: the hedge delay estimate.
//! - [`model`], [`render`]: what is shown, as JSON and as the maud page.
//! - [`error`]: handler errors and their one mapping to HTTP.
//! - [`probe`]: `superpower probe`, the experiments' steady-state probe.
//! - [`cli`]: the command line (serve, probe).

pub mod admin;
pub mod app;
pub mod cache;
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
pub mod probe;
pub mod render;
pub mod ring;
pub mod routes;
pub mod routing;
pub mod switches;

pub use app::{App, Application};
pub use config::Settings;
