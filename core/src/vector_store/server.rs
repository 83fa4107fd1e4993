//! A Qdrant server over gRPC via `qdrant-client`, with timeouts, a channel pool and the same
//! connection limit as the edge store.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::points_selector::PointsSelectorOneOf;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateVectorNameRequestBuilder,
    DeletePointsBuilder, Distance, Filter, Modifier, NamedVectors, PayloadIncludeSelector, PointId,
    PointStruct, PointVectors, PointsIdsList, QueryBatchPointsBuilder, QueryPoints,
    QueryPointsBuilder, ScoredPoint, ScrollPointsBuilder, SparseVectorCreationConfigBuilder,
    SparseVectorParamsBuilder, SparseVectorsConfigBuilder, UpdatePointVectorsBuilder,
    UpsertPointsBuilder, Vector, VectorParamsBuilder,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use secrecy::ExposeSecret as _;
use tracing::Instrument as _;

use super::sparse::{self, SPARSE_VECTOR, SparseVector};
use super::{
    Hit, IndexStatus, LIST_PAGE, Point, Query, StoredPoint, VectorStore, VectorStoreError, db_span,
    record_hits, record_listed, record_outcome,
};
use crate::config::VectorStoreSettings;
use crate::pool::{ConnectionLimit, PoolStatus};
use crate::semconv::attr;

/// A Qdrant server store.
#[derive(Clone)]
pub struct QdrantServerStore {
    client: Qdrant,
    url: String,
    host: String,
    collection: String,
    dimension: usize,
    timeout: Duration,
    limit: ConnectionLimit,
    /// Whether the collection has the sparse vector (a collection created before hybrid
    /// retrieval gets it in `ensure_collection`, when the server supports adding one).
    has_sparse: Arc<AtomicBool>,
}

impl std::fmt::Debug for QdrantServerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantServerStore")
            .field("url", &self.url)
            .field("collection", &self.collection)
            .finish_non_exhaustive()
    }
}

fn classify(e: QdrantError, timeout_ms: u64) -> VectorStoreError {
    match e {
        QdrantError::ResponseError { status } => match status.code() {
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal
                if status.message().contains("connect")
                    || status.code() == tonic::Code::Unavailable =>
            {
                VectorStoreError::Unavailable(status.message().to_owned())
            }
            tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
                VectorStoreError::Timeout(timeout_ms)
            }
            _ => VectorStoreError::Backend(format!("{}: {}", status.code(), status.message())),
        },
        QdrantError::ResourceExhaustedError { status, .. } => {
            VectorStoreError::Unavailable(status.message().to_owned())
        }
        other => VectorStoreError::Backend(other.to_string()),
    }
}

impl QdrantServerStore {
    /// A client for the server at `settings.url`. Connections are opened lazily, so this
    /// succeeds while the server is down and the first operation reports it.
    pub fn connect(settings: &VectorStoreSettings) -> Result<Self, VectorStoreError> {
        let mut config = Qdrant::from_url(&settings.url)
            .api_key(
                settings
                    .api_key
                    .as_ref()
                    .map(|k| k.expose_secret().to_owned()),
            )
            .timeout(Duration::from_millis(settings.timeout_ms))
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            // The check blocks and prints with println!; /readyz reports reachability instead.
            .skip_compatibility_check();
        config.set_pool_size(settings.pool_size);
        let client = config
            .build()
            .map_err(|e| VectorStoreError::Unavailable(format!("invalid Qdrant URL: {e}")))?;
        let host = url::Url::parse(&settings.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        Ok(Self {
            client,
            url: settings.url.clone(),
            host,
            collection: settings.collection.clone(),
            dimension: settings.dimension,
            timeout: Duration::from_millis(settings.timeout_ms),
            limit: ConnectionLimit::new(
                "vector_store",
                settings.pool_size,
                Duration::from_millis(settings.pool_timeout_ms),
            ),
            has_sparse: Arc::new(AtomicBool::new(true)),
        })
    }

    fn timeout_ms(&self) -> u64 {
        self.timeout.as_millis() as u64
    }

    /// Deletes the selected points (by filter or by ids) and waits until that is durable.
    async fn delete(&self, points: impl Into<PointsSelectorOneOf>) -> Result<(), VectorStoreError> {
        let span = db_span("delete", &self.collection, &self.host);
        let result = async {
            let _slot = self.limit.acquire().await?;
            self.client
                .delete_points(
                    DeletePointsBuilder::new(&self.collection)
                        .points(points)
                        .wait(true),
                )
                .await
                .map(|_| ())
                .map_err(|e| classify(e, self.timeout_ms()))
        }
        .instrument(span.clone())
        .await;
        record_outcome(&span, &result);
        result
    }
}

impl QdrantServerStore {
    /// The collection's description: its configuration and counts.
    async fn info(&self) -> Result<qdrant_client::qdrant::CollectionInfo, VectorStoreError> {
        Ok(self
            .client
            .collection_info(&self.collection)
            .await
            .map_err(|e| classify(e, self.timeout_ms()))?
            .result
            .unwrap_or_default())
    }

