//! The executive report: what a fix changed, for the people who decide, on one self-contained
//! HTML page ([`html::render`]) from two measured windows.
//!
//! A window ([`Side`]) is either a `ragtrace-lab run --out` report (its JSON is read as is) or a
//! time window of the app's trace store ([`Side::from_summary`]). [`Kpis`] derives the design's
//! figures from the two: mean and p95 response time, improvement rate, error rate and its
//! reduction, requests processed, spend per 1,000 requests and the projected monthly spend and
//! saving at the measured request rate, and the cache hit rate.
//!
//! `ragtrace-lab report`, `GET /report` and `POST /api/report` all render through here.

pub mod html;
pub mod i18n;

use serde::{Deserialize, Serialize};

pub use i18n::Lang;

use crate::trace_store::summary::{Bucket, Latency, WindowSummary};

/// Seconds in the projection's month (30 days).
pub const MONTH_SECONDS: f64 = 30.0 * 86_400.0;

/// One stage over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StageShare {
    /// The stage's `ragtrace.stage` value.
    pub stage: String,
    /// Median of the stage's time per request, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile, milliseconds.
    pub p95_ms: f64,
    /// Share of the requests' critical-path time, 0..1.
    pub share: f64,
}

/// What one window measured. Its JSON is the subset of a `ragtrace-lab run --out` report that
/// the report reads; other fields are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ReportSide)]
pub struct Side {
    /// The lab case (`chatbot`, `doc-search`, `transcription`); `None` for live data.
    #[serde(default)]
    pub case: Option<String>,
    /// `before` or `after` for a lab run.
    #[serde(default)]
    pub phase: Option<String>,
    /// When the window started, RFC 3339.
    pub started_at: String,
    /// The window's length, seconds.
    pub seconds: f64,
    /// Requests processed (transcription: audio chunks).
    pub requests: u64,
    /// Of them, failed.
    pub errors: u64,
    /// End-to-end latency, milliseconds.
    pub latency_ms: Latency,
    /// Its distribution.
    pub histogram: Vec<Bucket>,
    /// Traces the latency and stages come from.
    pub traces: u64,
    /// Per stage, on the critical path.
    #[serde(default)]
    pub stages: Vec<StageShare>,
    /// The stage with the most critical-path time.
    #[serde(default)]
    pub slowest_stage: Option<String>,
    /// Share of answer-cache lookups that hit, 0..1.
    #[serde(default)]
    pub cache_hit_rate: f64,
    /// Share of product-search cache lookups that hit, when it was looked up.
    #[serde(default)]
    pub catalog_cache_hit_rate: Option<f64>,
    /// Estimated LLM spend per 1,000 requests, USD.
    pub cost_usd_per_1k_requests: f64,
    /// Transcription: peak resident memory of the job, bytes.
    #[serde(default)]
    pub peak_rss_bytes: Option<u64>,
}

/// Why two windows cannot be reported on together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReportError {
    /// A lab pair of two different cases.
    #[error("the two runs are of different cases: {before} and {after}")]
    DifferentCases {
        /// The first's case.
        before: String,
        /// The second's.
        after: String,
    },
    /// A window without a single request.
    #[error("the {which} window holds no requests")]
    Empty {
        /// `before` or `after`.
        which: &'static str,
    },
}

impl Side {
    /// A window of live data: `summary` of its traces, `seconds` long from `started_at`.
    pub fn from_summary(summary: &WindowSummary, started_at: String, seconds: f64) -> Self {
        let n = summary.requests as f64;
        let per = |x: f64| if n > 0.0 { x / n } else { 0.0 };
        Self {
            case: None,
            phase: None,
            started_at,
            seconds,
            requests: summary.requests as u64,
            errors: summary.errors as u64,
            latency_ms: summary.latency_ms,
            histogram: summary.histogram.clone(),
            traces: summary.requests as u64,
            stages: summary
                .stages
                .iter()
                .map(|s| StageShare {
                    stage: s.stage.to_owned(),
                    p50_ms: s.p50_ms,
                    p95_ms: s.p95_ms,
                    share: s.share,
                })
                .collect(),
            slowest_stage: summary.slowest_stage.map(str::to_owned),
            cache_hit_rate: per(summary.cache_hits as f64),
            catalog_cache_hit_rate: None,
            cost_usd_per_1k_requests: per(summary.cost_usd * 1000.0),
            peak_rss_bytes: None,
        }
    }

    /// `errors / requests`, 0 without requests.
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }

    /// Requests a second over the window.
    pub fn request_rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.requests as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The stage's share of the critical path, if it ran.
    pub fn share_of(&self, stage: &str) -> Option<f64> {
        self.stages
            .iter()
            .find(|s| s.stage == stage)
            .map(|s| s.share)
    }
}

/// The figures of the report, derived from two windows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kpis {
    /// Mean response, ms, before and after.
    pub mean_ms: (f64, f64),
    /// 95th percentile, ms.
    pub p95_ms: (f64, f64),
    /// `before mean / after mean`: above 1 is faster.
    pub speedup: f64,
    /// `1 − after mean / before mean`, percent.
    pub improvement_percent: f64,
    /// Error rate, 0..1.
    pub error_rate: (f64, f64),
    /// `1 − after rate / before rate`, percent; `None` without errors before.
    pub error_reduction_percent: Option<f64>,
    /// Requests processed.
    pub requests: (u64, u64),
    /// Requests a second.
    pub request_rate: (f64, f64),
    /// USD per 1,000 requests.
    pub cost_per_1k: (f64, f64),
    /// Projected monthly spend, USD, both at the before window's request rate.
    pub monthly_spend: (f64, f64),
    /// `before − after` of it: positive is a saving.
    pub monthly_saving: f64,
    /// Answer-cache hit rate, 0..1.
    pub cache_hit_rate: (f64, f64),
    /// Product-search cache hit rate, when either window looked it up.
    pub catalog_cache_hit_rate: Option<(f64, f64)>,
    /// Peak memory, bytes, when both windows measured it.
    pub peak_rss_bytes: Option<(u64, u64)>,
}

