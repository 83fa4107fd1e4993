//! W3C trace context: the ids of a span as text, and `traceparent` in and out of requests and
//! queued jobs.

use opentelemetry::Context;
use opentelemetry::global;
use opentelemetry::trace::TraceContextExt as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The OpenTelemetry context of `span`: its own when the OpenTelemetry layer records it, else its
/// nearest recorded ancestor's. A span inside a trace the sampler dropped is never given to that
/// layer ([`super::RecordedTraces`]), so its trace is its root's, with the not-sampled flag, which
/// is what `traceparent` must carry downstream.
pub fn context_of(span: &tracing::Span) -> Context {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        nearest_context(
            tracing_subscriber::registry::LookupSpan::span(registry, id)?,
            dispatch,
        )
    })
    .flatten()
    .unwrap_or_else(|| span.context())
}

/// The context of `span` or of its nearest ancestor that the OpenTelemetry layer records, read
/// through `dispatch` (the one holding that layer).
pub(super) fn nearest_context<'a, R>(
    span: tracing_subscriber::registry::SpanRef<'a, R>,
    dispatch: &tracing::Dispatch,
) -> Option<Context>
where
    R: tracing_subscriber::registry::LookupSpan<'a>,
{
    span.scope().find_map(|s| {
        tracing_opentelemetry::get_otel_context(&s.id(), dispatch)
            .filter(|cx| cx.span().span_context().is_valid())
    })
}

/// The W3C trace id of the current span, if it is being traced.
pub fn current_trace_id() -> Option<String> {
    trace_id_of(&tracing::Span::current())
}

/// The W3C trace id of `span`, if it is being traced.
pub fn trace_id_of(span: &tracing::Span) -> Option<String> {
    let cx = context_of(span);
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

/// The W3C trace id of `span` when its trace is sampled (recorded and exported), the only
/// traces an exemplar may point at.
pub fn sampled_trace_id_of(span: &tracing::Span) -> Option<String> {
    let cx = context_of(span);
    let sc = cx.span().span_context().clone();
    (sc.is_valid() && sc.is_sampled()).then(|| sc.trace_id().to_string())
}

/// The `traceparent` value for the current span, if it is being traced.
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// The `traceparent` value for `span`, if it is being traced.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let cx = context_of(span);
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
    let cx = context_of(&tracing::Span::current());
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
