//! How the suite runs: the options the `bench` command passes.

use std::path::PathBuf;
use std::time::Duration;

/// How the suite runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Every scenario for a second or two (CI): catches rot, the figures mean little.
    pub smoke: bool,
    /// Run the soak alone, this long, instead of the scenarios.
    pub soak: Option<Duration>,
    /// Run only the scaling scenario (powersources, users, DNS membership).
    pub only_scaling: bool,
    /// Run only the peers' saturation runs (oha, one cookie, superpower beside nginx and
    /// HAProxy): a quick A/B of superpower's own speed.
    pub only_peers: bool,
    /// The seed of the soak's fault schedule (the same seed, the same faults).
    pub soak_seed: u64,
    /// Where results, logs, stores and the generated dataset go (`var/bench`).
    pub out: PathBuf,
    /// Where the release binaries are (`target/release`).
    pub bin_dir: PathBuf,
    /// Where criterion wrote its estimates (`target/criterion`); `None` skips the micro table.
    pub criterion_dir: Option<PathBuf>,
    /// `rustc --version`, for the machine line.
    pub rustc: String,
    /// Environment variables added to powersource's and superpower's (e.g. `RUST_LOG`), to
    /// measure a setting's cost; recorded in the results.
    pub product_env: Vec<(String, String)>,
}
