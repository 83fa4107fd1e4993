//! One trace as a JSON document, both ways: [`trace_json`] writes what `GET /api/traces/{id}`
//! answers (and `ragtrace-ingest transcribe --trace-out` saves), [`read_trace`] reads it back into
//! spans the store can hold (`POST /api/traces`), so a trace recorded by another process can be
//! opened in the viewer.

use serde_json::Value;

use super::model::{AttrKey, attr_key};
use super::{
    AttrValue, CriticalPath, StoredEvent, StoredSpan, StoredTrace, TraceSummary, critical_path,
};

/// Spans one imported trace may hold.
pub const MAX_SPANS: usize = 20_000;

/// The trace as the viewer reads it: `{"summary", "critical_path", "spans"}`.
pub fn trace_json(trace: &StoredTrace) -> TraceDetail<'_> {
    TraceDetail {
        summary: trace.summary(),
        critical_path: critical_path(trace),
        spans: &trace.spans,
    }
}

/// One trace as `GET /api/traces/{trace_id}` answers it, and as `POST /api/traces` reads it back.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TraceDetail<'a> {
    /// The trace's line in the list.
    pub summary: TraceSummary,
    /// Where the request's time went; null when the trace has no stage spans (not a chat request).
    pub critical_path: Option<CriticalPath>,
    /// Every stored span of the trace, sorted by start.
    pub spans: &'a [StoredSpan],
}

/// Why a document is not a trace, naming the offending field (`spans[3].span_id`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ImportError {
    /// Where in the document, as a path.
    pub field: String,
    /// What is wrong there.
    pub message: String,
}

fn bad(field: impl Into<String>, message: impl Into<String>) -> ImportError {
    ImportError {
        field: field.into(),
        message: message.into(),
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// The spans of a trace document (the shape [`trace_json`] writes; only `spans` is read), all of
/// one trace, checked field by field.
pub fn read_trace(doc: &Value) -> Result<Vec<StoredSpan>, ImportError> {
    let spans = doc
        .get("spans")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("spans", "must be an array of spans"))?;
    if spans.is_empty() {
        return Err(bad("spans", "must hold at least one span"));
    }
    if spans.len() > MAX_SPANS {
        return Err(bad("spans", format!("holds more than {MAX_SPANS} spans")));
    }
    let out = spans
        .iter()
        .enumerate()
        .map(|(i, s)| span(s, &format!("spans[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some((i, other)) = out
        .iter()
        .enumerate()
        .find(|(_, s)| s.trace_id != out[0].trace_id)
    {
        return Err(bad(
            format!("spans[{i}].trace_id"),
            format!(
                "is {}, but spans[0] is of trace {}: import one trace at a time",
                other.trace_id, out[0].trace_id
            ),
        ));
    }
    Ok(out)
}

fn text<'a>(s: &'a Value, at: &str, key: &str) -> Result<&'a str, ImportError> {
    s.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("{at}.{key}"), "must be a string"))
}

fn number(s: &Value, at: &str, key: &str) -> Result<u64, ImportError> {
    s.get(key).and_then(Value::as_u64).ok_or_else(|| {
        bad(
            format!("{at}.{key}"),
            "must be a whole number of microseconds",
        )
    })
}

fn span(s: &Value, at: &str) -> Result<StoredSpan, ImportError> {
    let trace_id = text(s, at, "trace_id")?.to_ascii_lowercase();
    if !is_hex(&trace_id, 32) {
        return Err(bad(format!("{at}.trace_id"), "must be 32 hex digits"));
    }
    let span_id = text(s, at, "span_id")?.to_ascii_lowercase();
    if !is_hex(&span_id, 16) {
        return Err(bad(format!("{at}.span_id"), "must be 16 hex digits"));
    }
    let parent_span_id = s
        .get("parent_span_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !parent_span_id.is_empty() && !is_hex(&parent_span_id, 16) {
        return Err(bad(
            format!("{at}.parent_span_id"),
            "must be 16 hex digits, or empty for a root",
        ));
    }
    let kind = match text(s, at, "kind")? {
        "server" => "server",
        "client" => "client",
        "producer" => "producer",
        "consumer" => "consumer",
        "internal" => "internal",
        _ => {
            return Err(bad(
                format!("{at}.kind"),
                "must be one of server, client, producer, consumer, internal",
            ));
        }
    };
    let status = match s.get("status").and_then(Value::as_str).unwrap_or("unset") {
        "unset" => "unset",
        "ok" => "ok",
        "error" => "error",
        _ => return Err(bad(format!("{at}.status"), "must be unset, ok or error")),
    };
    let local_root = match s.get("local_root") {
        Some(v) => v
            .as_bool()
            .ok_or_else(|| bad(format!("{at}.local_root"), "must be true or false"))?,
        None => parent_span_id.is_empty(),
    };
    Ok(StoredSpan {
        trace_id,
        span_id,
        parent_span_id,
        name: text(s, at, "name")?.to_owned(),
        service: s
            .get("service")
            .and_then(Value::as_str)
            .unwrap_or("imported")
            .to_owned(),
        kind,
        start_us: number(s, at, "start_us")?,
        duration_us: number(s, at, "duration_us")?,
        status,
        status_message: s
            .get("status_message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        attributes: attributes(s.get("attributes"), &format!("{at}.attributes"))?,
        events: events(s.get("events"), &format!("{at}.events"))?,
        local_root,
    })
}

/// `[[key, value], …]`, the way the store writes attributes.
fn attributes(v: Option<&Value>, at: &str) -> Result<Vec<(AttrKey, AttrValue)>, ImportError> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let list = v
        .as_array()
        .ok_or_else(|| bad(at, "must be an array of [key, value] pairs"))?;
    list.iter()
        .enumerate()
        .map(|(i, pair)| {
            let here = format!("{at}[{i}]");
            let (Some(key), Some(value)) = (
                pair.get(0).and_then(Value::as_str),
                pair.get(1).and_then(attr_value),
            ) else {
                return Err(bad(
                    here,
                    "must be a [key, value] pair, the value a string, number or boolean",
                ));
            };
            Ok((attr_key(key), value))
        })
        .collect()
}

