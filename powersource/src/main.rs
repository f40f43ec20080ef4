//! The `powersource` binary: settings, telemetry, bind, serve until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use clap::Parser;
use powersource::{Application, Settings};

#[tokio::main]
async fn main() -> ExitCode {
    let settings = Settings::parse();
    let format = service::telemetry::Format::from_env();
    let mut telemetry = match service::telemetry::init(
        format,
        &settings.traces,
        "powersource",
        Some(settings.instance_name()),
    ) {
        Ok(t) => t,
        Err(err) => {
            eprintln!("powersource: {err}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&settings.listen).await {
        Ok(l) => l,
        Err(err) => {
            tracing::error!(addr = %settings.listen, %err, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    match Application::build(&settings, listener).await {
        Ok(app) => {
            app.run_until(service::shutdown::signal()).await;
            telemetry.shutdown();
            ExitCode::SUCCESS
        }
        Err(err) => {
            let error = service::telemetry::error_chain(&err);
            tracing::error!(store = %settings.store.display(), %error, "cannot start");
            ExitCode::FAILURE
        }
    }
}
