//! The in-process trace store: recent traces kept in memory, fed by the same masked spans the
//! OTLP exporter sees, so `cargo run` can show where a request's time goes with no Jaeger.
//!
//! Bounded by trace count and by bytes; the oldest traces are evicted first and the evictions
//! are counted. [`TraceStoreProcessor`] plugs it into the tracer provider as a reader of
//! [`crate::telemetry::MaskingProcessor`]: it reads each masked span the exporter gets, without
//! a copy of it.
//!
//! # Layout
//!
//! - [`model`]: spans, traces and trace summaries as the store keeps them.
//! - [`query`]: the filters of the trace list.
//! - [`summary`]: what a set of chat requests measured (latency, errors, stages, cost).
//! - [`mod@breakdown`]: where the time of recent requests goes, stage by stage.
//! - [`mod@critical`]: one request's time attributed on its critical path.
//! - [`import`]: one trace as a JSON document, written and read back (traces of other processes).
//! - [`processor`]: the span reader that feeds the store.
//! - [`heap`]: which allocations are the store's, for an allocator that keeps them apart.

pub mod breakdown;
pub mod critical;
pub mod heap;
pub mod import;
pub mod model;
pub mod processor;
pub mod query;
pub mod summary;

pub use breakdown::{Breakdown, StageBreakdown, breakdown};
pub use critical::{CriticalPath, StageTime, critical_path};
pub use import::{ImportError, TraceDetail, read_trace, trace_json};
pub use model::{
    AttrKey, AttrValue, StoredEvent, StoredSpan, StoredTrace, TraceSummary, attr_key,
    count_allocations_as, mimalloc_block,
};
pub use processor::{TraceStoreProcessor, sinks};
pub use query::TraceQuery;
pub use summary::{WindowSummary, summarize};

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// A page of the trace list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TracePage {
    /// Matching traces, newest first.
    pub traces: Vec<TraceSummary>,
    /// Matching traces in all.
    pub total: usize,
    /// Offset of this page.
    pub offset: usize,
    /// Page size actually applied: `limit` clamped to 1..=200, 20 when not given.
    pub limit: usize,
}

/// The store's limits and use, reported with every list.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct StoreStats {
    /// Traces held now; past `max_traces`, each new trace evicts the oldest.
    pub traces: usize,
    /// Approximate bytes held: every allocation of the stored spans and of each trace's index
    /// entries, rounded up to the allocator's block. In the app, whose allocator keeps the
    /// store's allocations on pages of their own ([`heap`]), those pages came to 1.02 times
    /// each byte of this under long answers (docs/benchmarks.md, "Memory under load").
    pub bytes: usize,
    /// The trace cap (`trace_store.max_traces`, at least 1).
    pub max_traces: usize,
    /// The byte cap (`trace_store.max_bytes`, at least 1024); the newest trace stays even past it.
    pub max_bytes: usize,
    /// Traces evicted so far to stay within the caps.
    pub evicted: u64,
    /// Traces the `slow_and_failed` policy did not keep (fast, healthy and not in the sampled
    /// share), so far.
    pub not_kept: u64,
}

/// The `slow_and_failed` policy: which finished traces the store keeps.
#[derive(Debug, Clone, Copy)]
pub struct TailPolicy {
    /// A trace whose local root took longer than this is kept.
    pub slow_us: u64,
    /// The share of the other traces kept, chosen by trace id as OTLP export chooses.
    pub ratio: f64,
}

impl TailPolicy {
    /// Whether a trace of these spans (its local root among them) is kept: an error anywhere, a
    /// slow root, a stage over its budget, or the trace id in the sampled share.
    pub fn keeps(&self, trace_id: &str, spans: &[StoredSpan]) -> bool {
        spans.iter().any(|s| {
            s.status == "error"
                || (s.local_root && s.duration_us > self.slow_us)
                || s.stage()
                    .is_some_and(|st| s.duration_us > st.budget_ms().saturating_mul(1000))
        }) || opentelemetry::trace::TraceId::from_hex(trace_id)
            .is_ok_and(|id| crate::telemetry::trace_id_sampled(id, self.ratio))
    }
}

#[derive(Debug, Default)]
struct Inner {
    traces: HashMap<String, StoredTrace, foldhash::quality::RandomState>,
    // Trace ids by first arrival; the front is evicted first.
    order: VecDeque<String>,
    bytes: usize,
    evicted: u64,
    // With a tail policy: the spans of traces whose local root has not ended yet, by first
    // arrival (bounded by max_traces, the oldest dropped first).
    pending: HashMap<String, Vec<StoredSpan>, foldhash::quality::RandomState>,
    pending_order: VecDeque<String>,
    not_kept: u64,
}

