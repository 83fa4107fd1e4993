//! Masking of secrets and personal data before any exporter or log sink sees them.
//!
//! [`mask`] is applied to every span attribute, event and status text by [`MaskingProcessor`]
//! (ahead of every span sink: the OTLP exporter and the in-process trace store), and to every
//! formatted log line by [`MaskingWriter`]. The collector masks again as a second line of
//! defence, but the first line is here, in-process.

use std::borrow::Cow;
use std::io::Write;
use std::sync::LazyLock;
use std::time::Duration;

use opentelemetry::{Context, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use regex::Regex;
use tracing_subscriber::fmt::MakeWriter;

/// What a masked value is replaced with.
pub const MASK: &str = "****";

struct Rule {
    re: Regex,
    replacement: &'static str,
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |re: &str, replacement| Rule {
        re: Regex::new(re).expect("masking regex compiles"),
        replacement,
    };
    vec![
        // Credentials inside URLs: scheme://user:password@host
        rule(
            r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@",
            "${pre}****@",
        ),
        // Authorization headers and bearer tokens.
        rule(
            r"(?i)\b(?P<pre>bearer|basic)\s+[A-Za-z0-9\-._~+/]{8,}=*",
            "${pre} ****",
        ),
        // OpenAI-style and similar prefixed API keys (sk-..., sk-proj-..., rk-...).
        rule(r"\b(?:sk|rk|pk)-[A-Za-z0-9_\-]{16,}", "****"),
        // AWS access key ids.
        rule(r"\bAKIA[0-9A-Z]{16}\b", "****"),
        // key=value / "key": "value" pairs whose key names a secret.
        rule(
            r#"(?i)(?P<pre>\b[a-z0-9_\-]*(?:api[_-]?key|apikey|password|passwd|pwd|secret|token)["']?\s*[:=]\s*["']?)[^\s"'&,;}]+"#,
            "${pre}****",
        ),
        // E-mail addresses.
        rule(
            r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
            "****@****",
        ),
    ]
});

/// Returns `input` with secrets and e-mail addresses replaced by [`MASK`]; borrows when nothing
/// needed masking, so the common case costs no allocation.
pub fn mask(input: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(input);
    for rule in RULES.iter() {
        if let Cow::Owned(s) = rule.re.replace_all(&out, rule.replacement) {
            out = Cow::Owned(s);
        }
    }
    out
}

/// Whether `input` holds anything [`mask`] would change.
pub fn needs_masking(input: &str) -> bool {
    RULES.iter().any(|r| r.re.is_match(input))
}

/// Masks every string attribute, event and status text, then hands the span to each sink.
#[derive(Debug)]
pub struct MaskingProcessor {
    pub(super) sinks: Vec<Box<dyn SpanProcessor>>,
}

impl MaskingProcessor {
    /// A processor masking spans before handing them to each of `sinks`.
    pub fn new(sinks: Vec<Box<dyn SpanProcessor>>) -> Self {
        Self { sinks }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind of secret named by the telemetry contract is masked.
    #[test]
    fn masks_each_kind_of_secret() {
        let cases = [
            ("key sk-proj-abcdefghijklmnop1234 used", "key **** used"),
            (
                "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x.y",
                "Authorization: Bearer ****",
            ),
            ("bearer abcdefgh12345678", "bearer ****"),
            ("password=hunter2&user=bob", "password=****&user=bob"),
            (r#"{"api_key": "abc123"}"#, r#"{"api_key": "****"}"#),
            ("redis://:s3cret@redis:6379/0", "redis://:****@redis:6379/0"),
            (
                "mail ana.silva@northwind-lumen.example now",
                "mail ****@**** now",
            ),
            ("AKIAIOSFODNN7EXAMPLE", "****"),
        ];
        for (input, expected) in cases {
            assert_eq!(mask(input), expected, "input: {input}");
            assert!(needs_masking(input), "input: {input}");
        }
    }

    /// Ordinary text passes through untouched and unallocated.
    #[test]
    fn leaves_plain_text_alone() {
        let text = "How do I reset the Lumen Hub 2? It has 4 LEDs and 120 lm/W.";
        assert!(matches!(mask(text), Cow::Borrowed(_)));
        assert!(!needs_masking(text));
    }
}
