//! Traces and logs: `tracing` + `tracing-opentelemetry`, exported over OTLP gRPC when configured.
//!
//! [`init`] installs the trace pipeline ([`init_traces`]: sampling, the masking processor and
//! its sinks) and one subscriber ([`init_logs`]: a log layer, text or JSON on stderr, every line
//! masked, and the OpenTelemetry layer). Sampling is parent-based trace-id ratio. A collector
//! that is down costs no request: export runs on its own thread with a bounded queue, and spans
//! beyond it are dropped and counted in `ragtrace_telemetry_spans_total{outcome="dropped"}`.
//!
//! The returned [`TelemetryGuard`] flushes and shuts the pipeline down when dropped.
//!
//! # Layout
//!
//! - [`masking`]: what is masked, and the span processor and log writer that mask.
//! - [`export`]: bounded OTLP export with its outcomes counted.
//! - [`propagation`]: W3C trace context in and out.

pub mod export;
pub mod logs;
pub mod masking;
pub mod otlp;
pub mod propagation;

pub use export::trace_id_sampled;
pub use masking::{MaskingProcessor, MaskingWriter, SpanReader, mask, mask_span};
pub use propagation::{
    context_of, current_trace_id, current_traceparent, extract, inject_current,
    sampled_trace_id_of, trace_id_of, traceparent_of,
};

use std::io::IsTerminal as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{KeyValue, global};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider, SpanProcessor};
use tracing_subscriber::filter::FilterExt as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::config::TelemetrySettings;

