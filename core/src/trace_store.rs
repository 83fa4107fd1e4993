//! The in-process trace store: recent traces kept in memory, fed by the same masked spans the
//! OTLP exporter sees, so `cargo run` can show where a request's time goes with no Jaeger.
//!
//! Bounded by trace count and by bytes; the oldest traces are evicted first and the evictions
//! are counted. [`TraceStoreProcessor`] plugs it into the tracer provider as one more sink of
//! [`crate::telemetry::MaskingProcessor`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use serde::Serialize;

use crate::semconv::{Stage, attr};

/// A stored attribute value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AttrValue {
    /// Boolean.
    Bool(bool),
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// String (also arrays, joined).
    Str(String),
}

impl AttrValue {
    fn from_otel(v: &Value) -> Self {
        match v {
            Value::Bool(b) => Self::Bool(*b),
            Value::I64(i) => Self::Int(*i),
            Value::F64(f) => Self::Float(*f),
            other => Self::Str(other.as_str().into_owned()),
        }
    }

    fn size(&self) -> usize {
        match self {
            Self::Str(s) => s.len() + 8,
            _ => 8,
        }
    }

    /// The value as text.
    pub fn as_text(&self) -> String {
        match self {
            Self::Bool(b) => b.to_string(),
            Self::Int(i) => i.to_string(),
            Self::Float(f) => f.to_string(),
            Self::Str(s) => s.clone(),
        }
    }
}

/// A span event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    /// Event name (for log events, the message).
    pub name: String,
    /// Time since the span started, microseconds.
    pub offset_us: u64,
    /// Attributes.
    pub attributes: Vec<(String, AttrValue)>,
}

/// A finished span as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredSpan {
    /// Hex trace id.
    pub trace_id: String,
    /// Hex span id.
    pub span_id: String,
    /// Hex parent span id; empty for a root.
    pub parent_span_id: String,
    /// Span name.
    pub name: String,
    /// `service.name` of the process that made it.
    pub service: String,
    /// `server`, `client`, `internal`, `producer`, `consumer`.
    pub kind: &'static str,
    /// Start, microseconds since the Unix epoch.
    pub start_us: u64,
    /// Duration, microseconds.
    pub duration_us: u64,
    /// `unset`, `ok` or `error`.
    pub status: &'static str,
    /// Error description, when the status is `error`.
    pub status_message: String,
    /// Attributes, in recording order.
    pub attributes: Vec<(String, AttrValue)>,
    /// Events.
    pub events: Vec<StoredEvent>,
    /// Whether this is the local root of the trace (no parent, or a parent in another process):
    /// once it has ended, the trace is complete as far as this process is concerned.
    pub local_root: bool,
}

impl StoredSpan {
    /// An attribute's value.
    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The pipeline stage this span measures, if any.
    pub fn stage(&self) -> Option<Stage> {
        let name = self.attr(attr::STAGE)?.as_text();
        Stage::ALL.into_iter().find(|s| s.as_str() == name)
    }

