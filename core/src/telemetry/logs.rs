//! Text log lines that name the spans they were logged in, without formatting every span's
//! fields in case a line is written.
//!
//! `tracing-subscriber`'s `fmt` layer writes a span's fields into a string when the span is made
//! and again at every `record`, so that a line logged inside it can show them. A chat request
//! makes a dozen spans and, healthy, logs no line: at the `info` level that formatting cost about
//! 160,000 instructions a request, an eighth of an untraced one (`docs/benchmarks.md`). With
//! `telemetry.log_span_fields = false` (the default) [`SkipSpanFields`] hands each span fields
//! holding only its `otel.name` before the `fmt` layer formats its own, and [`EventFieldsOnly`]
//! writes a line's own fields but adds nothing to a span's: a line reads
//! `HTTP request{POST /v1/chat}:pipeline{rag.pipeline}:stage{retrieval}: message`, each span by
//! its name and the name it is exported under, and the trace viewer has their fields.

use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::{FormatFields, FormattedFields};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The fields of a log line as `DefaultFields` writes them; nothing added to a span's.
#[derive(Debug, Default)]
pub struct EventFieldsOnly(DefaultFields);

impl<'w> FormatFields<'w> for EventFieldsOnly {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> std::fmt::Result {
        self.0.format_fields(writer, fields)
    }

    fn add_fields(
        &self,
        _current: &'w mut FormattedFields<Self>,
        _fields: &Record<'_>,
    ) -> std::fmt::Result {
        Ok(())
    }
}

/// Gives every new span [`EventFieldsOnly`] fields that hold only its `otel.name` (the name it
/// is exported under, `retrieval` where the `tracing` name is `stage`), which the `fmt` layer
/// then keeps instead of formatting the span's own. Goes just inside the `fmt` layer
/// (`and_then`).
#[derive(Debug, Default)]
pub struct SkipSpanFields;

impl<S> tracing_subscriber::Layer<S> for SkipSpanFields
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut name = OtelName(String::new());
            attrs.record(&mut name);
            span.extensions_mut()
                .insert(FormattedFields::<EventFieldsOnly>::new(name.0));
        }
    }
}

/// Picks the `otel.name` field out of a span's fields.
struct OtelName(String);

impl tracing::field::Visit for OtelName {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == crate::semconv::attr::OTEL_NAME {
            self.0.push_str(value);
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == crate::semconv::attr::OTEL_NAME {
            use std::fmt::Write as _;
            let _ = write!(self.0, "{value:?}");
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// Everything written, as one string (the telemetry tests' log writer).
    #[derive(Clone, Default)]
    pub(in crate::telemetry) struct Lines(pub(in crate::telemetry) Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Counts how often it is written out.
    struct Counted(Arc<Mutex<usize>>);

    impl std::fmt::Display for Counted {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            *self.0.lock().unwrap() += 1;
            f.write_str("hits")
        }
    }

    #[test]
    fn lines_name_their_spans_and_keep_their_own_fields_but_no_span_is_formatted() {
        let lines = Lines::default();
        let formatted = Arc::new(Mutex::new(0));
        let writer = lines.clone();
        let layer = SkipSpanFields.and_then(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .fmt_fields(EventFieldsOnly::default())
                .with_writer(move || writer.clone()),
        );
        let subscriber = tracing_subscriber::registry()
            .with(layer.with_filter(tracing_subscriber::filter::LevelFilter::INFO));
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!(
                "pipeline",
                otel.name = "rag.pipeline",
                user = "ana",
                hits = tracing::field::Empty
            );
            let _outer = outer.enter();
            outer.record("hits", tracing::field::display(Counted(formatted.clone())));
            let inner = tracing::info_span!("retrieval", top_k = 5);
            let _inner = inner.enter();
            tracing::warn!(attempt = 2, "the search was slow");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("pipeline{rag.pipeline}:retrieval:"), "{text}");
        assert!(text.contains("the search was slow attempt=2"), "{text}");
        assert!(!text.contains("ana") && !text.contains("top_k"), "{text}");
        assert_eq!(
            *formatted.lock().unwrap(),
            0,
            "a span's fields are never formatted"
        );
    }
}
