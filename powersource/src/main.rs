//! The `powersource` binary: settings, telemetry, bind, serve until SIGTERM or Ctrl-C.

use anyhow::Context;
use clap::Parser;
use powersource::{App, Settings};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    let _log = common::telemetry::init(common::telemetry::Format::from_env());
    let app = App::build(&settings)
        .await
        .with_context(|| format!("cannot start over the store {}", settings.store.display()))?;
    let listener = TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    app.run(listener, common::shutdown::signal()).await;
    Ok(())
}
