//! The `loader collect` subcommand: arguments (clap) and the runner.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::{Args, Subcommand};
use secrecy::SecretString;

use super::auth::{PRIVATE_KEY_ENV, PUBLIC_KEY_ENV};
use super::{
    collect_characters, collect_images, CharactersOptions, CollectError, Credentials, HttpOptions,
    ImagesOptions, RetryPolicy, DEFAULT_API_URL, MAX_PAGE_SIZE,
};

/// Failed images listed one by one before the rest are only counted.
const MAX_FAILURES_SHOWN: usize = 30;

/// `loader collect characters|images`.
#[derive(Debug, Subcommand)]
pub enum CollectCommand {
    /// Page through a Marvel-format API's characters into DIR/characters.json (resumable).
    Characters(CharactersArgs),
    /// Download each eligible character's portrait into DIR/images/ (resumable).
    Images(ImagesArgs),
}

/// Arguments of `loader collect characters`.
#[derive(Debug, Args)]
pub struct CharactersArgs {
    /// The dataset folder to write characters.json into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Your Marvel API public key.
    #[arg(long, env = PUBLIC_KEY_ENV, value_name = "KEY")]
    pub public_key: Option<String>,
    /// Your Marvel API private key (prefer the environment variable: flags show in `ps`).
    #[arg(long, env = PRIVATE_KEY_ENV, hide_env_values = true, value_name = "KEY")]
    pub private_key: Option<String>,
    /// The API's base URL (Marvel's own is gone since 2025: give a mirror's).
    #[arg(long, env = "MARVEL_API_URL", default_value = DEFAULT_API_URL, value_name = "URL")]
    pub api_url: String,
    /// Characters per request (the API allows at most 100).
    #[arg(long, default_value_t = MAX_PAGE_SIZE, value_parser = clap::value_parser!(u32).range(1..=MAX_PAGE_SIZE as i64))]
    pub page_size: u32,
    /// Timeouts, retries and concurrency of the HTTP calls.
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Arguments of `loader collect images`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// The dataset folder holding characters.json; images go to its images/ folder.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Downloads at once.
    #[arg(long, default_value_t = super::DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u16).range(1..=64).map(usize::from))]
    pub concurrency: usize,
    /// Replace the scheme, host and port of every thumbnail url with this one (for mirrors and tests).
    #[arg(long, value_name = "URL")]
    pub image_base_url: Option<String>,
    /// Timeouts, retries and concurrency of the HTTP calls.
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Timeouts and retries, shared by both subcommands.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Seconds before one request times out.
    #[arg(long, default_value_t = HttpOptions::default().timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..=600), value_name = "SECONDS")]
    pub timeout: u64,
    /// Retries of one request on 429, 5xx, timeouts and connection errors.
    #[arg(long, default_value_t = RetryPolicy::default().max_retries, value_parser = clap::value_parser!(u16).range(0..=20).map(usize::from))]
    pub retries: usize,
}

impl HttpArgs {
    fn options(&self) -> HttpOptions {
        HttpOptions {
            timeout: Duration::from_secs(self.timeout),
            retry: RetryPolicy {
                max_retries: self.retries,
                ..RetryPolicy::default()
            },
        }
    }
}

/// Runs `loader collect …`.
///
/// # Errors
/// Whatever stopped the run, or — for `images` — [`CollectError::ImagesFailed`] after the list of
/// failed images, so that the exit status is non-zero.
pub fn run(command: CollectCommand) -> Result<(), CollectError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CollectError::Runtime)?;
    match command {
        CollectCommand::Characters(args) => {
            let credentials =
                Credentials::new(args.public_key, args.private_key.map(SecretString::from))?;
            let options = CharactersOptions {
                out: args.out,
                api_url: args.api_url,
                credentials,
                page_size: args.page_size,
                http: args.http.options(),
            };
            let s = runtime.block_on(collect_characters(&options))?;
            let resumed = if s.pages_resumed > 0 {
                format!(", {} resumed from an interrupted run", s.pages_resumed)
            } else {
                String::new()
            };
            println!(
                "collected {} characters into {} ({} pages fetched{resumed}, {} retries, {} duplicates dropped)",
                s.characters,
                s.path.display(),
                s.pages_fetched,
                s.retries,
                s.duplicates
            );
            Ok(())
        }
        CollectCommand::Images(args) => {
            let options = ImagesOptions {
                data: args.data,
                image_base_url: args.image_base_url,
                concurrency: args.concurrency,
                http: args.http.options(),
            };
            let s = runtime.block_on(collect_images(&options))?;
            println!(
                "images: {} wanted, {} downloaded ({:.1} MiB), {} already present, {} failed, \
                 {} placeholders skipped, {} retries",
                s.wanted,
                s.downloaded,
                s.bytes as f64 / (1024.0 * 1024.0),
                s.skipped,
                s.failures.len(),
                s.placeholders,
                s.retries
            );
            if s.failures.is_empty() {
                return Ok(());
            }
            eprintln!("failed images:");
            for f in s.failures.iter().take(MAX_FAILURES_SHOWN) {
                eprintln!("  {} (id {}): {} — {}", f.name, f.id, f.reason, f.url);
            }
            if s.failures.len() > MAX_FAILURES_SHOWN {
                eprintln!("  … and {} more", s.failures.len() - MAX_FAILURES_SHOWN);
            }
            Err(CollectError::ImagesFailed {
                failed: s.failures.len() as u64,
                wanted: s.wanted,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: CollectCommand,
    }

    #[test]
    fn the_flags_default_to_the_http_options_defaults() {
        let cli = Cli::try_parse_from(["collect", "images", "--data", "d"]).unwrap();
        let CollectCommand::Images(args) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        let (got, want) = (args.http.options(), HttpOptions::default());
        assert_eq!(got.timeout, want.timeout);
        assert_eq!(got.retry.max_retries, want.retry.max_retries);
        assert_eq!(args.http.timeout, 30);
        assert_eq!(args.http.retries, 6);
    }
}