    /// Gives a collection created before hybrid retrieval its sparse vector, then computes the
    /// sparse vector of every point that lacks one from its payload. A server too old to add a
    /// vector to a collection keeps dense-only search, with a warning saying how to fix it.
    async fn bring_up_to_date(&self) -> Result<(), VectorStoreError> {
        let info = self.info().await?;
        let has = info
            .config
            .and_then(|c| c.params)
            .and_then(|p| p.sparse_vectors_config)
            .is_some_and(|s| s.map.contains_key(SPARSE_VECTOR));
        if !has {
            let added = self
                .client
                .create_vector_name(
                    CreateVectorNameRequestBuilder::new(
                        &self.collection,
                        SPARSE_VECTOR,
                        SparseVectorCreationConfigBuilder::new().modifier(Modifier::Idf),
                    )
                    .wait(true),
                )
                .await;
            if let Err(e) = added {
                tracing::warn!(
                    collection = %self.collection,
                    "the collection has no {SPARSE_VECTOR} sparse vector and the server could not \
                     add one ({e}); searches use the dense vector only. Re-create the collection \
                     (delete it and re-ingest) to enable sparse and hybrid retrieval"
                );
                self.has_sparse.store(false, Ordering::Relaxed);
                return Ok(());
            }
        }
        let missing = Filter::must_not([Condition::has_vector(SPARSE_VECTOR)]);
        let mut filled = 0usize;
        loop {
            let page = self
                .client
                .scroll(
                    ScrollPointsBuilder::new(&self.collection)
                        .limit(LIST_PAGE as u32)
                        .filter(missing.clone())
                        .with_payload(PayloadIncludeSelector::from(vec![
                            "title".to_owned(),
                            "text".to_owned(),
                        ]))
                        .with_vectors(false),
                )
                .await
                .map_err(|e| classify(e, self.timeout_ms()))?
                .result;
            if page.is_empty() {
                break;
            }
            filled += page.len();
            let points: Vec<PointVectors> = page
                .into_iter()
                .map(|p| {
                    let payload = serde_json::Map::from(Payload::from(p.payload));
                    PointVectors {
                        id: p.id,
                        vectors: Some(
                            named_vectors(None, Some(sparse::document_of_payload(&payload))).into(),
                        ),
                    }
                })
                .collect();
            self.client
                .update_vectors(UpdatePointVectorsBuilder::new(&self.collection, points).wait(true))
                .await
                .map_err(|e| classify(e, self.timeout_ms()))?;
        }
        if filled > 0 {
            tracing::info!(
                points = filled,
                "computed the sparse vectors of points stored without them"
            );
        }
        Ok(())
    }
}

/// The vectors of a point: the dense one under the default (empty) name, the sparse one beside it.
fn named_vectors(dense: Option<Vec<f32>>, sparse: Option<SparseVector>) -> NamedVectors {
    let mut named = NamedVectors::default();
    if let Some(dense) = dense {
        named = named.add_vector("", Vector::from(dense));
    }
    if let Some(s) = sparse {
        named = named.add_vector(SPARSE_VECTOR, Vector::new_sparse(s.indices, s.values));
    }
    named
}

fn hit(p: ScoredPoint) -> Hit {
    Hit {
        id: match p.id.and_then(|id| id.point_id_options) {
            Some(PointIdOptions::Uuid(s)) => s,
            Some(PointIdOptions::Num(n)) => n.to_string(),
            None => String::new(),
        },
        score: p.score,
        payload: serde_json::Map::from(Payload::from(p.payload)),
        dense: None,
        sparse: None,
    }
}

#[async_trait]
impl VectorStore for QdrantServerStore {
    fn backend(&self) -> &'static str {
        "qdrant"
    }

