//! Where the time of recent requests goes, stage by stage, against each stage's budget. Shares
//! are of the time on each request's critical path ([`super::critical`]), so stages that run at
//! the same time are not counted twice.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::StoredTrace;
use super::critical::critical_path;
use crate::semconv::Stage;

/// One stage's share of the time, over recent traces.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StageBreakdown {
    /// The stage's `ragtrace.stage` value (`retrieval`, `llm`, ...); the viewer shows its label.
    pub stage: &'static str,
    /// Traces in which the stage ran.
    pub count: usize,
    /// Total time in the stage, milliseconds.
    pub total_ms: f64,
    /// Of that, the time on the requests' critical paths, milliseconds: what a faster stage
    /// would have saved.
    pub critical_ms: f64,
    /// Share of the critical-path time of all stages, 0..1.
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Breakdown {
    /// Traces looked at (those with at least one stage span).
    pub traces: usize,
    /// One entry per stage that ran, in pipeline order.
    pub stages: Vec<StageBreakdown>,
    /// The stage with the most time on the critical path: the one whose speed-up would
    /// shorten requests most.
    pub slowest_stage: Option<&'static str>,
    /// Pairs of stages that ran at the same time in at least one request.
    pub overlapped: Vec<(&'static str, &'static str)>,
    /// Retrieval quality beside the time: the requests a golden-set run graded, if any.
    pub quality: Option<super::summary::Quality>,
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Computes the breakdown of `traces`: per trace, the time of each stage (summed over its spans)
/// and its time on the critical path, then shares, percentiles and budgets across traces.
pub fn breakdown(traces: &[StoredTrace]) -> Breakdown {
    let mut per_stage: HashMap<&'static str, (Vec<f64>, f64)> = HashMap::new();
    let mut overlapped = BTreeSet::new();
    let mut looked = 0;
    for path in traces.iter().filter_map(critical_path) {
        looked += 1;
        for s in path.stages {
            let entry = per_stage.entry(s.stage).or_default();
            entry.0.push(s.ms);
            entry.1 += s.critical_ms;
        }
        overlapped.extend(path.overlapped);
    }
    let grand: f64 = per_stage.values().map(|(_, critical)| critical).sum();
    let stages: Vec<StageBreakdown> = Stage::ALL
        .into_iter()
        .filter_map(|stage| {
            let (mut v, critical) = per_stage.remove(stage.as_str())?;
            v.sort_by(f64::total_cmp);
            let p95 = percentile(&v, 95.0);
            Some(StageBreakdown {
                stage: stage.as_str(),
                count: v.len(),
                total_ms: v.iter().sum(),
                critical_ms: critical,
                share: if grand > 0.0 { critical / grand } else { 0.0 },
                p50_ms: percentile(&v, 50.0),
                p95_ms: p95,
                budget_ms: stage.budget_ms(),
                over_budget: p95 > stage.budget_ms() as f64,
            })
        })
        .collect();
    let slowest_stage = stages
        .iter()
        .filter(|s| s.critical_ms > 0.0)
        .max_by(|a, b| a.critical_ms.total_cmp(&b.critical_ms))
        .map(|s| s.stage);
    let order = |s: &str| Stage::ALL.iter().position(|x| x.as_str() == s);
    let mut overlapped: Vec<_> = overlapped.into_iter().collect();
    overlapped.sort_by_key(|(a, b)| (order(a), order(b)));
    Breakdown {
        traces: looked,
        stages,
        slowest_stage,
        overlapped,
        quality: super::summary::Quality::of(traces),
    }
}
