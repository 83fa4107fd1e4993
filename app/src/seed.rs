//! Indexing the shipped demo corpus (`data/docs`, compiled into the binary: Markdown and PDF)
//! into an empty store at first start, so `cargo run` answers questions right away.
//!
//! It runs the ingest pipeline itself (`ragtrace-ingest`'s extraction, chunking and batching)
//! with the sources `ragtrace-ingest data/docs` uses, so ingesting the folder afterwards finds
//! nothing to do.

use include_dir::{Dir, include_dir};
use ragtrace_core::vector_store::VectorStore;
use ragtrace_ingest::extract::{Document, Format, extract};
use ragtrace_ingest::pipeline::{Ingestor, Quiet};
use tokio_util::sync::CancellationToken;

/// `data/docs`, compiled in so the first start can seed the store from any working directory.
pub static CORPUS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../data/docs");

/// Every document of the shipped corpus, extracted, sorted by source.
pub fn corpus_documents() -> Vec<Document> {
    let mut files: Vec<_> = CORPUS
        .files()
        .filter_map(|f| Some((f, Format::from_path(f.path())?)))
        .collect();
    files.sort_by_key(|(f, _)| f.path().to_path_buf());
    files
        .into_iter()
        .filter_map(|(f, format)| {
            let source = format!("docs/{}", f.path().display());
            match extract(&source, f.contents(), format) {
                Ok(d) => Some(d),
                Err(e) => {
                    tracing::warn!("demo corpus: skipping {source}: {e}");
                    None
                }
            }
        })
        .collect()
}

/// Makes the store ready at start: creates the collection, indexes the demo corpus into it when
/// `seed_demo_corpus` is on and it is empty, and sets the points gauge. Returns the point count,
/// or `None` when the store cannot be reached: a Qdrant server that is down at start is not
/// fatal (requests get a 503 until it is back, and the app recovers without a restart).
pub async fn prepare_store(ingestor: &Ingestor, seed_demo_corpus: bool) -> Option<u64> {
    let store = ingestor.store();
    if let Err(e) = store.ensure_collection().await {
        tracing::warn!(
            "vector store not ready yet ({e}); chat requests will answer 503 until it is"
        );
    }
    let points = if seed_demo_corpus {
        seed_if_empty(ingestor).await
    } else {
        store.count().await.ok()
    };
    if let Some(n) = points {
        ragtrace_core::metrics::gauge(&ragtrace_core::semconv::metric::VECTOR_STORE_POINTS, [])
            .set(n as f64);
    }
    points
}

/// Indexes the demo corpus when the store is empty; returns the store's point count, or `None`
/// when the store cannot be reached (the app still starts, and `/readyz` says why).
pub async fn seed_if_empty(ingestor: &Ingestor) -> Option<u64> {
    use tracing::Instrument as _;
    seed(ingestor)
        .instrument(tracing::info_span!("seed demo corpus"))
        .await
}

async fn seed(ingestor: &Ingestor) -> Option<u64> {
    let store: &dyn VectorStore = ingestor.store().as_ref();
    let count = match store.count().await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!("cannot count points, skipping the demo corpus: {e}");
            return None;
        }
    };
    if count > 0 {
        return Some(count);
    }
    let docs = corpus_documents();
    let started = std::time::Instant::now();
    tracing::info!(
        documents = docs.len(),
        "indexing the demo corpus into an empty store"
    );
    let reports = ingestor
        .ingest(docs, &Quiet, &CancellationToken::new())
        .await;
    let failed: Vec<_> = reports.iter().filter_map(|r| r.failure.as_ref()).collect();
    if let Some(f) = failed.first() {
        tracing::warn!(
            failed = failed.len(),
            "cannot index all of the demo corpus, e.g. {}: {}",
            f.source,
            f.error
        );
    }
    tracing::info!(
        documents = reports.len() - failed.len(),
        chunks = reports.iter().map(|r| r.upserted).sum::<usize>(),
        seconds = started.elapsed().as_secs_f64(),
        "demo corpus indexed"
    );
    store.count().await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped corpus (Markdown and PDF) extracts into at least 40 documents with titles,
    /// and chunks into at least 100 bounded chunks with stable ids.
    #[test]
    fn corpus_extracts_and_chunks() {
        let docs = corpus_documents();
        assert!(docs.len() >= 40, "{}", docs.len());
        assert!(docs.iter().filter(|d| d.format == Format::Pdf).count() >= 5);
        assert!(docs.iter().all(|d| !d.title.is_empty()));
        let chunker = ragtrace_ingest::chunk::Chunker::new(
            ragtrace_core::tokens::Tokenizer::by_name("o200k_base"),
            220,
            30,
        );
        let chunks: Vec<_> = docs.iter().flat_map(|d| chunker.chunks(d)).collect();
        assert!(chunks.len() >= 100, "{}", chunks.len());
        assert!(chunks.iter().all(|c| c.tokens <= 220));
        let again: Vec<_> = corpus_documents()
            .iter()
            .flat_map(|d| chunker.chunks(d))
            .map(|c| c.id())
            .collect();
        assert_eq!(chunks.iter().map(|c| c.id()).collect::<Vec<_>>(), again);
    }
}
