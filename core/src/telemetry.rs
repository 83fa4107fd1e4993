//! Traces and logs: `tracing` + `tracing-opentelemetry`, exported over OTLP gRPC when configured.
//!
//! [`init`] installs one subscriber with two layers: a log layer (text or JSON on stderr, every
//! line masked) and an OpenTelemetry layer whose spans pass through [`MaskingProcessor`] before
//! any sink sees them. Sampling is parent-based trace-id ratio. A collector that is down costs no
//! request: export runs on its own thread with a bounded queue, and spans beyond it are dropped
//! and counted in `ragtrace_telemetry_spans_total{outcome="dropped"}`.
//!
//! The returned [`TelemetryGuard`] flushes and shuts the pipeline down when dropped.

use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{Context, KeyValue, Value, global};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, Span, SpanData,
    SpanExporter, SpanProcessor,
};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::config::TelemetrySettings;
use crate::mask::mask;
use crate::semconv::metric;

/// Errors while setting telemetry up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built (bad endpoint URL).
    #[error("cannot build the OTLP exporter for {endpoint}: {source}")]
    Exporter {
        /// The configured endpoint.
        endpoint: String,
        /// Why.
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// The log filter does not parse.
    #[error("invalid log filter {filter:?}: {source}")]
    Filter {
        /// The filter.
        filter: String,
        /// Why.
        source: tracing_subscriber::filter::ParseError,
    },
    /// The export runtime could not start.
    #[error("cannot start the telemetry runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Keeps the trace pipeline alive; flushes and shuts it down on drop.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    // The tonic exporter's connection tasks live here, off the application's runtimes, so a
    // blocking flush at shutdown never waits on a runtime it is blocking.
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("exporting", &self.runtime.is_some())
            .finish()
    }
}

impl TelemetryGuard {
    /// Flushes pending spans and shuts the exporter down (also done on drop).
    pub fn shutdown(&mut self) {
        if let Some(provider) = self.provider.take() {
            // Bounded by the processor's own timeouts; errors here only mean spans were lost,
            // which must never stop the process from exiting.
            if let Err(e) = provider.shutdown_with_timeout(Duration::from_secs(5)) {
                eprintln!("telemetry: shutdown: {e}");
            }
        }
        if let Some(rt) = self.runtime.take() {
            // Dropping a runtime inside another one panics; hand it off there instead.
            if tokio::runtime::Handle::try_current().is_ok() {
                rt.shutdown_background();
            } else {
                rt.shutdown_timeout(Duration::from_secs(1));
            }
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Installs the global subscriber, propagator and tracer provider for `service_name`.
///
/// `extra` processors (such as the in-process trace store) receive the same masked spans as the
/// exporter. With `record_all`, every trace is recorded (the extra processors see them all) and
/// the sampling ratio applies to OTLP export only. Calling `init` twice in one process keeps the
/// first subscriber.
pub fn init(
    settings: &TelemetrySettings,
    extra: Vec<Box<dyn SpanProcessor>>,
    record_all: bool,
) -> Result<TelemetryGuard, TelemetryError> {
    global::set_text_map_propagator(TraceContextPropagator::new());

    let mut sinks: Vec<Box<dyn SpanProcessor>> = extra;
    let mut runtime = None;
    if !settings.otlp_endpoint.is_empty() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otel-export")
            .enable_all()
            .build()?;
        let exporter = {
            let _enter = rt.enter();
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(settings.otlp_endpoint.clone())
                .with_timeout(Duration::from_millis(settings.otlp_timeout_ms))
                .build()
                .map_err(|source| TelemetryError::Exporter {
                    endpoint: settings.otlp_endpoint.clone(),
                    source,
                })?
        };
        let in_flight = Arc::new(AtomicUsize::new(0));
        let bsp = BatchSpanProcessor::builder(CountingExporter {
            inner: exporter,
            in_flight: in_flight.clone(),
        })
        .with_batch_config(
            BatchConfigBuilder::default()
                // The gate below keeps at most max_queue_size spans in flight, so this queue
                // never overflows silently.
                .with_max_queue_size(settings.max_queue_size + 1)
                .with_scheduled_delay(Duration::from_millis(500))
                .with_max_export_batch_size(512.min(settings.max_queue_size.max(1)))
                .build(),
        )
        .build();
        sinks.push(Box::new(BoundedExport {
            inner: bsp,
            in_flight,
            max_in_flight: settings.max_queue_size,
            export_ratio: (record_all && settings.sample_ratio < 1.0)
                .then_some(settings.sample_ratio),
        }));
        runtime = Some(rt);
    }

    let sampler = if record_all {
        Sampler::AlwaysOn
    } else {
        Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(settings.sample_ratio)))
    };
    let provider = SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_resource(
            Resource::builder()
                .with_service_name(settings.service_name.clone())
                .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
                .build(),
        )
        .with_span_processor(MaskingProcessor { sinks })
        .build();
    global::set_tracer_provider(provider.clone());
    let tracer = provider.tracer(settings.service_name.clone());