    fn from_data(span: &SpanData, service: &str) -> Self {
        let start = span
            .start_time
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let duration = span
            .end_time
            .duration_since(span.start_time)
            .unwrap_or_default();
        let (status, status_message) = match &span.status {
            Status::Unset => ("unset", String::new()),
            Status::Ok => ("ok", String::new()),
            Status::Error { description } => ("error", description.to_string()),
        };
        Self {
            trace_id: span.span_context.trace_id().to_string(),
            span_id: span.span_context.span_id().to_string(),
            parent_span_id: if span.parent_span_id == opentelemetry::trace::SpanId::INVALID {
                String::new()
            } else {
                span.parent_span_id.to_string()
            },
            local_root: span.parent_span_id == opentelemetry::trace::SpanId::INVALID
                || span.parent_span_is_remote,
            name: span.name.to_string(),
            service: service.to_owned(),
            kind: match span.span_kind {
                SpanKind::Server => "server",
                SpanKind::Client => "client",
                SpanKind::Producer => "producer",
                SpanKind::Consumer => "consumer",
                SpanKind::Internal => "internal",
            },
            start_us: start.as_micros() as u64,
            duration_us: duration.as_micros() as u64,
            status,
            status_message,
            attributes: span
                .attributes
                .iter()
                .map(|kv| (kv.key.to_string(), AttrValue::from_otel(&kv.value)))
                .collect(),
            events: span
                .events
                .iter()
                .map(|e| StoredEvent {
                    name: e.name.to_string(),
                    offset_us: e
                        .timestamp
                        .duration_since(span.start_time)
                        .unwrap_or_default()
                        .as_micros() as u64,
                    attributes: e
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.to_string(), AttrValue::from_otel(&kv.value)))
                        .collect(),
                })
                .collect(),
        }
    }

    fn size(&self) -> usize {
        let attrs: usize = self
            .attributes
            .iter()
            .map(|(k, v)| k.len() + v.size())
            .sum();
        let events: usize = self
            .events
            .iter()
            .map(|e| {
                e.name.len()
                    + 16
                    + e.attributes
                        .iter()
                        .map(|(k, v)| k.len() + v.size())
                        .sum::<usize>()
            })
            .sum();
        160 + self.name.len() + self.service.len() + self.status_message.len() + attrs + events
    }
}

/// A trace: its spans, in the order they ended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoredTrace {
    /// Hex trace id.
    pub trace_id: String,
    /// Spans.
    pub spans: Vec<StoredSpan>,
    #[serde(skip)]
    bytes: usize,
}

/// One line of the trace list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceSummary {
    /// Hex trace id.
    pub trace_id: String,
    /// Name of the root span (or the earliest span when the root is elsewhere).
    pub root: String,
    /// Service of the root span.
    pub service: String,
    /// Start, microseconds since the Unix epoch.
    pub start_us: u64,
    /// From the first span's start to the last span's end, microseconds.
    pub duration_us: u64,
    /// Spans stored.
    pub span_count: usize,
    /// Whether any span failed.
    pub error: bool,
    /// `user.id` of the request, if recorded.
    pub user_id: Option<String>,
    /// Whether the answer came from the cache, if recorded.
    pub cache_hit: Option<bool>,
    /// Estimated cost, USD, if recorded.
    pub cost_usd: Option<f64>,
    /// Whether the trace's local root span has ended (until then, spans may still arrive).
    pub complete: bool,
}

impl StoredTrace {
    /// The root span: no parent, or a parent that is not in the store (a remote caller's).
    pub fn root(&self) -> Option<&StoredSpan> {
        self.spans
            .iter()
            .filter(|s| {
                s.parent_span_id.is_empty()
                    || !self.spans.iter().any(|p| p.span_id == s.parent_span_id)
            })
            .min_by_key(|s| s.start_us)
    }

    /// Summary for the list.
    pub fn summary(&self) -> TraceSummary {
        let start = self.spans.iter().map(|s| s.start_us).min().unwrap_or(0);
        let end = self
            .spans
            .iter()
            .map(|s| s.start_us + s.duration_us)
            .max()
            .unwrap_or(0);
        let root = self.root();
        // The root's value wins (the request's cost is on the root; a child's is only its part).
        let find = |key: &str| {
            root.and_then(|r| r.attr(key).cloned())
                .or_else(|| self.spans.iter().find_map(|s| s.attr(key).cloned()))
        };
        TraceSummary {
            trace_id: self.trace_id.clone(),
            root: root.map(|r| r.name.clone()).unwrap_or_default(),
            service: root.map(|r| r.service.clone()).unwrap_or_default(),
            start_us: start,
            duration_us: end.saturating_sub(start),
            span_count: self.spans.len(),
            complete: self.spans.iter().any(|s| s.local_root),
            error: self.spans.iter().any(|s| s.status == "error"),
            user_id: find(attr::USER_ID)
                .map(|v| v.as_text())
                .filter(|u| !u.is_empty()),
            cache_hit: find(attr::CACHE_HIT).and_then(|v| match v {
                AttrValue::Bool(b) => Some(b),
                AttrValue::Str(s) => s.parse().ok(),
                _ => None,
            }),
            cost_usd: find(attr::COST_USD).and_then(|v| match v {
                AttrValue::Float(f) => Some(f),
                AttrValue::Int(i) => Some(i as f64),
                _ => None,
            }),
        }
    }
}

