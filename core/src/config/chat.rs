//! `[chat]`: the chat pipeline's knobs. Every key is explained, with its default, in
//! `core/config/default.toml`.

use serde::Deserialize;

use super::{ConfigError, rule};

/// `[chat]`: how much context a question gets, how long its answer may be, and its deadline.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatSettings {
    /// Passages returned by the vector search at most.
    pub top_k: usize,
    /// Minimum cosine similarity of a passage found by the dense leg.
    pub score_threshold: f32,
    /// Which legs a search runs: `dense`, `sparse` or `hybrid` (both, fused by reciprocal rank).
    pub retrieval: crate::vector_store::Retrieval,
    /// Candidates each leg returns before fusion (hybrid only).
    pub fusion_candidates: usize,
    /// How hybrid retrieval merges the legs: `dbsf` or `rrf`.
    pub fusion: crate::vector_store::Fusion,
    /// Longest accepted question, in characters.
    pub max_question_chars: usize,
    /// Token budget of the retrieved context.
    pub context_token_budget: usize,
    /// Upper bound for the completion (sent as `max_tokens`), capping each answer's cost and time.
    pub max_output_tokens: u32,
    /// Whole-request deadline: past it the client gets a 504, never a hung connection.
    pub deadline_ms: u64,
    /// Lifetime of a cached answer.
    pub answer_cache_ttl_secs: u64,
    /// Record prompt and completion text on spans (opt-in).
    pub record_content: bool,
    /// Whether a buying question's product search runs beside its vector search; off, it waits
    /// behind it (the slow "before" of case study 1).
    pub parallel_product_search: bool,
    /// Chats per minute one client (IP address) may send; 0 = no limit.
    pub client_rate_per_minute: u32,
    /// Chats per minute one `user_id` may send; 0 = no limit.
    pub user_rate_per_minute: u32,
    /// Estimated spend (USD) one `user_id` may run up per UTC day; 0 = no budget.
    pub user_daily_budget_usd: f64,
}

impl ChatSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        rule(
            "chat.top_k",
            (1..=100).contains(&self.top_k),
            "must be 1..=100",
        )?;
        rule(
            "chat.fusion_candidates",
            (1..=1000).contains(&self.fusion_candidates),
            "must be 1..=1000",
        )?;
        rule(
            "chat.max_question_chars",
            self.max_question_chars > 0,
            "must be > 0",
        )?;
        rule(
            "chat.user_daily_budget_usd",
            self.user_daily_budget_usd >= 0.0 && self.user_daily_budget_usd.is_finite(),
            "must be >= 0 (0 = no budget)",
        )?;
        rule("chat.deadline_ms", self.deadline_ms > 0, "must be > 0")
    }
}
