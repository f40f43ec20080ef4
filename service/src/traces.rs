//! OpenTelemetry traces: the settings (the standard `OTEL_*` variables, and flags), the export
//! pipeline (a batch exporter over OTLP/HTTP protobuf with a bounded queue), W3C trace-context
//! propagation (`traceparent`, `tracestate`), and the spans ([`TraceSpan`]): a request's server
//! span, and the client spans made under it. Spans are made with the OpenTelemetry API itself,
//! not through a `tracing` layer: cheaper per span (the attributes set once, no per-poll
//! enter/exit), and the logs never see them.
//!
//! Off unless an endpoint is set: then no pipeline is built, no span is made, no header is
//! read or written — every helper here starts with a check of one flag ([`enabled`]).
//!
//! A slow, dead or black-holed collector never reaches a request: a finished span goes into a
//! queue of at most `--otlp-queue-spans` spans (dropped when full), and one background thread
//! exports batches from it, each POST bounded by `--otlp-timeout-ms`. A span holds few of a
//! client's bytes, so the queue is bounded in bytes too: the path cut as the access log cuts it
//! ([`crate::log_format::PATH_BYTES`]), and a caller's `tracestate` (which every span of the
//! request copies) only up to [`MAX_TRACESTATE_BYTES`].

use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use clap::{Args, ValueEnum};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _};
pub use opentelemetry::KeyValue;
use opentelemetry::{Context, Value};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider,
};
use opentelemetry_sdk::Resource;

/// The W3C header of a caller's span.
const TRACEPARENT: &str = "traceparent";
/// The W3C header of vendors' trace state, which every span under the caller's copies.
const TRACESTATE: &str = "tracestate";
/// The largest `tracestate` taken from a caller, in bytes and in list members (W3C allows 32
/// members, each up to 256 characters of value): a larger one is dropped whole (W3C
/// trace-context allows it), so that a client cannot make every span of its request carry
/// kilobytes of its own bytes. Every span holds the parsed list, two strings a member: 32 short
/// members made a queued span cost about 4 KiB, 8 about 2 KiB (the trace flood of
/// `bench/traces.sh`).
pub const MAX_TRACESTATE_BYTES: usize = 512;
/// See [`MAX_TRACESTATE_BYTES`].
pub const MAX_TRACESTATE_MEMBERS: usize = 8;

/// How long SIGTERM's flush of the spans still queued may take.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// The operational routes (`/health`, `/live`, `/metrics`): no span of their own.
const OPERATIONAL_ROUTES: [&str; 3] = ["/health", "/live", "/metrics"];

static ENABLED: AtomicBool = AtomicBool::new(false);

/// The sampling decision, made before any span is built (set with the pipeline).
static HEAD: OnceLock<Head> = OnceLock::new();

/// The tracer every span of the process is made with (set with the pipeline).
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

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

    /// More resource attributes of the spans, `key=value,key=value` (values percent-decoded); a
    /// malformed entry is skipped with a warning. `service.name` counts when no service name is
    /// set; `service.instance.id` is the instance's own name when it has one.
    #[arg(long = "otel-resource-attributes", env = "OTEL_RESOURCE_ATTRIBUTES")]
    pub resource_attributes: Option<String>,

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
    #[arg(long = "otlp-queue-spans", env = "OTEL_BSP_MAX_QUEUE_SIZE", value_parser = crate::config::positive_count, default_value = "8192")]
    pub queue_spans: usize,

    /// Spans in one export POST at most (a full batch is exported at once).
    #[arg(long = "otlp-batch-spans", env = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", value_parser = crate::config::positive_count, default_value = "2048")]
    pub batch_spans: usize,

    /// How long finished spans wait for a batch to fill before they are exported anyway.
    #[arg(long = "otlp-batch-delay-ms", env = "OTEL_BSP_SCHEDULE_DELAY", value_parser = crate::config::positive_millis, default_value = "500")]
    pub batch_delay: Duration,

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
    /// What was wrong with `OTEL_RESOURCE_ATTRIBUTES`, logged once the subscriber is installed.
    pub(crate) problems: Vec<String>,
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

