use std::process::ExitCode;

use clap::Parser;
use superpower::cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log = common::telemetry::init(common::telemetry::Format::from_env());
    if let Some(Command::Probe(args)) = cli.command {
        return superpower::probe::run(args).await;
    }
    let listener = match tokio::net::TcpListener::bind(cli.settings.listen).await {
        Ok(l) => l,
        Err(err) => {
            tracing::error!(addr = %cli.settings.listen, %err, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    match superpower::Application::build(cli.settings, listener).await {
        Ok(app) => {
            app.run_until(common::shutdown::signal()).await;
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!(%err, "cannot start");
            ExitCode::FAILURE
        }
    }
}
