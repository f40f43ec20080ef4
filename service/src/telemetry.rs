//! Structured logs through `tracing`, installed once per process, and the OpenTelemetry span
//! exporter when traces are on ([`crate::traces`]: spans are made with the OpenTelemetry API,
//! not through `tracing`).

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

use crate::traces::{self, Exporter, TraceError, TraceSettings};

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

/// What keeps a process's telemetry going: the log writer's thread and, when traces are on,
/// the span exporter. Keep it to the end of `main`; [`Telemetry::shutdown`] (or dropping it)
/// flushes the spans still queued, then the log lines.
pub struct Telemetry {
    // dropped in this order: spans first (their flush may log), then the log writer
    exporter: Option<Exporter>,
    _log: Option<LogGuard>,
}

impl Telemetry {
    /// Flushes the queued spans (bounded in time); the log lines follow when this is dropped.
    pub fn shutdown(&mut self) {
        if let Some(exporter) = self.exporter.take() {
            exporter.shutdown();
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Installs the global subscriber for a service, filtered by `RUST_LOG` (default `info`),
/// writing to stderr from a background thread ([`crate::log_writer`]): a request never waits
/// on a `write` system call for its access-log line, and under load many lines go out in one
/// `write`. No line is dropped. With an OTLP endpoint in `traces`, spans are exported too, named
/// `service_name` unless `OTEL_SERVICE_NAME` says otherwise, with `instance` (the pod's name) as
/// `service.instance.id` and the attributes of `OTEL_RESOURCE_ATTRIBUTES` (a malformed entry is
/// logged as a warning and left out). Only the first call installs
/// anything.
///
/// # Errors
/// [`TraceError`] when the trace exporter cannot be built from `traces`.
pub fn init(
    format: Format,
    traces: &TraceSettings,
    service_name: &str,
    instance: Option<&str>,
) -> Result<Telemetry, TraceError> {
    let pipeline = traces::pipeline(traces, service_name, instance)?;
    let (writer, guard) = crate::log_writer::batch_writer(std::io::stderr());
    install(format, writer);
    if let Some(endpoint) = traces.endpoint() {
        tracing::info!(endpoint, sampler = ?traces.sampler, "exporting traces");
    }
    for problem in pipeline.iter().flat_map(|e| &e.problems) {
        tracing::warn!(
            %problem,
            "OTEL_RESOURCE_ATTRIBUTES: entry left out of the spans' resource"
        );
    }
    Ok(Telemetry {
        exporter: pipeline,
        _log: Some(guard),
    })
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
    let logs = match format {
        Format::Json => crate::log_format::layer(writer).with_filter(filter).boxed(),
        Format::Pretty => fmt::layer()
            .with_writer(writer)
            .compact()
            .with_filter(filter)
            .boxed(),
    };
    let _ = tracing_subscriber::registry().with(logs).try_init();
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
