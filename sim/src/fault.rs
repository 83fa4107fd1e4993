//! How an endpoint behaves under its profile: the latency to spend, the fault to answer with,
//! the concurrency limit of the audio endpoint, and the request counter.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::SimState;
use crate::error::SimError;
use crate::profile::{Endpoint, Fault};

impl SimState {
    /// Counts a request to `endpoint` by `outcome`: in `ragtrace_sim_requests_total` (shared by
    /// every simulator of the process) and in this simulator's own counts
    /// (`GET /admin/requests`), so a test or a lab run can tell what reached *this* simulator.
    pub fn count(&self, endpoint: Endpoint, outcome: &'static str) {
        ragtrace_core::metrics::counter(
            &ragtrace_core::semconv::metric::SIM_REQUESTS_TOTAL,
            [endpoint.as_str(), outcome],
        )
        .increment(1);
        *self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(endpoint.as_str())
            .or_default()
            .entry(outcome)
            .or_default() += 1;
    }

    /// What this simulator has served, by endpoint and outcome.
    pub fn requests(&self) -> RequestCounts {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Requests served, by endpoint, then by outcome (`ok`, `error`, `rate_limited`, `hang`,
/// `bad_request`).
pub type RequestCounts = BTreeMap<&'static str, BTreeMap<&'static str, u64>>;

/// Applies the endpoint's profile: returns the latency to spend on success, or the fault after
/// spending its share of time.
pub async fn apply_profile(state: &SimState, endpoint: Endpoint) -> Result<Duration, SimError> {
    let profile = state
        .profiles
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(endpoint);
    let (fault, latency) = {
        let mut rng = rand::rng();
        (
            profile.sample_fault(&mut rng),
            profile.sample_latency(&mut rng),
        )
    };
    match fault {
        Fault::None => Ok(latency),
        Fault::Hang => {
            state.count(endpoint, "hang");
            tokio::time::sleep(Duration::from_millis(profile.hang_ms)).await;
            Err(SimError::Hang)
        }
        Fault::RateLimited => {
            state.count(endpoint, "rate_limited");
            // A rate limit answers fast: the point is the refusal, not the wait.
            tokio::time::sleep(latency / 10).await;
            Err(SimError::RateLimited {
                message: "Rate limit reached (simulated by ragtrace-sim). Please retry after the delay in Retry-After.".into(),
                retry_after_secs: profile.retry_after_secs,
            })
        }
        Fault::ServerError => {
            state.count(endpoint, "error");
            tokio::time::sleep(latency / 2).await;
            Err(SimError::ServerError)
        }
    }
}

/// Requests being served right now, and a wake-up for those waiting for a slot. The limit is
/// read from the profile at each request, so the admin API can change it at run time.
#[derive(Debug, Default)]
pub struct Slots {
    in_flight: AtomicU64,
    freed: tokio::sync::Notify,
}

/// A held slot; frees it on drop.
#[derive(Debug)]
pub struct Slot<'a>(&'a Slots);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.freed.notify_one();
    }
}

impl Slots {
    /// Takes a slot when fewer than `limit` are taken (0 = no limit), waiting up to `wait`.
    pub async fn acquire(&self, limit: u64, wait: Duration) -> Option<Slot<'_>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let freed = self.freed.notified();
            let cur = self.in_flight.load(Ordering::Acquire);
            if limit == 0 || cur < limit {
                if self
                    .in_flight
                    .compare_exchange(cur, cur + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Some(Slot(self));
                }
                continue;
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return None;
            }
        }
    }
}

/// `sim-` + the requested model, so responses say they are simulated.
pub fn sim_model(requested: &str) -> String {
    if requested.starts_with("sim-") {
        requested.to_owned()
    } else {
        format!("sim-{requested}")
    }
}
