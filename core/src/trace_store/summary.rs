//! What a set of chat requests measured, from their traces: the numbers a case study's before
//! and after compare (latency percentiles and distribution, errors, stages on the critical path,
//! cache hits, cost). The lab runner and the viewer's Compare page both read it.

use serde::{Deserialize, Serialize};

use super::{StageBreakdown, StoredSpan, StoredTrace, breakdown};
use crate::semconv::{attr, span};

/// Upper bounds of the latency histogram's buckets, milliseconds (the last bucket is open).
pub const HISTOGRAM_BOUNDS_MS: [f64; 14] = [
    100.0, 250.0, 500.0, 750.0, 1000.0, 1500.0, 2000.0, 3000.0, 4000.0, 6000.0, 8000.0, 10_000.0,
    15_000.0, 30_000.0,
];

/// Latency percentiles, milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Latency {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

impl Latency {
    /// The percentiles of `values` (any order); all zero when there are none.
    pub fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| v[((p / 100.0 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Self {
            mean: v.iter().sum::<f64>() / v.len() as f64,
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
            max: v[v.len() - 1],
        }
    }
}

/// One bucket of the latency distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = HistogramBucket)]
pub struct Bucket {
    /// Upper bound, milliseconds; `null` for the last, open bucket.
    pub le_ms: Option<f64>,
    /// Requests in the bucket.
    pub count: usize,
}

/// The distribution of `values` over [`HISTOGRAM_BOUNDS_MS`].
pub fn histogram(values: &[f64]) -> Vec<Bucket> {
    let mut buckets: Vec<Bucket> = HISTOGRAM_BOUNDS_MS
        .iter()
        .map(|b| Bucket {
            le_ms: Some(*b),
            count: 0,
        })
        .chain(std::iter::once(Bucket {
            le_ms: None,
            count: 0,
        }))
        .collect();
    for v in values {
        let i = HISTOGRAM_BOUNDS_MS
            .iter()
            .position(|b| v <= b)
            .unwrap_or(HISTOGRAM_BOUNDS_MS.len());
        buckets[i].count += 1;
    }
    buckets
}

/// How well retrieval did on the requests a golden-set run graded: those whose retrieval span
/// records `ragtrace.eval.expected_rank` (`ragtrace-lab eval` names the expected sources).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quality {
    /// Requests with an expected rank.
    pub graded: usize,
    /// Share with an expected source first.
    pub hit_at_1: f64,
    /// Share with one among the first three passages.
    pub hit_at_3: f64,
    /// Mean reciprocal rank (0 for a request where none was found).
    pub mrr: f64,
}

impl Quality {
    /// The quality of the graded requests among `traces`, or `None` when none was graded.
    pub fn of(traces: &[StoredTrace]) -> Option<Self> {
        let ranks: Vec<u64> = traces
            .iter()
            .flat_map(|t| &t.spans)
            .filter(|s| s.name == span::RETRIEVAL)
            .filter_map(|s| {
                s.attr(attr::RETRIEVAL_EXPECTED_RANK)?
                    .as_text()
                    .parse()
                    .ok()
            })
            .collect();
        if ranks.is_empty() {
            return None;
        }
        let n = ranks.len() as f64;
        let share = |k: u64| ranks.iter().filter(|r| (1..=k).contains(*r)).count() as f64 / n;
        Some(Self {
            graded: ranks.len(),
            hit_at_1: share(1),
            hit_at_3: share(3),
            mrr: ranks
                .iter()
                .map(|r| if *r == 0 { 0.0 } else { 1.0 / *r as f64 })
                .sum::<f64>()
                / n,
        })
    }
}

/// What the chat requests among some traces measured.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Summary)]
pub struct WindowSummary {
    /// Chat requests (traces with a pipeline span).
    pub requests: usize,
    /// Of them, requests whose pipeline failed.
    pub errors: usize,
    /// End-to-end latency of the requests, from their server spans.
    pub latency_ms: Latency,
    /// Its distribution.
    pub histogram: Vec<Bucket>,
    /// Per stage: time, percentiles and share on the critical path.
    pub stages: Vec<StageBreakdown>,
    /// The stage whose speed-up would shorten the requests most.
    pub slowest_stage: Option<&'static str>,
    /// Pairs of stages that ran at the same time.
    pub overlapped: Vec<(&'static str, &'static str)>,
    /// Requests answered from the answer cache.
    pub cache_hits: usize,
    /// Estimated spend of the requests, USD.
    pub cost_usd: f64,
    /// Retrieval quality of the requests a golden-set run graded, if any.
    pub quality: Option<Quality>,
}

/// Summarises the chat requests among `traces`.
pub fn summarize(traces: &[StoredTrace]) -> WindowSummary {
    let chats: Vec<(&StoredTrace, &StoredSpan)> = traces
        .iter()
        .filter_map(|t| {
            let pipeline = t.spans.iter().find(|s| s.name == span::CHAT_PIPELINE)?;
            Some((t, pipeline))
        })
        .collect();
    let latencies: Vec<f64> = chats
        .iter()
        .map(|(t, p)| {
            t.root()
                .map_or(p.duration_us, |r| r.duration_us)
                .max(p.duration_us) as f64
                / 1000.0
        })
        .collect();
    let float =
        |s: &StoredSpan, key: &str| s.attr(key).and_then(|v| v.as_text().parse::<f64>().ok());
    let b = breakdown(traces);
    WindowSummary {
        requests: chats.len(),
        errors: chats.iter().filter(|(_, p)| p.status == "error").count(),
        latency_ms: Latency::of(&latencies),
        histogram: histogram(&latencies),
        stages: b.stages,
        slowest_stage: b.slowest_stage,
        overlapped: b.overlapped,
        cache_hits: chats
            .iter()
            .filter(|(_, p)| {
                p.attr(attr::CACHE_HIT)
                    .is_some_and(|v| v.as_text() == "true")
            })
            .count(),
        cost_usd: chats
            .iter()
            .filter_map(|(_, p)| float(p, attr::COST_USD))
            .sum(),
        quality: b.quality,
    }
}
