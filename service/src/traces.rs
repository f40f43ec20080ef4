//! OpenTelemetry traces: the settings (the standard `OTEL_*` variables, and flags), the export
//! pipeline (a batch exporter over OTLP/HTTP protobuf with a bounded queue), W3C trace-context
//! propagation (`traceparent`, `tracestate`), and the server span of a request.
//!
//! Off unless an endpoint is set: then no layer is installed, no span is made, no header is
//! read or written — every helper here starts with a check of one flag ([`enabled`]).
//!
//! A slow, dead or black-holed collector never reaches a request: a finished span goes into a
//! queue of at most `--otlp-queue-spans` spans (dropped when full), and one background thread
//! exports batches from it, each POST bounded by `--otlp-timeout-ms`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use clap::{Args, ValueEnum};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};
use opentelemetry_sdk::Resource;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `tracing` target of every span meant for OpenTelemetry: the export layer takes only
/// these (and no events), the log layer never sees them.
pub const TARGET: &str = "otel";

/// How long SIGTERM's flush of the spans still queued may take.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// The operational routes (`/health`, `/live`, `/metrics`): no span of their own.
const OPERATIONAL_ROUTES: [&str; 3] = ["/health", "/live", "/metrics"];

static ENABLED: AtomicBool = AtomicBool::new(false);

/// The sampling decision, made before any span is built (set with the pipeline).
static HEAD: OnceLock<Head> = OnceLock::new();

/// Head sampling, decided in [`server_span`] before a span is made: an unsampled request costs
/// one header lookup, not a span that the SDK drops at its end. The SDK's own sampler is then
/// `AlwaysOn`: every span that reaches it was chosen here (its children follow it).
#[derive(Clone, Copy, Debug)]
struct Head {
    /// `parentbased_*`: a request with a `traceparent` follows its sampled flag.
    parent_based: bool,
    /// The share of the traces that start here (or, not parent-based, of all requests).
    ratio: f64,
}

impl Head {
    fn keep(self, parent_sampled: Option<bool>) -> bool {
        match parent_sampled {
            Some(sampled) if self.parent_based => sampled,
            _ => self.ratio >= 1.0 || (self.ratio > 0.0 && rand::random::<f64>() < self.ratio),
        }
    }
}

/// Whether traces are exported by this process (an endpoint was set and the pipeline built).
#[inline]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The sampler, by its `OTEL_TRACES_SAMPLER` name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum SamplerName {
    /// Every trace.
    AlwaysOn,
    /// No trace.
    AlwaysOff,
    /// A share of the traces (`OTEL_TRACES_SAMPLER_ARG`, default 1.0), by trace id.
    Traceidratio,
    /// As the parent says; a trace that starts here is sampled.
    ParentbasedAlwaysOn,
    /// As the parent says; a trace that starts here is not.
    ParentbasedAlwaysOff,
    /// As the parent says; a trace that starts here by ratio.
    ParentbasedTraceidratio,
}

/// Trace settings, shared by both services (flattened into their settings).
#[derive(Args, Clone, Debug)]
pub struct TraceSettings {
    /// Base URL of an OTLP/HTTP collector (`http://127.0.0.1:4318`: Jaeger, an OpenTelemetry
    /// Collector); spans go to `ENDPOINT/v1/traces` as protobuf. Without one, no traces (and no
    /// cost).
    #[arg(long = "otlp-endpoint", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub endpoint: Option<String>,

    /// The `service.name` of the spans; the binary's name without it.
    #[arg(long = "otel-service-name", env = "OTEL_SERVICE_NAME")]
    pub service_name: Option<String>,

