//! Live request statistics for the viewer's tiles: a rolling window of recent chat requests,
//! independent of trace sampling (every request is counted, as in the metrics).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

/// The window the tiles cover.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Requests remembered at most (bounds memory under any load).
const MAX_SAMPLES: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    duration_ms: f64,
    error: bool,
    cache_hit: bool,
    cost_usd: f64,
}

/// What the tiles show.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[schema(as = Stats)]
pub struct LiveStats {
    /// Length of the window the rates cover ([`WINDOW`]), so the UI can label the tiles with it.
    pub window_seconds: u64,
    /// Chat requests per second over the window.
    pub requests_per_second: f64,
    /// 95th percentile of chat request duration over the window, milliseconds.
    pub p95_ms: Option<f64>,
    /// Share of chat requests the service failed (5xx) over the window.
    pub error_rate: Option<f64>,
    /// Share of answered requests served from the cache over the window.
    pub cache_hit_rate: Option<f64>,
    /// Estimated spend since start, USD.
    pub spend_usd: f64,
    /// Estimated spend over the window, USD.
    pub spend_window_usd: f64,
}

/// How a chat request ended, as the tiles count it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Finished {
    /// Answered (from the cache or not), at this cost.
    Answered {
        /// Whether the answer came from the cache.
        cache_hit: bool,
        /// Estimated cost of this request in USD (zero for a cache hit), added to the spend tiles.
        cost_usd: f64,
    },
    /// The service failed (a 5xx, or an error event mid-stream).
    Failed,
}

/// Recent chat requests (capped, pruned to [`WINDOW`] on each snapshot) and the spend since start,
/// behind one mutex: what `GET /api/stats` reads.
#[derive(Debug, Default)]
pub struct RecentRequests {
    inner: Mutex<(VecDeque<Sample>, f64)>,
}

impl RecentRequests {
    /// Records one finished chat request.
    pub fn record(&self, duration: Duration, finished: Finished) {
        let (error, cache_hit, cost_usd) = match finished {
            Finished::Answered {
                cache_hit,
                cost_usd,
            } => (false, cache_hit, cost_usd),
            Finished::Failed => (true, false, 0.0),
        };
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.1 += cost_usd;
        if inner.0.len() >= MAX_SAMPLES {
            inner.0.pop_front();
        }
        inner.0.push_back(Sample {
            at: Instant::now(),
            duration_ms: duration.as_secs_f64() * 1000.0,
            error,
            cache_hit,
            cost_usd,
        });
    }

    /// The statistics of the last [`WINDOW`].
    pub fn snapshot(&self) -> LiveStats {
        let now = Instant::now();
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        while inner
            .0
            .front()
            .is_some_and(|s| now.duration_since(s.at) > WINDOW)
        {
            inner.0.pop_front();
        }
        let samples = &inner.0;
        let n = samples.len();
        let mut durations: Vec<f64> = samples.iter().map(|s| s.duration_ms).collect();
        durations.sort_by(f64::total_cmp);
        let p95 = (!durations.is_empty()).then(|| {
            let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n);
            durations[rank - 1]
        });
        let errors = samples.iter().filter(|s| s.error).count();
        let answered: Vec<&Sample> = samples.iter().filter(|s| !s.error).collect();
        let hits = answered.iter().filter(|s| s.cache_hit).count();
        LiveStats {
            window_seconds: WINDOW.as_secs(),
            requests_per_second: n as f64 / WINDOW.as_secs_f64(),
            p95_ms: p95,
            error_rate: (n > 0).then(|| errors as f64 / n as f64),
            cache_hit_rate: (!answered.is_empty()).then(|| hits as f64 / answered.len() as f64),
            spend_usd: inner.1,
            spend_window_usd: samples.iter().map(|s| s.cost_usd).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The snapshot's rates, percentile and spend follow the recorded requests.
    #[test]
    fn snapshot_arithmetic() {
        let r = RecentRequests::default();
        assert_eq!(r.snapshot().p95_ms, None);
        for i in 1..=20 {
            let finished = if i == 20 {
                Finished::Failed
            } else {
                Finished::Answered {
                    cache_hit: i % 4 == 0,
                    cost_usd: 0.001,
                }
            };
            r.record(Duration::from_millis(i * 10), finished);
        }
        let s = r.snapshot();
        assert_eq!(s.requests_per_second, 20.0 / 60.0);
        assert_eq!(s.p95_ms, Some(190.0));
        assert_eq!(s.error_rate, Some(0.05));
        // 19 answered, of which 4 hits (4, 8, 12, 16).
        assert_eq!(s.cache_hit_rate, Some(4.0 / 19.0));
        assert!((s.spend_usd - 0.019).abs() < 1e-12);
    }
}
