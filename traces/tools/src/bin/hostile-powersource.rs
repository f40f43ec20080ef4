//! `hostile-powersource --listen ADDR`: the hostile powersource of `bench/traces.sh`'s memory
//! flood ([`trace_tools::hostile`]).

use anyhow::Context;
use clap::Parser;

#[derive(Parser)]
#[command(
    about = "A hostile powersource: a new character with every answer, a new image for every id, long names and a 40 KB header on every answer"
)]
struct Cli {
    /// Address to listen on.
    #[arg(long)]
    listen: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let listener = tokio::net::TcpListener::bind(&cli.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cli.listen))?;
    trace_tools::hostile::hostile(listener).await;
    Ok(())
}