/// Errors while setting telemetry up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built (bad endpoint URL).
    #[error("cannot build the OTLP exporter for {endpoint}: {source}")]
    Exporter {
        /// The URL traces were to go to, echoed so a mistyped URL shows in the message.
        endpoint: String,
        /// Why the builder refused it, typically an endpoint that is not a valid URL.
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// The built-in exporter cannot use the endpoint (not a URL, or TLS settings it refuses).
    #[error("cannot export OTLP to {endpoint}: {reason}")]
    Endpoint {
        /// The URL traces were to go to.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A certificate or key file named by the TLS settings cannot be read or parsed.
    #[error("cannot use the OTLP TLS file {path}: {reason}")]
    Certificate {
        /// The file, as configured (`OTEL_EXPORTER_OTLP_CERTIFICATE` and friends).
        path: String,
        /// Why: not found, not PEM, a key that does not match.
        reason: String,
    },
    /// The log filter does not parse.
    #[error("invalid log filter {filter:?}: {source}")]
    Filter {
        /// The filter as parsed: `log_filter` (or `RUST_LOG`) plus the directives ragtrace appends.
        filter: String,
        /// `tracing-subscriber`'s parse error, shown after the filter text.
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

/// Installs the global propagator, tracer provider and subscriber for `settings.service_name`.
///
/// `readers` (such as the in-process trace store) read the same masked spans the exporter gets.
/// With `record_all`, every trace is recorded (the readers see them all) and
/// the sampling ratio applies to OTLP export only. Calling `init` twice in one process keeps the
/// first subscriber.
pub fn init(
    settings: &TelemetrySettings,
    readers: Vec<Box<dyn SpanReader>>,
    record_all: bool,
) -> Result<TelemetryGuard, TelemetryError> {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let (provider, runtime) = init_traces(settings, readers, record_all)?;
    init_logs(settings, provider.tracer(settings.service_name.clone()))?;
    Ok(TelemetryGuard {
        provider: Some(provider),
        runtime,
    })
}

/// The tracer provider: sampling, then the masking processor ahead of every reader (`readers`)
/// and of OTLP export when an endpoint is set. Installed globally; returns the export runtime
/// too.
pub fn init_traces(
    settings: &TelemetrySettings,
    readers: Vec<Box<dyn SpanReader>>,
    record_all: bool,
) -> Result<(SdkTracerProvider, Option<tokio::runtime::Runtime>), TelemetryError> {
    let mut sinks: Vec<Box<dyn SpanProcessor>> = Vec::new();
    let mut runtime = None;
    if settings.traces_url().is_some() {
        let (sink, rt) = export::otlp_sink(settings, record_all)?;
        sinks.push(sink);
        runtime = Some(rt);
    }
    let sampler = if settings.sdk_disabled {
        // OTEL_SDK_DISABLED: nothing is recorded, whatever else is asked.
        Sampler::AlwaysOff
    } else if record_all {
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
        .with_span_processor(MaskingProcessor::new(readers, sinks))
        .build();
    global::set_tracer_provider(provider.clone());
    Ok((provider, runtime))
}

/// How often each call site of the OpenTelemetry SDK may log.
const SDK_LOG_EVERY: Duration = Duration::from_secs(30);

/// Whether text logs are coloured: only on a terminal, and never when `NO_COLOR` is set to
/// anything but an empty string.
fn colour_logs(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Lets one event per key through every `every`.
struct Throttle<K> {
    every: Duration,
    last: std::sync::Mutex<std::collections::HashMap<K, std::time::Instant>>,
}

impl<K: std::hash::Hash + Eq> Throttle<K> {
    fn new(every: Duration) -> Self {
        Self {
            every,
            last: std::sync::Mutex::default(),
        }
    }

    /// Whether the event `key` at `now` is let through (and, if so, remembered).
    fn allow(&self, key: K, now: std::time::Instant) -> bool {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match last.get(&key) {
            Some(t) if now.saturating_duration_since(*t) < self.every => false,
            _ => {
                last.insert(key, now);
                true
            }
        }
    }
}

/// The subscriber: the log layer (text or JSON on stderr, masked, filtered by
/// `settings.log_filter`) and the OpenTelemetry layer over `tracer`.
pub fn init_logs(settings: &TelemetrySettings, tracer: SdkTracer) -> Result<(), TelemetryError> {
    // A second init (tests) keeps the first subscriber; that is not an error worth failing on.
    let _ = subscriber(settings, tracer, MaskingWriter)?.try_init();
    Ok(())
}

/// The subscriber [`init_logs`] installs, with its log lines written to `writer`.
fn subscriber<W>(
    settings: &TelemetrySettings,
    tracer: SdkTracer,
    writer: W,
) -> Result<tracing::Dispatch, TelemetryError>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
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
    // A collector that is down fails every export batch, and the SDK logs each failure: one
    // line per call site every 30 s says as much as fifteen a second (the spans lost are
    // counted in ragtrace_telemetry_spans_total{outcome="dropped"}).
    let throttle = Throttle::new(SDK_LOG_EVERY);
    let quiet_sdk = tracing_subscriber::filter::dynamic_filter_fn(move |meta, _| {
        !(meta.is_event() && meta.target().starts_with("opentelemetry"))
            || throttle.allow(meta.callsite(), std::time::Instant::now())
    })
    // It only ever turns lines down: the level filter beside it says how verbose logs can be.
    .with_max_level_hint(LevelFilter::TRACE);
    let log_level = env_filter.max_level_hint().unwrap_or(LevelFilter::TRACE);
    let filter = env_filter.and(quiet_sdk);
    let log_layer = if settings.log_format == "json" {
        json_log_layer(writer).with_filter(filter).boxed()
    } else {
        // Colour only for a person at a terminal, and never with NO_COLOR (no-color.org): a
        // file or a pipe gets plain `key=value` text that tools and the masking rules can read.
        let text = tracing_subscriber::fmt::layer()
            .with_ansi(colour_logs(std::io::stderr().is_terminal()))
            .with_writer(writer);
        if settings.log_span_fields {
            text.with_filter(filter).boxed()
        } else {
            // Lines name their spans; the spans' fields are not formatted for them.
            logs::SkipSpanFields
                .and_then(text.fmt_fields(logs::EventFieldsOnly::default()))
                .with_filter(filter)
                .boxed()
        }
    };
    let logs = tracing_subscriber::registry().with(log_layer);
    // OTEL_SDK_DISABLED: no OpenTelemetry layer at all, and then no span is made. (Not an
    // `Option` layer: an empty one is interested in every call site, so every span would still
    // be made for nobody, and a full one does not pass on the dispatch the layer reads contexts
    // through.)
    Ok(if settings.sdk_disabled {
        tracing::Dispatch::new(logs)
    } else {
        tracing::Dispatch::new(logs.with(otel_layer(tracer)).with(SpanGate::new(log_level)))
    })
}

/// Keeps a span that neither layer takes from being made at all.
///
/// `tracing-subscriber` makes every span that a per-layer filter was asked about, even when
/// every filter turned it down: its registry treats a span as wanted unless all 64 filters it
/// can hold said no. So a span inside an unsampled trace, below the log level, was still made,
/// entered and left at every poll of its future, and closed, for nobody: about 100,000
/// instructions of every unsampled chat request (docs/benchmarks.md). This layer sits outside
/// both filters and says no for both at once: a span is made when the log layer could name it
/// in a line (its level is within the log filter's most verbose level) or when the
/// OpenTelemetry layer would take it ([`otel_targets`] and [`RecordedTraces`]). Both answers are
/// supersets of the per-layer filters' own, so no span a layer wants is ever turned down; the
/// filters still decide which layer sees which span.
#[derive(Debug, Clone)]
struct SpanGate {
    /// The log filter's most verbose level.
    log_level: LevelFilter,
    /// The spans the OpenTelemetry layer takes by target and level.
    targets: Targets,
    /// Whether the span's trace is recorded, asked as the OpenTelemetry layer's filter asks.
    recorded: RecordedTraces,
}

impl SpanGate {
    fn new(log_level: LevelFilter) -> Self {
        Self {
            log_level,
            targets: otel_targets(),
            recorded: RecordedTraces {
                registered: Registered::default(),
            },
        }
    }
}

impl<S> tracing_subscriber::Layer<S> for SpanGate
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_register_dispatch(&self, dispatch: &tracing::Dispatch) {
        self.recorded.registered.register(dispatch);
    }

    /// No opinion on a call site: the layers' filters decide which ones are asked about.
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::always()
    }

    fn enabled(
        &self,
        meta: &tracing::Metadata<'_>,
        cx: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        use tracing_subscriber::layer::Filter as _;
        // The current span here is the current span of either layer. When it is one only the
        // log layer has, the OpenTelemetry layer has no context for it, and the span is let
        // through: a superset again.
        !meta.is_span()
            || *meta.level() <= self.log_level
            || (self.targets.would_enable(meta.target(), meta.level())
                && self.recorded.enabled(meta, &cx))
    }

    /// What the two layers below can take at most. Without a hint of its own, a layer in front
    /// of filtered layers would make every level of every call site worth asking about.
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.log_level.max(LevelFilter::INFO))
    }
}

