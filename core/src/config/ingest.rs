//! `[ingest]`: the document pipeline and its job queue. Every key is explained, with its default, in
//! `core/config/default.toml`.

use secrecy::ExposeSecret as _;
use serde::Deserialize;

use super::{CacheSettings, ConfigError, rule};

/// Where ingest jobs wait between `POST /v1/documents` and the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueBackend {
    /// An in-process queue; the app runs the worker itself.
    Memory,
    /// A Redis stream (the cache's Redis, `cache.url` / `REDIS_URL`), consumed by
    /// `ragtrace-ingest worker`.
    Redis,
}

/// `[ingest]`: how documents are chunked and batched for embedding, and where their jobs queue.
#[derive(Debug, Clone, Deserialize)]
pub struct IngestSettings {
    /// Chunk size, tokens of `llm.tokenizer`.
    pub chunk_tokens: usize,
    /// Tokens shared by consecutive chunks.
    pub chunk_overlap_tokens: usize,
    /// Inputs per embeddings request at most (OpenAI: 2048).
    pub batch_max_items: usize,
    /// Tokens per embeddings request at most (OpenAI: 300,000).
    pub batch_max_tokens: usize,
    /// Files larger than this are refused.
    pub max_file_bytes: u64,
    /// Files under this folder are named by their path relative to it, however
    /// `ragtrace-ingest` is pointed at them (`data`: `data/docs/x.md` is `docs/x.md`).
    pub corpus_root: std::path::PathBuf,
    /// What a document's compressed streams may expand to, in total; beyond it the document
    /// fails as `too_large` (decompression bombs).
    pub max_expanded_bytes: u64,
    /// How long extracting one document's text may take; beyond it the document fails as
    /// `timeout`.
    pub extract_timeout_ms: u64,
    /// Where `POST /v1/documents` puts jobs: in-process (`memory`) or a Redis stream (`redis`).
    pub queue: QueueBackend,
    /// Redis stream holding the jobs.
    pub stream: String,
    /// Consumer group of the workers.
    pub group: String,
    /// How long a job's status is kept, seconds.
    pub job_ttl_secs: u64,
    /// Jobs waiting in the in-process queue at most; beyond it uploads get 503.
    pub queue_capacity: usize,
    /// Where `ragtrace-ingest worker` serves `/metrics`.
    pub metrics_addr: String,
}

impl IngestSettings {
    /// The rules of `[ingest]`; a Redis queue also needs the cache's Redis URL.
    pub(super) fn validate(&self, cache: &CacheSettings) -> Result<(), ConfigError> {
        rule(
            "ingest.chunk_tokens",
            (16..=8000).contains(&self.chunk_tokens),
            "must be 16..=8000 (embedding models accept 8191 tokens per input)",
        )?;
        rule(
            "ingest.chunk_overlap_tokens",
            self.chunk_overlap_tokens < self.chunk_tokens,
            "must be smaller than ingest.chunk_tokens",
        )?;
        rule(
            "ingest.batch_max_items",
            (1..=2048).contains(&self.batch_max_items),
            "must be 1..=2048 (OpenAI's limit per embeddings request)",
        )?;
        rule(
            "ingest.batch_max_tokens",
            self.batch_max_tokens >= self.chunk_tokens && self.batch_max_tokens <= 300_000,
            "must be at least ingest.chunk_tokens and at most 300000 (OpenAI's limit per request)",
        )?;
        rule(
            "ingest.max_file_bytes",
            self.max_file_bytes > 0,
            "must be > 0",
        )?;
        rule(
            "ingest.queue_capacity",
            self.queue_capacity > 0,
            "must be > 0",
        )?;
        rule(
            "ingest.queue",
            self.queue != QueueBackend::Redis || !cache.url.expose_secret().is_empty(),
            "\"redis\" needs a Redis URL (REDIS_URL or cache.url)",
        )
    }
}
