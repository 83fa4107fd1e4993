//! Where the time of recent requests goes, stage by stage, against each stage's budget.

use std::collections::HashMap;

use serde::Serialize;

use super::StoredTrace;
use crate::semconv::Stage;

/// One stage's share of the time, over recent traces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageBreakdown {
    /// The stage's `ragtrace.stage` value (`retrieval`, `llm`, ...); the viewer shows its label.
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