/// The spans the OpenTelemetry layer takes by target and level: INFO and above whatever the
/// log level, except the transport crates' (exporting never traces itself).
fn otel_targets() -> Targets {
    Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target("h2", LevelFilter::OFF)
        .with_target("hyper", LevelFilter::OFF)
        .with_target("hyper_util", LevelFilter::OFF)
        .with_target("tonic", LevelFilter::OFF)
        .with_target("tower", LevelFilter::OFF)
        .with_target("reqwest", LevelFilter::OFF)
        .with_target("opentelemetry_sdk", LevelFilter::OFF)
}

/// The OpenTelemetry layer as ragtrace installs it: spans at INFO and above whatever the log
/// level (a quiet log never breaks a trace), transport crates excluded (exporting never traces
/// itself), and only the spans of traces that are being recorded ([`RecordedTraces`]).
///
/// Entering a span does not make its OpenTelemetry context the current one (the layer's
/// "context activation"): that costs a context copy and a guard at every poll of every
/// instrumented future, and nothing in ragtrace reads `opentelemetry::Context::current()`. A
/// span's context is read from the span itself ([`propagation::context_of`]), and a new span's
/// parent is the current `tracing` span, which is what the layer then uses.
///
/// Spans and their events carry no `target` attribute (the Rust module that made them): the
/// span's name and `ragtrace.stage` say what it measures, nothing reads the module path, and as
/// a string attribute it cost every traced span its copy, its masking scan, its place in the
/// trace store and its bytes on the wire (about 1 % of a traced request's instructions). Log
/// lines keep their target.
pub fn otel_layer<S>(tracer: SdkTracer) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let span_filter = otel_targets();
    let registered = Registered::default();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_context_activation(false)
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
        .with_target(false);
    // Behind the same filter as the layer: an unfiltered layer beside filtered ones would make
    // every call site of every level interesting to the subscriber.
    let filter = span_filter.and(RecordedTraces {
        registered: registered.clone(),
    });
    registered.and_then(layer).with_filter(filter)
}

