//! `qdrant-edge`: the Qdrant engine in-process, persistent under the data dir.
//!
//! Every call into the shard is synchronous and blocking, so each runs on tokio's blocking pool,
//! behind the store's connection limit. Writes are serialised with flushes: qdrant-edge 0.7 does
//! not replay its write-ahead log on open, so a write is durable only once the shard is flushed,
//! and a flush while another write holds the log panics.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    Condition, CountRequest, CreateVectorName, DEFAULT_VECTOR_NAME, Distance, EdgeConfig,
    EdgeOptimizersConfig, EdgeShard, EdgeSparseVectorParams, EdgeVectorParams, FieldCondition,
    Filter, JsonPath, Match, Modifier, NamedQuery, Payload, PointId, PointInsertOperations,
    PointOperations, PointStructPersisted, PointVectorsPersisted, QueryEnum, QueryRequest,
    ScoringQuery, ScrollRequest, UpdateOperation, UpdateVectorsOp, VectorInternal,
    VectorNameOperations, VectorOperations, VectorPersisted, VectorStructPersisted,
    WithPayloadInterface, WithVector,
};
use tracing::Instrument as _;

use super::sparse::{self, SPARSE_VECTOR, SparseVector};
use super::{
    Hit, IndexStatus, LIST_PAGE, Point, Query, StoredPoint, VectorStore, VectorStoreError, db_span,
    record_hits, record_listed, record_outcome,
};
use crate::config::VectorStoreSettings;
use crate::pool::{ConnectionLimit, PoolStatus};
use crate::semconv::attr;

/// The embedded store: a qdrant-edge shard under the data dir, its blocking calls off the runtime.
pub struct EdgeStore {
    shard: Arc<EdgeShard>,
    // Serialises update + flush (see the module docs).
    writer: Arc<Mutex<()>>,
    path: PathBuf,
    collection: String,
    dimension: usize,
    limit: ConnectionLimit,
}

impl std::fmt::Debug for EdgeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeStore")
            .field("path", &self.path)
            .field("collection", &self.collection)
            .finish_non_exhaustive()
    }
}

fn backend<E: std::fmt::Display>(e: E) -> VectorStoreError {
    VectorStoreError::Backend(e.to_string())
}

fn edge_config(dimension: usize) -> EdgeConfig {
    EdgeConfig::builder()
        .vector(
            DEFAULT_VECTOR_NAME,
            EdgeVectorParams::builder(dimension, Distance::Cosine).build(),
        )
        .sparse_vector(
            SPARSE_VECTOR,
            EdgeSparseVectorParams::builder()
                .modifier(Modifier::Idf)
                .build(),
        )
        .optimizers(EdgeOptimizersConfig {
            // Build HNSW on `optimize()` for any collection size: the demo corpus is small, and
            // case study 2's "index rebuild" must be a real index at every size.
            indexing_threshold: Some(1),
            ..Default::default()
        })
        .build()
}

fn source_filter(source: &str) -> Result<Filter, VectorStoreError> {
    let key: JsonPath = "source"
        .parse()
        .map_err(|_| VectorStoreError::Backend("invalid payload key".into()))?;
    Ok(Filter::new_must(Condition::Field(
        FieldCondition::new_match(key, Match::from(source.to_owned())),
    )))
}

impl EdgeStore {
    /// Opens the shard in `path`, creating it when the directory is empty.
    pub fn open(path: &Path, settings: &VectorStoreSettings) -> Result<Self, VectorStoreError> {
        std::fs::create_dir_all(path).map_err(|e| {
            VectorStoreError::Unavailable(format!("cannot create {}: {e}", path.display()))
        })?;
        // A shard that exists keeps its own configuration (it may predate the sparse vector);
        // a new one gets ours.
        let existing = path.join("edge_config.json").exists();
        let config = (!existing).then(|| edge_config(settings.dimension));
        let shard = EdgeShard::load(path, config).map_err(|e| {
            VectorStoreError::Unavailable(format!(
                "cannot open the edge shard in {} (is another ragtrace process using it?): {e}",
                path.display()
            ))
        })?;
        let stored = shard
            .config()
            .vectors
            .get(DEFAULT_VECTOR_NAME)
            .map(|v| v.size);
        if let Some(stored) = stored
            && stored != settings.dimension
        {
            return Err(VectorStoreError::Unavailable(format!(
                "the edge shard in {} holds {stored}-dimension vectors but vector_store.dimension \
                 is {}: set it back, or remove that directory to re-index",
                path.display(),
                settings.dimension
            )));
        }
        let writer = Mutex::new(());
        bring_up_to_date(&shard, &writer)?;
        Ok(Self {
            shard: Arc::new(shard),
            writer: Arc::new(writer),
            path: path.to_path_buf(),
            collection: settings.collection.clone(),
            dimension: settings.dimension,
            limit: ConnectionLimit::new(
                "vector_store",
                settings.pool_size,
                Duration::from_millis(settings.pool_timeout_ms),
            ),
        })
    }

