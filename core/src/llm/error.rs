//! What can go wrong calling the provider, and how one failed attempt is classified for the
//! retry loop: retried (429, 5xx, timeouts, connection errors) or final (any other 4xx, a
//! response that does not parse).

use std::time::Duration;

use async_openai::error::OpenAIError;

/// Errors from the LLM provider, after retries.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    /// Every attempt timed out (or the provider hung).
    #[error("the LLM did not answer within {timeout_ms} ms ({attempts} attempts)")]
    Timeout {
        /// Attempts made before giving up, so the message says whether retries were tried.
        attempts: u32,
        /// The per-attempt timeout (`llm.timeout_ms`), or the request deadline if it cut a stream.
        timeout_ms: u64,
    },
    /// The provider kept answering 429.
    #[error("the LLM provider is rate limiting requests (HTTP 429 after {attempts} attempts)")]
    RateLimited {
        /// Attempts made before giving up; the last one was answered with 429.
        attempts: u32,
        /// The provider's last `Retry-After`, seconds; our 502 repeats it in its own `Retry-After`.
        retry_after_secs: Option<u64>,
    },
    /// The provider kept failing with 5xx.
    #[error("the LLM provider failed with HTTP {status} after {attempts} attempts: {message}")]
    Upstream {
        /// The 5xx status of the last attempt: the provider's side failed, not our request.
        status: u16,
        /// The provider's own error message (at most 300 characters), to tell its outage from ours.
        message: String,
        /// Attempts made before giving up, so the message shows that retrying did not help.
        attempts: u32,
    },
    /// The provider refused the request (4xx other than 429): a configuration problem such as a
    /// wrong API key or model name. Not retried.
    #[error("the LLM provider rejected the request with HTTP {status}: {message}")]
    Rejected {
        /// The 4xx status, e.g. 401 for a wrong API key or 404 for an unknown model.
        status: u16,
        /// The provider's explanation, cut to 300 characters: the clue to which setting is wrong.
        message: String,
    },
    /// The provider could not be reached.
    #[error("cannot reach the LLM provider ({attempts} attempts): {message}")]
    Unreachable {
        /// The transport error with its chain of causes (e.g. connection refused), joined by `: `.
        message: String,
        /// Attempts made before giving up (1 for the readiness check, which does not retry).
        attempts: u32,
    },
    /// The provider answered something that is not a valid response.
    #[error("invalid response from the LLM provider: {0}")]
    Protocol(String),
}

impl LlmError {
    /// Short class for `error.type` and metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            LlmError::Timeout { .. } => "timeout",
            LlmError::RateLimited { .. } => "rate_limited",
            LlmError::Upstream { .. } => "upstream_5xx",
            LlmError::Rejected { .. } => "rejected",
            LlmError::Unreachable { .. } => "unreachable",
            LlmError::Protocol(_) => "protocol",
        }
    }
}

/// A non-2xx answer, kept typed (status, Retry-After, provider message) by our HTTP service.
#[derive(Debug)]
pub(super) struct HttpStatusError {
    pub(super) status: u16,
    pub(super) retry_after: Option<Duration>,
    pub(super) message: String,
}

impl std::fmt::Display for HttpStatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.message)
    }
}

impl std::error::Error for HttpStatusError {}

/// What one failed attempt tells the retry loop.
pub(super) enum Attempt {
    Retry(LlmError, Option<Duration>),
    Fail(LlmError),
}

pub(super) fn classify(e: &OpenAIError, attempts: u32, timeout_ms: u64) -> Attempt {
    match e {
        OpenAIError::Boxed(b) => match b.downcast_ref::<HttpStatusError>() {
            Some(h) if h.status == 429 => Attempt::Retry(
                LlmError::RateLimited {
                    attempts,
                    retry_after_secs: h.retry_after.map(|d| d.as_secs()),
                },
                h.retry_after,
            ),
            Some(h) if h.status >= 500 => Attempt::Retry(
                LlmError::Upstream {
                    status: h.status,
                    message: h.message.clone(),
                    attempts,
                },
                h.retry_after,
            ),
            Some(h) => Attempt::Fail(LlmError::Rejected {
                status: h.status,
                message: h.message.clone(),
            }),
            None => classify_transport(b.as_ref(), attempts, timeout_ms),
        },
        OpenAIError::Reqwest(r) => classify_transport(r, attempts, timeout_ms),
        OpenAIError::ApiError(a) => {
            let status = a.status_code.as_u16();
            let message = a.api_error.message.chars().take(300).collect();
            if status == 429 {
                Attempt::Retry(
                    LlmError::RateLimited {
                        attempts,
                        retry_after_secs: None,
                    },
                    None,
                )
            } else if status >= 500 {
                Attempt::Retry(
                    LlmError::Upstream {
                        status,
                        message,
                        attempts,
                    },
                    None,
                )
            } else {
                Attempt::Fail(LlmError::Rejected { status, message })
            }
        }
        // Never echo the body: it may hold user data.
        OpenAIError::JSONDeserialize(e, _) => Attempt::Fail(LlmError::Protocol(format!(
            "cannot parse the response: {e}"
        ))),
        OpenAIError::StreamError(e) => Attempt::Fail(LlmError::Protocol(format!("stream: {e}"))),
        other => Attempt::Fail(LlmError::Protocol(other.to_string())),
    }
}

fn classify_transport(
    e: &(dyn std::error::Error + 'static),
    attempts: u32,
    timeout_ms: u64,
) -> Attempt {
    let is_timeout = e
        .downcast_ref::<reqwest::Error>()
        .is_some_and(reqwest::Error::is_timeout)
        || e.to_string().contains("timed out");
    if is_timeout {
        Attempt::Retry(
            LlmError::Timeout {
                attempts,
                timeout_ms,
            },
            None,
        )
    } else {
        // Connection refused/reset: the sort of failure a retry can fix.
        let mut message = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        Attempt::Retry(LlmError::Unreachable { message, attempts }, None)
    }
}
