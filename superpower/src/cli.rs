//! The command line: `superpower [flags]` serves; `superpower probe …` runs an experiment probe.

use clap::{Parser, Subcommand};

use crate::config::Settings;

/// superpower: "your superpower", served from a fleet of powersource instances.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; without a subcommand, serve.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Serve settings.
    #[command(flatten)]
    pub settings: Settings,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Steady-state probes for the chaos experiments (exit code 0 = the promises hold).
    Probe(probe::Args),
}
