//! The vector store: one trait, two adapters.
//!
//! - [`edge::EdgeStore`]: a `qdrant-edge` shard in-process, persistent under the data dir (the
//!   embedded default; the same engine as a Qdrant server).
//! - [`server::QdrantServerStore`]: a Qdrant server over gRPC via `qdrant-client`.
//!
//! Both run every operation through a [`ConnectionLimit`](crate::pool::ConnectionLimit), emit a
//! database client span (`db.system.name = qdrant`) and return typed errors.

pub mod edge;
pub mod server;
pub mod sparse;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::config::{VectorStoreBackend, VectorStoreSettings};
use crate::pool::{PoolStatus, PoolTimeout};
pub use sparse::{Fusion, LegHit, SparseVector};

/// A point to store: a deterministic id, its vectors and its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Point id (UUIDv5 of source and content, so re-ingesting upserts in place).
    pub id: Uuid,
    /// The chunk's embedding; a length other than the collection's dimension is refused.
    pub vector: Vec<f32>,
    /// The chunk's BM25 term weights ([`sparse::document`]); `None` computes them from the
    /// payload's `title` and `text`.
    pub sparse: Option<SparseVector>,
    /// Payload: `source`, `title`, `text`, `chunk_index`, ...
    pub payload: Map<String, Value>,
}

/// How much of a collection its search index covers. A search over unindexed vectors compares
/// the query with every one of them; indexed vectors are found through HNSW.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct IndexStatus {
    /// Points in the collection.
    pub points: u64,
    /// Vectors the HNSW index covers.
    pub indexed_vectors: u64,
    /// Segments the collection is stored in (an index build merges them).
    pub segments: u64,
}

impl IndexStatus {
    /// Whether every point is in the index, so no search scans vectors one by one.
    pub fn fully_indexed(&self) -> bool {
        self.indexed_vectors >= self.points
    }
}

/// A search result: a stored point and how well it matches the query.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The point id as text (a UUID, or a number on a Qdrant server); the answer's sources cite it.
    pub id: String,
    /// What the results are ordered by, higher is better: the cosine similarity (dense), the
    /// BM25 score (sparse) or the reciprocal-rank fusion of both (hybrid).
    pub score: f32,
    /// The whole payload (`source`, `title`, `text`, ...): what the prompt quotes.
    pub payload: Map<String, Value>,
    /// Rank and cosine similarity in the dense leg, when that leg found it.
    pub dense: Option<LegHit>,
    /// Rank and BM25 score in the sparse leg, when that leg found it.
    pub sparse: Option<LegHit>,
}

/// Which legs a search runs: the dense vector, the sparse one, or both fused.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Deserialize,
    serde::Serialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Retrieval {
    /// Nearest embeddings only (cosine similarity).
    Dense,
    /// BM25 term matching only (no embeddings call at all).
    Sparse,
    /// Both legs, fused (`chat.fusion`).
    #[default]
    Hybrid,
}

impl Retrieval {
    /// `dense`, `sparse` or `hybrid`, as configured and as the retrieval span says.
    pub fn as_str(self) -> &'static str {
        match self {
            Retrieval::Dense => "dense",
            Retrieval::Sparse => "sparse",
            Retrieval::Hybrid => "hybrid",
        }
    }

    /// Every mode, for listings and sweeps.
    pub const ALL: [Retrieval; 3] = [Retrieval::Dense, Retrieval::Sparse, Retrieval::Hybrid];

    /// Whether the question needs an embedding.
    pub fn uses_dense(self) -> bool {
        self != Retrieval::Sparse
    }

    /// Whether the question needs a sparse vector.
    pub fn uses_sparse(self) -> bool {
        self != Retrieval::Dense
    }
}

impl std::str::FromStr for Retrieval {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Retrieval::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("unknown retrieval {s:?}: use dense, sparse or hybrid"))
    }
}

/// A search: the legs to run and how many hits to return.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// The question's embedding: the dense leg runs when it is set.
    pub dense: Option<Vec<f32>>,
    /// The question's terms ([`sparse::query`]): the sparse leg runs when it is set.
    pub sparse: Option<SparseVector>,
    /// Hits returned at most.
    pub top_k: usize,
    /// Dense hits below this cosine similarity are dropped (the sparse leg has no threshold).
    pub score_threshold: Option<f32>,
    /// Candidates each leg returns before fusion when both run (at least `top_k`).
    pub candidates: usize,
    /// How the legs are merged when both run.
    pub fusion: Fusion,
}

impl Query {
    /// A dense-only search (the ingest pipeline's and the tests' nearest-neighbour lookups).
    pub fn dense(vector: Vec<f32>, top_k: usize) -> Self {
        Self {
            dense: Some(vector),
            top_k,
            candidates: top_k,
            ..Self::default()
        }
    }

