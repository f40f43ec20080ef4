//! `loader`: see `loader --help` and docs/dataset.md.

use std::process::ExitCode;

use clap::Parser;
use loader::cli::{self, Cli};

fn main() -> ExitCode {
    match cli::run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // every error's message already carries its cause
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