/// The bounded in-memory trace store.
#[derive(Debug)]
pub struct TraceStore {
    inner: Mutex<Inner>,
    max_traces: usize,
    max_bytes: usize,
    tail: Option<TailPolicy>,
}

impl TraceStore {
    /// A store of at most `max_traces` traces and about `max_bytes` bytes.
    pub fn new(max_traces: usize, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            max_traces: max_traces.max(1),
            max_bytes: max_bytes.max(1024),
            tail: None,
        }
    }

    /// The same store, deciding at the end of each trace whether to keep it.
    pub fn with_tail_policy(mut self, policy: TailPolicy) -> Self {
        self.tail = Some(policy);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a finished span, evicting the oldest traces beyond the caps. With a tail policy, a
    /// trace's spans wait until its local root ends, and then the whole trace is kept or not.
    ///
    /// What it allocates is marked as the store's ([`heap`]); so should the span's own strings
    /// be, made inside [`heap::for_the_store`] as [`TraceStoreProcessor`] makes them.
    pub fn insert(&self, span: StoredSpan) {
        heap::for_the_store(|| self.insert_marked(span));
    }

    fn insert_marked(&self, span: StoredSpan) {
        let mut inner = self.lock();
        let Some(policy) = self.tail else {
            self.insert_locked(&mut inner, span);
            return;
        };
        let id = span.trace_id.clone();
        if inner.traces.contains_key(&id) {
            // A late span of a trace already kept.
            self.insert_locked(&mut inner, span);
        } else if span.local_root {
            // Its id stays in pending_order until that is compacted below.
            let mut spans = inner.pending.remove(&id).unwrap_or_default();
            spans.push(span);
            if policy.keeps(&id, &spans) {
                for s in spans {
                    self.insert_locked(&mut inner, s);
                }
            } else {
                inner.not_kept += 1;
            }
        } else {
            if !inner.pending.contains_key(&id) {
                inner.pending_order.push_back(id.clone());
                // Ids of decided traces linger in the order; dropping them when they outnumber
                // the waiting ones keeps this amortised O(1) per span.
                if inner.pending_order.len() > 2 * self.max_traces {
                    let Inner {
                        pending,
                        pending_order,
                        ..
                    } = &mut *inner;
                    pending_order.retain(|p| pending.contains_key(p) || *p == id);
                }
                while inner.pending.len() >= self.max_traces {
                    let Some(oldest) = inner.pending_order.pop_front() else {
                        break;
                    };
                    inner.pending.remove(&oldest);
                }
            }
            inner.pending.entry(id).or_default().push(span);
        }
    }

    fn insert_locked(&self, inner: &mut Inner, span: StoredSpan) {
        use std::mem::size_of;
        // What the span allocates beyond its slot in the trace's vector.
        let mut size = span.size() - size_of::<StoredSpan>();
        // The id is copied only for a new trace: most spans join one the store holds.
        if !inner.traces.contains_key(&span.trace_id) {
            let id = span.trace_id.clone();
            inner.order.push_back(id.clone());
            // A new trace's own cost: its map entry (the table is at most 7/8 full and grows by
            // doubling, so about two slots an entry), its slot in the eviction order, and its
            // id three times (the map's key, the order's, the trace's own).
            size += 2 * size_of::<(String, StoredTrace)>()
                + 2 * size_of::<String>()
                + 3 * model::block(id.len());
            inner.traces.insert(
                id.clone(),
                StoredTrace {
                    trace_id: id,
                    ..StoredTrace::default()
                },
            );
        }
        let Some(trace) = inner.traces.get_mut(&span.trace_id) else {
            return;
        };
        // The spans' vector as allocated: it grows by doubling, and its spare slots are memory
        // too (with about ten spans a trace, a sixth of a trace's spans' inline size).
        let before = trace.spans.capacity();
        trace.spans.push(span);
        size += model::block(trace.spans.capacity() * size_of::<StoredSpan>())
            - model::block(before * size_of::<StoredSpan>());
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

    /// Adds the spans of one whole trace (from [`read_trace`]) unless the store already holds
    /// that trace; returns whether they were added.
    pub fn insert_trace(&self, spans: Vec<StoredSpan>) -> bool {
        heap::for_the_store(|| self.insert_trace_marked(spans))
    }

    fn insert_trace_marked(&self, spans: Vec<StoredSpan>) -> bool {
        let Some(id) = spans.first().map(|s| s.trace_id.clone()) else {
            return false;
        };
        let mut inner = self.lock();
        if inner.traces.contains_key(&id) {
            return false;
        }
        for span in spans {
            self.insert_locked(&mut inner, span);
        }
        true
    }

    /// The store's use against its caps and the evictions so far, sent with every trace list.
    pub fn stats(&self) -> StoreStats {
        let inner = self.lock();
        StoreStats {
            traces: inner.order.len(),
            bytes: inner.bytes,
            max_traces: self.max_traces,
            max_bytes: self.max_bytes,
            evicted: inner.evicted,
            not_kept: inner.not_kept,
        }
    }

    /// The trace `trace_id` (any case), spans sorted by start; `None` if evicted or never seen.
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

impl crate::config::TraceStoreSettings {
    /// The configured store, or `None` when it is off.
    ///
    /// `sample_ratio` is the share of healthy, fast traces that `keep = "slow_and_failed"` keeps.
    pub fn build(&self, sample_ratio: f64) -> Option<Arc<TraceStore>> {
        self.enabled.then(|| {
            let store = TraceStore::new(self.max_traces, self.max_bytes);
            Arc::new(match self.policy() {
                crate::config::TraceKeep::SlowAndFailed => store.with_tail_policy(TailPolicy {
                    slow_us: self.slow_ms.saturating_mul(1000),
                    ratio: sample_ratio,
                }),
                _ => store,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semconv::{attr, span as names};

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
            attributes: attrs
                .into_iter()
                .map(|(k, v)| (model::attr_key(k), v))
                .collect(),
            events: vec![],
            local_root: parent.is_empty(),
        }
    }

    fn stage(s: &str) -> (&'static str, AttrValue) {
        (attr::STAGE, AttrValue::Str(s.into()))
    }

    /// `keep = "slow_and_failed"`: a trace waits for its local root, then is kept whole when a
    /// span failed, the root was slow or a stage ran over its budget; a fast healthy trace is
    /// kept only in the sampled share (by trace id, as export decides), and the rest are counted.
    #[test]
    fn the_tail_policy_keeps_slow_and_failed_traces_whole() {
        let policy = TailPolicy {
            slow_us: 5_000_000,
            ratio: 0.0,
        };
        let store = TraceStore::new(100, 1 << 20).with_tail_policy(policy);
        let trace = |id: &str, root_ms: u64, child: StoredSpan| {
            store.insert(child);
            assert!(
                store.get(id).is_none(),
                "{id}: undecided until its root ends"
            );
            store.insert(span(id, "r", "", "POST /v1/chat", 0, root_ms, vec![]));
        };
        trace(
            "fast",
            40,
            span(
                "fast",
                "c",
                "r",
                "retrieval",
                1,
                5,
                vec![stage("retrieval")],
            ),
        );
        let mut failed = span("failed", "c", "r", "chat", 1, 5, vec![stage("llm")]);
        failed.status = "error";
        trace("failed", 40, failed);
        trace("slow", 6_000, span("slow", "c", "r", "chat", 1, 5, vec![]));
        // Prompt's budget is 100 ms: 150 ms is over it, though the request is fast.
        trace(
            "over",
            400,
            span(
                "over",
                "c",
                "r",
                "prompt.build",
                1,
                150,
                vec![stage("prompt")],
            ),
        );
        assert!(store.get("fast").is_none());
        for kept in ["failed", "slow", "over"] {
            assert_eq!(store.get(kept).map(|t| t.spans.len()), Some(2), "{kept}");
        }
        // A late span of a kept trace joins it.
        store.insert(span("slow", "late", "r", "cache.store", 6_001, 1, vec![]));
        assert_eq!(store.get("slow").unwrap().spans.len(), 3);
        let stats = store.stats();
        assert_eq!((stats.traces, stats.not_kept), (3, 1));

        // The sampled share follows the trace id exactly as export does.
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        for ratio in [0.0, 1.0] {
            let store =
                TraceStore::new(10, 1 << 20).with_tail_policy(TailPolicy { ratio, ..policy });
            store.insert(span(id, "r", "", "POST /v1/chat", 0, 40, vec![]));
            assert_eq!(store.get(id).is_some(), ratio == 1.0, "ratio {ratio}");
        }

        // Traces whose root never ends wait in a bounded buffer.
        let store = TraceStore::new(2, 1 << 20).with_tail_policy(policy);
        for i in 0..5 {
            store.insert(span(&format!("orphan{i}"), "c", "r", "chat", 0, 1, vec![]));
        }
        assert_eq!(store.lock().pending.len(), 2);
        // Decided traces do not pile up in the waiting order.
        for i in 0..50 {
            let id = format!("done{i}");
            store.insert(span(&id, "c", "r", "chat", 0, 1, vec![]));
            store.insert(span(&id, "r", "", "POST /v1/chat", 0, 2, vec![]));
        }
        assert!(
            store.lock().pending_order.len() <= 5,
            "{}",
            store.lock().pending_order.len()
        );
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
            // One after the other: cache lookup, retrieval, LLM, cache store.
            tr.spans
                .push(span(&t, "r", "", "root", 0, llm + retrieval + 50, vec![]));
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
                "b",
                "r",
                "retrieval",
                20,
                retrieval,
                vec![stage("retrieval")],
            ));
            tr.spans.push(span(
                &t,
                "a",
                "r",
                "chat",
                20 + retrieval,
                llm,
                vec![stage("llm")],
            ));
            // Two cache spans in one trace add up: 20 + 30.
            tr.spans.push(span(
                &t,
                "d",
                "r",
                "cache.store",
                20 + retrieval + llm,
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
        assert!(
            b.overlapped.is_empty(),
            "one after the other: {:?}",
            b.overlapped
        );
    }

    /// Overlapping stages are attributed on the critical path: a product search (300 ms) beside
    /// embeddings (100 ms) and retrieval (50 ms) costs its 300 ms, the hidden vector search
    /// nothing; the overlap is named and the product search is the stage to speed up.
    #[test]
    fn overlapping_stages_are_attributed_on_the_critical_path() {
        let t = "overlap";
        let mut tr = StoredTrace {
            trace_id: t.into(),
            ..Default::default()
        };
        let mut push = |id: &str, name: &str, start: u64, dur: u64, st: &str| {
            tr.spans
                .push(span(t, id, "p", name, start, dur, vec![stage(st)]));
        };
        push("c", "cache.lookup", 0, 10, "cache");
        push("e", "embeddings", 10, 100, "embeddings");
        push("r", "retrieval", 110, 50, "retrieval");
        push("x", "execute_tool product_search", 10, 300, "external_api");
        push("b", "prompt.build", 310, 5, "prompt");
        push("l", "chat", 315, 1000, "llm");
        push("s", "cache.store", 1315, 5, "cache");
        tr.spans
            .push(span(t, "p", "", names::CHAT_PIPELINE, 0, 1330, vec![]));

        let path = critical_path(&tr).unwrap();
        let get = |s: &str| path.stages.iter().find(|x| x.stage == s).unwrap().clone();
        assert_eq!(path.total_ms, 1330.0);
        assert_eq!(get("external_api").critical_ms, 300.0);
        assert_eq!(get("external_api").ms, 300.0);
        assert_eq!(get("embeddings").ms, 100.0);
        assert_eq!(
            get("embeddings").critical_ms,
            0.0,
            "hidden behind the product search"
        );
        assert_eq!(get("retrieval").critical_ms, 0.0);
        assert_eq!(get("llm").critical_ms, 1000.0);
        assert_eq!(get("cache").critical_ms, 15.0);
        assert_eq!(path.other_ms, 10.0, "the 10 ms after the cache store");
        let on_path: f64 = path.stages.iter().map(|s| s.critical_ms).sum();
        assert_eq!(
            on_path + path.other_ms,
            path.total_ms,
            "the path covers the request once"
        );
        assert_eq!(
            path.overlapped,
            vec![
                ("embeddings", "external_api"),
                ("retrieval", "external_api")
            ]
        );
        assert_eq!(path.bottleneck, Some("llm"));

        // Across traces: shares of critical time, and the product search beats the vector
        // search although their durations add up to more.
        let b = breakdown(&[tr]);
        let share = |s: &str| b.stages.iter().find(|x| x.stage == s).unwrap().share;
        assert!((share("external_api") - 300.0 / 1320.0).abs() < 1e-9);
        assert_eq!(share("retrieval"), 0.0);
        assert_eq!(b.slowest_stage, Some("llm"));
        assert_eq!(b.overlapped.len(), 2);
    }

    /// Quality beside time: the requests a golden-set run graded (an expected rank on their
    /// retrieval span) give hit@1, hit@3 and MRR; ungraded ones count for nothing.
    #[test]
    fn graded_requests_give_the_quality() {
        let trace = |id: &str, rank: Option<i64>| {
            let mut attrs = vec![stage("retrieval")];
            if let Some(r) = rank {
                attrs.push((attr::RETRIEVAL_EXPECTED_RANK, AttrValue::Int(r)));
            }
            StoredTrace {
                trace_id: id.into(),
                spans: vec![span(id, "a", "", names::RETRIEVAL, 0, 5, attrs)],
                bytes: 0,
            }
        };
        let traces = vec![
            trace("t1", Some(1)),
            trace("t2", Some(3)),
            trace("t3", Some(0)),
            trace("t4", Some(5)),
            trace("t5", None),
        ];
        let q = summary::Quality::of(&traces).expect("graded");
        assert_eq!(q.graded, 4);
        assert_eq!(q.hit_at_1, 0.25);
        assert_eq!(q.hit_at_3, 0.5);
        assert!((q.mrr - (1.0 + 1.0 / 3.0 + 0.0 + 0.2) / 4.0).abs() < 1e-12);
        assert_eq!(breakdown(&traces).quality, Some(q));
        assert_eq!(summary::Quality::of(&traces[4..]), None);
    }
}
