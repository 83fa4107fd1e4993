//! The retry policy: at most `max_attempts` attempts on 429, 5xx, timeouts and connection errors,
//! each bounded by the per-attempt timeout, with full-jitter exponential backoff that honours
//! `Retry-After`.

use std::time::Duration;

use async_openai::error::OpenAIError;
use rand::Rng as _;

use super::LlmClient;
use super::error::{Attempt, LlmError, classify};
use crate::semconv::attr;

impl LlmClient {
    /// Runs `call` with the retry policy. `call` makes one HTTP attempt.
    pub(super) async fn with_retries<T, F, Fut>(
        &self,
        span: &tracing::Span,
        mut call: F,
    ) -> Result<T, LlmError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, OpenAIError>>,
    {
        let s = &self.settings;
        let mut attempt = 0;
        loop {
            attempt += 1;
            span.record(attr::ATTEMPT, i64::from(attempt));
            let err = match tokio::time::timeout(Duration::from_millis(s.timeout_ms), call()).await
            {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => classify(&e, attempt, s.timeout_ms),
                // The attempt took longer than its timeout (a hung provider, a slow body).
                Err(_) => Attempt::Retry(
                    LlmError::Timeout {
                        attempts: attempt,
                        timeout_ms: s.timeout_ms,
                    },
                    None,
                ),
            };
            match err {
                Attempt::Retry(e, retry_after) if attempt < s.max_attempts => {
                    // Full jitter: uniform in [0, min(cap, base * 2^(n-1))], and never sooner
                    // than the provider asked (capped, so a huge Retry-After cannot stall us).
                    let exp = s
                        .backoff_base_ms
                        .saturating_mul(1 << (attempt - 1).min(16))
                        .min(s.backoff_max_ms);
                    let mut delay = Duration::from_millis(rand::rng().random_range(0..=exp));
                    if let Some(ra) = retry_after {
                        delay = delay.max(ra.min(Duration::from_millis(s.backoff_max_ms)));
                    }
                    tracing::warn!(
                        attempt,
                        error.type = e.kind(),
                        delay_ms = delay.as_millis() as u64,
                        "LLM call failed, retrying: {e}"
                    );
                    tokio::time::sleep(delay).await;
                }
                Attempt::Retry(e, _) | Attempt::Fail(e) => return Err(e),
            }
        }
    }
}
