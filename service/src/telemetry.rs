//! Structured logs through `tracing`, installed once per process.

use tracing_subscriber::{fmt, EnvFilter};

/// Log line format, chosen with `LOG_FORMAT` (`json`, the default, or `pretty`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line: what log shippers want.
    Json,
    /// Human-readable lines for a terminal.
    Pretty,
}

impl Format {
    /// Reads `LOG_FORMAT`; anything but `pretty` means JSON.
    pub fn from_env() -> Self {
        match std::env::var("LOG_FORMAT").as_deref() {
            Ok("pretty") | Ok("text") => Format::Pretty,
            _ => Format::Json,
        }
    }
}

/// Keeps the log writer's thread alive; drop it last (at the end of `main`) so that buffered
/// lines are written.
pub type LogGuard = crate::log_writer::WriterGuard;

/// Installs the global subscriber for a service, filtered by `RUST_LOG` (default `info`),
/// writing to stderr from a background thread ([`crate::log_writer`]): a request never waits
/// on a `write` system call for its access-log line, and under load many lines go out in one
/// `write`. No line is dropped. Only the first call installs anything.
pub fn init(format: Format) -> LogGuard {
    let (writer, guard) = crate::log_writer::batch_writer(std::io::stderr());
    install(format, writer);
    guard
}

/// Installs a synchronous subscriber (tests: nothing to keep alive, nothing lost). Calling it
/// again is harmless.
pub fn init_for_tests() {
    install(Format::Pretty, std::io::stderr);
}

fn install<W>(format: Format, writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(writer);
    let _ = match format {
        Format::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        Format::Pretty => builder.compact().try_init(),
    };
}

/// An error and its causes on one line (`outer: inner: root`), for a log field.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
