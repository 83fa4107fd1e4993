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
    /// Keep every trace even when export is sampled (the sampling ratio then applies to export
    /// only, by trace id).
    pub keep_all: bool,
}

impl TraceStoreSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        rule("trace_store.max_traces", self.max_traces > 0, "must be > 0")
    }
}
