//! The `loader` command line: one clap-derive struct per subcommand and one function each.
//!
//! Adding a subcommand: a variant in [`Command`] holding its args struct, and one arm in [`run`].

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use common::store::Store;
use indicatif::{ProgressBar, ProgressStyle};

use crate::dataset::{Dataset, Warning};
use crate::error::Error;
use crate::ingest::{self, Outcome};
use crate::sample;

/// How many warnings are printed one by one before the rest are only counted.
const MAX_WARNINGS_SHOWN: usize = 20;

/// superpower's data loader: writes the sample dataset and ingests datasets into stores.
#[derive(Debug, Parser)]
#[command(name = "loader", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the fictional sample dataset (deterministic: same options, same bytes).
    Sample(SampleArgs),
    /// Validate a dataset and ingest it into one or more stores, atomically.
    Ingest(IngestArgs),
    /// Gather characters and images from a server in the Marvel API's format (the API itself was
    /// shut down in 2025: a mirror or an archive served locally; README "Real Marvel data").
    #[command(subcommand)]
    Collect(crate::collect::cli::CollectCommand),
}

/// `loader sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Folder to write `characters.json` and `images/` into (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// How many characters.
    #[arg(long, default_value_t = sample::DEFAULT_COUNT)]
    pub count: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = sample::DEFAULT_SEED)]
    pub seed: u64,
    /// Pad every image to about this many KiB (for benchmarks).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=5 * 1024 - 1))]
    pub image_kib: Option<u32>,
    /// Give every character an image (no placeholder thumbnails), for benchmarks.
    #[arg(long)]
    pub no_placeholders: bool,
}

/// `loader ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Dataset folder; without it, the built-in sample dataset.
    #[arg(long, env = "LOADER_DATA")]
    pub data: Option<PathBuf>,
    /// Store folder to write (repeat for several stores).
    #[arg(long = "store", required = true, env = "LOADER_STORE")]
    pub stores: Vec<PathBuf>,
    /// Ingest even a dataset with no eligible character (every powersource serving it is then
    /// unhealthy); without it such a dataset is refused.
    #[arg(long)]
    pub allow_empty: bool,
    /// The memory the powersources serving these stores may use, in MiB (the manifests give
    /// 128Mi). A dataset estimated to need more is ingested anyway, with a warning.
    #[arg(long, env = "POWERSOURCE_MEMORY_LIMIT_MIB", value_parser = clap::value_parser!(u64).range(1..), default_value_t = common::memory::DOCUMENTED_LIMIT_MIB)]
    pub memory_limit_mib: u64,
}

/// Runs a parsed command line.
///
/// # Errors
/// The command's error, with a message naming the file, the record and the problem.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Sample(args) => run_sample(&args),
        Command::Ingest(args) => run_ingest(&args),
        Command::Collect(command) => Ok(crate::collect::cli::run(command)?),
    }
}

fn run_sample(args: &SampleArgs) -> Result<(), Error> {
    let options = sample::Options {
        count: args.count,
        seed: args.seed,
        image_kib: args.image_kib,
        placeholders: !args.no_placeholders,
    };
    let s = sample::write_with(&args.out, &options)?;
    println!(
        "wrote {} characters ({} images, {} placeholders, {:.1} MiB) to {}",
        s.characters,
        s.images,
        s.placeholders,
        s.image_bytes as f64 / (1024.0 * 1024.0),
        args.out.display()
    );
    Ok(())
}

fn run_ingest(args: &IngestArgs) -> Result<(), Error> {
    for (i, p) in args.stores.iter().enumerate() {
        if args.stores[..i].contains(p) {
            return Err(Error::DuplicateStore(p.display().to_string()));
        }
    }
    // the sample's folder must live until the images are written
    let mut _sample_dir = None;
    let (dataset, source) = match &args.data {
        Some(dir) => (Dataset::load(dir)?, dir.display().to_string()),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("loader-sample-")
                .tempdir()
                .map_err(Error::TempDir)?;
            sample::write(dir.path(), sample::DEFAULT_COUNT, sample::DEFAULT_SEED)?;
            let dataset = Dataset::load(dir.path())?;
            _sample_dir = Some(dir);
            let source = format!(
                "sample (seed {}, {} characters)",
                sample::DEFAULT_SEED,
                sample::DEFAULT_COUNT
            );
            (dataset, source)
        }
    };
    print_warnings(dataset.warnings());
    ingest::check_not_empty(&dataset, args.allow_empty)?;
    if let Some(over) = dataset.need().over(args.memory_limit_mib) {
        eprintln!("warning: {over}");
    }

    // open every store before writing any, so a bad path fails early with all stores untouched
    let stores = args
        .stores
        .iter()
        .map(|p| Store::open(p))
        .collect::<Result<Vec<_>, _>>()?;
    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(dataset.entries().len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} ingesting [{bar:40}] {pos}/{len} characters {msg} ({eta})",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let options = ingest::Options {
        source: Some(source),
        progress,
        allow_empty: args.allow_empty,
    };
    let refs: Vec<&Store> = stores.iter().collect();
    let report = ingest::ingest_all(&dataset, &refs, &options)?;

    let counts = dataset.counts();
    let info = &report.info;
    let short = &info.fingerprint[..12.min(info.fingerprint.len())];
    for (path, outcome) in args.stores.iter().zip(&report.outcomes) {
        match outcome {
            Outcome::Unchanged { generation } => println!(
                "{}: unchanged, already holds dataset {short} (generation {generation}, {} characters)",
                path.display(),
                info.characters
            ),
            Outcome::Replaced { generation, .. } => println!(
                "{}: ingested {} characters ({} eligible, {} placeholders, {} missing images), {} images, {:.1} MiB from {} as generation {generation}, dataset {short}, in {:.2}s",
                path.display(),
                counts.characters,
                counts.eligible,
                counts.placeholders,
                counts.missing_images,
                counts.images,
                counts.image_bytes as f64 / (1024.0 * 1024.0),
                info.source,
                report.elapsed.as_secs_f64()
            ),
        }
    }
    Ok(())
}

fn print_warnings(warnings: &[Warning]) {
    for w in warnings.iter().take(MAX_WARNINGS_SHOWN) {
        eprintln!("warning: {w}");
    }
    if warnings.len() > MAX_WARNINGS_SHOWN {
        eprintln!(
            "warning: … and {} more warnings",
            warnings.len() - MAX_WARNINGS_SHOWN
        );
    }
    let missing = warnings
        .iter()
        .filter(|w| matches!(w, Warning::MissingImage { .. }))
        .count();
    if missing > 0 {
        eprintln!(
            "warning: {missing} characters have no image file and are stored as not eligible"
        );
    }
}
