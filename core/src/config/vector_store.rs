//! `[vector_store]`: which vector store, and its pool (the connection limit of case study 2). Every key is explained, with its default, in
//! `core/config/default.toml`.

use secrecy::SecretString;
use serde::Deserialize;

use super::{ConfigError, rule};

/// Which vector store implementation to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VectorStoreBackend {
    /// qdrant-edge, in-process, persistent under the data dir.
    Edge,
    /// A Qdrant server over gRPC.
    Qdrant,
}

/// `[vector_store]`: which Qdrant, which collection, and the connection limit in front of it.
#[derive(Debug, Clone, Deserialize)]
pub struct VectorStoreSettings {
    /// `edge` (in-process, under `server.data_dir`) or a `qdrant` server; `QDRANT_URL` selects it.
    pub backend: VectorStoreBackend,
    /// gRPC URL of a Qdrant server.
    pub url: String,
    /// Optional API key of a Qdrant server (`QDRANT_API_KEY`).
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// Collection searched by the chat and filled by ingestion.
    pub collection: String,
    /// Concurrent operations allowed at once.
    pub pool_size: usize,
    /// How long a caller waits for a free slot.
    pub pool_timeout_ms: u64,
    /// Per-operation timeout (server backend).
    pub timeout_ms: u64,
    /// Connect timeout (server backend).
    pub connect_timeout_ms: u64,
    /// Embedding dimension of the collection; sent as `dimensions` so the model's vectors fit it.
    pub dimension: usize,
    /// Index the demo corpus into an empty collection at start.
    pub seed_demo_corpus: bool,
}

impl VectorStoreSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        rule("vector_store.pool_size", self.pool_size > 0, "must be > 0")?;
        rule(
            "vector_store.dimension",
            (8..=4096).contains(&self.dimension),
            "must be 8..=4096",
        )?;
        rule(
            "vector_store.url",
            self.backend != VectorStoreBackend::Qdrant || !self.url.is_empty(),
            "must be set (or QDRANT_URL) when backend = \"qdrant\"",
        )
    }
}