/// Builds the export pipeline when `settings` has an endpoint: the provider (kept by the caller
/// to flush it) and the process's tracer. `default_name` is the `service.name` without
/// `OTEL_SERVICE_NAME`.
///
/// # Errors
/// [`TraceError`] when the exporter cannot be built (a malformed endpoint).
pub(crate) fn pipeline(
    settings: &TraceSettings,
    default_name: &str,
    instance: Option<&str>,
) -> Result<Option<Exporter>, TraceError> {
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
        .with_max_export_batch_size(settings.batch_spans.min(settings.queue_spans))
        .with_scheduled_delay(settings.batch_delay)
        .build();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch)
        .build();
    let (attributes, problems) =
        resource_attributes(settings.resource_attributes.as_deref().unwrap_or(""));
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(Sampler::AlwaysOn)
        .with_resource(resource(
            settings.service_name.as_deref(),
            default_name,
            instance,
            attributes,
        ))
        .build();
    let _ = TRACER.set(provider.tracer(default_name.to_owned()));
    let _ = HEAD.set(settings.head());
    ENABLED.store(true, Ordering::Relaxed);
    Ok(Some(Exporter { provider, problems }))
}

/// The attribute naming the process among the replicas of its service (the pod's name).
const SERVICE_INSTANCE_ID: &str = "service.instance.id";
/// The attribute naming the service.
const SERVICE_NAME: &str = "service.name";

/// The spans' resource: `OTEL_RESOURCE_ATTRIBUTES`'s attributes, then `service.name` (the
/// `OTEL_SERVICE_NAME` setting, else the attributes' own, else `default_name`, as the
/// OpenTelemetry spec orders them) and `service.instance.id` (the instance's name when it has
/// one: the pod's, which the manifests pass; else the attributes' own).
fn resource(
    service_name: Option<&str>,
    default_name: &str,
    instance: Option<&str>,
    attributes: Vec<(String, String)>,
) -> Resource {
    let mut name = default_name.to_owned();
    let mut id = None;
    let mut others = Vec::new();
    for (key, value) in attributes {
        match key.as_str() {
            SERVICE_NAME => name = value,
            SERVICE_INSTANCE_ID => id = Some(value),
            _ => others.push(KeyValue::new(key, value)),
        }
    }
    if let Some(n) = service_name.map(str::trim).filter(|n| !n.is_empty()) {
        n.clone_into(&mut name);
    }
    if let Some(i) = instance.map(str::trim).filter(|i| !i.is_empty()) {
        id = Some(i.to_owned());
    }
    let builder = Resource::builder_empty()
        .with_attributes(others)
        .with_service_name(name);
    match id {
        Some(id) => builder
            .with_attribute(KeyValue::new(SERVICE_INSTANCE_ID, id))
            .build(),
        None => builder.build(),
    }
}

/// `OTEL_RESOURCE_ATTRIBUTES` as the OpenTelemetry spec writes it: `key=value` pairs separated
/// by commas, each value percent-encoded (`%2C` a comma, `%3D` an equals sign), blanks around
/// keys and values ignored. Returns the pairs in order and a description of each entry left out
/// (no `=`, an empty key, a bad `%` escape or an escape that is not UTF-8): a warning, not a
/// refusal to start.
pub(crate) fn resource_attributes(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut pairs = Vec::new();
    let mut problems = Vec::new();
    for entry in text.split(',') {
        if entry.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = entry.split_once('=') else {
            problems.push(format!("{entry:?} is not key=value"));
            continue;
        };
        let key = key.trim();
        if key.is_empty() {
            problems.push(format!("{entry:?} has no key"));
            continue;
        }
        match percent_decode(value.trim()) {
            Some(value) => pairs.push((key.to_owned(), value)),
            None => problems.push(format!(
                "{entry:?}: its value is not valid percent-encoded UTF-8"
            )),
        }
    }
    (pairs, problems)
}

/// `%XX` escapes decoded; `None` for a `%` not followed by two hex digits, or bytes that are not
/// UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A span made here for OpenTelemetry (a request's server span, an attempt's client span), or
/// none ([`TraceSpan::none`]: traces off, or the request not sampled), when every method does
/// nothing. Spans are made with the OpenTelemetry API directly (no `tracing` layer in between):
/// the attributes are set once, most of them `&'static str`, and the span goes to the batch
/// processor when it ends.
#[derive(Debug, Default)]
pub struct TraceSpan {
    cx: Option<Context>,
}

impl TraceSpan {
    /// No span.
    pub const fn none() -> Self {
        TraceSpan { cx: None }
    }

    /// Whether this is no span.
    pub fn is_none(&self) -> bool {
        self.cx.is_none()
    }

    /// Sets attribute `key` (`&'static str`, `String` and `i64` values, among others).
    pub fn set(&self, key: &'static str, value: impl Into<Value>) {
        if let Some(cx) = &self.cx {
            cx.span().set_attribute(KeyValue::new(key, value));
        }
    }

    /// Marks the span failed (status ERROR).
    pub fn fail(&self) {
        if let Some(cx) = &self.cx {
            cx.span().set_status(Status::error(""));
        }
    }