    /// Which traces are kept.
    #[arg(
        long = "traces-sampler",
        env = "OTEL_TRACES_SAMPLER",
        value_enum,
        default_value = "parentbased_always_on"
    )]
    pub sampler: SamplerName,

    /// The ratio (0 to 1) of the `*traceidratio` samplers.
    #[arg(long = "traces-sampler-arg", env = "OTEL_TRACES_SAMPLER_ARG", value_parser = ratio)]
    pub sampler_arg: Option<f64>,

    /// Finished spans waiting for export at most; past it spans are dropped, not queued.
    #[arg(long = "otlp-queue-spans", env = "OTEL_BSP_MAX_QUEUE_SIZE", value_parser = crate::config::positive_count, default_value = "2048")]
    pub queue_spans: usize,

    /// Timeout of one export POST (the background thread's, never a request's).
    #[arg(long = "otlp-timeout-ms", env = "OTEL_EXPORTER_OTLP_TIMEOUT", value_parser = crate::config::positive_millis, default_value = "2000")]
    pub timeout: Duration,
}

fn ratio(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("{s:?} is not a ratio between 0 and 1")),
    }
}

impl TraceSettings {
    /// The collector's base URL, when one is set (an empty value means none).
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
    }

    fn head(&self) -> Head {
        let ratio = self.sampler_arg.unwrap_or(1.0);
        let (parent_based, ratio) = match self.sampler {
            SamplerName::AlwaysOn => (false, 1.0),
            SamplerName::AlwaysOff => (false, 0.0),
            SamplerName::Traceidratio => (false, ratio),
            SamplerName::ParentbasedAlwaysOn => (true, 1.0),
            SamplerName::ParentbasedAlwaysOff => (true, 0.0),
            SamplerName::ParentbasedTraceidratio => (true, ratio),
        };
        Head {
            parent_based,
            ratio,
        }
    }
}

/// Why the export pipeline could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot export traces to {endpoint}: {reason}")]
pub struct TraceError {
    endpoint: String,
    reason: String,
}

/// The tracer provider of a process; [`Exporter::shutdown`] flushes what is queued.
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Exporter {
    /// Exports what is still queued (at most [`FLUSH_TIMEOUT`]) and stops the export thread.
    pub fn shutdown(&self) {
        ENABLED.store(false, Ordering::Relaxed);
        match self.provider.shutdown_with_timeout(FLUSH_TIMEOUT) {
            Ok(()) => tracing::info!("traces flushed"),
            Err(err) => tracing::warn!(%err, "traces not flushed"),
        }
    }
}

/// Builds the export pipeline when `settings` has an endpoint: the provider, and the tracer the
/// `tracing` layer hands spans to. `default_name` is the `service.name` without
/// `OTEL_SERVICE_NAME`.
///
/// # Errors
/// [`TraceError`] when the exporter cannot be built (a malformed endpoint).
pub(crate) fn pipeline(
    settings: &TraceSettings,
    default_name: &str,
    instance: Option<&str>,
) -> Result<Option<(Exporter, opentelemetry_sdk::trace::Tracer)>, TraceError> {
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    let Some(endpoint) = settings.endpoint() else {
        return Ok(None);
    };
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let err = |reason: String| TraceError {
        endpoint: url.clone(),
        reason,
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(err("the endpoint must be an http:// or https:// URL".into()));
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url.clone())
        .with_timeout(settings.timeout)
        .build()
        .map_err(|e| err(e.to_string()))?;
    let batch = BatchConfigBuilder::default()
        .with_max_queue_size(settings.queue_spans)
        .with_max_export_batch_size(settings.queue_spans.min(512))
        .with_scheduled_delay(Duration::from_millis(500))
        .build();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch)
        .build();
    let name = settings
        .service_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| default_name.to_owned());
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(Sampler::AlwaysOn)
        .with_resource(resource(name, instance))
        .build();
    let tracer = provider.tracer(default_name.to_owned());
    let _ = HEAD.set(settings.head());
    ENABLED.store(true, Ordering::Relaxed);
    Ok(Some((Exporter { provider }, tracer)))
}

fn resource(name: String, instance: Option<&str>) -> Resource {
    let builder = Resource::builder_empty().with_service_name(name);
    match instance {
        Some(id) => builder
            .with_attribute(opentelemetry::KeyValue::new(
                "service.instance.id",
                id.to_owned(),
            ))
            .build(),
        None => builder.build(),
    }
}

