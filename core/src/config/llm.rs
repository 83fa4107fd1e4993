//! `[llm]` and `[pricing]`: the LLM provider, its retry policy, and what its tokens cost. Every key is explained, with its default, in
//! `core/config/default.toml`.

use secrecy::SecretString;
use serde::Deserialize;

use super::{ConfigError, rule};

/// `[llm]`: which OpenAI-compatible provider and models to call, and how failed calls are retried.
#[derive(Debug, Clone, Deserialize)]
pub struct LlmSettings {
    /// OpenAI-compatible base URL (ending in `/v1`); empty = built-in simulator.
    pub base_url: String,
    /// API key (`OPENAI_API_KEY`); held as a secret so `Debug` output and logs never show it.
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// Model that writes the answers; part of the answer-cache key, so a switch skips old answers.
    pub chat_model: String,
    /// Model that embeds questions and chunks alike: vectors of different models do not compare.
    pub embedding_model: String,
    /// Speech-to-text model that `ragtrace-ingest transcribe` sends each audio chunk to.
    pub transcription_model: String,
    /// Timeout of one attempt (also the longest idle gap in a stream); timeouts are retried.
    pub timeout_ms: u64,
    /// How long to wait for a TCP connection, so a dead host fails fast instead of hanging a call.
    pub connect_timeout_ms: u64,
    /// Attempts in all (first try + retries) on 429, 5xx, timeouts and connection errors; 1 = none.
    pub max_attempts: u32,
    /// Base of the exponential backoff between attempts (full jitter), so retries do not stampede.
    pub backoff_base_ms: u64,
    /// Cap of one backoff delay, also applied to `Retry-After`, so a huge hint cannot stall a call.
    pub backoff_max_ms: u64,
    /// Sampling temperature of chat completions; lower values keep answers closer to the context.
    pub temperature: f32,
    /// Tokenizer used for counting (`cl100k_base` or `o200k_base`).
    pub tokenizer: String,
}

/// Price of a model, USD per one million tokens.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, utoipa::ToSchema)]
pub struct ModelPrice {
    /// USD per one million input (prompt) tokens; embeddings are priced by this alone.
    pub input: f64,
    /// USD per one million output (completion) tokens; `0.0` for embedding models, which make none.
    pub output: f64,
}

impl LlmSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        rule(
            "llm.max_attempts",
            (1..=10).contains(&self.max_attempts),
            "must be 1..=10",
        )?;
        rule(
            "llm.tokenizer",
            matches!(self.tokenizer.as_str(), "cl100k_base" | "o200k_base"),
            "must be \"cl100k_base\" or \"o200k_base\"",
        )
    }
}