    /// Ends the span (its end time is now); it is exported with the next batch.
    pub fn end(&self) {
        if let Some(cx) = &self.cx {
            cx.span().end();
        }
    }

    /// The trace id (32 hex digits) for a log line; `None` without a span.
    pub fn trace_id(&self) -> Option<String> {
        let cx = self.cx.as_ref()?;
        Some(cx.span().span_context().trace_id().to_string())
    }

    /// Writes this span's context into `headers` as `traceparent` (and `tracestate`), so the
    /// callee's spans are its children. Nothing without a span.
    pub fn inject(&self, headers: &mut http::HeaderMap) {
        if let Some(cx) = &self.cx {
            TraceContextPropagator::new().inject_context(cx, &mut HeaderInjector(headers));
        }
    }
}

/// Runs `fut` with `span` as OpenTelemetry's current context (set on every poll), so that the
/// client spans [`client_span`] makes while it runs are its children.
pub async fn within<F: Future>(span: &TraceSpan, fut: F) -> F::Output {
    use opentelemetry::context::FutureExt as _;
    match &span.cx {
        Some(cx) => fut.with_context(cx.clone()).await,
        None => fut.await,
    }
}

fn start(
    name: Cow<'static, str>,
    kind: SpanKind,
    attributes: Vec<KeyValue>,
    parent: &Context,
) -> TraceSpan {
    let Some(tracer) = TRACER.get() else {
        return TraceSpan::none();
    };
    let span = tracer
        .span_builder(name)
        .with_kind(kind)
        .with_attributes(attributes)
        .start_with_context(tracer, parent);
    TraceSpan {
        cx: Some(parent.with_span(span)),
    }
}

/// The server span of a request (HTTP semantic conventions), a child of the caller's span when
/// the request carries a `traceparent`; none when traces are off or the request is not sampled
/// (decided here, before anything is built). It is named `METHOD route` from `route`, the
/// template the path matches (a span's name is fixed once it starts); the route the handler
/// reports and the status are recorded by [`record_response`], which ends it.
pub fn server_span(
    method: &'static str,
    route: &'static str,
    path: &str,
    headers: &http::HeaderMap,
) -> TraceSpan {
    if !enabled() {
        return TraceSpan::none();
    }
    let parent = if headers.contains_key(TRACEPARENT) {
        TraceContextPropagator::new().extract(&Bounded(HeaderExtractor(headers)))
    } else {
        Context::new()
    };
    let (has_parent, parent_sampled) = {
        let remote = parent.span();
        let context = remote.span_context();
        (context.is_valid(), context.is_sampled())
    };
    // Health checks and scrapes (every second, from every checker) would bury the requests in
    // Jaeger: they are traced only as part of a caller's trace.
    if !has_parent && OPERATIONAL_ROUTES.contains(&route) {
        return TraceSpan::none();
    }
    let head = HEAD.get().copied().unwrap_or(Head {
        parent_based: true,
        ratio: 1.0,
    });
    if !head.keep(has_parent.then_some(parent_sampled)) {
        return TraceSpan::none();
    }
    let name = if route == "/" && method == "GET" {
        Cow::Borrowed("GET /")
    } else {
        Cow::Owned(format!("{method} {route}"))
    };
    start(
        name,
        SpanKind::Server,
        vec![
            KeyValue::new("http.request.method", method),
            KeyValue::new("url.path", crate::log_format::cut_path(path).to_owned()),
        ],
        &parent,
    )
}

/// The caller's headers as the propagator reads them, with a `tracestate` over
/// [`MAX_TRACESTATE_BYTES`] or [`MAX_TRACESTATE_MEMBERS`] left out.
struct Bounded<'a>(HeaderExtractor<'a>);

impl opentelemetry::propagation::Extractor for Bounded<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = self.0.get(key)?;
        let bounded = value.len() <= MAX_TRACESTATE_BYTES
            && value.split(',').filter(|m| !m.trim().is_empty()).count() <= MAX_TRACESTATE_MEMBERS;
        (key != TRACESTATE || bounded).then_some(value)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys()
    }
}

/// Records a request's route template and status on its server span (a 5xx marks it failed),
/// and ends it.
pub fn record_response(span: &TraceSpan, route: &'static str, status: u16) {
    if span.is_none() {
        return;
    }
    span.set("http.route", route);
    span.set("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.fail();
    }
    span.end();
}

