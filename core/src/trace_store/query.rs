//! The filters of the trace list (`GET /api/traces`, `GET /api/breakdown`).

use super::StoredTrace;

/// Filters of the trace list. Empty fields match everything.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TraceQuery {
    /// Service of the root span.
    pub service: Option<String>,
    /// Name of any span in the trace (exact match), e.g. `execute_tool product_search` or
    /// `chat sim-gpt-4o-mini`.
    #[param(example = "execute_tool product_search")]
    pub operation: Option<String>,
    /// Only traces lasting at least this many milliseconds (fractions allowed): the slow ones.
    #[param(example = 2000)]
    pub min_duration_ms: Option<f64>,
    /// Only traces lasting at most this many milliseconds; must not be below `min_duration_ms`.
    pub max_duration_ms: Option<f64>,
    /// Only traces with (true) or without (false) an error.
    pub error: Option<bool>,
    /// Only traces whose `user.id` equals this, to follow one user's requests.
    pub user_id: Option<String>,
    /// Cache hit or not.
    pub cache_hit: Option<bool>,
    /// Only traces that started at or after this Unix time, milliseconds (a run's window).
    #[param(example = 1764669600000_u64)]
    pub from_ms: Option<u64>,
    /// Only traces that started before this Unix time, milliseconds.
    pub to_ms: Option<u64>,
    /// Page size of the trace list (1 to 200, default 20); traces looked at by the breakdown
    /// (1 to 10,000, default 200).
    #[param(minimum = 1)]
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
            && self
                .from_ms
                .is_none_or(|ms| s.start_us >= ms.saturating_mul(1000))
            && self
                .to_ms
                .is_none_or(|ms| s.start_us < ms.saturating_mul(1000))
    }
}