/// Filters of the trace list. Empty fields match everything.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceQuery {
    /// Service of the root span.
    pub service: Option<String>,
    /// Name of any span in the trace (e.g. `chat sim-gpt-4o-mini`).
    pub operation: Option<String>,
    /// Minimum duration, milliseconds.
    pub min_duration_ms: Option<f64>,
    /// Maximum duration, milliseconds.
    pub max_duration_ms: Option<f64>,
    /// Only traces with (true) or without (false) an error.
    pub error: Option<bool>,
    /// `user.id`.
    pub user_id: Option<String>,
    /// Cache hit or not.
    pub cache_hit: Option<bool>,
    /// Page size (default 20, at most 200).
    pub limit: Option<usize>,
    /// Traces to skip (pagination).
    pub offset: Option<usize>,
}

impl TraceQuery {
    /// Whether `t` passes every filter.
    pub fn matches(&self, t: &StoredTrace) -> bool {
        if self
            .operation
            .as_ref()
            .is_some_and(|op| !t.spans.iter().any(|s| &s.name == op))
        {
            return false;
        }
        let s = t.summary();
        self.service.as_ref().is_none_or(|v| &s.service == v)
            && self
                .min_duration_ms
                .is_none_or(|ms| s.duration_us as f64 >= ms * 1000.0)
            && self
                .max_duration_ms
                .is_none_or(|ms| s.duration_us as f64 <= ms * 1000.0)
            && self.error.is_none_or(|e| s.error == e)
            && self
                .user_id
                .as_ref()
                .is_none_or(|u| s.user_id.as_ref() == Some(u))
            && self.cache_hit.is_none_or(|c| s.cache_hit == Some(c))
    }
}

/// A page of the trace list.
#[derive(Debug, Clone, Serialize)]
pub struct TracePage {
    /// Matching traces, newest first.
    pub traces: Vec<TraceSummary>,
    /// Matching traces in all.
    pub total: usize,
    /// Offset of this page.
    pub offset: usize,
    /// Page size.
    pub limit: usize,
}

/// The store's limits and use, reported with every list.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StoreStats {
    /// Traces held.
    pub traces: usize,
    /// Approximate bytes held.
    pub bytes: usize,
    /// Trace cap.
    pub max_traces: usize,
    /// Byte cap.
    pub max_bytes: usize,
    /// Traces evicted so far to stay within the caps.
    pub evicted: u64,
}

#[derive(Debug, Default)]
struct Inner {
    traces: HashMap<String, StoredTrace>,
    // Trace ids by first arrival; the front is evicted first.
    order: VecDeque<String>,
    bytes: usize,
    evicted: u64,
}

/// The bounded in-memory trace store.
#[derive(Debug)]
pub struct TraceStore {
    inner: Mutex<Inner>,
    max_traces: usize,
    max_bytes: usize,
}

