//! The load generator: closed-loop users (each waits for its answer, then thinks, then asks
//! again) whose number follows ramp, steady and spike stages, bounded by a request count and a
//! duration. Every request carries a `traceparent` with a trace id of the generator's own, so it
//! is the root of its trace and the run can find it again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// One stage of the load: the number of users reached at its end (linearly from the previous
/// stage's), over `secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoadStage {
    /// Users at the end of the stage.
    pub users: usize,
    /// Length of the stage, seconds.
    pub secs: f64,
}

/// A run's load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadPlan {
    /// The stages, one after the other; the last one's users stay until the end.
    pub stages: Vec<LoadStage>,
    /// Pause of each user between an answer and its next question, milliseconds (jittered by
    /// up to half of it).
    pub think_ms: u64,
    /// Requests in all, at most.
    pub max_requests: Option<u64>,
    /// No request starts after this many seconds.
    pub max_secs: u64,
}

impl LoadPlan {
    /// The most users at once.
    pub fn peak_users(&self) -> usize {
        self.stages.iter().map(|s| s.users).max().unwrap_or(0)
    }

    /// Users active `t` seconds into the run.
    pub fn users_at(&self, t: f64) -> usize {
        let mut start = 0.0;
        let mut from = 1usize;
        for s in &self.stages {
            if t < start + s.secs {
                let f = ((t - start) / s.secs).clamp(0.0, 1.0);
                let users = from as f64 + (s.users as f64 - from as f64) * f;
                return users.round().max(1.0) as usize;
            }
            start += s.secs;
            from = s.users;
        }
        from
    }
}

/// What one request measured, from the caller's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// HTTP status (0 when the request failed to get an answer).
    pub status: u16,
    /// Round trip.
    pub latency: Duration,
    /// The trace id it was sent with.
    pub trace_id: String,
}

/// A fresh W3C `traceparent`: a new trace, sampled, whose parent is this request.
pub fn traceparent() -> (String, String) {
    let mut rng = rand::rng();
    let trace_id = format!("{:032x}", rng.random::<u128>() | 1);
    let span_id = format!("{:016x}", rng.random::<u64>() | 1);
    (format!("00-{trace_id}-{span_id}-01"), trace_id)
}

/// Runs `plan` against `POST {base}/v1/chat`, asking `question(n)` as `user_id`, and returns
/// what each request measured. `progress` advances by one per request.
pub async fn run(
    http: &reqwest::Client,
    base: &str,
    plan: &LoadPlan,
    user_id: &str,
    question: Arc<dyn Fn(u64) -> String + Send + Sync>,
    progress: &ProgressBar,
) -> Vec<Sample> {
    let started = Instant::now();
    let issued = Arc::new(AtomicU64::new(0));
    let users = (0..plan.peak_users()).map(|u| {
        let issued = issued.clone();
        let question = question.clone();
        async move {
            let mut samples = Vec::new();
            loop {
                let t = started.elapsed().as_secs_f64();
                if t >= plan.max_secs as f64 {
                    break;
                }
                if u >= plan.users_at(t) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                let n = issued.fetch_add(1, Ordering::AcqRel);
                if plan.max_requests.is_some_and(|max| n >= max) {
                    break;
                }
                samples.push(ask(http, base, user_id, &question(n)).await);
                progress.inc(1);
                if plan.think_ms > 0 {
                    let jitter = rand::rng().random_range(0..=plan.think_ms / 2);
                    tokio::time::sleep(Duration::from_millis(plan.think_ms + jitter)).await;
                }
            }
            samples
        }
    });
    futures::future::join_all(users)
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn ask(http: &reqwest::Client, base: &str, user_id: &str, question: &str) -> Sample {
    let (traceparent, trace_id) = traceparent();
    let started = Instant::now();
    let sent = http
        .post(format!("{base}/v1/chat"))
        .header("traceparent", traceparent)
        .json(&serde_json::json!({"question": question, "user_id": user_id}))
        .send()
        .await;
    let status = match sent {
        // Read the body, so the latency covers the whole answer.
        Ok(resp) => {
            let status = resp.status().as_u16();
            let _ = resp.bytes().await;
            status
        }
        Err(_) => 0,
    };
    Sample {
        status,
        latency: started.elapsed(),
        trace_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Users ramp linearly within a stage and hold the last stage's number afterwards.
    #[test]
    fn users_follow_the_stages() {
        let plan = LoadPlan {
            stages: vec![
                LoadStage {
                    users: 9,
                    secs: 8.0,
                },
                LoadStage {
                    users: 9,
                    secs: 10.0,
                },
                LoadStage {
                    users: 20,
                    secs: 2.0,
                },
            ],
            think_ms: 0,
            max_requests: None,
            max_secs: 60,
        };
        assert_eq!(plan.users_at(0.0), 1);
        assert_eq!(plan.users_at(4.0), 5);
        assert_eq!(plan.users_at(12.0), 9);
        assert_eq!(plan.users_at(19.0), 15);
        assert_eq!(plan.users_at(40.0), 20);
        assert_eq!(plan.peak_users(), 20);
    }

    /// A traceparent is a valid W3C header whose trace id is returned.
    #[test]
    fn traceparents_are_valid() {
        let (tp, id) = traceparent();
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[1], id);
        assert_eq!(id.len(), 32);
        assert_eq!(parts[3], "01");
    }
}
