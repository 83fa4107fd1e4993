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

/// Lower-case hex of `bytes` (a W3C trace or span id), as the ids' `Display` writes them.
pub fn hex<const N: usize>(bytes: &[u8; N]) -> String {
    const { assert!(N <= 16, "trace and span ids are at most 16 bytes") };
    let mut out = [0u8; 32];
    write_hex(&mut out, bytes);
    ascii(&out[..2 * N])
}

/// `bytes`, ASCII hex digits and dashes, as a string: checked as UTF-8 on the fast path for
/// ASCII (a lossy conversion walks the bytes in chunks, about 300 instructions for an id, and a
/// traced request writes some 40 ids).
fn ascii(bytes: &[u8]) -> String {
    std::str::from_utf8(bytes).unwrap_or_default().to_owned()
}

/// Writes `bytes` as lower-case hex at the start of `out` (twice their length). Into a fixed
/// buffer, one string at the end: no growth checks per digit, and no formatter (`Display` of an
/// id goes through one per id).
fn write_hex(out: &mut [u8], bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
}

/// The W3C trace id of the current span, if it is being traced.
pub fn current_trace_id() -> Option<String> {
    trace_id_of(&tracing::Span::current())
}

/// The W3C trace id of `span`, if it is being traced.
pub fn trace_id_of(span: &tracing::Span) -> Option<String> {
    let cx = context_of(span);
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| hex(&sc.trace_id().to_bytes()))
}

/// The W3C trace id of `span` when its trace is sampled (recorded and exported), the only
/// traces an exemplar may point at.
pub fn sampled_trace_id_of(span: &tracing::Span) -> Option<String> {
    let cx = context_of(span);
    let sc = cx.span().span_context().clone();
    (sc.is_valid() && sc.is_sampled()).then(|| hex(&sc.trace_id().to_bytes()))
}

/// The `traceparent` value for the current span, if it is being traced.
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// The `traceparent` value for `span`, if it is being traced.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let cx = context_of(span);
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| traceparent(&sc))
}

/// The W3C `traceparent` of `sc`: `00-{trace id}-{span id}-{flags}`, 55 bytes.
fn traceparent(sc: &opentelemetry::trace::SpanContext) -> String {
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
    write_hex(&mut out[3..35], &sc.trace_id().to_bytes());
    write_hex(&mut out[36..52], &sc.span_id().to_bytes());
    write_hex(&mut out[53..55], &[sc.trace_flags().to_u8()]);
    ascii(&out)
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

#[cfg(test)]
mod tests {
    use opentelemetry::propagation::TextMapPropagator as _;
    use opentelemetry::trace::TraceContextExt as _;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use opentelemetry_sdk::propagation::TraceContextPropagator;

    /// Ids are written exactly as the OpenTelemetry types display them (what the viewer's
    /// links, the logs and the chat answer's `trace_id` use).
    #[test]
    fn ids_are_written_as_their_display_writes_them() {
        for v in [
            0_u128,
            1,
            0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c,
            u128::MAX,
        ] {
            let id = TraceId::from(v);
            assert_eq!(super::hex(&id.to_bytes()), id.to_string());
        }
        for v in [0_u64, 0x00f0_67aa_0ba9_02b7, u64::MAX] {
            let id = SpanId::from(v);
            assert_eq!(super::hex(&id.to_bytes()), id.to_string());
        }
    }

    /// The `traceparent` written here is the one the W3C propagator injects, sampled or not.
    #[test]
    fn traceparent_is_what_the_w3c_propagator_writes() {
        for flags in [TraceFlags::SAMPLED, TraceFlags::NOT_SAMPLED] {
            let sc = SpanContext::new(
                TraceId::from(0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c_u128),
                SpanId::from(0x00f0_67aa_0ba9_02b7_u64),
                flags,
                false,
                TraceState::default(),
            );
            let cx = opentelemetry::Context::new().with_remote_span_context(sc.clone());
            let mut injected = std::collections::HashMap::new();
            TraceContextPropagator::new().inject_context(&cx, &mut injected);
            assert_eq!(Some(&super::traceparent(&sc)), injected.get("traceparent"));
        }
    }
}