thread_local! {
    /// Set while [`new_trace`] makes a span: the span starts (or continues) a trace of its own.
    static NEW_TRACE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes a span with `make` as the first span of a trace in this process, whatever span is
/// current: [`RecordedTraces`] lets it through to the sampler, as it does a request's root. The
/// caller gives it its parent (a queued job's producer, with `set_parent`) or none.
pub fn new_trace(make: impl FnOnce() -> tracing::Span) -> tracing::Span {
    NEW_TRACE.with(|flag| {
        let before = flag.replace(true);
        let span = make();
        flag.set(before);
        span
    })
}

/// Lets a span through to the OpenTelemetry layer only when its trace is being recorded.
///
/// `tracing-opentelemetry` converts a span's attributes when the span is made and asks the
/// sampler only when the span is started, so without this filter every span of a trace the
/// sampler dropped would still pay for its attributes, a sampler call and an SDK span. The
/// sampler decides once, at a trace's first span in this process; a span made inside a trace
/// that is not recorded never reaches the layer, and its OpenTelemetry context is its nearest
/// recorded ancestor's ([`propagation::context_of`]), so `traceparent` still carries the trace
/// id and the not-sampled flag downstream.
///
/// The parent consulted is the nearest current `tracing` span this filter let through, which is
/// what the layer itself makes a contextual span's parent; a span with an explicit parent is
/// judged by the current span too, which is the same trace in ragtrace's code (a transcription
/// chunk names its batch, inside the job's span), and a span that starts a trace of its own is
/// made inside [`new_trace`]. Events are always let through: they are rare on the request path,
/// and the layer files an event under its nearest recorded span.
#[derive(Debug, Clone)]
pub struct RecordedTraces {
    /// The dispatch the layer is registered with: the parent's OpenTelemetry context is read
    /// through it.
    registered: Registered,
}

/// Whether the children of a span the OpenTelemetry layer was given are recorded: the sampler's
/// answer for its trace, kept in the span once [`RecordedTraces`] has asked for it.
struct Recorded(bool);

impl<S> tracing_subscriber::layer::Filter<S> for RecordedTraces
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn enabled(
        &self,
        meta: &tracing::Metadata<'_>,
        cx: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        use opentelemetry::trace::TraceContextExt as _;
        if !meta.is_span() || NEW_TRACE.get() {
            return true;
        }
        // No recorded span is current: a new trace, for the sampler to decide.
        let Some(parent) = cx.lookup_current() else {
            return true;
        };
        // Asked once a parent: its children have the same answer.
        if let Some(Recorded(recorded)) = parent.extensions().get::<Recorded>() {
            return *recorded;
        }
        let Some(dispatch) = self.registered.dispatch() else {
            return true;
        };
        let recorded =
            tracing_opentelemetry::get_otel_context(&parent.id(), &dispatch).is_none_or(|cx| {
                let parent = cx.span();
                let sc = parent.span_context();
                !sc.is_valid() || sc.is_sampled() || parent.is_recording()
            });
        parent.extensions_mut().insert(Recorded(recorded));
        recorded
    }

    fn callsite_enabled(
        &self,
        meta: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if meta.is_span() {
            // Decided per span: the same call site is in recorded and unrecorded traces.
            tracing::subscriber::Interest::sometimes()
        } else {
            tracing::subscriber::Interest::always()
        }
    }

    /// No opinion on levels: the level filter it is combined with has one (`And` takes the
    /// stricter hint, and none at all when either side has none).
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::TRACE)
    }
}

/// JSON log lines (written to `writer`) with the W3C `trace_id` and `span_id` of the span they
/// were logged in as top-level keys, what log shippers and Grafana's trace links look for.
fn json_log_layer<S, W>(writer: W) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use opentelemetry::trace::TraceContextExt as _;

    let registered = Registered::default();
    let mut layer = json_subscriber::fmt::layer().with_writer(writer);
    let contexts = registered.clone();
    layer
        .inner_layer_mut()
        .add_multiple_dynamic_fields(move |event, ctx, out| {
            let Some(span) = ctx.event_span(event) else {
                return;
            };
            let Some(d) = contexts.dispatch() else {
                return;
            };
            // The nearest span the OpenTelemetry layer records (one inside an unsampled trace
            // is not given to it, and carries its root's ids).
            let Some(cx) = propagation::nearest_context(span, &d) else {
                return;
            };
            let sc = cx.span().span_context().clone();
            if sc.is_valid() {
                let _ = out.write_field("trace_id", sc.trace_id().to_string());
                let _ = out.write_field("span_id", sc.span_id().to_string());
            }
        });
    registered.and_then(layer)
}