/// A client span, the child of the current context's span (the request's, while [`within`] runs
/// the handler); none when there is no such span (traces off, the request not sampled).
pub fn client_span(name: impl FnOnce() -> String, attributes: Vec<KeyValue>) -> TraceSpan {
    if !enabled() {
        return TraceSpan::none();
    }
    let parent = Context::current();
    if !parent.has_active_span() {
        return TraceSpan::none();
    }
    start(Cow::Owned(name()), SpanKind::Client, attributes, &parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(resource: &Resource, key: &'static str) -> Option<String> {
        resource
            .get(&opentelemetry::Key::from_static_str(key))
            .map(|v| v.to_string())
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn resource_attributes_are_parsed_and_percent_decoded() {
        let (got, problems) = resource_attributes(
            " k8s.namespace.name = superpower ,deployment.environment.name=demo%2C%20kind%3Dminikube,note=caf%C3%A9,",
        );
        assert_eq!(
            got,
            pairs(&[
                ("k8s.namespace.name", "superpower"),
                ("deployment.environment.name", "demo, kind=minikube"),
                ("note", "café"),
            ])
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(resource_attributes(""), (vec![], vec![]));
        // a value may itself hold '=' (only the first one separates)
        assert_eq!(resource_attributes("a=b=c").0, pairs(&[("a", "b=c")]));
    }

    #[test]
    fn bad_resource_attributes_are_skipped_with_a_reason_and_never_panic() {
        let (got, problems) =
            resource_attributes("good=1,novalue,=nokey,bad=%zz,cut=%4,notutf8=%ff%fe,also=2");
        assert_eq!(got, pairs(&[("good", "1"), ("also", "2")]));
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems[0].contains("\"novalue\" is not key=value"));
        assert!(problems[1].contains("no key"));
        assert!(problems[2..].iter().all(|p| p.contains("percent-encoded")));
        // a multi-byte character cut by a '%' escape's window is no panic either
        assert!(resource_attributes("x=%é").1.len() == 1);
    }

    #[test]
    fn the_resource_names_the_service_and_its_instance() {
        // the instance's own name (the pod's) and the attributes
        let r = resource(
            None,
            "superpower",
            Some("superpower-7c9f-abcde"),
            pairs(&[("k8s.namespace.name", "superpower")]),
        );
        assert_eq!(attribute(&r, "service.name").as_deref(), Some("superpower"));
        assert_eq!(
            attribute(&r, "service.instance.id").as_deref(),
            Some("superpower-7c9f-abcde")
        );
        assert_eq!(
            attribute(&r, "k8s.namespace.name").as_deref(),
            Some("superpower")
        );
        // the attributes' service.name and instance id count when nothing more specific is set
        let attrs = pairs(&[("service.name", "front"), ("service.instance.id", "a")]);
        let r = resource(None, "superpower", None, attrs.clone());
        assert_eq!(attribute(&r, "service.name").as_deref(), Some("front"));
        assert_eq!(attribute(&r, "service.instance.id").as_deref(), Some("a"));
        // OTEL_SERVICE_NAME and the instance's name win over them
        let r = resource(Some("named"), "superpower", Some("pod-0"), attrs);
        assert_eq!(attribute(&r, "service.name").as_deref(), Some("named"));
        assert_eq!(
            attribute(&r, "service.instance.id").as_deref(),
            Some("pod-0")
        );
        // no instance anywhere: no attribute
        let r = resource(None, "powersource", None, vec![]);
        assert_eq!(attribute(&r, "service.instance.id"), None);
    }

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
    fn a_tracestate_over_its_bounds_is_left_out() {
        use opentelemetry::propagation::Extractor;
        let with = |state: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(
                TRACEPARENT,
                http::HeaderValue::from_static(
                    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                ),
            );
            h.insert(TRACESTATE, http::HeaderValue::from_str(state).unwrap());
            h
        };
        let members = |n: usize| {
            (0..n)
                .map(|i| format!("v{i}=x"))
                .collect::<Vec<_>>()
                .join(",")
        };
        for (state, kept) in [
            (members(1), true),
            (members(MAX_TRACESTATE_MEMBERS), true),
            (members(MAX_TRACESTATE_MEMBERS + 1), false),
            (format!("v={}", "x".repeat(MAX_TRACESTATE_BYTES - 2)), true),
            (format!("v={}", "x".repeat(MAX_TRACESTATE_BYTES - 1)), false),
        ] {
            let h = with(&state);
            let b = Bounded(HeaderExtractor(&h));
            assert_eq!(b.get(TRACESTATE).is_some(), kept, "{} bytes", state.len());
            assert!(
                b.get(TRACEPARENT).is_some(),
                "the traceparent always goes on"
            );
        }
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
        assert!(client_span(|| "GET x".into(), vec![]).is_none());
    }
}
