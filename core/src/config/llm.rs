//! `[llm]` and `[pricing]`: the LLM provider, its retry policy, and what its tokens cost. Every key is explained, with its default, in
//! `core/config/default.toml`.

use secrecy::SecretString;
use serde::Deserialize;

use super::{ConfigError, rule};

/// LLM provider settings.
#[derive(Debug, Clone, Deserialize)]
pub struct LlmSettings {
    /// OpenAI-compatible base URL (ending in `/v1`); empty = built-in simulator.
    pub base_url: String,
    /// API key (`OPENAI_API_KEY`).
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// Chat model.
    pub chat_model: String,
    /// Embeddings model.
    pub embedding_model: String,
    /// Speech-to-text model.
    pub transcription_model: String,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
    /// Connect timeout.
    pub connect_timeout_ms: u64,
    /// Attempts in all.
    pub max_attempts: u32,
    /// Backoff base.
    pub backoff_base_ms: u64,
    /// Backoff cap.
    pub backoff_max_ms: u64,
    /// Sampling temperature.
    pub temperature: f32,
    /// Tokenizer used for counting (`cl100k_base` or `o200k_base`).
    pub tokenizer: String,
}

/// Price of a model, USD per one million tokens.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
pub struct ModelPrice {
    /// Input (prompt) tokens.
    pub input: f64,
    /// Output (completion) tokens.
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
