//! Test harness for ragtrace's end-to-end tests: the app in-process on a free port, the real
//! binaries as child processes, a real `redis-server` on a free port, and a real OTLP gRPC
//! receiver.
//!
//! Tests that need a server binary (redis-server) skip with a loud message when it is missing on
//! a developer's machine, and fail when `CI` is set: `scripts/test.sh` installs them.
//!
//! # Layout
//!
//! - `app`: the app in-process ([`TestApp`]) and helpers that read its answers.
//! - `process`: the real binaries as child processes ([`Process`]), free ports, skip-or-fail.
//! - `redis`: a real `redis-server` ([`RedisServer`]).
//! - `otlp`: a real OTLP receiver, gRPC or HTTP, plain or TLS ([`OtlpReceiver`]).
//! - [`eventually`] and [`eventually_blocking`]: the one way a test waits for something.

mod app;
mod otlp;
mod process;
mod redis;

pub use app::{
    TestApp, get_json, init_telemetry, metric_value, parse_sse, stored_points, test_settings,
    trace_store, wait_job,
};
pub use otlp::{OtlpReceiver, ReceivedSpan, Transport};
pub use process::{Killed, Process, bin, bin_dir, command, free_port, in_ci, require_tool, skip};
pub use redis::RedisServer;

use std::time::{Duration, Instant};

/// How often [`eventually`] probes.
const POLL: Duration = Duration::from_millis(100);

/// Probes until `probe` answers `Ok`, or `timeout` has passed; returns the last answer, so the
/// caller's message can show what was seen last. The one way a test waits for something.
pub async fn eventually<T, E, F, Fut>(timeout: Duration, mut probe: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let answer = probe().await;
        if answer.is_ok() || Instant::now() >= deadline {
            return answer;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// [`eventually`] for tests that run no async runtime.
pub fn eventually_blocking<T, E>(
    timeout: Duration,
    mut probe: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let deadline = Instant::now() + timeout;
    loop {
        let answer = probe();
        if answer.is_ok() || Instant::now() >= deadline {
            return answer;
        }
        std::thread::sleep(POLL);
    }
}