/// The dispatch a subscriber is registered with, kept by a layer of it: the OpenTelemetry
/// context of a span is read through the dispatch that holds the OpenTelemetry layer, and where
/// a span is being made or an event written, the current dispatch is out of reach. An `Option`
/// layer does not pass the dispatch on to the layer inside it. It goes behind its neighbour's
/// filter: on its own it would let every call site through.
#[derive(Debug, Clone, Default)]
struct Registered(Arc<OnceLock<tracing::dispatcher::WeakDispatch>>);

impl Registered {
    /// The dispatch, while the subscriber exists.
    fn dispatch(&self) -> Option<tracing::Dispatch> {
        self.0
            .get()
            .and_then(tracing::dispatcher::WeakDispatch::upgrade)
    }

    /// Keeps `dispatch` (the first one only: a layer is registered with one subscriber).
    fn register(&self, dispatch: &tracing::Dispatch) {
        let _ = self.0.set(dispatch.downgrade());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Registered {
    fn on_register_dispatch(&self, dispatch: &tracing::Dispatch) {
        self.register(dispatch);
    }
}

/// Marks `span` failed: its `error.type` (a short class such as `timeout`), an error status and
/// a description. Every span of ragtrace records a failure this way, so the viewer, Jaeger and
/// the error filters all see the same three fields.
pub fn mark_failed(span: &tracing::Span, kind: &str, description: &str) {
    use crate::semconv::attr;
    tracing::record_all!(
        span,
        { attr::ERROR_TYPE } = kind,
        { attr::OTEL_STATUS_CODE } = "error",
        { attr::OTEL_STATUS_DESCRIPTION } = description,
    );
}

#[cfg(test)]
mod tests {
    use super::export::BoundedExport;
    use super::*;

    /// The telemetry settings the app would load from the environment `env`.
    fn settings_from(
        env: std::collections::BTreeMap<String, String>,
    ) -> crate::config::TelemetrySettings {
        crate::config::Settings::load_from(&crate::config::Overrides::default(), &env)
            .unwrap()
            .telemetry
    }

    /// A JSON log line logged inside a traced span carries that span's W3C trace and span ids
    /// as top-level `trace_id` and `span_id`; a line outside any span carries neither. The
    /// subscriber is the one `init_logs` installs, filter included.
    #[test]
    fn json_logs_carry_the_trace_and_span_ids() {
        use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;

        let out = logs::tests::Lines::default();
        let sink = out.clone();
        let provider = SdkTracerProvider::builder().build();
        // The subscriber `init_logs` installs, JSON lines at `info`.
        let env = std::collections::BTreeMap::from([
            (
                "RAGTRACE__TELEMETRY__LOG_FORMAT".to_owned(),
                "json".to_owned(),
            ),
            ("RUST_LOG".to_owned(), "info".to_owned()),
        ]);
        let settings = settings_from(env);
        assert_eq!(settings.log_format, "json");
        let subscriber =
            subscriber(&settings, provider.tracer("test"), move || sink.clone()).unwrap();
        let (trace_id, span_id) = tracing::dispatcher::with_default(&subscriber, || {
            tracing::info!("outside any span");
            let span = tracing::info_span!("rag.pipeline");
            let _entered = span.enter();
            tracing::info!(stage = "retrieval", "inside the span");
            let cx = span.context();
            let sc = cx.span().span_context().clone();
            (sc.trace_id().to_string(), sc.span_id().to_string())
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].get("trace_id").is_none(), "{}", lines[0]);
        assert_eq!(lines[1]["trace_id"], trace_id.as_str(), "{}", lines[1]);
        assert_eq!(lines[1]["span_id"], span_id.as_str(), "{}", lines[1]);
        assert_eq!(trace_id.len(), 32);
        assert_eq!(lines[1]["fields"]["message"], "inside the span");
    }

    /// One event per key gets through per period; other keys are independent.
    #[test]
    fn the_throttle_lets_one_event_per_period_through() {
        let t = Throttle::new(Duration::from_secs(30));
        let now = std::time::Instant::now();
        assert!(t.allow("export", now));
        for s in 1..30 {
            assert!(!t.allow("export", now + Duration::from_secs(s)), "{s}");
        }
        assert!(t.allow("shutdown", now + Duration::from_secs(1)));
        assert!(t.allow("export", now + Duration::from_secs(30)));
    }

    /// Pipes and files get no colour codes.
    #[test]
    fn logs_are_coloured_only_on_a_terminal() {
        assert!(!colour_logs(false));
    }
    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{Context, Value};
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{Span, SpanData};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::sync::Arc;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug, Default, Clone)]
    struct Capture(Arc<Mutex<Vec<SpanData>>>);