impl TraceStore {
    /// A store of at most `max_traces` traces and about `max_bytes` bytes.
    pub fn new(max_traces: usize, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            max_traces: max_traces.max(1),
            max_bytes: max_bytes.max(1024),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a finished span, evicting the oldest traces beyond the caps.
    pub fn insert(&self, span: StoredSpan) {
        let size = span.size();
        let mut inner = self.lock();
        let id = span.trace_id.clone();
        if !inner.traces.contains_key(&id) {
            inner.order.push_back(id.clone());
        }
        let trace = inner
            .traces
            .entry(id.clone())
            .or_insert_with(|| StoredTrace {
                trace_id: id,
                ..StoredTrace::default()
            });
        trace.spans.push(span);
        trace.bytes += size;
        inner.bytes += size;
        while inner.order.len() > self.max_traces
            || (inner.bytes > self.max_bytes && inner.order.len() > 1)
        {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(t) = inner.traces.remove(&oldest) {
                inner.bytes -= t.bytes;
                inner.evicted += 1;
            }
        }
    }

    /// Limits and use.
    pub fn stats(&self) -> StoreStats {
        let inner = self.lock();
        StoreStats {
            traces: inner.order.len(),
            bytes: inner.bytes,
            max_traces: self.max_traces,
            max_bytes: self.max_bytes,
            evicted: inner.evicted,
        }
    }

    /// One trace.
    pub fn get(&self, trace_id: &str) -> Option<StoredTrace> {
        let mut t = self
            .lock()
            .traces
            .get(&trace_id.to_ascii_lowercase())
            .cloned()?;
        t.spans.sort_by_key(|s| s.start_us);
        Some(t)
    }

    /// The newest `n` traces matching the filters of `q` (its paging is ignored), newest first.
    pub fn matching(&self, q: &TraceQuery, n: usize) -> Vec<StoredTrace> {
        let inner = self.lock();
        inner
            .order
            .iter()
            .rev()
            .filter_map(|id| inner.traces.get(id))
            .filter(|t| q.matches(t))
            .take(n)
            .cloned()
            .collect()
    }

    /// A page of traces matching `q`, newest first.
    pub fn list(&self, q: &TraceQuery) -> TracePage {
        let limit = q.limit.unwrap_or(20).clamp(1, 200);
        let offset = q.offset.unwrap_or(0);
        let inner = self.lock();
        let matching: Vec<TraceSummary> = inner
            .order
            .iter()
            .rev()
            .filter_map(|id| inner.traces.get(id))
            .filter(|t| q.matches(t))
            .map(StoredTrace::summary)
            .collect();
        let total = matching.len();
        TracePage {
            traces: matching.into_iter().skip(offset).take(limit).collect(),
            total,
            offset,
            limit,
        }
    }
}

/// One stage's share of the time, over recent traces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageBreakdown {
    /// Stage label.
    pub stage: &'static str,
    /// Traces in which the stage ran.
    pub count: usize,
    /// Total time in the stage, milliseconds.
    pub total_ms: f64,
    /// Share of the time of all stages, 0..1.
    pub share: f64,
    /// Median per trace, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile per trace, milliseconds.
    pub p95_ms: f64,
    /// The stage's budget, milliseconds.
    pub budget_ms: u64,
    /// Whether its p95 is over budget.
    pub over_budget: bool,
}

/// Where the time of recent requests goes.
#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    /// Traces looked at (those with at least one stage span).
    pub traces: usize,
    /// One entry per stage that ran, in pipeline order.
    pub stages: Vec<StageBreakdown>,
    /// The stage with the most total time.
    pub slowest_stage: Option<&'static str>,
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Computes the breakdown of `traces`: per trace, the time of each stage (summed over its spans),
/// then shares, percentiles and budgets across traces.
pub fn breakdown(traces: &[StoredTrace]) -> Breakdown {
    let mut per_stage: HashMap<Stage, Vec<f64>> = HashMap::new();
    let mut looked = 0;
    for t in traces {
        let mut stages: HashMap<Stage, f64> = HashMap::new();
        for s in &t.spans {
            if let Some(stage) = s.stage() {
                *stages.entry(stage).or_default() += s.duration_us as f64 / 1000.0;
            }
        }
        if !stages.is_empty() {
            looked += 1;
        }
        for (stage, ms) in stages {
            per_stage.entry(stage).or_default().push(ms);
        }
    }
    let grand: f64 = per_stage.values().flatten().sum();
    let mut stages: Vec<StageBreakdown> = Stage::ALL
        .into_iter()
        .filter_map(|stage| {
            let mut v = per_stage.remove(&stage)?;
            v.sort_by(f64::total_cmp);
            let total: f64 = v.iter().sum();
            let p95 = percentile(&v, 95.0);
            Some(StageBreakdown {
                stage: stage.as_str(),
                count: v.len(),
                total_ms: total,
                share: if grand > 0.0 { total / grand } else { 0.0 },
                p50_ms: percentile(&v, 50.0),
                p95_ms: p95,
                budget_ms: stage.budget_ms(),
                over_budget: p95 > stage.budget_ms() as f64,
            })
        })
        .collect();
    let slowest_stage = stages
        .iter()
        .max_by(|a, b| a.total_ms.total_cmp(&b.total_ms))
        .map(|s| s.stage);
    stages.shrink_to_fit();
    Breakdown {
        traces: looked,
        stages,
        slowest_stage,
    }
}

