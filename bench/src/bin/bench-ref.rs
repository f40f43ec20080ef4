//! The reference servers the benchmark compares with: `bench-ref one --listen ADDR`,
//! `bench-ref two --listen ADDR --back URL`.

use anyhow::Context;
use clap::Parser;

#[derive(Parser)]
#[command(about = "Bare hyper reference servers for the benchmark")]
enum Cli {
    /// A one-tier server: a fixed JSON body for every request.
    One {
        /// Address to listen on.
        #[arg(long)]
        listen: String,
    },
    /// A two-tier front: calls BACK over keep-alive for every request and returns its body.
    Two {
        /// Address to listen on.
        #[arg(long)]
        listen: String,
        /// The back's base URL, e.g. http://127.0.0.1:40001/.
        #[arg(long)]
        back: http::Uri,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let listen = match &cli {
        Cli::One { listen } | Cli::Two { listen, .. } => listen.clone(),
    };
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    match cli {
        Cli::One { .. } => bench::reference::one_tier(listener).await,
        Cli::Two { back, .. } => bench::reference::two_tier(listener, back).await,
    }
    Ok(())
}
