//! Time attributed on the critical path: the chain of stage spans a request actually waited for.
//!
//! When stages run at the same time (the product search beside the vector search), a stage's
//! duration over the request's no longer says how much of the request it cost: two overlapping
//! stages of 300 ms each cost 300 ms, not 600. Walking back from the end of the request, the
//! critical path takes at each point the stage that finished last before it, and counts only the
//! time the request could not have saved without speeding that stage up. A stage entirely
//! hidden behind a slower one costs nothing on the path, however long it takes.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{StoredSpan, StoredTrace};
use crate::semconv::{Stage, span};

/// One stage's time in one request.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StageTime {
    /// The stage's `ragtrace.stage` value.
    pub stage: &'static str,
    /// What the stage's spans took, summed, milliseconds.
    pub ms: f64,
    /// Of that, the time on the critical path, milliseconds: what a faster stage would save.
    pub critical_ms: f64,
}

/// Where one request's time went, on its critical path.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CriticalPath {
    /// The request's duration (its pipeline span, else its root), milliseconds.
    pub total_ms: f64,
    /// Each stage that ran, in pipeline order.
    pub stages: Vec<StageTime>,
    /// Time on the path in no stage (the handler, scheduling), milliseconds.
    pub other_ms: f64,
    /// Pairs of stages that ran at the same time, in pipeline order.
    pub overlapped: Vec<(&'static str, &'static str)>,
    /// The stage with the most time on the critical path: speeding it up shortens the request.
    pub bottleneck: Option<&'static str>,
}

/// The critical path of `trace`, or `None` when it has no stage spans (not a chat request).
pub fn critical_path(trace: &StoredTrace) -> Option<CriticalPath> {
    let mut stages: Vec<(Stage, u64, u64)> = trace
        .spans
        .iter()
        .filter_map(|s| {
            s.stage()
                .map(|st| (st, s.start_us, s.start_us + s.duration_us))
        })
        .collect();
    if stages.is_empty() {
        return None;
    }
    let frame = trace
        .spans
        .iter()
        .find(|s| s.name == span::CHAT_PIPELINE)
        .or_else(|| trace.root())
        .map(|s: &StoredSpan| (s.start_us, s.start_us + s.duration_us))
        .unwrap_or_else(|| {
            let start = stages.iter().map(|s| s.1).min().unwrap_or(0);
            let end = stages.iter().map(|s| s.2).max().unwrap_or(0);
            (start, end)
        });
    stages.sort_by_key(|s| (s.1, s.2));

    let mut critical = vec![0u64; stages.len()];
    let mut other = 0u64;
    let mut t = frame.1;
    loop {
        // The stage that finished last at or before `t` among those that started before it.
        let next = stages
            .iter()
            .enumerate()
            .filter(|(_, s)| s.1 < t)
            .max_by_key(|(_, s)| (s.2.min(t), s.1));
        let Some((i, s)) = next else { break };
        let end = s.2.min(t);
        other += t - end;
        critical[i] += end.saturating_sub(s.1.max(frame.0));
        t = s.1;
        if t <= frame.0 {
            break;
        }
    }
    other += t.saturating_sub(frame.0);

    let ms = |us: u64| us as f64 / 1000.0;
    let times: Vec<StageTime> = Stage::ALL
        .into_iter()
        .filter(|st| stages.iter().any(|s| s.0 == *st))
        .map(|st| {
            let of = || stages.iter().enumerate().filter(move |(_, s)| s.0 == st);
            StageTime {
                stage: st.as_str(),
                ms: ms(of().map(|(_, s)| s.2 - s.1).sum()),
                critical_ms: ms(of().map(|(i, _)| critical[i]).sum()),
            }
        })
        .collect();
    let mut overlapped = BTreeSet::new();
    for (i, a) in stages.iter().enumerate() {
        for b in &stages[i + 1..] {
            if a.0 != b.0 && b.1 < a.2 && a.1 < b.2 {
                let (x, y) = if a.0 as usize <= b.0 as usize {
                    (a.0, b.0)
                } else {
                    (b.0, a.0)
                };
                overlapped.insert((x as usize, y as usize, x.as_str(), y.as_str()));
            }
        }
    }
    let bottleneck = times
        .iter()
        .filter(|s| s.critical_ms > 0.0)
        .max_by(|a, b| a.critical_ms.total_cmp(&b.critical_ms))
        .map(|s| s.stage);
    Some(CriticalPath {
        total_ms: ms(frame.1 - frame.0),
        stages: times,
        other_ms: ms(other),
        overlapped: overlapped.into_iter().map(|(_, _, x, y)| (x, y)).collect(),
        bottleneck,
    })
}
