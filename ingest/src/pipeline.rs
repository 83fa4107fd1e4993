//! The ingest pipeline: documents → chunks → embeddings in bounded batches → upserts, made
//! idempotent by deterministic ids and by comparing with what the store already holds.
//!
//! For each document: chunks whose id is already stored with the same document hash are
//! skipped; the others are embedded and upserted; once every new chunk of a document is durable,
//! its stale chunks (ids no longer produced, e.g. after an edit) are deleted. Upserting before
//! deleting means an interrupted run never loses a document: a re-run finds what is missing or
//! stale and finishes the job, ending with exactly the points of one clean run.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use ragtrace_core::llm::LlmClient;
use ragtrace_core::metrics::{counter, histogram};
use ragtrace_core::semconv::{attr, metric, span};
use ragtrace_core::vector_store::{Point, StoredPoint, VectorStore, VectorStoreError, sparse};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::chunk::{Chunk, Chunker};
use crate::extract::Document;

/// Limits of one embeddings request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Inputs per request at most.
    pub max_items: usize,
    /// Tokens per request at most.
    pub max_tokens: usize,
}

/// Cuts `tokens` (one entry per input, in order) into contiguous batches, each within both
/// limits. An input larger than `max_tokens` on its own gets a batch to itself (the chunker
/// never makes one; the provider would reject it and the failure would be reported).
pub fn plan_batches(tokens: &[usize], limits: BatchLimits) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut sum = 0;
    for (i, &t) in tokens.iter().enumerate() {
        let full = i - start >= limits.max_items || (sum + t > limits.max_tokens && i > start);
        if full {
            out.push(start..i);
            start = i;
            sum = 0;
        }
        sum += t;
    }
    if start < tokens.len() {
        out.push(start..tokens.len());
    }
    out
}

/// Where a document failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The document's source (or the path given, when it could not be read).
    pub source: String,
    /// `read`, `extract`, `embed`, `upsert`, `list`, `delete`.
    pub stage: &'static str,
    /// Short cause: the file's (`corrupt_pdf`, `empty`, ...) or the failing component's error kind
    /// (`rate_limited` from the LLM at stage `embed`, `unavailable` from the store at `upsert`, ...).
    pub cause: &'static str,
    /// Human-readable reason: printed by the CLI, and the `error` of a failed upload job's status.
    pub error: String,
}

/// What happened to one document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DocReport {
    /// The document's source, as its points are filed: which document this report is about.
    pub source: String,
    /// Chunks the document has now.
    pub chunks: usize,
    /// Chunks embedded and written.
    pub upserted: usize,
    /// Chunks already stored with the same document hash, so not embedded again.
    pub skipped: usize,
    /// Stale chunks deleted (ids the document no longer produces), once its new ones were stored.
    pub deleted: usize,
    /// Set when the document failed.
    pub failure: Option<Failure>,
}

/// Progress of a run, for a bar or log lines.
pub trait Progress: Send + Sync {
    /// Chunks to embed in this run are known.
    fn begin(&self, _documents: usize, _chunks_to_embed: usize) {}
    /// `n` more chunks are durable.
    fn advance(&self, _n: usize) {}
    /// A document failed (read, extract, embed or upsert), so the display can show it at once.
    fn failed(&self, _failure: &Failure) {}
}

/// No progress reporting: for the demo-corpus seed, the queue worker and transcript indexing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;
impl Progress for Quiet {}

/// The ingest pipeline (store, embedder, chunker, batch limits), shared by the CLI, worker and app.
#[derive(Clone)]
pub struct Ingestor {
    store: Arc<dyn VectorStore>,
    llm: LlmClient,
    chunker: Chunker,
    limits: BatchLimits,
    extract: crate::extract::ExtractLimits,
}

impl std::fmt::Debug for Ingestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingestor")
            .field("store", &self.store)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Counts an ingest error.
pub fn count_error(stage: &'static str, cause: &'static str) {
    counter(&metric::INGEST_ERRORS_TOTAL, [stage, cause]).increment(1);
}

/// What the batches wrote: chunks upserted per document, and whether `stop` cut the run short.
struct Written {
    upserts: Vec<usize>,
    interrupted: bool,
}

