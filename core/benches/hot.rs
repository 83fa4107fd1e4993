//! The hot pieces of every chat request: token counting, masking of span attributes, a stage span
//! created, filled and ended with its trace sampled and not sampled, the exemplar a traced
//! request leaves on `/metrics`, and a batch of spans encoded for OTLP by the built-in exporter
//! and by `opentelemetry-otlp`'s path, and the answer-cache key every request computes.
//!
//!   cargo bench -p ragtrace-core --bench hot
//!
//! Figures and what they mean: docs/benchmarks.md ("Per-request cost").

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, Span, SpanData, SpanProcessor};
use ragtrace_core::telemetry::{MaskingProcessor, mask};
use ragtrace_core::tokens::Tokenizer;
use tracing_subscriber::layer::SubscriberExt as _;

/// A passage of the demo corpus's size (one chunk: about 200 tokens).
const PASSAGE: &str = "To reset the Lumen Hub 2 to factory settings, hold the reset button on the back \
for ten seconds until the status ring blinks amber, then release it. The hub restarts, forgets its \
Wi-Fi network and its paired devices, and keeps its firmware. Pair it again from the Lumen app: \
choose Add device, scan the code on the hub's base, and follow the steps. If the ring stays red, \
unplug the hub for thirty seconds and try again. A reset does not remove the hub from your account; \
remove it in the app's settings before you give it away. Devices paired with the hub keep their \
schedules only when you restore a backup made before the reset. Backups are made every night when \
the hub is online and kept for thirty days; restore one from Settings, Hub, Backups.";

fn tokens(c: &mut Criterion) {
    let mut g = c.benchmark_group("tokens");
    for name in ["o200k_base", "cl100k_base"] {
        let t = Tokenizer::by_name(name);
        g.bench_function(format!("count passage ({name})"), |b| {
            b.iter(|| t.count(black_box(PASSAGE)))
        });
        g.bench_function(format!("count question ({name})"), |b| {
            b.iter(|| t.count(black_box("How do I reset the Lumen Hub 2?")))
        });
    }
    g.finish();
}

fn masking(c: &mut Criterion) {
    let mut g = c.benchmark_group("mask");
    // What span attributes mostly hold: short names with nothing to mask.
    g.bench_function("model name (nothing to mask)", |b| {
        b.iter(|| mask(black_box("sim-gpt-4o-mini")))
    });
    g.bench_function("url (nothing to mask)", |b| {
        b.iter(|| mask(black_box("http://127.0.0.1:8090/v1/chat/completions")))
    });
    g.bench_function("passage (nothing to mask)", |b| {
        b.iter(|| mask(black_box(PASSAGE)))
    });
    g.bench_function("question with an e-mail and a key", |b| {
        b.iter(|| {
            mask(black_box(
                "mail bob@example.com my key sk-proj-abcdefghijklmnopqrstuv please",
            ))
        })
    });
    g.finish();
}

/// Counts the spans it is handed, as a sink that costs nothing.
#[derive(Debug, Clone, Default)]
struct Count(Arc<AtomicUsize>);

impl SpanProcessor for Count {
    fn on_start(&self, _: &mut Span, _: &Context) {}
    fn on_end(&self, _: SpanData) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// One stage span as the pipeline makes it: a parent request span, a child with six attributes
/// recorded after creation, ended.
fn stage_span() {
    let request = tracing::info_span!(
        "POST /v1/chat",
        otel.kind = "server",
        http.request.method = "POST",
        http.route = "/v1/chat"
    );
    let _enter = request.enter();
    let span = tracing::info_span!(
        "chat sim-gpt-4o-mini",
        otel.kind = "client",
        gen_ai.operation.name = tracing::field::Empty,
        gen_ai.request.model = tracing::field::Empty,
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
        ragtrace.cost_usd = tracing::field::Empty,
        server.address = tracing::field::Empty,
    );
    span.record("gen_ai.operation.name", "chat");
    span.record("gen_ai.request.model", "sim-gpt-4o-mini");
    span.record("gen_ai.usage.input_tokens", 812_i64);
    span.record("gen_ai.usage.output_tokens", 96_i64);
    span.record("ragtrace.cost_usd", 0.000_18_f64);
    span.record("server.address", "127.0.0.1");
    drop(span);
}

fn spans(c: &mut Criterion) {
    let mut g = c.benchmark_group("span");
    for (label, sampler) in [
        ("sampled, masked", Sampler::AlwaysOn),
        ("not sampled", Sampler::AlwaysOff),
    ] {
        let sink = Count::default();
        let provider = SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_span_processor(MaskingProcessor::new(
                Vec::new(),
                vec![Box::new(sink.clone())],
            ))
            .build();
        // The layer exactly as the app installs it (unsampled traces filtered out).
        let subscriber = tracing_subscriber::registry().with(ragtrace_core::telemetry::otel_layer(
            provider.tracer("bench"),
        ));
        let ran = std::cell::Cell::new(false);
        tracing::subscriber::with_default(subscriber, || {
            g.bench_function(format!("request + stage span ({label})"), |b| {
                ran.set(true);
                b.iter(stage_span)
            });
        });
        // The premise: the sampled case really recorded and masked spans, the other none (when
        // the benchmark ran: a name filter on the command line may skip it).
        let ended = sink.0.load(Ordering::Relaxed);
        match label {
            "not sampled" => assert_eq!(ended, 0, "an unsampled span reached the sink"),
            _ if ran.get() => assert!(ended > 0, "no sampled span reached the sink"),
            _ => {}
        }
    }
    g.finish();
}

/// What a traced request adds to `/metrics`: its trace id kept as its duration bucket's exemplar.
fn exemplar(c: &mut Criterion) {
    use ragtrace_core::metrics::openmetrics;
    use ragtrace_core::semconv::metric::HTTP_SERVER_DURATION;
    c.bench_function("exemplar record (traced request)", |b| {
        b.iter(|| {
            openmetrics::record(
                &HTTP_SERVER_DURATION,
                black_box(["/v1/chat", "POST", "200"]),
                black_box(0.0123),
                black_box("4bf92f3577b34da6a3ce929d0e0e4736"),
            )
        })
    });
}

/// A batch of 512 spans shaped like a chat request's (names, ids, a dozen attributes of every
/// kind), encoded for OTLP: by the built-in exporter, and as `opentelemetry-otlp` 0.32 does it
/// (the batch copied for its retry, each span copied again while grouped by scope, converted to
/// `opentelemetry-proto` structs, encoded by prost).
fn export(c: &mut Criterion) {
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId};
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use prost::Message as _;
    use ragtrace_core::telemetry::otlp::Encoder;