fn attr_value(v: &Value) -> Option<AttrValue> {
    match v {
        Value::Bool(b) => Some(AttrValue::Bool(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(AttrValue::Int)
            .or_else(|| n.as_f64().map(AttrValue::Float)),
        Value::String(s) => Some(AttrValue::Str(s.clone())),
        _ => None,
    }
}

fn events(v: Option<&Value>, at: &str) -> Result<Vec<StoredEvent>, ImportError> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let list = v.as_array().ok_or_else(|| bad(at, "must be an array"))?;
    list.iter()
        .enumerate()
        .map(|(i, e)| {
            let here = format!("{at}[{i}]");
            Ok(StoredEvent {
                name: text(e, &here, "name")?.to_owned(),
                offset_us: number(e, &here, "offset_us")?,
                attributes: attributes(e.get("attributes"), &format!("{here}.attributes"))?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"spans": [
            {"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331",
             "parent_span_id": "", "name": "transcribe naive", "service": "ragtrace-ingest",
             "kind": "internal", "start_us": 1_000, "duration_us": 5_000, "status": "error",
             "status_message": "15 chunks failed",
             "attributes": [["ragtrace.chunks", 129], ["ragtrace.strategy", "naive"], ["x.ok", true], ["x.f", 0.5]],
             "events": [{"name": "chunk failed", "offset_us": 10, "attributes": [["chunk", 3]]}],
             "local_root": true},
            {"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "00f067aa0ba902b7",
             "parent_span_id": "b7ad6b7169203331", "name": "chunk 3", "kind": "client",
             "start_us": 1_500, "duration_us": 100}
        ]})
    }

    /// A trace written by the store reads back into the same spans, and so round-trips.
    #[test]
    fn a_trace_round_trips() {
        let spans = read_trace(&doc()).unwrap();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].status, "error");
        assert_eq!(
            spans[0].attributes[0],
            ("ragtrace.chunks".into(), AttrValue::Int(129))
        );
        assert_eq!(
            spans[0].attributes[3],
            ("x.f".into(), AttrValue::Float(0.5))
        );
        assert_eq!(spans[0].events[0].attributes[0].1, AttrValue::Int(3));
        assert_eq!(spans[1].service, "imported");
        assert!(!spans[1].local_root, "a child is not a root");
        let trace = StoredTrace {
            trace_id: spans[0].trace_id.clone(),
            spans: spans.clone(),
            ..StoredTrace::default()
        };
        let doc = serde_json::to_value(trace_json(&trace)).unwrap();
        assert_eq!(read_trace(&doc).unwrap(), spans);
    }

    /// Each malformed field is named, with what it must be.
    #[test]
    fn bad_documents_name_the_field() {
        let cases: [(&str, Value, &str); 6] = [
            ("no spans", json!({"summary": {}}), "spans"),
            ("empty", json!({"spans": []}), "spans"),
            ("short id", json!("b"), "spans[1].span_id"),
            ("kind", json!("k"), "spans[1].kind"),
            ("attribute", json!("a"), "spans[0].attributes[1]"),
            ("two traces", json!("t"), "spans[1].trace_id"),
        ];
        for (what, patch, field) in cases {
            let mut d = match patch {
                Value::String(_) => doc(),
                other => other,
            };
            match what {
                "short id" => d["spans"][1]["span_id"] = json!("00f0"),
                "kind" => d["spans"][1]["kind"] = json!("sideways"),
                "attribute" => d["spans"][0]["attributes"][1] = json!(["k", {"nested": 1}]),
                "two traces" => {
                    d["spans"][1]["trace_id"] = json!("1af7651916cd43dd8448eb211c80319c");
                }
                _ => {}
            }
            assert_eq!(read_trace(&d).unwrap_err().field, field, "{what}");
        }
    }
}