    let mut filter = settings.log_filter.clone();
    // async-openai logs whole response bodies at ERROR/WARN; ragtrace reports those errors itself.
    if !filter.contains("async_openai") {
        filter.push_str(",async_openai=off");
    }
    // qdrant-edge warns about process-wide flags that only matter inside a Qdrant server.
    if !filter.contains("qdrant_edge") {
        filter.push_str(",qdrant_edge::common=error");
    }
    let env_filter = EnvFilter::try_new(&filter).map_err(|source| TelemetryError::Filter {
        filter: filter.clone(),
        source,
    })?;
    let log_layer = if settings.log_format == "json" {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(MaskingWriter)
            .with_filter(env_filter)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(MaskingWriter)
            .with_filter(env_filter)
            .boxed()
    };
    // Spans are traced at INFO and above whatever the log level, so a quiet log never breaks a
    // trace; transport crates are excluded so that exporting never traces itself.
    let span_filter = Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target("h2", LevelFilter::OFF)
        .with_target("hyper", LevelFilter::OFF)
        .with_target("hyper_util", LevelFilter::OFF)
        .with_target("tonic", LevelFilter::OFF)
        .with_target("tower", LevelFilter::OFF)
        .with_target("reqwest", LevelFilter::OFF)
        .with_target("opentelemetry_sdk", LevelFilter::OFF);
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_filter(span_filter);
    // A second init (tests) keeps the first subscriber; that is not an error worth failing on.
    let _ = tracing_subscriber::registry()
        .with(log_layer)
        .with(otel_layer)
        .try_init();

    Ok(TelemetryGuard {
        provider: Some(provider),
        runtime,
    })
}

/// Masks every string attribute, event and status text, then hands the span to each sink.
#[derive(Debug)]
pub struct MaskingProcessor {
    sinks: Vec<Box<dyn SpanProcessor>>,
}

fn mask_value(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Cow::Owned(masked) = mask(s.as_str()) {
                *v = Value::from(masked);
            }
        }
        Value::Array(opentelemetry::Array::String(items)) => {
            for item in items.iter_mut() {
                if let Cow::Owned(masked) = mask(item.as_str()) {
                    *item = masked.into();
                }
            }
        }
        _ => {}
    }
}

/// Masks secrets in a finished span in place (attributes, events, status).
pub fn mask_span(span: &mut SpanData) {
    for kv in span.attributes.iter_mut() {
        mask_value(&mut kv.value);
    }
    for ev in span.events.events.iter_mut() {
        if let Cow::Owned(name) = mask(&ev.name) {
            ev.name = Cow::Owned(name);
        }
        for kv in ev.attributes.iter_mut() {
            mask_value(&mut kv.value);
        }
    }
    if let opentelemetry::trace::Status::Error { description } = &mut span.status
        && let Cow::Owned(d) = mask(description)
    {
        *description = Cow::Owned(d);
    }
}