    /// Runs `f` on the blocking pool behind the connection limit, recording the wait on `span`.
    async fn run<T, F>(&self, span: &tracing::Span, f: F) -> Result<T, VectorStoreError>
    where
        T: Send + 'static,
        F: FnOnce(&EdgeShard) -> Result<T, VectorStoreError> + Send + 'static,
    {
        let slot = self.limit.acquire().await?;
        span.record(attr::POOL_WAIT_SECONDS, slot.waited.as_secs_f64());
        let shard = self.shard.clone();
        let result = tokio::task::spawn_blocking(move || f(&shard))
            .await
            .map_err(|e| VectorStoreError::Backend(format!("edge task failed: {e}")))?;
        drop(slot);
        result
    }

    fn write(
        shard: &EdgeShard,
        writer: &Mutex<()>,
        op: UpdateOperation,
    ) -> Result<(), VectorStoreError> {
        let _guard = writer.lock().unwrap_or_else(|p| p.into_inner());
        shard.update(op).map_err(backend)?;
        shard.flush();
        Ok(())
    }

    /// Runs a delete operation (by filter or by ids) and flushes it.
    async fn delete(&self, op: PointOperations) -> Result<(), VectorStoreError> {
        let span = db_span("delete", &self.collection, "in-process");
        let writer = self.writer.clone();
        let result = self
            .run(&span, move |shard| {
                Self::write(shard, &writer, UpdateOperation::PointOperation(op))
            })
            .instrument(span.clone())
            .await;
        record_outcome(&span, &result);
        result
    }
}