    /// How many hits each leg is asked for.
    pub(crate) fn leg_limit(&self) -> usize {
        if self.dense.is_some() && self.sparse.is_some() {
            self.candidates.max(self.top_k)
        } else {
            self.top_k
        }
    }

    /// Merges the legs' results as the query asked: fused when both ran.
    pub(crate) fn merge(&self, dense: Option<Vec<Hit>>, sparse: Option<Vec<Hit>>) -> Vec<Hit> {
        match (dense, sparse) {
            (Some(d), Some(s)) => sparse::fuse(self.fusion, d, s, self.top_k),
            (Some(mut d), None) => {
                sparse::mark_leg(&mut d, false);
                d
            }
            (None, Some(mut s)) => {
                sparse::mark_leg(&mut s, true);
                s
            }
            (None, None) => Vec::new(),
        }
    }
}

/// Whether the document `path` (a payload's `source`) is the one named `name`: the whole path,
/// or its file name (`docs/faq.md` is `faq.md`). Golden sets name sources this way.
pub fn is_source(path: &str, name: &str) -> bool {
    path == name || path.rsplit('/').next() == Some(name)
}

impl Hit {
    /// A string field of the payload, or `""`.
    pub fn field(&self, key: &str) -> &str {
        self.payload.get(key).and_then(Value::as_str).unwrap_or("")
    }
}

/// What the ingest pipeline needs to know about a stored point: its id and the bookkeeping
/// fields of its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPoint {
    /// The point id, compared with the ids a run produces to find chunks to skip or delete.
    pub id: Uuid,
    /// Payload `source` (document path), or `""`.
    pub source: String,
    /// Payload `document_hash` (SHA-256 of the document text the chunk came from), or `""`.
    pub document_hash: String,
    /// Payload `section` (the headings above the chunk), absent from points embedded without
    /// their context line, which a run embeds again.
    pub section: Option<String>,
}