impl SpanProcessor for MaskingProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        for s in &self.sinks {
            s.on_start(span, cx);
        }
    }

    fn on_end(&self, mut span: SpanData) {
        mask_span(&mut span);
        if let Some((last, rest)) = self.sinks.split_last() {
            for s in rest {
                s.on_end(span.clone());
            }
            last.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        // Every sink is flushed even when one fails; the first failure is reported.
        let results: Vec<OTelSdkResult> = self.sinks.iter().map(|s| s.force_flush()).collect();
        results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let results: Vec<OTelSdkResult> = self
            .sinks
            .iter()
            .map(|s| s.shutdown_with_timeout(timeout))
            .collect();
        results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
    }

    fn set_resource(&mut self, resource: &Resource) {
        for s in self.sinks.iter_mut() {
            s.set_resource(resource);
        }
    }
}

/// Keeps at most `max_in_flight` spans between `on_end` and the end of their export, and counts
/// the spans it drops beyond that (the SDK's own queue drops silently).
#[derive(Debug)]
struct BoundedExport<P> {
    inner: P,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: usize,
    // When every trace is recorded (for the in-process store), export keeps this share of them,
    // chosen by trace id exactly as the SDK's TraceIdRatioBased sampler would.
    export_ratio: Option<f64>,
}

/// The SDK's trace-id ratio decision: the low 63 bits of the trace id against the ratio.
pub fn trace_id_sampled(trace_id: opentelemetry::trace::TraceId, ratio: f64) -> bool {
    let bound = (ratio.clamp(0.0, 1.0) * (1u64 << 63) as f64) as u64;
    let bytes = trace_id.to_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..]);
    (u64::from_be_bytes(low) >> 1) < bound
}

impl<P: SpanProcessor> SpanProcessor for BoundedExport<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if let Some(ratio) = self.export_ratio
            && !trace_id_sampled(span.span_context.trace_id(), ratio)
        {
            return;
        }
        let admitted = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_in_flight).then_some(n + 1)
            })
            .is_ok();
        if admitted {
            self.inner.on_end(span);
        } else {
            crate::metrics::counter(&metric::SPANS_EXPORTED_TOTAL, ["dropped"]).increment(1);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Counts exported and failed spans and releases their slots in [`BoundedExport`].
#[derive(Debug)]
struct CountingExporter<E> {
    inner: E,
    in_flight: Arc<AtomicUsize>,
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        let result = self.inner.export(batch).await;
        let outcome = if result.is_ok() { "exported" } else { "failed" };
        crate::metrics::counter(&metric::SPANS_EXPORTED_TOTAL, [outcome]).increment(n as u64);
        self.in_flight.fetch_sub(n, Ordering::AcqRel);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A log writer that masks each formatted line before it reaches stderr.
#[derive(Debug, Clone, Copy)]
pub struct MaskingWriter;

/// One buffered log line; masked and written on drop.
#[derive(Debug, Default)]
pub struct MaskedLine(Vec<u8>);

impl Write for MaskedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for MaskedLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let _ = std::io::stderr().write_all(mask(&text).as_bytes());
    }
}

impl<'a> MakeWriter<'a> for MaskingWriter {
    type Writer = MaskedLine;

    fn make_writer(&'a self) -> Self::Writer {
        MaskedLine::default()
    }
}

/// Marks `span` failed: its `error.type` (a short class such as `timeout`), an error status and
/// a description. Every span of ragtrace records a failure this way, so the viewer, Jaeger and
/// the error filters all see the same three fields.
pub fn mark_failed(span: &tracing::Span, kind: &str, description: &str) {
    span.record(crate::semconv::attr::ERROR_TYPE, kind);
    span.record(crate::semconv::attr::OTEL_STATUS_CODE, "error");
    span.record(crate::semconv::attr::OTEL_STATUS_DESCRIPTION, description);
}

/// The W3C trace id of the current span, if it is being traced.
pub fn current_trace_id() -> Option<String> {
    trace_id_of(&tracing::Span::current())
}