/// Counts each document's outcome and its chunks.
fn count_reports(reports: &[DocReport]) {
    for r in reports {
        let outcome = if r.failure.is_some() {
            "failed"
        } else if r.upserted == 0 && r.deleted == 0 {
            "unchanged"
        } else {
            "ingested"
        };
        counter(&metric::INGEST_DOCUMENTS_TOTAL, [outcome]).increment(1);
        counter(&metric::INGEST_CHUNKS_TOTAL, ["upserted"]).increment(r.upserted as u64);
        counter(&metric::INGEST_CHUNKS_TOTAL, ["skipped"]).increment(r.skipped as u64);
        counter(&metric::INGEST_CHUNKS_TOTAL, ["deleted"]).increment(r.deleted as u64);
    }
}

/// What one document needs.
struct DocPlan {
    chunks: usize,
    to_upsert: usize,
    skipped: usize,
    stale: Vec<Uuid>,
}

impl Ingestor {
    /// A pipeline writing into `store`, embedding with `llm`.
    pub fn new(
        store: Arc<dyn VectorStore>,
        llm: LlmClient,
        chunker: Chunker,
        limits: BatchLimits,
    ) -> Self {
        Self {
            store,
            llm,
            chunker,
            limits,
            extract: crate::extract::ExtractLimits::default(),
        }
    }

    /// The same, extracting documents under `limits`.
    #[must_use]
    pub fn with_extract_limits(mut self, limits: crate::extract::ExtractLimits) -> Self {
        self.extract = limits;
        self
    }

    /// The bounds documents are extracted under.
    pub fn extract_limits(&self) -> crate::extract::ExtractLimits {
        self.extract
    }

    /// The store it writes to, for callers that count its points or describe it (seeding, worker).
    pub fn store(&self) -> &Arc<dyn VectorStore> {
        &self.store
    }

    /// The chunker, so callers can chunk exactly as an ingest run would.
    pub fn chunker(&self) -> &Chunker {
        &self.chunker
    }

    /// Ingests `docs`. Batches span documents; a failed batch fails the documents it carried
    /// (their other chunks may already be stored; a re-run completes them). `stop` is checked
    /// between batches: once set, the run ends after the batch in flight, and the documents not
    /// finished are reported as interrupted.
    pub async fn ingest(
        &self,
        docs: Vec<Document>,
        progress: &dyn Progress,
        stop: &CancellationToken,
    ) -> Vec<DocReport> {
        let mut reports: Vec<DocReport> = docs
            .iter()
            .map(|d| DocReport {
                source: d.source.clone(),
                ..DocReport::default()
            })
            .collect();
        if docs.is_empty() {
            return reports;
        }
        let existing = match self.existing(&docs).await {
            Ok(existing) => existing,
            Err(e) => {
                for r in &mut reports {
                    r.failure = Some(Failure {
                        source: r.source.clone(),
                        stage: "list",
                        cause: e.kind(),
                        error: e.to_string(),
                    });
                }
                count_error("list", e.kind());
                return reports;
            }
        };
        let mut pending: Vec<(usize, Chunk)> = Vec::new();
        let plans: Vec<DocPlan> = docs
            .iter()
            .enumerate()
            .map(|(i, doc)| self.plan(i, doc, &existing, &mut pending))
            .collect();
        progress.begin(docs.len(), pending.len());
        let written = self.write(&pending, &mut reports, progress, stop).await;
        self.finish(plans, &written, &mut reports).await;
        count_reports(&reports);
        ragtrace_core::metrics::update_resident_memory();
        reports
    }

    /// What the store holds for these documents, by source: one scroll for a batch run, a
    /// filtered one for a single document.
    async fn existing(
        &self,
        docs: &[Document],
    ) -> Result<HashMap<String, Vec<StoredPoint>>, VectorStoreError> {
        let points = if docs.len() == 1 {
            self.store.list_points(Some(&docs[0].source)).await?
        } else {
            self.store.list_points(None).await?
        };
        Ok(points.into_iter().fold(HashMap::new(), |mut m, p| {
            m.entry(p.source.clone()).or_default().push(p);
            m
        }))
    }

