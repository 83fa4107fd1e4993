//! `[trace_store]`: the in-process store of recent traces behind `/api/traces`. Every key is explained, with its default, in
//! `core/config/default.toml`.

use serde::Deserialize;

use super::{ConfigError, rule};

/// In-process trace store settings.
#[derive(Debug, Clone, Deserialize)]
pub struct TraceStoreSettings {
    /// Keep recent traces in memory and serve them on `/api/traces`.
    pub enabled: bool,
    /// Traces kept at most.
    pub max_traces: usize,
    /// Approximate bytes kept at most.
    pub max_bytes: usize,
    /// Which traces are kept: what the sampler keeps, all, or the slow and failed ones plus a
    /// sampled share of the rest.
    pub keep: TraceKeep,
    /// The same as `keep = "all"` (kept for existing configurations).
    pub keep_all: bool,
    /// With `keep = "slow_and_failed"`: a request slower than this is kept.
    pub slow_ms: u64,
}

/// `trace_store.keep`: which traces the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceKeep {
    /// What the head sampler keeps.
    Sampled,
    /// Every trace; export stays sampled by trace id.
    All,
    /// Every failed trace, every slow one and every one with a stage over its budget, plus the
    /// sampling ratio's share of the rest (by trace id, as export decides); export stays sampled.
    SlowAndFailed,
}

impl TraceStoreSettings {
    /// The policy in force (`keep_all = true` reads as `keep = "all"`).
    pub fn policy(&self) -> TraceKeep {
        if self.keep_all && self.keep == TraceKeep::Sampled {
            TraceKeep::All
        } else {
            self.keep
        }
    }

    /// Whether every trace must be recorded for the store to choose from (the head sampler then
    /// keeps all, and the ratio applies to export only).
    pub fn records_all(&self) -> bool {
        self.enabled && self.policy() != TraceKeep::Sampled
    }
}

impl TraceStoreSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        rule("trace_store.max_traces", self.max_traces > 0, "must be > 0")?;
        rule("trace_store.slow_ms", self.slow_ms > 0, "must be > 0")
    }
}