/// The W3C trace id of `span`, if it is being traced.
pub fn trace_id_of(span: &tracing::Span) -> Option<String> {
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

/// The `traceparent` value for the current span, if it is being traced.
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// The `traceparent` value for `span`, if it is being traced.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}

/// Adds W3C trace context headers for the current span to an outgoing request's headers.
pub fn inject_current(headers: &mut http::HeaderMap) {
    struct Injector<'a>(&'a mut http::HeaderMap);
    impl opentelemetry::propagation::Injector for Injector<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(key.as_bytes()),
                http::HeaderValue::from_str(&value),
            ) {
                self.0.insert(name, value);
            }
        }
    }
    let cx = tracing::Span::current().context();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut Injector(headers)));
}

/// Extracts a W3C trace context from incoming headers (e.g. an ingest job's carrier).
pub fn extract(headers: &http::HeaderMap) -> Context {
    struct Extractor<'a>(&'a http::HeaderMap);
    impl opentelemetry::propagation::Extractor for Extractor<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }
    global::get_text_map_propagator(|p| p.extract(&Extractor(headers)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::sync::Mutex;

    #[derive(Debug, Default, Clone)]
    struct Capture(Arc<Mutex<Vec<SpanData>>>);

    impl SpanProcessor for Capture {
        fn on_start(&self, _: &mut Span, _: &Context) {}
        fn on_end(&self, span: SpanData) {
            self.0.lock().unwrap().push(span);
        }
        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }
        fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
            Ok(())
        }
    }

    fn span_with(attrs: Vec<KeyValue>, event: &str) -> SpanData {
        let mut events = SpanEvents::default();
        events.events.push(opentelemetry::trace::Event::new(
            event.to_owned(),
            std::time::SystemTime::now(),
            vec![KeyValue::new("detail", "Bearer abcdefghijklmnop")],
            0,
        ));
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(1u128),
                SpanId::from(1u64),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "x".into(),
            start_time: std::time::SystemTime::now(),
            end_time: std::time::SystemTime::now(),
            attributes: attrs,
            dropped_attributes_count: 0,
            events,
            links: SpanLinks::default(),
            status: Status::error("failed for bob@example.com"),
            instrumentation_scope: Default::default(),
        }
    }

    /// Every sink receives the span with secrets masked in attributes, events and status.
    #[test]
    fn masking_processor_masks_before_sinks() {
        let a = Capture::default();
        let b = Capture::default();
        let p = MaskingProcessor {
            sinks: vec![Box::new(a.clone()), Box::new(b.clone())],
        };
        p.on_end(span_with(
            vec![
                KeyValue::new("q", "my key is sk-proj-abcdefghijklmnopqrst"),
                KeyValue::new("n", 3),
            ],
            "mail alice@example.com",
        ));
        for sink in [a, b] {
            let spans = sink.0.lock().unwrap();
            let s = &spans[0];
            assert_eq!(s.attributes[0].value.as_str(), "my key is ****");
            assert_eq!(s.attributes[1].value, Value::I64(3));
            assert_eq!(s.events.events[0].name, "mail ****@****");
            assert_eq!(
                s.events.events[0].attributes[0].value.as_str(),
                "Bearer ****"
            );
            assert_eq!(s.status, Status::error("failed for ****@****"));
        }
    }

    /// Beyond the in-flight cap, spans are dropped (and counted) instead of queued.
    #[test]
    fn bounded_export_drops_beyond_cap() {
        let inner = Capture::default();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let p = BoundedExport {
            inner: inner.clone(),
            in_flight: in_flight.clone(),
            max_in_flight: 2,
            export_ratio: None,
        };
        for _ in 0..5 {
            p.on_end(span_with(vec![], "e"));
        }
        assert_eq!(inner.0.lock().unwrap().len(), 2);
        assert_eq!(in_flight.load(Ordering::Acquire), 2);
    }
}