impl Kpis {
    /// The figures of `before` → `after`.
    pub fn of(before: &Side, after: &Side) -> Result<Self, ReportError> {
        if let (Some(b), Some(a)) = (&before.case, &after.case)
            && b != a
        {
            return Err(ReportError::DifferentCases {
                before: b.clone(),
                after: a.clone(),
            });
        }
        if before.requests == 0 {
            return Err(ReportError::Empty { which: "before" });
        }
        if after.requests == 0 {
            return Err(ReportError::Empty { which: "after" });
        }
        let (mb, ma) = (before.latency_ms.mean, after.latency_ms.mean);
        let (eb, ea) = (before.error_rate(), after.error_rate());
        // The demand: the before window's rate, applied to both spends per request, so the
        // saving compares like with like.
        let monthly_requests = before.request_rate() * MONTH_SECONDS;
        let spend = |s: &Side| monthly_requests / 1000.0 * s.cost_usd_per_1k_requests;
        let (sb, sa) = (spend(before), spend(after));
        Ok(Self {
            mean_ms: (mb, ma),
            p95_ms: (before.latency_ms.p95, after.latency_ms.p95),
            speedup: if ma > 0.0 { mb / ma } else { 0.0 },
            improvement_percent: if mb > 0.0 {
                (1.0 - ma / mb) * 100.0
            } else {
                0.0
            },
            error_rate: (eb, ea),
            error_reduction_percent: (eb > 0.0).then(|| (1.0 - ea / eb) * 100.0),
            requests: (before.requests, after.requests),
            request_rate: (before.request_rate(), after.request_rate()),
            cost_per_1k: (
                before.cost_usd_per_1k_requests,
                after.cost_usd_per_1k_requests,
            ),
            monthly_spend: (sb, sa),
            monthly_saving: sb - sa,
            cache_hit_rate: (before.cache_hit_rate, after.cache_hit_rate),
            catalog_cache_hit_rate: match (
                before.catalog_cache_hit_rate,
                after.catalog_cache_hit_rate,
            ) {
                (None, None) => None,
                (b, a) => Some((b.unwrap_or(0.0), a.unwrap_or(0.0))),
            },
            peak_rss_bytes: before.peak_rss_bytes.zip(after.peak_rss_bytes),
        })
    }
}

/// Everything the page shows besides the two windows' numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The page's language.
    pub lang: Lang,
    /// When the report was made, RFC 3339.
    pub generated_at: String,
    /// The traces' sampling ratio, 0..1, when known.
    pub sample_ratio: Option<f64>,
    /// Whether the external services' latency came from the built-in simulator.
    pub simulated_upstreams: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn side(mean: f64, requests: u64, errors: u64, cost: f64) -> Side {
        Side {
            case: Some("chatbot".to_owned()),
            phase: None,
            started_at: "2026-12-02T12:00:00Z".to_owned(),
            seconds: 100.0,
            requests,
            errors,
            latency_ms: Latency {
                mean,
                p50: mean,
                p95: mean * 1.5,
                p99: mean * 2.0,
                max: mean * 3.0,
            },
            histogram: crate::trace_store::summary::histogram(&[mean]),
            traces: requests,
            stages: vec![],
            slowest_stage: None,
            cache_hit_rate: 0.0,
            catalog_cache_hit_rate: None,
            cost_usd_per_1k_requests: cost,
            peak_rss_bytes: None,
        }
    }

    #[test]
    fn kpis_derive_from_the_two_windows() {
        let k = Kpis::of(&side(10_000.0, 1000, 50, 2.0), &side(2_500.0, 1000, 3, 1.0)).unwrap();
        assert_eq!(k.speedup, 4.0);
        assert_eq!(k.improvement_percent, 75.0);
        assert!((k.error_reduction_percent.unwrap() - 94.0).abs() < 1e-9);
        // 10 requests/s for 30 days = 25.92 M requests; $2 and $1 per 1,000.
        assert!((k.monthly_spend.0 - 51_840.0).abs() < 1e-6);
        assert!((k.monthly_saving - 25_920.0).abs() < 1e-6);
    }

    #[test]
    fn different_cases_and_empty_windows_are_refused() {
        let mut other = side(1.0, 1, 0, 0.0);
        other.case = Some("doc-search".to_owned());
        assert!(matches!(
            Kpis::of(&side(1.0, 1, 0, 0.0), &other),
            Err(ReportError::DifferentCases { .. })
        ));
        assert_eq!(
            Kpis::of(&side(1.0, 0, 0, 0.0), &side(1.0, 1, 0, 0.0)),
            Err(ReportError::Empty { which: "before" })
        );
    }
}

/// `2026-12-02T15:04:06.427Z` for a Unix time in milliseconds (UTC).
pub fn rfc3339_ms(ms: u64) -> String {
    let (days, rem) = ((ms / 86_400_000) as i64, ms % 86_400_000);
    // Days to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn unix_milliseconds_format_as_rfc3339() {
        assert_eq!(super::rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::rfc3339_ms(1_796_223_846_427),
            "2026-12-02T15:04:06.427Z"
        );
        assert_eq!(
            super::rfc3339_ms(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
    }
}