    /// Chunks document `i` and compares it with what is stored: its chunks that are new or
    /// changed go to `pending`, the stored ones it no longer has are stale.
    fn plan(
        &self,
        i: usize,
        doc: &Document,
        existing: &HashMap<String, Vec<StoredPoint>>,
        pending: &mut Vec<(usize, Chunk)>,
    ) -> DocPlan {
        let span = tracing::info_span!(
            "ingest.document",
            { attr::OTEL_NAME } = span::ingest_document(&doc.source),
            { attr::INGEST_SOURCE } = doc.source.as_str(),
            { attr::INGEST_FORMAT } = doc.format.as_str(),
            { attr::INGEST_CHUNKS } = tracing::field::Empty,
            { attr::INGEST_TO_UPSERT } = tracing::field::Empty,
            { attr::INGEST_STALE } = tracing::field::Empty,
        );
        let _enter = span.enter();
        let chunks = self.chunker.chunks(doc);
        let stored: HashMap<Uuid, &StoredPoint> = existing
            .get(&doc.source)
            .map(|v| v.iter().map(|p| (p.id, p)).collect())
            .unwrap_or_default();
        let ids: HashSet<Uuid> = chunks.iter().map(Chunk::id).collect();
        let stale: Vec<Uuid> = stored
            .keys()
            .filter(|id| !ids.contains(id))
            .copied()
            .collect();
        let mut skipped = 0;
        let n = chunks.len();
        let mut to_upsert = 0;
        for c in chunks {
            match stored.get(&c.id()) {
                // Same document, embedded with the same context line: nothing to do.
                Some(p)
                    if p.document_hash == doc.hash && p.section.as_ref() == Some(&c.section) =>
                {
                    skipped += 1
                }
                _ => {
                    to_upsert += 1;
                    pending.push((i, c));
                }
            }
        }
        span.record(attr::INGEST_CHUNKS, n as i64);
        span.record(attr::INGEST_TO_UPSERT, to_upsert as i64);
        span.record(attr::INGEST_STALE, stale.len() as i64);
        DocPlan {
            chunks: n,
            to_upsert,
            skipped,
            stale,
        }
    }

    /// Embeds and upserts `pending` in bounded batches, until done or `stop`. A batch that fails
    /// fails the documents it carried, which get no more writes in this run.
    async fn write(
        &self,
        pending: &[(usize, Chunk)],
        reports: &mut [DocReport],
        progress: &dyn Progress,
        stop: &CancellationToken,
    ) -> Written {
        let tokens: Vec<usize> = pending.iter().map(|(_, c)| c.embedding_tokens).collect();
        let batches = plan_batches(&tokens, self.limits);
        let total_batches = batches.len();
        let mut written = Written {
            upserts: vec![0; reports.len()],
            interrupted: false,
        };
        for (b, range) in batches.into_iter().enumerate() {
            if stop.is_cancelled() {
                written.interrupted = true;
                break;
            }
            let batch: Vec<&(usize, Chunk)> = pending[range]
                .iter()
                .filter(|(d, _)| reports[*d].failure.is_none())
                .collect();
            if batch.is_empty() {
                continue;
            }
            match self.embed_and_upsert(&batch, b, total_batches).await {
                Ok(()) => {
                    for (d, _) in &batch {
                        written.upserts[*d] += 1;
                    }
                }
                Err((stage, cause, error)) => {
                    let docs_in_batch: HashSet<usize> = batch.iter().map(|(d, _)| *d).collect();
                    for d in docs_in_batch {
                        let f = Failure {
                            source: reports[d].source.clone(),
                            stage,
                            cause,
                            error: error.clone(),
                        };
                        progress.failed(&f);
                        reports[d].failure = Some(f);
                    }
                }
            }
            progress.advance(batch.len());
        }
        written
    }

    /// Fills the reports; each document whose new chunks are all durable drops its stale ones.
    async fn finish(&self, plans: Vec<DocPlan>, written: &Written, reports: &mut [DocReport]) {
        for (i, plan) in plans.into_iter().enumerate() {
            let r = &mut reports[i];
            r.chunks = plan.chunks;
            r.skipped = plan.skipped;
            r.upserted = written.upserts[i];
            if r.failure.is_some() {
                continue;
            }
            if written.upserts[i] < plan.to_upsert {
                if written.interrupted {
                    r.failure = Some(Failure {
                        source: r.source.clone(),
                        stage: "upsert",
                        cause: "interrupted",
                        error: "the run was interrupted; run it again to finish".into(),
                    });
                }
                continue;
            }
            if !plan.stale.is_empty() {
                let n = plan.stale.len();
                match self.store.delete_points(plan.stale).await {
                    Ok(()) => r.deleted = n,
                    Err(e) => {
                        count_error("delete", e.kind());
                        r.failure = Some(Failure {
                            source: r.source.clone(),
                            stage: "delete",
                            cause: e.kind(),
                            error: e.to_string(),
                        });
                    }
                }
            }
        }
    }

