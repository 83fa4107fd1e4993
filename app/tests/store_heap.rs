//! The app's allocator keeps the trace store's spans in a mimalloc heap of their own
//! (`ragtrace::alloc`): spans fed the way the app feeds them (masked `SpanData` through
//! `TraceStoreProcessor`) land there, with the store's index, and nothing else does; the heap
//! empties when the store lets its traces go, and a store at its byte cap, evicting, keeps its
//! pages within 10 % of the cap. One test in this file: the heap is process-wide.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry::KeyValue;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use ragtrace::alloc::{Allocator, store_heap_use};
use ragtrace_core::telemetry::SpanReader;
use ragtrace_core::trace_store::{
    TraceStore, TraceStoreProcessor, count_allocations_as, mimalloc_block,
};

#[global_allocator]
static ALLOCATOR: Allocator = Allocator;

/// Span `i` of trace `n`, as the SDK hands it over; the first carries a prompt and an answer.
fn span(n: u128, i: u64) -> SpanData {
    let mut attributes = vec![
        KeyValue::new("ragtrace.stage", "retrieval"),
        KeyValue::new("gen_ai.request.model", "gpt-4o-mini"),
        KeyValue::new("gen_ai.usage.input_tokens", 812),
        KeyValue::new("ragtrace.cost_usd", 0.000_18),
    ];
    if i == 0 {
        let text = "how do I reset the hub? ".repeat(80);
        attributes.push(KeyValue::new("gen_ai.input.messages", text.clone()));
        attributes.push(KeyValue::new("gen_ai.output.messages", text));
    }
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(n + 1),
            SpanId::from(n as u64 * 100 + i + 1),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: if i == 0 {
            SpanId::INVALID
        } else {
            SpanId::from(n as u64 * 100 + 1)
        },
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: format!("stage {i}").into(),
        start_time: start,
        end_time: start + Duration::from_micros(100 + i),
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Ok,
        instrumentation_scope: Default::default(),
    }
}

#[test]
fn the_stores_spans_and_only_they_live_in_its_heap() {
    count_allocations_as(mimalloc_block);
    let empty = store_heap_use();

    let store = Arc::new(TraceStore::new(1_000_000, usize::MAX));
    let reader = TraceStoreProcessor::new(store.clone());
    // Made outside the store's work: these must stay in the main heap.
    let spans: Vec<Vec<SpanData>> = (0..300)
        .map(|n| (0..10).rev().map(|i| span(n, i)).collect())
        .collect();
    let unmarked = store_heap_use();
    assert_eq!(
        unmarked.blocks, empty.blocks,
        "allocations made outside the store's work landed in its heap"
    );

    for trace in &spans {
        for s in trace {
            reader.read(s);
        }
    }
    let full = store_heap_use();
    let held = (full.bytes - empty.bytes) as f64;
    let estimate = store.stats().bytes as f64;
    assert_eq!(store.stats().traces, 300);
    // The store's own estimate counts the same blocks (mimalloc's size classes); what it
    // cannot see is the hash table's exact size (estimated at two slots a trace) and the keys
    // shared by every span, kept once for the process.
    let ratio = held / estimate;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "the store's heap holds {held} bytes for an estimate of {estimate} ({ratio:.3}x): \
         the stored spans are not (all) in it"
    );
    drop(spans);
    assert_eq!(
        store_heap_use().blocks,
        full.blocks,
        "freeing the SDK's spans freed blocks of the store's heap"
    );

    // The traces gone, their blocks are gone from the store's heap (the shared attribute keys,
    // kept for the process's life, stay: a few hundred bytes).
    drop(reader);
    drop(store);
    let after = store_heap_use();
    assert!(
        after.bytes - empty.bytes < 4096,
        "{} bytes still in the store's heap after the store was dropped",
        after.bytes - empty.bytes
    );

    // A store at its byte cap, evicting the oldest trace for each new one, ten times over: the
    // pages of its heap (committed memory, not only the blocks in use) stay within 10 % of the
    // cap, as evictions empty whole pages and new spans reuse them.
    let cap = 4 << 20;
    let store = Arc::new(TraceStore::new(1_000_000, cap));
    let reader = TraceStoreProcessor::new(store.clone());
    let mut peak = 0;
    for n in 0..4_000 {
        for i in (0..10).rev() {
            reader.read(&span(1_000 + n, i));
        }
        if n % 100 == 99 {
            peak = peak.max(store_heap_use().committed - empty.committed);
        }
    }
    let stats = store.stats();
    assert!(
        stats.evicted > 10 * stats.traces as u64,
        "the store did not turn over ten times ({} evicted, {} held)",
        stats.evicted,
        stats.traces
    );
    let ratio = peak as f64 / cap as f64;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "the store's pages took {peak} bytes for a cap of {cap} ({ratio:.3}x)"
    );
}
