//! The trace store's byte estimate against what it really allocates, counted by a global
//! allocator that keeps allocation statistics (stats_alloc). One test in this file: the count is process-wide.
//!
//! The estimate is what `trace_store.max_bytes` bounds, so it must not be far from the heap the
//! store holds: traces of ten spans with a long prompt and answer on one of them, as with
//! `chat.record_content = true`, then the store filled past its cap.

use std::alloc::System;

use ragtrace_core::trace_store::{AttrValue, StoredSpan, TraceStore};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Heap bytes allocated and not freed since `region` began (a reallocation's growth counts in
/// `bytes_allocated`, its shrinking in `bytes_deallocated`).
fn heap_held(region: &Region<'_, System>) -> f64 {
    let c = region.change();
    c.bytes_allocated as f64 - c.bytes_deallocated as f64
}

/// One trace of `spans` spans, the first carrying a prompt and an answer of `content` bytes.
fn trace(n: usize, spans: usize, content: usize) -> Vec<StoredSpan> {
    let trace_id = format!("{n:032x}");
    (0..spans)
        .map(|i| {
            let mut attributes = vec![
                ("ragtrace.stage".into(), AttrValue::Str("retrieval".into())),
                (
                    "gen_ai.request.model".into(),
                    AttrValue::Str("gpt-4o-mini".into()),
                ),
                ("gen_ai.usage.input_tokens".into(), AttrValue::Int(812)),
                ("ragtrace.cost_usd".into(), AttrValue::Float(0.000_18)),
            ];
            if i == 0 {
                let text = "how do I reset the hub? ".repeat(content / 24 + 1);
                attributes.push(("gen_ai.input.messages".into(), AttrValue::Str(text.clone())));
                attributes.push(("gen_ai.output.messages".into(), AttrValue::Str(text)));
            }
            StoredSpan {
                trace_id: trace_id.clone(),
                span_id: format!("{:016x}", n * 100 + i),
                parent_span_id: if i == 0 {
                    String::new()
                } else {
                    format!("{:016x}", n * 100)
                },
                name: format!("stage {i}"),
                service: "ragtrace".to_owned(),
                kind: "internal",
                start_us: 1_000_000 + i as u64,
                duration_us: 100,
                status: "ok",
                status_message: String::new(),
                attributes,
                events: Vec::new(),
                local_root: i == 0,
            }
        })
        .collect()
}

#[test]
fn the_byte_estimate_is_within_ten_percent_of_the_heap_the_store_holds() {
    for content in [200, 4_000] {
        // No cap reached: the estimate against the heap the store holds.
        let store = TraceStore::new(1_000_000, usize::MAX);
        let region = Region::new(GLOBAL);
        for n in 0..500 {
            for span in trace(n, 10, content) {
                store.insert(span);
            }
        }
        let held = heap_held(&region);
        let estimate = store.stats().bytes as f64;
        let ratio = held / estimate;
        assert!(
            (0.9..=1.1).contains(&ratio),
            "content {content}: the store holds {held} bytes, estimates {estimate} ({ratio:.3}×)"
        );
        drop(store);

        // Filled past its cap: what it holds stays within 10 % of the cap.
        let cap = 4 << 20;
        let store = TraceStore::new(1_000_000, cap);
        let region = Region::new(GLOBAL);
        for n in 0..3_000 {
            for span in trace(n, 10, content) {
                store.insert(span);
            }
        }
        let held = heap_held(&region);
        let stats = store.stats();
        assert!(stats.evicted > 0, "the cap was reached: {stats:?}");
        assert!(
            held <= 1.1 * cap as f64,
            "content {content}: {held} bytes held under a cap of {cap} ({:.3}×)",
            held / cap as f64
        );
    }
}