    fn describe(&self) -> String {
        format!(
            "Qdrant server at {} (collection {}, pool {})",
            self.url,
            self.collection,
            self.limit.status().size
        )
    }

    fn collection(&self) -> &str {
        &self.collection
    }

    async fn ensure_collection(&self) -> Result<(), VectorStoreError> {
        let span = db_span("create_collection", &self.collection, &self.host);
        let result = async {
            let exists = self
                .client
                .collection_exists(&self.collection)
                .await
                .map_err(|e| classify(e, self.timeout_ms()))?;
            if !exists {
                let mut sparse_config = SparseVectorsConfigBuilder::default();
                sparse_config.add_named_vector_params(
                    SPARSE_VECTOR,
                    SparseVectorParamsBuilder::default().modifier(Modifier::Idf),
                );
                let created = self
                    .client
                    .create_collection(
                        CreateCollectionBuilder::new(&self.collection)
                            .vectors_config(VectorParamsBuilder::new(
                                self.dimension as u64,
                                Distance::Cosine,
                            ))
                            .sparse_vectors_config(sparse_config),
                    )
                    .await;
                // Another replica may have created it in between: fine if it exists now.
                if let Err(e) = created {
                    let exists_now = self
                        .client
                        .collection_exists(&self.collection)
                        .await
                        .unwrap_or(false);
                    if !exists_now {
                        return Err(classify(e, self.timeout_ms()));
                    }
                }
            }
            self.bring_up_to_date().await
        }
        .instrument(span.clone())
        .await;
        record_outcome(&span, &result);
        result
    }

    async fn upsert(&self, points: Vec<Point>) -> Result<(), VectorStoreError> {
        let span = db_span("upsert", &self.collection, &self.host);
        if let Some(p) = points.iter().find(|p| p.vector.len() != self.dimension) {
            let err = Err(VectorStoreError::Dimension {
                expected: self.dimension,
                got: p.vector.len(),
            });
            record_outcome(&span, &err);
            return err;
        }
        let n = points.len();
        let result = async {
            let slot = self.limit.acquire().await?;
            span.record(attr::POOL_WAIT_SECONDS, slot.waited.as_secs_f64());
            let with_sparse = self.has_sparse.load(Ordering::Relaxed);
            let points: Vec<PointStruct> = points
                .into_iter()
                .map(|p| {
                    let sparse = with_sparse.then(|| {
                        p.sparse
                            .unwrap_or_else(|| sparse::document_of_payload(&p.payload))
                    });
                    PointStruct::new(
                        p.id.to_string(),
                        named_vectors(Some(p.vector), sparse),
                        Payload::from(p.payload),
                    )
                })
                .collect();
            self.client
                .upsert_points(UpsertPointsBuilder::new(&self.collection, points).wait(true))
                .await
                .map(|_| ())
                .map_err(|e| classify(e, self.timeout_ms()))
        }
        .instrument(span.clone())
        .await;
        span.record(attr::DB_RESPONSE_RETURNED_ROWS, n as i64);
        record_outcome(&span, &result);
        result
    }

    async fn search(&self, query: Query) -> Result<Vec<Hit>, VectorStoreError> {
        let span = db_span("query", &self.collection, &self.host);
        let result = async {
            let slot = self.limit.acquire().await?;
            span.record(attr::POOL_WAIT_SECONDS, slot.waited.as_secs_f64());
            let limit = query.leg_limit() as u64;
            let sparse_query = query
                .sparse
                .clone()
                .filter(|_| self.has_sparse.load(Ordering::Relaxed));
            // Both legs go in one batch request: one round trip, one connection.
            let mut legs: Vec<QueryPoints> = Vec::with_capacity(2);
            if let Some(v) = query.dense.clone() {
                let mut q = QueryPointsBuilder::new(&self.collection)
                    .query(v)
                    .limit(limit)
                    .with_payload(true);
                if let Some(t) = query.score_threshold {
                    q = q.score_threshold(t);
                }
                legs.push(q.build());
            }
            if let Some(v) = &sparse_query {
                let pairs: Vec<(u32, f32)> = v
                    .indices
                    .iter()
                    .copied()
                    .zip(v.values.iter().copied())
                    .collect();
                legs.push(
                    QueryPointsBuilder::new(&self.collection)
                        .query(pairs)
                        .using(SPARSE_VECTOR)
                        .limit(limit)
                        .with_payload(true)
                        .build(),
                );
            }
            if legs.is_empty() {
                return Ok(Vec::new());
            }
            let mut results = self
                .client
                .query_batch(QueryBatchPointsBuilder::new(&self.collection, legs))
                .await
                .map_err(|e| classify(e, self.timeout_ms()))?
                .result
                .into_iter()
                .map(|r| r.result.into_iter().map(hit).collect::<Vec<_>>());
            let dense = query.dense.as_ref().and_then(|_| results.next());
            let sparse = sparse_query.and_then(|_| results.next());
            Ok(query.merge(dense, sparse))
        }
        .instrument(span.clone())
        .await;
        if let Ok(hits) = &result {
            record_hits(&span, hits);
        }
        record_outcome(&span, &result);
        result
    }