#[async_trait]
impl VectorStore for EdgeStore {
    fn backend(&self) -> &'static str {
        "edge"
    }

    fn describe(&self) -> String {
        format!(
            "qdrant-edge, in-process at {} (collection {}, pool {})",
            self.path.display(),
            self.collection,
            self.limit.status().size
        )
    }

    fn collection(&self) -> &str {
        &self.collection
    }

    async fn ensure_collection(&self) -> Result<(), VectorStoreError> {
        // The shard is the collection; opening it created it.
        Ok(())
    }

    async fn upsert(&self, points: Vec<Point>) -> Result<(), VectorStoreError> {
        let span = db_span("upsert", &self.collection, "in-process");
        if let Some(p) = points.iter().find(|p| p.vector.len() != self.dimension) {
            let err = Err(VectorStoreError::Dimension {
                expected: self.dimension,
                got: p.vector.len(),
            });
            record_outcome(&span, &err);
            return err;
        }
        let writer = self.writer.clone();
        let n = points.len();
        let result = self
            .run(&span, move |shard| {
                let points = points
                    .into_iter()
                    .map(|p| {
                        let sparse = p
                            .sparse
                            .unwrap_or_else(|| sparse::document_of_payload(&p.payload));
                        PointStructPersisted {
                            id: PointId::Uuid(p.id),
                            vector: named_vectors(Some(p.vector), sparse),
                            payload: Some(Payload(p.payload)),
                        }
                    })
                    .collect();
                Self::write(
                    shard,
                    &writer,
                    UpdateOperation::PointOperation(PointOperations::UpsertPoints(
                        PointInsertOperations::PointsList(points),
                    )),
                )
            })
            .instrument(span.clone())
            .await;
        span.record(attr::DB_RESPONSE_RETURNED_ROWS, n as i64);
        record_outcome(&span, &result);
        result
    }

    async fn search(&self, query: Query) -> Result<Vec<Hit>, VectorStoreError> {
        let span = db_span("query", &self.collection, "in-process");
        if let Some(vector) = &query.dense
            && vector.len() != self.dimension
        {
            let err = Err(VectorStoreError::Dimension {
                expected: self.dimension,
                got: vector.len(),
            });
            record_outcome(&span, &err);
            return err;
        }
        // Both legs run in one call on the blocking pool: one connection, like one batch
        // request to a server.
        let result = self
            .run(&span, move |shard| {
                let limit = query.leg_limit();
                // Fused, the legs return ids and scores only; the payloads are read afterwards
                // for the hits kept (top_k, not 2 × fusion_candidates).
                let fused = query.dense.is_some() && query.sparse.is_some();
                let dense = query
                    .dense
                    .clone()
                    .map(|v| {
                        leg(
                            shard,
                            NamedQuery::default_dense(v),
                            query.score_threshold,
                            limit,
                            !fused,
                        )
                    })
                    .transpose()?;
                let sparse = query
                    .sparse
                    .clone()
                    .map(|v| {
                        let q = NamedQuery {
                            query: VectorInternal::Sparse(qdrant_edge::SparseVector {
                                indices: v.indices,
                                values: v.values,
                            }),
                            using: Some(SPARSE_VECTOR.into()),
                        };
                        leg(shard, q, None, limit, !fused)
                    })
                    .transpose()?;
                let mut hits = query.merge(dense, sparse);
                if fused {
                    with_payloads(shard, &mut hits)?;
                }
                Ok(hits)
            })
            .instrument(span.clone())
            .await;
        if let Ok(hits) = &result {
            record_hits(&span, hits);
        }
        record_outcome(&span, &result);
        result
    }

    async fn delete_by_source(&self, source: &str) -> Result<(), VectorStoreError> {
        let filter = source_filter(source)?;
        self.delete(PointOperations::DeletePointsByFilter(filter))
            .await
    }

    async fn list_points(
        &self,
        source: Option<&str>,
    ) -> Result<Vec<StoredPoint>, VectorStoreError> {
        let span = db_span("scroll", &self.collection, "in-process");
        let filter = source.map(source_filter).transpose()?;
        let fields = ["source", "document_hash", "section"]
            .iter()
            .map(|k| k.parse::<JsonPath>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| VectorStoreError::Backend("invalid payload key".into()))?;
        let result = self
            .run(&span, move |shard| {
                let mut out = Vec::new();
                let mut offset = None;
                loop {
                    let (records, next) = shard
                        .scroll(ScrollRequest {
                            offset,
                            limit: Some(LIST_PAGE),
                            filter: filter.clone(),
                            with_payload: Some(WithPayloadInterface::Fields(fields.clone())),
                            with_vector: WithVector::Bool(false),
                            order_by: None,
                        })
                        .map_err(backend)?;
                    for r in records {
                        if let PointId::Uuid(id) = r.id {
                            let payload = r.payload.map(|p| p.0).unwrap_or_default();
                            out.push(StoredPoint::from_payload(id, &payload));
                        }
                    }
                    match next {
                        Some(n) => offset = Some(n),
                        None => break,
                    }
                }
                Ok(out)
            })
            .instrument(span.clone())
            .await;
        record_listed(&span, &result);
        result
    }

    async fn delete_points(&self, ids: Vec<uuid::Uuid>) -> Result<(), VectorStoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.delete(PointOperations::DeletePoints {
            ids: ids.into_iter().map(PointId::Uuid).collect(),
        })
        .await
    }

    async fn count(&self) -> Result<u64, VectorStoreError> {
        let span = db_span("count", &self.collection, "in-process");
        let result = self
            .run(&span, |shard| {
                shard
                    .count(CountRequest {
                        filter: None,
                        exact: true,
                    })
                    .map(|n| n as u64)
                    .map_err(backend)
            })
            .instrument(span.clone())
            .await;
        record_outcome(&span, &result);
        result
    }

    async fn health(&self) -> Result<(), VectorStoreError> {
        // In-process: healthy when a slot can be had and the shard answers a count.
        self.count().await.map(|_| ())
    }

    async fn optimize(&self) -> Result<bool, VectorStoreError> {
        let span = db_span("optimize", &self.collection, "in-process");
        let writer = self.writer.clone();
        let result = self
            .run(&span, move |shard| {
                let _guard = writer.lock().unwrap_or_else(|p| p.into_inner());
                let changed = shard.optimize().map_err(backend)?;
                shard.flush();
                Ok(changed)
            })
            .instrument(span.clone())
            .await;
        record_outcome(&span, &result);
        result
    }

    async fn index_status(&self) -> Result<IndexStatus, VectorStoreError> {
        let span = db_span("info", &self.collection, "in-process");
        let result = self
            .run(&span, |shard| {
                let info = shard.info();
                // The shard counts the sparse vectors as indexed too (their inverted index is
                // always built); what case study 2 is about is the dense vectors' HNSW index.
                let sparse = shard
                    .count(CountRequest {
                        filter: Some(Filter::new_must(Condition::HasVector(
                            SPARSE_VECTOR.to_owned().into(),
                        ))),
                        exact: true,
                    })
                    .map_err(backend)?;
                Ok(IndexStatus {
                    points: info.points_count as u64,
                    indexed_vectors: info.indexed_vectors_count.saturating_sub(sparse) as u64,
                    segments: info.segments_count as u64,
                })
            })
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

/// The vectors of a point: the dense one under the default name, the sparse one beside it.
fn named_vectors(dense: Option<Vec<f32>>, sparse: SparseVector) -> VectorStructPersisted {
    let mut named = std::collections::HashMap::new();
    if let Some(dense) = dense {
        named.insert(DEFAULT_VECTOR_NAME.into(), VectorPersisted::Dense(dense));
    }
    named.insert(
        SPARSE_VECTOR.into(),
        VectorPersisted::Sparse(qdrant_edge::SparseVector {
            indices: sparse.indices,
            values: sparse.values,
        }),
    );
    VectorStructPersisted::Named(named)
}

/// Reads the payloads of `hits` (found without them) in one call.
fn with_payloads(shard: &EdgeShard, hits: &mut [Hit]) -> Result<(), VectorStoreError> {
    let ids: Vec<PointId> = hits
        .iter()
        .map(|h| match h.id.parse::<uuid::Uuid>() {
            Ok(u) => PointId::Uuid(u),
            Err(_) => PointId::NumId(h.id.parse().unwrap_or_default()),
        })
        .collect();
    let records = shard
        .retrieve(&ids, Some(WithPayloadInterface::Bool(true)), None)
        .map_err(backend)?;
    for r in records {
        let id = point_id(r.id);
        if let Some(h) = hits.iter_mut().find(|h| h.id == id) {
            h.payload = r.payload.map(|p| p.0).unwrap_or_default();
        }
    }
    Ok(())
}

fn point_id(id: PointId) -> String {
    match id {
        PointId::Uuid(u) => u.to_string(),
        PointId::NumId(n) => n.to_string(),
    }
}

/// One leg of a search: the `limit` nearest points to `query` in its vector space, with their
/// payloads or without.
fn leg(
    shard: &EdgeShard,
    query: NamedQuery<VectorInternal>,
    score_threshold: Option<f32>,
    limit: usize,
    with_payload: bool,
) -> Result<Vec<Hit>, VectorStoreError> {
    let points = shard
        .query(QueryRequest {
            prefetches: vec![],
            query: Some(ScoringQuery::Vector(QueryEnum::Nearest(query))),
            filter: None,
            score_threshold: score_threshold.map(OrderedFloat),
            limit,
            offset: 0,
            params: None,
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Bool(with_payload),
        })
        .map_err(backend)?;
    Ok(points
        .into_iter()
        .map(|p| Hit {
            id: point_id(p.id),
            score: p.score,
            payload: p.payload.map(|p| p.0).unwrap_or_default(),
            dense: None,
            sparse: None,
        })
        .collect())
}

/// Gives a shard written before hybrid retrieval its sparse vector: adds the vector to the
/// shard's configuration, then computes the sparse vector of every point that lacks one from its
/// payload (`title`, `text`). Nothing to do on a current shard; safe to interrupt and repeat.
fn bring_up_to_date(shard: &EdgeShard, writer: &Mutex<()>) -> Result<(), VectorStoreError> {
    if !shard.config().sparse_vectors.contains_key(SPARSE_VECTOR) {
        let config = serde_json::from_value(serde_json::json!({"sparse": {"modifier": "idf"}}))
            .map_err(backend)?;
        tracing::info!("adding the {SPARSE_VECTOR} sparse vector to the edge shard");
        EdgeStore::write(
            shard,
            writer,
            UpdateOperation::VectorNameOperation(VectorNameOperations::CreateVectorName(
                CreateVectorName {
                    vector_name: SPARSE_VECTOR.into(),
                    config,
                },
            )),
        )?;
    }
    let missing = Filter::new_must_not(Condition::HasVector(SPARSE_VECTOR.to_owned().into()));
    let mut filled = 0usize;
    loop {
        let (records, _) = shard
            .scroll(ScrollRequest {
                offset: None,
                limit: Some(LIST_PAGE),
                filter: Some(missing.clone()),
                with_payload: Some(WithPayloadInterface::Bool(true)),
                with_vector: WithVector::Bool(false),
                order_by: None,
            })
            .map_err(backend)?;
        if records.is_empty() {
            break;
        }
        let points = records
            .into_iter()
            .map(|r| {
                let payload = r.payload.map(|p| p.0).unwrap_or_default();
                PointVectorsPersisted {
                    id: r.id,
                    vector: named_vectors(None, sparse::document_of_payload(&payload)),
                }
            })
            .collect::<Vec<_>>();
        filled += points.len();
        EdgeStore::write(
            shard,
            writer,
            UpdateOperation::VectorOperation(VectorOperations::UpdateVectors(UpdateVectorsOp {
                points,
                update_filter: None,
            })),
        )?;
    }
    if filled > 0 {
        tracing::info!(
            points = filled,
            "computed the sparse vectors of points stored without them"
        );
    }
    Ok(())
}