    impl SpanReader for Capture {
        fn read(&self, span: &SpanData) {
            self.0.lock().unwrap().push(span.clone());
        }
    }

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

    /// Every reader and every sink receives the span with secrets masked in attributes, events
    /// and status.
    #[test]
    fn masking_processor_masks_before_sinks() {
        let a = Capture::default();
        let b = Capture::default();
        let reader = Capture::default();
        let p = MaskingProcessor {
            readers: vec![Box::new(reader.clone())],
            sinks: vec![Box::new(a.clone()), Box::new(b.clone())],
        };
        p.on_end(span_with(
            vec![
                KeyValue::new("q", "my key is sk-proj-abcdefghijklmnopqrst"),
                KeyValue::new("n", 3),
            ],
            "mail alice@example.com",
        ));
        for sink in [a, b, reader] {
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

    /// A sampler that counts its calls.
    #[derive(Debug, Clone)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        sample: bool,
    }

    impl opentelemetry_sdk::trace::ShouldSample for Counting {
        fn should_sample(
            &self,
            _: Option<&Context>,
            _: TraceId,
            _: &str,
            _: &SpanKind,
            _: &[KeyValue],
            _: &[opentelemetry::trace::Link],
        ) -> opentelemetry_sdk::trace::SamplingResult {
            use opentelemetry_sdk::trace::SamplingDecision;
            self.calls.fetch_add(1, Ordering::SeqCst);
            opentelemetry_sdk::trace::SamplingResult {
                decision: if self.sample {
                    SamplingDecision::RecordAndSample
                } else {
                    SamplingDecision::Drop
                },
                attributes: Vec::new(),
                trace_state: TraceState::default(),
            }
        }
    }

    /// A provider whose sampler says `sample` and counts its calls, and the spans it ended.
    fn counted_provider(sample: bool) -> (SdkTracerProvider, Arc<AtomicUsize>, Capture) {
        let calls = Arc::new(AtomicUsize::new(0));
        let spans = Capture::default();
        let provider = SdkTracerProvider::builder()
            .with_sampler(Counting {
                calls: calls.clone(),
                sample,
            })
            .with_span_processor(spans.clone())
            .build();
        (provider, calls, spans)
    }

    /// A trace the sampler drops costs one sampler call, at its root: the spans made inside it
    /// never reach the OpenTelemetry layer (without `RecordedTraces` the sampler is asked once a
    /// span, and every span's attributes are converted). Their context is the root's, not
    /// sampled, so `traceparent` still tells downstream the trace and not to sample it. A
    /// sampled trace records every span, nested as made.
    #[test]
    fn spans_of_an_unsampled_trace_never_reach_the_opentelemetry_layer() {
        for sample in [false, true] {
            let (provider, calls, spans) = counted_provider(sample);
            // The subscriber `init_logs` installs (text logs, to nowhere).
            let settings = settings_from(std::collections::BTreeMap::new());
            let subscriber = subscriber(&settings, provider.tracer("test"), std::io::sink).unwrap();
            let (root, grandchild) = tracing::dispatcher::with_default(&subscriber, || {
                let root = tracing::info_span!("root", http.route = "/v1/chat");
                let _root = root.enter();
                let child = tracing::info_span!("child", n = 1, q = "a question");
                let _child = child.enter();
                let grandchild = tracing::info_span!("grandchild", hits = 3);
                (
                    propagation::traceparent_of(&root).expect("the root is traced"),
                    propagation::traceparent_of(&grandchild).expect("inside a trace"),
                )
            });
            let recorded = spans.0.lock().unwrap();
            let names: Vec<&str> = recorded.iter().map(|s| s.name.as_ref()).collect();
            let (trace, flags) = (&root[3..35], &root[53..]);
            if sample {
                assert_eq!(calls.load(Ordering::SeqCst), 3, "one call a span");
                assert_eq!(names, ["grandchild", "child", "root"]);
                assert_eq!(flags, "01");
                let child = &recorded[1];
                assert_eq!(recorded[0].parent_span_id, child.span_context.span_id());
                assert_eq!(&grandchild[3..35], trace);
                assert_eq!(
                    &grandchild[36..52],
                    recorded[0].span_context.span_id().to_string()
                );
                // The fields, and no `target` (the module path): nothing reads it.
                let keys: Vec<&str> = recorded[1]
                    .attributes
                    .iter()
                    .map(|kv| kv.key.as_str())
                    .collect();
                assert_eq!(keys, ["n", "q"]);
            } else {
                assert_eq!(calls.load(Ordering::SeqCst), 1, "the root only");
                assert!(names.is_empty(), "{names:?}");
                assert_eq!(flags, "00");
                assert_eq!(grandchild, root, "the nearest recorded span's context");
            }
        }
    }

    /// A span made with `new_trace` is recorded or not by the trace it continues, whatever span
    /// is current where it is made: a queued job continues its upload's sampled trace even when
    /// the worker is inside a trace the sampler dropped. The same span made without it is judged
    /// by the current, unsampled trace, and never reaches the OpenTelemetry layer.
    #[test]
    fn a_new_trace_is_judged_by_its_own_parent_not_by_the_current_span() {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let spans = Capture::default();
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)))
            .with_span_processor(spans.clone())
            .build();
        let upload = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let subscriber = tracing_subscriber::registry().with(otel_layer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let dropped = tracing::info_span!("worker loop");
            let _dropped = dropped.enter();
            let judged_by_current = tracing::info_span!(parent: None, "judged by current");
            let _ = judged_by_current
                .set_parent(Context::new().with_remote_span_context(upload.clone()));
            let job = new_trace(|| tracing::info_span!(parent: None, "job"));
            let _ = job.set_parent(Context::new().with_remote_span_context(upload.clone()));
        });
        let recorded = spans.0.lock().unwrap();
        let names: Vec<&str> = recorded.iter().map(|s| s.name.as_ref()).collect();
        assert_eq!(names, ["job"]);
        assert_eq!(recorded[0].span_context.trace_id(), upload.trace_id());
        assert_eq!(recorded[0].parent_span_id, upload.span_id());
    }

    /// With `OTEL_SDK_DISABLED=true` and a log level that hides a span, the span is not made at
    /// all (an empty `Option` layer in the OpenTelemetry layer's place would have made every
    /// span for nobody). With the SDK on, the same span is made, for the sampler.
    #[test]
    fn without_the_sdk_a_span_nobody_wants_is_never_made() {
        for disabled in [true, false] {
            let env = std::collections::BTreeMap::from([
                ("OTEL_SDK_DISABLED".to_owned(), disabled.to_string()),
                ("RUST_LOG".to_owned(), "warn".to_owned()),
            ]);
            let settings = settings_from(env);
            assert_eq!(settings.sdk_disabled, disabled);
            let provider = SdkTracerProvider::builder().build();
            let subscriber = subscriber(&settings, provider.tracer("test"), std::io::sink).unwrap();
            let made = tracing::dispatcher::with_default(&subscriber, || {
                !tracing::info_span!("rag.pipeline").is_disabled()
            });
            assert_eq!(made, !disabled, "OTEL_SDK_DISABLED={disabled}");
        }
    }

    /// A span of an unsampled trace below the log level is never made: neither layer would
    /// see it, and `tracing-subscriber` alone would make it anyway (see `SpanGate`). A log level
    /// that reaches it (a line inside could name it) or a sampled trace makes it, and the root
    /// is always made, for the sampler.
    #[test]
    fn a_span_neither_layer_takes_is_never_made() {
        for (sampled, log, made) in [
            (false, "warn", false),
            (false, "info", true),
            (true, "warn", true),
            (true, "info", true),
        ] {
            let env = std::collections::BTreeMap::from([("RUST_LOG".to_owned(), log.to_owned())]);
            let settings = settings_from(env);
            let sampler = if sampled {
                Sampler::AlwaysOn
            } else {
                Sampler::AlwaysOff
            };
            let provider = SdkTracerProvider::builder().with_sampler(sampler).build();
            let subscriber = subscriber(&settings, provider.tracer("test"), std::io::sink).unwrap();
            let (root, child, grandchild) = tracing::dispatcher::with_default(&subscriber, || {
                let root = tracing::info_span!("request");
                let (child, grandchild) = root.in_scope(|| {
                    let child = tracing::info_span!("rag.pipeline");
                    let grandchild = child.in_scope(|| tracing::info_span!("rag.retrieve"));
                    (child, grandchild)
                });
                (root, child, grandchild)
            });
            let case = format!("sampled {sampled}, logs at {log}");
            assert!(!root.is_disabled(), "{case}: the root");
            assert_eq!(!child.is_disabled(), made, "{case}: a child");
            assert_eq!(!grandchild.is_disabled(), made, "{case}: a grandchild");
        }
    }

    /// Under a span only the logs have (a transport crate's, at the log level), the gate lets a
    /// new span through as a superset, and the OpenTelemetry filter judges it by the nearest span
    /// that layer has: inside an unsampled trace, it is turned down (the sampler is asked at the
    /// root only, and nothing is recorded); inside a sampled one, it is recorded, nested under
    /// the root.
    #[test]
    fn under_a_span_only_the_logs_have_a_span_is_judged_by_its_traced_ancestor() {
        for sample in [false, true] {
            let (provider, calls, spans) = counted_provider(sample);
            let env =
                std::collections::BTreeMap::from([("RUST_LOG".to_owned(), "warn".to_owned())]);
            let settings = settings_from(env);
            let subscriber = subscriber(&settings, provider.tracer("test"), std::io::sink).unwrap();
            let (transport, inner) = tracing::dispatcher::with_default(&subscriber, || {
                let root = tracing::info_span!("request");
                let _root = root.enter();
                let transport = tracing::warn_span!(target: "hyper", "connection");
                let _transport = transport.enter();
                let inner = tracing::info_span!("inner");
                (!transport.is_disabled(), !inner.is_disabled())
            });
            assert!(transport, "the logs take a warn span");
            let recorded = spans.0.lock().unwrap();
            let names: Vec<&str> = recorded.iter().map(|s| s.name.as_ref()).collect();
            if sample {
                assert!(inner);
                assert_eq!(names, ["inner", "request"]);
                assert_eq!(
                    recorded[0].parent_span_id,
                    recorded[1].span_context.span_id()
                );
                assert_eq!(calls.load(Ordering::SeqCst), 2, "one call a recorded span");
            } else {
                assert!(names.is_empty(), "{names:?}");
                assert_eq!(calls.load(Ordering::SeqCst), 1, "the root only");
            }
        }
    }

    /// Counts how often it is written out.
    struct Formatted(Arc<AtomicUsize>);

    impl std::fmt::Display for Formatted {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.fetch_add(1, Ordering::SeqCst);
            f.write_str("[]")
        }
    }

    /// A span inside an unsampled trace, below the log level, exists in a subscriber made of
    /// the two filtered layers alone (`tracing-subscriber` creates a span every per-layer filter
    /// turned down, so `Span::is_disabled` cannot tell; the production subscriber's `SpanGate`
    /// does not make it at all), but a value recorded on it with `field::display` is never
    /// formatted: what the retrieval span's hits JSON relies on when logs reach its level.
    /// Sampled, it is formatted once, for the OpenTelemetry layer.
    #[test]
    fn a_lazily_recorded_value_is_formatted_only_in_a_sampled_trace() {
        for sample in [false, true] {
            let (provider, _, spans) = counted_provider(sample);
            let formatted = Arc::new(AtomicUsize::new(0));
            let logs = tracing_subscriber::fmt::layer()
                .with_writer(std::io::sink)
                .with_filter(LevelFilter::WARN);
            let subscriber = tracing_subscriber::registry()
                .with(logs)
                .with(otel_layer(provider.tracer("test")));
            let disabled = tracing::subscriber::with_default(subscriber, || {
                let root = tracing::info_span!("root");
                let _root = root.enter();
                let child = tracing::info_span!("child", hits = tracing::field::Empty);
                child.record(
                    "hits",
                    tracing::field::display(Formatted(formatted.clone())),
                );
                child.is_disabled()
            });
            assert!(!disabled, "the span exists either way");
            let recorded = spans.0.lock().unwrap();
            if sample {
                assert_eq!(formatted.load(Ordering::SeqCst), 1);
                let child = recorded.iter().find(|s| s.name == "child").unwrap();
                assert!(
                    child
                        .attributes
                        .iter()
                        .any(|kv| kv.key.as_str() == "hits" && kv.value.as_str() == "[]")
                );
            } else {
                assert_eq!(formatted.load(Ordering::SeqCst), 0, "never formatted");
                assert!(recorded.is_empty());
            }
        }
    }
}
