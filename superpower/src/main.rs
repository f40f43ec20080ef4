//! The `superpower` binary: settings, telemetry, bind, serve until SIGTERM or Ctrl-C (or run
//! the experiments' probe).

use std::process::ExitCode;

use clap::Parser;
use superpower::cli::{Cli, Command};
use superpower::Application;

/// jemalloc instead of glibc's malloc: the request path allocates and frees many small buffers
/// from both worker threads, where glibc's malloc and free showed up as ~7 % of the CPU under
/// load (perf); with jemalloc superpower uses 6-10 % less CPU per request (bench A/B).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The main runtime runs start-up and the background tasks (health checks, DNS, the promise
/// ticker); requests are served on the worker threads' own runtimes (`superpower::workers`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = service::telemetry::Format::from_env();
    // The probe exports no spans of its own: it passes the experiment's trace context on
    // (`TRACEPARENT`), and superpower's spans join that trace.
    let traces = match cli.command {
        Some(Command::Probe(_)) => service::config::defaults(),
        None => cli.settings.traces.clone(),
    };
    // the spans' service.instance.id: the replica's name, as the control page names it
    let instance = cli
        .settings
        .replica_name_or(|| cli.settings.listen.to_string());
    let mut telemetry =
        match service::telemetry::init(format, &traces, "superpower", Some(&instance)) {
            Ok(t) => t,
            Err(err) => {
                eprintln!("superpower: {err}");
                return ExitCode::from(2);
            }
        };
    if let Some(Command::Probe(args)) = cli.command {
        return probe::run(args).await;
    }
    let settings = cli.settings;
    let listener = match superpower::workers::bind(settings.listen) {
        Ok(l) => l,
        Err(err) => {
            tracing::error!(addr = %settings.listen, %err, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    match Application::build(settings, listener).await {
        Ok(app) => {
            let served = app.run_until(service::shutdown::signal()).await;
            telemetry.shutdown();
            match served {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("superpower: cannot serve: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(err) => {
            let error = service::telemetry::error_chain(&err);
            tracing::error!(%error, "cannot start");
            ExitCode::FAILURE
        }
    }
}
