//! `otlp-sink --listen ADDR [--port-file PATH]`: the OTLP/HTTP trace receiver
//! ([`trace_tools::otlp_sink`]); one thread, it counts the spans it decodes.

use anyhow::Context;
use clap::Parser;

#[derive(Parser)]
#[command(about = "An OTLP/HTTP trace receiver that decodes and counts spans")]
struct Cli {
    /// Address to listen on (port 0: a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Where to write the port it listens on, once it does.
    #[arg(long)]
    port_file: Option<std::path::PathBuf>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let listener = tokio::net::TcpListener::bind(&cli.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cli.listen))?;
    if let Some(path) = &cli.port_file {
        let port = listener.local_addr()?.port();
        std::fs::write(path, port.to_string())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    trace_tools::otlp_sink::serve(listener).await;
    Ok(())
}
