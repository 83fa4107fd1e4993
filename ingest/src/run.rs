//! One run of `ragtrace-ingest PATH...`: discover, extract (in parallel on the blocking pool),
//! ingest, optionally prune, summarise.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

use futures::StreamExt as _;
use ragtrace_core::semconv::{attr, span};
use serde::Serialize;
use tracing::Instrument as _;

use crate::files::{discover, load};
use crate::pipeline::{Failure, Ingestor, Progress, count_error};

/// The summary printed at the end of a run (the last line of stdout with `--json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Documents ingested or found unchanged.
    pub documents: usize,
    /// Chunks those documents have.
    pub chunks: usize,
    /// Chunks embedded and written.
    pub upserted: usize,
    /// Chunks already stored with the same document hash, so not embedded again.
    pub skipped: usize,
    /// Stale chunks removed (changed documents, and `--prune`).
    pub deleted: usize,
    /// How many entries `failures` has; above zero, the exit status is 1 (unless interrupted).
    pub failed: usize,
    /// Wall time of the whole run, seconds, from discovery to the end of pruning.
    pub seconds: f64,
    /// Files skipped in folders because their type is not supported.
    pub ignored: usize,
    /// Whether Ctrl-C or SIGTERM cut the run short.
    pub interrupted: bool,
    /// Why each failed file failed.
    pub failures: Vec<Failure>,
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Files and folders to ingest, as given on the command line; folders are walked recursively.
    pub paths: Vec<PathBuf>,
    /// Remove points of files that no longer exist in the folders given.
    pub prune: bool,
    /// Files under this folder are named relative to it (`ingest.corpus_root`); see
    /// [`crate::files`].
    pub corpus_root: Option<PathBuf>,
    /// Files over this size are refused.
    pub max_file_bytes: u64,
}

/// Runs the pipeline over `options.paths`.
pub async fn run(
    ingestor: &Ingestor,
    options: &RunOptions,
    progress: &dyn Progress,
    stop: &CancellationToken,
) -> Summary {
    let span = tracing::info_span!(
        "ingest.run",
        { attr::OTEL_NAME } = span::INGEST_RUN,
        { attr::INGEST_PATHS } = options.paths.len() as i64,
        { attr::INGEST_DOCUMENTS } = tracing::field::Empty,
        { attr::INGEST_FAILED } = tracing::field::Empty,
    );
    let summary = run_inner(ingestor, options, progress, stop)
        .instrument(span.clone())
        .await;
    span.record(attr::INGEST_DOCUMENTS, summary.documents as i64);
    span.record(attr::INGEST_FAILED, summary.failed as i64);
    summary
}

async fn run_inner(
    ingestor: &Ingestor,
    options: &RunOptions,
    progress: &dyn Progress,
    stop: &CancellationToken,
) -> Summary {
    let started = Instant::now();
    let found = discover(&options.paths, options.corpus_root.as_deref());
    let mut summary = Summary {
        ignored: found.ignored,
        ..Summary::default()
    };
    for (path, reason) in &found.unreadable {
        let f = Failure {
            source: path.clone(),
            stage: "read",
            cause: "unreadable",
            error: format!("cannot read the path: {reason}"),
        };
        count_error("read", "unreadable");
        progress.failed(&f);
        summary.failures.push(f);
    }
    // Extraction is CPU work (PDFs especially): a few files at once on the blocking pool.
    let max = options.max_file_bytes;
    let limits = ingestor.extract_limits();
    let loaded: Vec<_> = futures::stream::iter(found.files.iter().cloned())
        .map(|f| async move {
            let source = f.source.clone();
            let result = crate::extract::off_the_runtime(
                limits.timeout,
                move || load(&f, max, limits.max_expanded_bytes),
                crate::extract::ExtractError::Unreadable,
            )
            .await;
            (source, result)
        })
        .buffered(4)
        .collect()
        .await;
    let all_sources: HashSet<String> = found.files.iter().map(|f| f.source.clone()).collect();
    let mut docs = Vec::new();
    for (source, result) in loaded {
        match result {
            Ok(doc) => docs.push(doc),
            Err(e) => {
                let stage = if matches!(e, crate::extract::ExtractError::Unreadable(_)) {
                    "read"
                } else {
                    "extract"
                };
                count_error(stage, e.cause());
                let f = Failure {
                    source,
                    stage,
                    cause: e.cause(),
                    error: e.to_string(),
                };
                progress.failed(&f);
                summary.failures.push(f);
            }
        }
    }
    let reports = ingestor.ingest(docs, progress, stop).await;
    for r in reports {
        match r.failure {
            Some(f) => {
                if f.cause == "interrupted" {
                    summary.interrupted = true;
                }
                summary.failures.push(f);
            }
            None => {
                summary.documents += 1;
                summary.chunks += r.chunks;
            }
        }
        summary.upserted += r.upserted;
        summary.skipped += r.skipped;
        summary.deleted += r.deleted;
    }
    if stop.is_cancelled() {
        summary.interrupted = true;
    }
    if options.prune && !summary.interrupted {
        match ingestor.prune(&found.folders, &all_sources).await {
            Ok(n) => summary.deleted += n,
            Err(e) => summary.failures.push(Failure {
                source: found.folders.join(", "),
                stage: "prune",
                cause: "vector_store",
                error: e.to_string(),
            }),
        }
    }
    summary.failed = summary.failures.len();
    summary.seconds = started.elapsed().as_secs_f64();
    summary
}