impl StoredPoint {
    pub(crate) fn from_payload(id: Uuid, payload: &Map<String, Value>) -> Self {
        let field = |k: &str| {
            payload
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            id,
            source: field("source"),
            document_hash: field("document_hash"),
            section: payload
                .get("section")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }
}

/// A chunk's context line, embedded in front of its text: the document's title, then the
/// headings above the chunk (`section`) unless they already start with the title.
pub fn context_line(title: &str, section: &str) -> String {
    if section.is_empty() || section == title {
        title.to_owned()
    } else if title.is_empty() || section.starts_with(title) {
        section.to_owned()
    } else {
        format!("{title} › {section}")
    }
}

/// Points read per page when listing.
const LIST_PAGE: usize = 1024;

/// Errors from a vector store.
#[derive(Debug, thiserror::Error)]
pub enum VectorStoreError {
    /// The store cannot be reached (server down, refused, unavailable).
    #[error("vector store unavailable: {0}")]
    Unavailable(String),
    /// The operation took longer than its timeout.
    #[error("vector store timed out after {0} ms")]
    Timeout(u64),
    /// Every connection is busy and the wait for one timed out.
    #[error(transparent)]
    PoolExhausted(#[from] PoolTimeout),
    /// A vector of the wrong dimension.
    #[error("vector has {got} dimensions, the collection expects {expected}")]
    Dimension {
        /// The collection's dimension (`vector_store.dimension`), which every vector must have.
        expected: usize,
        /// The offered vector's length, e.g. from an embedding model that ignores `dimensions`.
        got: usize,
    },
    /// Anything else the backend reported.
    #[error("vector store error: {0}")]
    Backend(String),
}

impl VectorStoreError {
    /// A short label for spans (`error.type`) and metrics (the ingest pipeline's `cause`):
    /// `unavailable`, `timeout`, `pool_exhausted`, `dimension` or `backend`.
    pub fn kind(&self) -> &'static str {
        match self {
            VectorStoreError::Unavailable(_) => "unavailable",
            VectorStoreError::Timeout(_) => "timeout",
            VectorStoreError::PoolExhausted(_) => "pool_exhausted",
            VectorStoreError::Dimension { .. } => "dimension",
            VectorStoreError::Backend(_) => "backend",
        }
    }
}

/// A vector store holding one collection.
#[async_trait]
pub trait VectorStore: Send + Sync + std::fmt::Debug {
    /// `edge` or `qdrant`, as `/readyz` reports it.
    fn backend(&self) -> &'static str;
    /// What this store is, where it lives, its collection and pool, for the start-up banner
    /// (never a secret).
    fn describe(&self) -> String;
    /// The collection's name: `gen_ai.data_source.id` on retrieval spans, and in `/readyz`.
    fn collection(&self) -> &str;
    /// Creates the collection if it does not exist.
    async fn ensure_collection(&self) -> Result<(), VectorStoreError>;
    /// Inserts or replaces points and waits until they are durable.
    async fn upsert(&self, points: Vec<Point>) -> Result<(), VectorStoreError>;
    /// The best `query.top_k` points for the query's legs (fused when both run), best first.
    async fn search(&self, query: Query) -> Result<Vec<Hit>, VectorStoreError>;
    /// Removes every point whose payload `source` equals `source`.
    async fn delete_by_source(&self, source: &str) -> Result<(), VectorStoreError>;
    /// Every point (id, source, document hash), or only those whose `source` equals `source`.
    async fn list_points(&self, source: Option<&str>)
    -> Result<Vec<StoredPoint>, VectorStoreError>;
    /// Removes the points with these ids and waits until the removal is durable.
    async fn delete_points(&self, ids: Vec<Uuid>) -> Result<(), VectorStoreError>;
    /// Points in the collection: 0 lets the demo corpus be seeded, and `/readyz` reports it.
    async fn count(&self) -> Result<u64, VectorStoreError>;
    /// Whether the store answers.
    async fn health(&self) -> Result<(), VectorStoreError>;
    /// How much of the collection the search index (HNSW) covers: what case study 2's index
    /// build changes.
    async fn index_status(&self) -> Result<IndexStatus, VectorStoreError>;
    /// Builds the search index (HNSW) now; returns whether anything changed.
    async fn optimize(&self) -> Result<bool, VectorStoreError>;
    /// Changes the connection limit of a running store (case study 2's pool fix).
    fn resize_pool(&self, size: usize);
    /// Use of the connection limit (size, in use, waiting), reported by `/readyz`.
    fn pool_status(&self) -> PoolStatus;
}

impl VectorStoreSettings {
    /// Builds the configured store. `data_dir` holds the edge shard.
    pub async fn build(
        &self,
        data_dir: &std::path::Path,
    ) -> Result<Arc<dyn VectorStore>, VectorStoreError> {
        let store: Arc<dyn VectorStore> = match self.backend {
            VectorStoreBackend::Edge => Arc::new(edge::EdgeStore::open(
                &data_dir.join("qdrant-edge").join(&self.collection),
                self,
            )?),
            VectorStoreBackend::Qdrant => Arc::new(server::QdrantServerStore::connect(self)?),
        };
        Ok(store)
    }
}

/// A database client span for a Qdrant operation, the same for both adapters.
pub(crate) fn db_span(operation: &'static str, collection: &str, server: &str) -> tracing::Span {
    use crate::semconv::attr;
    tracing::info_span!(
        "qdrant",
        { attr::OTEL_NAME } = %format_args!("{operation} {collection}"),
        { attr::OTEL_KIND } = "client",
        { attr::DB_SYSTEM_NAME } = "qdrant",
        { attr::DB_OPERATION_NAME } = operation,
        { attr::DB_COLLECTION_NAME } = collection,
        { attr::SERVER_ADDRESS } = server,
        { attr::DB_RESPONSE_RETURNED_ROWS } = tracing::field::Empty,
        { attr::RETRIEVAL_TOP_SCORE } = tracing::field::Empty,
        { attr::POOL_WAIT_SECONDS } = tracing::field::Empty,
        { attr::ERROR_TYPE } = tracing::field::Empty,
        { attr::OTEL_STATUS_CODE } = tracing::field::Empty,
        { attr::OTEL_STATUS_DESCRIPTION } = tracing::field::Empty,
    )
}

/// Records the outcome of an operation on its span.
pub(crate) fn record_outcome<T>(span: &tracing::Span, result: &Result<T, VectorStoreError>) {
    if let Err(e) = result {
        crate::telemetry::mark_failed(span, e.kind(), &e.to_string());
    }
}

/// Records the outcome of a listing on its span: the points returned, or the error.
pub(crate) fn record_listed(
    span: &tracing::Span,
    result: &Result<Vec<StoredPoint>, VectorStoreError>,
) {
    if let Ok(points) = result {
        span.record(
            crate::semconv::attr::DB_RESPONSE_RETURNED_ROWS,
            points.len() as i64,
        );
    }
    record_outcome(span, result);
}

/// Records search results on the span.
pub(crate) fn record_hits(span: &tracing::Span, hits: &[Hit]) {
    use crate::semconv::attr;
    span.record(attr::DB_RESPONSE_RETURNED_ROWS, hits.len() as i64);
    if let Some(top) = hits.first() {
        span.record(attr::RETRIEVAL_TOP_SCORE, f64::from(top.score));
    }
}