    let scope = InstrumentationScope::builder("ragtrace").build();
    let resource = Resource::builder()
        .with_service_name("ragtrace")
        .with_attribute(KeyValue::new("service.version", "0.1.0"))
        .build();
    let start = std::time::SystemTime::now();
    let spans: Vec<SpanData> = (0..512u64)
        .map(|n| SpanData {
            span_context: SpanContext::new(
                TraceId::from(0x4bf9_2f35_77b3_4d6a_3ce9_29d0_0e0e_4736 + u128::from(n / 12)),
                SpanId::from(0x00f0_67aa_0ba9_0000 + n),
                TraceFlags::SAMPLED,
                false,
                Default::default(),
            ),
            parent_span_id: SpanId::from(0x00f0_67aa_0ba9_0000 + n - n % 12),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "chat sim-gpt-4o-mini".into(),
            start_time: start,
            end_time: start + Duration::from_micros(1500 + n),
            attributes: vec![
                KeyValue::new("gen_ai.operation.name", "chat"),
                KeyValue::new("gen_ai.provider.name", "openai"),
                KeyValue::new("gen_ai.request.model", "sim-gpt-4o-mini"),
                KeyValue::new("gen_ai.request.temperature", 0.2),
                KeyValue::new("gen_ai.request.stream", false),
                KeyValue::new("gen_ai.usage.input_tokens", 1187_i64),
                KeyValue::new("gen_ai.usage.output_tokens", 143_i64),
                KeyValue::new("ragtrace.stage", "llm"),
                KeyValue::new("ragtrace.stage.budget_ms", 2000_i64),
                KeyValue::new("ragtrace.cost_usd", 0.000_264),
                KeyValue::new("server.address", "api.openai.com"),
                KeyValue::new("gen_ai.response.finish_reasons", "stop"),
            ],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: scope.clone(),
        })
        .collect();
    let encoder = Encoder::new(&resource);
    let upstream = ResourceAttributesWithSchema::from(&resource);
    let mut g = c.benchmark_group("otlp");
    g.bench_function("encode 512 spans (built-in)", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(spans.len() * 512);
            encoder.encode(black_box(&spans), &mut out);
            out
        })
    });
    g.bench_function("encode 512 spans (opentelemetry-otlp's path)", |b| {
        b.iter(|| {
            let copy = black_box(&spans).clone();
            ExportTraceServiceRequest {
                resource_spans: group_spans_by_resource_and_scope(copy, &upstream),
            }
            .encode_to_vec()
        })
    });
    g.finish();
}

/// The answer-cache key of a question: the key as made (SHA-1 from the `sha1` crate, the CPU's
/// SHA instructions where it has them) against the same key from uuid's `new_v5`.
fn cache_key(c: &mut Criterion) {
    let question = "how do i reset the lumen hub 2 to factory settings without losing my schedules";
    let model = "gpt-4o-mini";
    let mut g = c.benchmark_group("cache key");
    g.bench_function("answer key", |b| {
        b.iter(|| ragtrace_core::cache::answer_key(black_box(question), black_box(model)))
    });
    g.bench_function("answer key (uuid new_v5)", |b| {
        b.iter(|| {
            let id = uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_OID,
                format!("{}\n{}", black_box(model), black_box(question)).as_bytes(),
            );
            format!("ragtrace:answer:v2:{id}")
        })
    });
    g.finish();
}

criterion_group!(benches, tokens, masking, spans, exemplar, export, cache_key);
criterion_main!(benches);