/// The server span of a request (HTTP semantic conventions), a child of the caller's span when
/// the request carries a `traceparent`; [`Span::none`] when traces are off. It is named
/// `METHOD route` from `route`, the template the path matches (a span's name is fixed once it
/// starts); the route the handler reports and the status are recorded by [`record_response`].
pub fn server_span(
    method: &'static str,
    route: &'static str,
    path: &str,
    headers: &http::HeaderMap,
) -> Span {
    if !enabled() {
        return Span::none();
    }
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let context = parent.span().span_context().clone();
    let has_parent = context.is_valid();
    // Health checks and scrapes (every second, from every checker) would bury the requests in
    // Jaeger: they are traced only as part of a caller's trace.
    if !has_parent && OPERATIONAL_ROUTES.contains(&route) {
        return Span::none();
    }
    let head = HEAD.get().copied().unwrap_or(Head {
        parent_based: true,
        ratio: 1.0,
    });
    if !head.keep(has_parent.then(|| context.is_sampled())) {
        return Span::none();
    }
    let span = tracing::info_span!(
        target: TARGET,
        "HTTP request",
        otel.name = tracing::field::display(format_args!("{method} {route}")),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = method,
        url.path = path,
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    if has_parent {
        let _ = span.set_parent(parent);
    }
    span
}

/// Records a request's route template and status on its server span; a 5xx marks it failed.
pub fn record_response(span: &Span, route: &'static str, status: u16) {
    if span.is_none() {
        return;
    }
    span.record("http.route", route);
    // as i64: tracing-opentelemetry records a u64 as a string
    span.record("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
    }
}

/// Whether `span` is one of the spans made here for OpenTelemetry (a request's server span, say):
/// a client span is made only under one, so an unsampled request makes none.
pub fn is_traced(span: &Span) -> bool {
    span.metadata().is_some_and(|m| m.target() == TARGET)
}

/// The trace id of `span` (32 hex digits) for a log line; `None` when traces are off.
pub fn trace_id(span: &Span) -> Option<String> {
    if span.is_none() {
        return None;
    }
    let id = span.context().span().span_context().trace_id();
    (id != opentelemetry::trace::TraceId::INVALID).then(|| id.to_string())
}

/// Writes `span`'s context into `headers` as `traceparent` (and `tracestate`), so the callee's
/// spans are its children. Nothing when traces are off.
pub fn inject(span: &Span, headers: &mut http::HeaderMap) {
    if span.is_none() {
        return;
    }
    TraceContextPropagator::new().inject_context(&span.context(), &mut HeaderInjector(headers));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampler_ratio_is_checked() {
        assert_eq!(ratio("0"), Ok(0.0));
        let root = |parent_based, ratio| Head {
            parent_based,
            ratio,
        };
        assert!(root(true, 0.0).keep(Some(true)) && !root(true, 1.0).keep(Some(false)));
        assert!(root(true, 1.0).keep(None) && !root(true, 0.0).keep(None));
        assert!(root(false, 1.0).keep(Some(false)) && !root(false, 0.0).keep(Some(true)));
        assert_eq!(ratio("1.0"), Ok(1.0));
        assert!(ratio("1.5").is_err() && ratio("-0.1").is_err() && ratio("x").is_err());
    }

    #[test]
    fn no_endpoint_means_off() {
        let mut s: TraceSettings = crate::config::defaults();
        assert_eq!(s.sampler, SamplerName::ParentbasedAlwaysOn);
        assert!(pipeline(&s, "test", None).unwrap().is_none());
        s.endpoint = Some("  ".into());
        assert!(pipeline(&s, "test", None).unwrap().is_none());
        s.endpoint = Some("127.0.0.1:4318".into());
        let err = pipeline(&s, "test", None)
            .err()
            .expect("not a URL")
            .to_string();
        assert!(err.contains("http://"), "{err}");
        assert!(!enabled());
        let headers = http::HeaderMap::new();
        assert!(server_span("GET", "/", "/", &headers).is_none());
    }
}