    async fn delete_by_source(&self, source: &str) -> Result<(), VectorStoreError> {
        self.delete(Filter::must([Condition::matches(
            "source",
            source.to_owned(),
        )]))
        .await
    }

    async fn list_points(
        &self,
        source: Option<&str>,
    ) -> Result<Vec<StoredPoint>, VectorStoreError> {
        let span = db_span("scroll", &self.collection, &self.host);
        let result = async {
            let _slot = self.limit.acquire().await?;
            let mut out = Vec::new();
            let mut offset: Option<PointId> = None;
            loop {
                let mut req = ScrollPointsBuilder::new(&self.collection)
                    .limit(LIST_PAGE as u32)
                    .with_payload(PayloadIncludeSelector::from(vec![
                        "source".to_owned(),
                        "document_hash".to_owned(),
                        "section".to_owned(),
                    ]))
                    .with_vectors(false);
                if let Some(s) = source {
                    req = req.filter(Filter::must([Condition::matches("source", s.to_owned())]));
                }
                if let Some(o) = offset.take() {
                    req = req.offset(o);
                }
                let resp = self
                    .client
                    .scroll(req)
                    .await
                    .map_err(|e| classify(e, self.timeout_ms()))?;
                for p in resp.result {
                    let Some(PointIdOptions::Uuid(id)) = p.id.and_then(|id| id.point_id_options)
                    else {
                        continue;
                    };
                    let Ok(id) = id.parse() else { continue };
                    let payload = serde_json::Map::from(Payload::from(p.payload));
                    out.push(StoredPoint::from_payload(id, &payload));
                }
                match resp.next_page_offset {
                    Some(next) => offset = Some(next),
                    None => break,
                }
            }
            Ok(out)
        }
        .instrument(span.clone())
        .await;
        record_listed(&span, &result);
        result
    }

    async fn delete_points(&self, ids: Vec<uuid::Uuid>) -> Result<(), VectorStoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.iter().map(|id| PointId::from(id.to_string())).collect();
        self.delete(PointsIdsList { ids }).await
    }

    async fn count(&self) -> Result<u64, VectorStoreError> {
        let span = db_span("count", &self.collection, &self.host);
        let result = async {
            let _slot = self.limit.acquire().await?;
            self.client
                .count(CountPointsBuilder::new(&self.collection).exact(true))
                .await
                .map(|r| r.result.map(|c| c.count).unwrap_or(0))
                .map_err(|e| classify(e, self.timeout_ms()))
        }
        .instrument(span.clone())
        .await;
        record_outcome(&span, &result);
        result
    }

    async fn health(&self) -> Result<(), VectorStoreError> {
        self.client
            .health_check()
            .await
            .map(|_| ())
            .map_err(|e| classify(e, self.timeout_ms()))
    }

    async fn optimize(&self) -> Result<bool, VectorStoreError> {
        // A Qdrant server runs its optimizers itself, in the background.
        Ok(false)
    }

    async fn index_status(&self) -> Result<IndexStatus, VectorStoreError> {
        let span = db_span("info", &self.collection, &self.host);
        let result = async {
            let _slot = self.limit.acquire().await?;
            let info = self.info().await?;
            Ok(IndexStatus {
                points: info.points_count.unwrap_or(0),
                indexed_vectors: info.indexed_vectors_count.unwrap_or(0),
                segments: info.segments_count,
            })
        }
        .instrument(span.clone())
        .await;
        record_outcome(&span, &result);
        result
    }

    fn resize_pool(&self, size: usize) {
        self.limit.resize(size);
    }

    fn pool_status(&self) -> PoolStatus {
        self.limit.status()
    }
}