impl crate::config::TraceStoreSettings {
    /// The configured store, or `None` when it is off.
    pub fn build(&self) -> Option<Arc<TraceStore>> {
        self.enabled
            .then(|| Arc::new(TraceStore::new(self.max_traces, self.max_bytes)))
    }
}

/// The span processors that feed `store` (none when there is no store), for
/// [`crate::telemetry::init`].
pub fn sinks(store: Option<&Arc<TraceStore>>) -> Vec<Box<dyn SpanProcessor>> {
    store
        .map(|s| Box::new(TraceStoreProcessor::new(s.clone())) as Box<dyn SpanProcessor>)
        .into_iter()
        .collect()
}

/// Feeds finished spans into a [`TraceStore`].
#[derive(Debug, Clone)]
pub struct TraceStoreProcessor {
    store: Arc<TraceStore>,
    service: Arc<Mutex<String>>,
}

impl TraceStoreProcessor {
    /// A processor writing into `store`.
    pub fn new(store: Arc<TraceStore>) -> Self {
        Self {
            store,
            service: Arc::new(Mutex::new(String::new())),
        }
    }
}

impl SpanProcessor for TraceStoreProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        let service = self
            .service
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        self.store.insert(StoredSpan::from_data(&span, &service));
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        if let Some(v) = resource.get(&opentelemetry::Key::from_static_str("service.name")) {
            *self.service.lock().unwrap_or_else(|p| p.into_inner()) = v.as_str().into_owned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(
        trace: &str,
        id: &str,
        parent: &str,
        name: &str,
        start_ms: u64,
        dur_ms: u64,
        attrs: Vec<(&str, AttrValue)>,
    ) -> StoredSpan {
        StoredSpan {
            trace_id: trace.into(),
            span_id: id.into(),
            parent_span_id: parent.into(),
            name: name.into(),
            service: "ragtrace".into(),
            kind: "internal",
            start_us: start_ms * 1000,
            duration_us: dur_ms * 1000,
            status: "unset",
            status_message: String::new(),
            attributes: attrs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            events: vec![],
            local_root: parent.is_empty(),
        }
    }

    fn stage(s: &str) -> (&'static str, AttrValue) {
        (attr::STAGE, AttrValue::Str(s.into()))
    }

    /// Beyond the trace cap the oldest traces go first, and evictions are counted.
    #[test]
    fn evicts_oldest_at_the_count_cap() {
        let store = TraceStore::new(3, 1 << 20);
        for i in 0..5 {
            store.insert(span(&format!("t{i}"), "a", "", "root", i, 1, vec![]));
        }
        let stats = store.stats();
        assert_eq!((stats.traces, stats.evicted), (3, 2));
        assert!(store.get("t0").is_none() && store.get("t1").is_none());
        assert!(store.get("t4").is_some());
    }

    /// The byte cap evicts too, and the byte count goes back down.
    #[test]
    fn evicts_at_the_byte_cap() {
        let store = TraceStore::new(1000, 4000);
        let big = AttrValue::Str("x".repeat(1500));
        for i in 0..5 {
            store.insert(span(
                &format!("t{i}"),
                "a",
                "",
                "root",
                i,
                1,
                vec![("blob", big.clone())],
            ));
        }
        let stats = store.stats();
        assert!(stats.bytes <= 4000, "{stats:?}");
        assert!(stats.evicted >= 3, "{stats:?}");
        assert!(store.get("t4").is_some());
    }

    /// Filters and pagination, newest first.
    #[test]
    fn lists_with_filters_and_pages() {
        let store = TraceStore::new(100, 1 << 20);
        for i in 0..10u64 {
            let mut root = span(
                &format!("t{i}"),
                "r",
                "",
                "POST /v1/chat",
                i * 10,
                100 + i * 100,
                vec![
                    (
                        attr::USER_ID,
                        AttrValue::Str(if i % 2 == 0 { "alice" } else { "bob" }.into()),
                    ),
                    (attr::CACHE_HIT, AttrValue::Bool(i % 3 == 0)),
                ],
            );
            if i == 7 {
                root.status = "error";
            }
            store.insert(root);
        }
        let all = store.list(&TraceQuery::default());
        assert_eq!(all.total, 10);
        assert_eq!(all.traces[0].trace_id, "t9", "newest first");
        let page = store.list(&TraceQuery {
            limit: Some(3),
            offset: Some(3),
            ..Default::default()
        });
        assert_eq!(
            page.traces
                .iter()
                .map(|t| t.trace_id.as_str())
                .collect::<Vec<_>>(),
            ["t6", "t5", "t4"]
        );
        let alice = store.list(&TraceQuery {
            user_id: Some("alice".into()),
            ..Default::default()
        });
        assert_eq!(alice.total, 5);
        let slow = store.list(&TraceQuery {
            min_duration_ms: Some(800.0),
            ..Default::default()
        });
        assert_eq!(slow.total, 3, "t7, t8, t9 last 800 ms or more");
        let fast = store.list(&TraceQuery {
            max_duration_ms: Some(300.0),
            ..Default::default()
        });
        assert_eq!(fast.total, 3);
        let errors = store.list(&TraceQuery {
            error: Some(true),
            ..Default::default()
        });
        assert_eq!(errors.traces[0].trace_id, "t7");
        let hits = store.list(&TraceQuery {
            cache_hit: Some(true),
            ..Default::default()
        });
        assert_eq!(hits.total, 4, "t0, t3, t6, t9");
        let op = store.list(&TraceQuery {
            operation: Some("nope".into()),
            ..Default::default()
        });
        assert_eq!(op.total, 0);
    }

    /// The breakdown sums stage spans per trace, then takes shares, percentiles and budgets.
    #[test]
    fn breakdown_arithmetic() {
        let mut traces = Vec::new();
        for (i, (llm, retrieval)) in [(2000, 100), (4000, 300), (3000, 200), (1000, 600)]
            .into_iter()
            .enumerate()
        {
            let t = format!("t{i}");
            let mut tr = StoredTrace {
                trace_id: t.clone(),
                ..Default::default()
            };
            tr.spans
                .push(span(&t, "r", "", "root", 0, llm + retrieval + 50, vec![]));
            tr.spans
                .push(span(&t, "a", "r", "chat", 0, llm, vec![stage("llm")]));
            tr.spans.push(span(
                &t,
                "b",
                "r",
                "retrieval",
                0,
                retrieval,
                vec![stage("retrieval")],
            ));
            // Two cache spans in one trace add up: 20 + 30.
            tr.spans.push(span(
                &t,
                "c",
                "r",
                "cache.lookup",
                0,
                20,
                vec![stage("cache")],
            ));
            tr.spans.push(span(
                &t,
                "d",
                "r",
                "cache.store",
                0,
                30,
                vec![stage("cache")],
            ));
            traces.push(tr);
        }
        let b = breakdown(&traces);
        assert_eq!(b.traces, 4);
        assert_eq!(b.slowest_stage, Some("llm"));
        let get = |s: &str| b.stages.iter().find(|x| x.stage == s).unwrap().clone();
        let llm = get("llm");
        assert_eq!(llm.total_ms, 10_000.0);
        assert!((llm.share - 10_000.0 / 11_400.0).abs() < 1e-9);
        assert_eq!(llm.p50_ms, 2000.0);
        assert_eq!(llm.p95_ms, 4000.0);
        assert!(llm.over_budget, "p95 4 s > 3 s budget");
        let cache = get("cache");
        assert_eq!(cache.p50_ms, 50.0);
        assert!(!cache.over_budget, "50 ms is within the 50 ms budget");
        let retrieval = get("retrieval");
        assert_eq!(retrieval.p95_ms, 600.0);
        assert!(retrieval.over_budget);
        let shares: f64 = b.stages.iter().map(|s| s.share).sum();
        assert!((shares - 1.0).abs() < 1e-9);
    }
}
