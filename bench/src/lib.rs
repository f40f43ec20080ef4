//! The benchmark suite of superpower: one command (`bench/run.sh`) that measures the product
//! against bare hyper servers on the same machine, in the same run, and judges the targets.
//!
//! # Layout
//! - [`suite`]: runs the scenarios in order, one module each (`ingest`, `e2e`, `tracking`,
//!   `peers`, `failover`, `lose_all`, `memory`, `scaling`, `micro`; or `soak` alone, with its
//!   schedule of the vocabulary's faults `soak::chaos` and RSS verdict `soak::rss`), then judges
//!   the `targets`; with what they share: `options` (the `bench` command's flags), `timing`
//!   (each mode's durations and rates), `fleet` (the processes loaded, and `measure`: a load and
//!   the CPU time it cost each of them), `users`, `programs` (the release binaries), `machine`
//!   and `progress`.
//! - [`load`]: the load generator, which rotates cookies or paths per request, checks each
//!   user's superpower and can keep the incidents (failed, slow, wrongly named answers).
//! - [`peers`]: the nginx and HAProxy the `peers` scenario starts in front of the same
//!   powersources (what users would pick instead of superpower), their configs templates in
//!   `peers/`.
//! - [`oha`]: runs oha, the reference load tool, and reads its JSON.
//! - [`procs`]: the processes the benchmark starts (ports, readiness, memory, kill on drop),
//!   recorded for the process engine of the fault vocabulary (`deploy/local/fault.sh`), which
//!   injects every fault of the bench ([`procs::fault`], [`procs::Proc::inject`]).
//! - [`reference`](mod@reference): the one-tier and two-tier hyper reference servers (`bench-ref`).
//! - [`report`]: the results, the bench's one output: `results.json` and its JSON Schema,
//!   generated from the types ([`report::schema`]); `report::names`, the names of what was
//!   measured ([`report::System`], [`report::Tool`], [`report::Process`], [`report::Mode`]).
//!   `bench/render.py` validates the JSON against the schema and renders the markdown table
//!   and the scaling plot from it.

pub mod load;
pub mod oha;
pub mod peers;
pub mod procs;
pub mod reference;
pub mod report;
pub mod suite;
