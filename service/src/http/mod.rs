//! The HTTP scaffolding shared by powersource and superpower (hyper 1.x, no framework).
//!
//! - [`server`]: the accept loop with graceful drain, the access log, request metrics and the
//!   headers every response carries.
//! - [`body`]: response builders and the route label a handler attaches to its answer.
//! - [`auth`]: the admin bearer token, compared in constant time.
//! - [`ops`]: the `/health`, `/live` and `/metrics` answers.
//! - `stall` (private): the connection IO's bound on writes a client stopped reading.
//! - `idle` (private): the bound on a connection without requests (the header read timeout).

pub mod auth;
pub mod body;
mod idle;
pub mod ops;
pub mod server;
mod stall;

pub use body::{Response, RouteLabel};
pub use server::{serve, ServeOptions};
