//! Building the pipeline from configuration, with the built-in simulator standing in for an
//! unconfigured LLM provider (see [`crate::upstreams`]), and the progress display of the CLI.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ragtrace_core::config::{QueueBackend, Settings};
use ragtrace_core::llm::LlmClient;
use ragtrace_core::queue::JobQueue;
use ragtrace_core::tokens::Tokenizer;
use ragtrace_core::vector_store::VectorStore;
use tokio_util::sync::CancellationToken;

use crate::chunk::Chunker;
use crate::pipeline::{BatchLimits, Failure, Ingestor, Progress};
use crate::upstreams::Upstreams;

/// The pipeline and what it runs on.
#[derive(Debug)]
pub struct Built {
    /// The pipeline over the configured store and `llm`, chunking and batching as configured.
    pub ingestor: Ingestor,
    /// The LLM client (also used for transcription).
    pub llm: LlmClient,
    /// Where the LLM calls go; stop it when done (it may be the embedded simulator).
    pub upstreams: Upstreams,
}

/// A chunker as configured.
pub fn chunker(settings: &Settings) -> Chunker {
    Chunker::new(
        Tokenizer::by_name(&settings.llm.tokenizer),
        settings.ingest.chunk_tokens,
        settings.ingest.chunk_overlap_tokens,
    )
}

/// Batch limits as configured.
pub fn limits(settings: &Settings) -> BatchLimits {
    BatchLimits {
        max_items: settings.ingest.batch_max_items,
        max_tokens: settings.ingest.batch_max_tokens,
    }
}

/// The ingest pipeline over `store` and `llm`, chunking and batching as configured.
pub fn ingestor(settings: &Settings, store: Arc<dyn VectorStore>, llm: LlmClient) -> Ingestor {
    Ingestor::new(store, llm, chunker(settings), limits(settings)).with_extract_limits(
        crate::extract::ExtractLimits {
            max_expanded_bytes: settings.ingest.max_expanded_bytes,
            timeout: std::time::Duration::from_millis(settings.ingest.extract_timeout_ms),
        },
    )
}

/// The app's document queue: in-process, with a worker task consuming it until `stop` is
/// cancelled; or a Redis stream, consumed by `ragtrace-ingest worker` processes.
pub async fn app_queue(
    settings: &Settings,
    ingestor: Ingestor,
    stop: CancellationToken,
) -> anyhow::Result<Arc<dyn JobQueue>> {
    let queue = settings
        .ingest
        .build_queue(
            &settings.cache.url,
            "app",
            Some(&settings.data_dir().join("ingest-queue")),
        )
        .context("cannot configure the ingest queue")?;
    match settings.ingest.queue {
        QueueBackend::Memory => {
            actix_web::rt::spawn(crate::worker::run_loop(queue.clone(), ingestor, stop));
        }
        QueueBackend::Redis => {
            if let Err(e) = queue.prepare().await {
                tracing::warn!("ingest queue not ready yet: {e}");
            }
        }
    }
    Ok(queue)
}

/// Builds the pipeline. Must run inside an actix system (the embedded simulator is an actix
/// server).
pub async fn build(settings: &Settings) -> anyhow::Result<Built> {
    let upstreams = Upstreams::for_ingest(settings)?;
    let store = settings
        .vector_store
        .build(&settings.data_dir())
        .await
        .context("cannot open the vector store")?;
    store
        .ensure_collection()
        .await
        .context("the vector store is not ready")?;
    let llm = settings.llm.build(
        &upstreams.llm,
        &settings.pricing,
        false,
        settings.vector_store.dimension,
    )?;
    let ingestor = ingestor(settings, store, llm.clone());
    Ok(Built {
        ingestor,
        llm,
        upstreams,
    })
}

/// Progress on a terminal: a bar over the chunks to embed, failures printed above it. Off a
/// terminal: one log line per failure and a line every 10 % of the chunks.
#[derive(Debug)]
pub struct Display {
    bar: ProgressBar,
    tty: bool,
}

impl Display {
    /// A display on stderr; a bar only when stderr is a terminal.
    pub fn new() -> Self {
        use std::io::IsTerminal as _;
        let tty = std::io::stderr().is_terminal();
        let bar = if tty {
            ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {pos}/{len} chunks {per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message("embedding");
        bar.enable_steady_tick(Duration::from_millis(200));
        Self { bar, tty }
    }

    /// Clears the bar before the summary is printed, so the two do not mix on the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Default for Display {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for Display {
    fn begin(&self, documents: usize, chunks_to_embed: usize) {
        self.bar.set_length(chunks_to_embed as u64);
        if !self.tty {
            tracing::info!(documents, chunks_to_embed, "documents planned");
        }
    }

    fn advance(&self, n: usize) {
        let before = self.bar.position();
        self.bar.inc(n as u64);
        if !self.tty {
            let len = self.bar.length().unwrap_or(0).max(1);
            let step = (len / 10).max(1);
            let after = self.bar.position();
            if before / step != after / step || after == len {
                tracing::info!(done = after, of = len, "chunks embedded and stored");
            }
        }
    }

    fn failed(&self, f: &Failure) {
        let line = format!(
            "FAILED {} ({}: {}): {}",
            f.source, f.stage, f.cause, f.error
        );
        if self.tty {
            self.bar.println(line);
        } else {
            tracing::warn!("{line}");
        }
    }
}