    async fn embed_and_upsert(
        &self,
        batch: &[&(usize, Chunk)],
        index: usize,
        of: usize,
    ) -> Result<(), (&'static str, &'static str, String)> {
        let tokens: usize = batch.iter().map(|(_, c)| c.embedding_tokens).sum();
        let span = tracing::info_span!(
            "ingest.batch",
            { attr::OTEL_NAME } = span::INGEST_BATCH,
            { attr::INGEST_BATCH_INDEX } = index as i64,
            { attr::INGEST_BATCH_COUNT } = of as i64,
            { attr::INGEST_BATCH_ITEMS } = batch.len() as i64,
            { attr::INGEST_BATCH_TOKENS } = tokens as i64,
            { attr::ERROR_TYPE } = tracing::field::Empty,
            { attr::OTEL_STATUS_CODE } = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = async {
            let texts: Vec<String> = batch.iter().map(|(_, c)| c.embedding_text()).collect();
            let emb = self.llm.embed(texts).await.map_err(|e| {
                count_error("embed", e.kind());
                ("embed", e.kind(), e.to_string())
            })?;
            counter(&metric::INGEST_TOKENS_TOTAL, []).increment(u64::from(emb.input_tokens));
            let points = batch
                .iter()
                .zip(emb.vectors)
                .map(|((_, c), vector)| Point {
                    id: c.id(),
                    vector,
                    sparse: Some(sparse::document(&c.context(), &c.text)),
                    payload: c.payload(),
                })
                .collect();
            self.store.upsert(points).await.map_err(|e| {
                count_error("upsert", e.kind());
                ("upsert", e.kind(), e.to_string())
            })
        }
        .instrument(span.clone())
        .await;
        if let Err((_, cause, message)) = &result {
            ragtrace_core::telemetry::mark_failed(&span, cause, message);
        }
        histogram(&metric::INGEST_EMBED_BATCH_DURATION, []).record(started.elapsed().as_secs_f64());
        result
    }

    /// Deletes the points of documents under any of `prefixes` whose source is not in `keep`
    /// (files that no longer exist). Returns how many points were removed.
    pub async fn prune(
        &self,
        prefixes: &[String],
        keep: &HashSet<String>,
    ) -> Result<usize, VectorStoreError> {
        let span = tracing::info_span!("ingest.prune", { attr::OTEL_NAME } = span::INGEST_PRUNE);
        async {
            let points = self.store.list_points(None).await?;
            let gone: Vec<Uuid> = points
                .into_iter()
                .filter(|p| {
                    prefixes
                        .iter()
                        .any(|pre| p.source.starts_with(pre.as_str()))
                        && !keep.contains(&p.source)
                })
                .map(|p| p.id)
                .collect();
            let n = gone.len();
            self.store.delete_points(gone).await?;
            counter(&metric::INGEST_CHUNKS_TOTAL, ["deleted"]).increment(n as u64);
            Ok(n)
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches never exceed either limit, keep the order and cover every input once.
    #[test]
    fn batches_stay_within_item_and_token_limits() {
        let tokens: Vec<usize> = (0..10_000).map(|i| 50 + (i * 37) % 400).collect();
        for limits in [
            BatchLimits {
                max_items: 2048,
                max_tokens: 300_000,
            },
            BatchLimits {
                max_items: 7,
                max_tokens: 1000,
            },
            BatchLimits {
                max_items: 2048,
                max_tokens: 5_000,
            },
        ] {
            let batches = plan_batches(&tokens, limits);
            let mut next = 0;
            for b in &batches {
                assert_eq!(b.start, next, "contiguous");
                next = b.end;
                assert!(!b.is_empty());
                assert!(b.len() <= limits.max_items, "{limits:?}: {} items", b.len());
                let sum: usize = tokens[b.clone()].iter().sum();
                assert!(sum <= limits.max_tokens, "{limits:?}: {sum} tokens");
            }
            assert_eq!(next, tokens.len(), "every input in a batch");
        }
        // The item limit binds: 10,000 small inputs need 5 batches of at most 2048.
        let small = vec![1usize; 10_000];
        let b = plan_batches(
            &small,
            BatchLimits {
                max_items: 2048,
                max_tokens: 300_000,
            },
        );
        assert_eq!(b.len(), 5);
        // The token limit binds: 2000 inputs of 8000 tokens need 54 batches of at most 37.
        let big = vec![8000usize; 2000];
        let b = plan_batches(
            &big,
            BatchLimits {
                max_items: 2048,
                max_tokens: 300_000,
            },
        );
        assert!(b.iter().all(|r| r.len() <= 37));
        assert_eq!(b.len(), 2000usize.div_ceil(37));
        assert!(
            plan_batches(
                &[],
                BatchLimits {
                    max_items: 1,
                    max_tokens: 1
                }
            )
            .is_empty()
        );
    }
}
