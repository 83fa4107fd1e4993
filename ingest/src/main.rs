//! `ragtrace-ingest`: documents and meeting audio into the ragtrace vector store.
//!
//! ```text
//! ragtrace-ingest [--data-dir DIR | --qdrant-url URL] [--json] [--prune] PATH...
//! ragtrace-ingest worker
//! ragtrace-ingest gen-audio --minutes N FILE.wav
//! ragtrace-ingest transcribe [--strategy naive|bounded] [--batch-size N] FILE.wav
//! ```
//!
//! Exit status: 0 when everything was ingested, 1 when any file failed (the others are still
//! ingested), 2 for usage or configuration errors, 130 when interrupted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use ragtrace_core::config::{Overrides, Settings, TranscribeStrategy};
use ragtrace_core::trace_store::TraceStore;
use tokio_util::sync::CancellationToken;

/// Ingests documents (Markdown, text, HTML, PDF) into the collection the ragtrace chat API
/// searches. Safe to re-run: unchanged chunks are skipped, changed documents replace their
/// chunks, and an interrupted run is finished by the next one.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    /// Print a JSON summary as the last line of stdout.
    #[arg(long)]
    json: bool,
    /// Remove the points of documents that no longer exist in the folders given.
    #[arg(long)]
    prune: bool,
    /// Files and folders to ingest (folders recursively; .md, .txt, .html, .pdf).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Where the vector store is.
#[derive(Debug, Args, Clone)]
struct StoreArgs {
    /// Embedded store directory (the app's `--data-dir`; default `data-dir`).
    #[arg(long, global = true, conflicts_with = "qdrant_url")]
    data_dir: Option<PathBuf>,
    /// A Qdrant server (gRPC), instead of the embedded store.
    #[arg(long, global = true, env = "QDRANT_URL")]
    qdrant_url: Option<String>,
    /// Optional TOML file layered over the compiled-in defaults.
    #[arg(long, global = true, env = "RAGTRACE_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Consume ingest jobs from the Redis stream (`POST /v1/documents` of the app with
    /// `ingest.queue = "redis"`), serving /metrics.
    Worker {
        /// Where to serve /metrics.
        #[arg(long, env = "RAGTRACE_INGEST_METRICS_ADDR")]
        metrics_addr: Option<String>,
    },
    /// Write a synthetic meeting recording (16 kHz mono WAV), streaming to disk.
    GenAudio {
        /// Length in minutes (fractions allowed, up to a day).
        #[arg(long, value_parser = parse_minutes)]
        minutes: f64,
        /// Script seed: the same seed gives the same meeting.
        #[arg(long, default_value_t = 1)]
        seed: u32,
        /// WAV file to write (overwritten if it exists).
        file: PathBuf,
    },
    /// Build the vector store's search index (HNSW) now, and say how much of the collection it
    /// covers before and after (case study 2's index rebuild).
    Index {
        /// Print the index status before and after, and the build time, as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Transcribe a WAV recording through /v1/audio/transcriptions and index the transcript.
    Transcribe {
        /// `naive` (decode everything, send every chunk at once) or `bounded`.
        #[arg(long, value_parser = parse_strategy)]
        strategy: Option<TranscribeStrategy>,
        /// Chunks in flight at most (bounded), 1 to 4096.
        #[arg(long, value_parser = parse_batch_size)]
        batch_size: Option<usize>,
        /// Print a JSON summary as the last line of stdout.
        #[arg(long)]
        json: bool,
        /// Transcribe only; do not index the transcript.
        #[arg(long)]
        no_index: bool,
        /// Write the stitched transcript to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Serve /metrics here while transcribing (for Prometheus; e.g. 0.0.0.0:9103, the
        /// compose stack's `transcribe` scrape target).
        #[arg(long)]
        metrics_addr: Option<String>,
        /// With --metrics-addr: keep serving /metrics this many seconds after the run, so that
        /// Prometheus scrapes the final counts (Ctrl-C ends the wait).
        #[arg(long, default_value_t = 15, requires = "metrics_addr")]
        metrics_linger: u64,
        /// Write the job's trace here as JSON (every span kept, whatever the sampling), to open
        /// in ragtrace's trace viewer (Traces → Open a trace file, or POST /api/traces).
        #[arg(long)]
        trace_out: Option<PathBuf>,
        /// WAV recording to transcribe (16-bit PCM mono, as gen-audio writes).
        file: PathBuf,
    },
}

fn parse_minutes(s: &str) -> Result<f64, String> {
    let max = ragtrace_ingest::audio::MAX_MINUTES;
    match s.parse::<f64>() {
        Ok(m) if m.is_finite() && m > 0.0 && m <= max => Ok(m),
        _ => Err(format!(
            "must be a number of minutes above 0 and at most {max}"
        )),
    }
}

fn parse_batch_size(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=4096).contains(&n) => Ok(n),
        _ => Err("must be a whole number from 1 to 4096".into()),
    }
}

fn parse_strategy(s: &str) -> Result<TranscribeStrategy, String> {
    match s {
        "naive" => Ok(TranscribeStrategy::Naive),
        "bounded" => Ok(TranscribeStrategy::Bounded),
        _ => Err("must be \"naive\" or \"bounded\"".into()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    if let Some(url) = &cli.store.qdrant_url {
        env.insert("QDRANT_URL".into(), url.clone());
    }
    if !env.contains_key("OTEL_SERVICE_NAME") {
        env.insert("OTEL_SERVICE_NAME".into(), "ragtrace-ingest".into());
    }
    let settings = match Settings::load_from(
        &Overrides {
            file: cli.store.config.clone(),
            addr: None,
            data_dir: cli.store.data_dir.clone(),
        },
        &env,
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ragtrace-ingest: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.command.is_none() && cli.paths.is_empty() {
        eprintln!(
            "ragtrace-ingest: nothing to ingest; give files or folders, e.g. `ragtrace-ingest data/docs` (see --help)"
        );
        return ExitCode::from(2);
    }
    // `transcribe --trace-out` keeps its trace in a store of its own, to write it out.
    let traces = matches!(
        &cli.command,
        Some(Command::Transcribe {
            trace_out: Some(_),
            ..
        })
    )
    .then(|| Arc::new(TraceStore::new(16, 512 << 20)));
    let sinks = ragtrace_core::trace_store::sinks(traces.as_ref());
    let mut telemetry =
        match ragtrace_core::telemetry::init(&settings.telemetry, sinks, traces.is_some()) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("ragtrace-ingest: telemetry: {e}");
                return ExitCode::from(2);
            }
        };
    ragtrace_core::metrics::register_ingest_series();
    let code = actix_web::rt::System::new().block_on(dispatch(cli, settings, traces));
    // Flush spans outside the runtime, after the work has stopped (Ctrl-C included).
    telemetry.shutdown();
    code
}

/// Cancels the returned token on the first SIGINT/SIGTERM; a second one exits at once.
fn stop_on_signal() -> CancellationToken {
    let stop = CancellationToken::new();
    let flag = stop.clone();
    if let Ok(mut signals) = ragtrace_core::signals::StopSignals::register() {
        actix_web::rt::spawn(async move {
            signals.recv().await;
            eprintln!("ragtrace-ingest: stopping after the batch in flight (again to abort)");
            flag.cancel();
            signals.recv().await;
            std::process::exit(130);
        });
    }
    stop
}

async fn dispatch(cli: Cli, settings: Settings, traces: Option<Arc<TraceStore>>) -> ExitCode {
    let stop = stop_on_signal();
    let result = match cli.command {
        None => ingest(&settings, cli.paths, cli.prune, cli.json, &stop).await,
        Some(Command::Worker { metrics_addr }) => {
            ragtrace_ingest::worker::run_standalone(&settings, metrics_addr, stop.clone()).await
        }
        Some(Command::Index { json }) => build_index(&settings, json || cli.json).await,
        Some(Command::GenAudio {
            minutes,
            seed,
            file,
        }) => ragtrace_ingest::audio::gen_audio_cli(&file, minutes, seed),
        Some(Command::Transcribe {
            strategy,
            batch_size,
            json,
            no_index,
            out,
            metrics_addr,
            metrics_linger,
            trace_out,
            file,
        }) => {
            let options = ragtrace_ingest::transcribe::Options {
                strategy: strategy.unwrap_or(settings.transcription.strategy),
                batch_size: batch_size.unwrap_or(settings.transcription.batch_size),
                chunk_seconds: settings.transcription.chunk_seconds,
                overlap_seconds: settings.transcription.overlap_seconds,
            };
            let output = ragtrace_ingest::transcribe::CliOutput {
                json,
                index: !no_index,
                out,
                metrics_addr,
                metrics_linger: std::time::Duration::from_secs(metrics_linger),
            };
            let result =
                ragtrace_ingest::transcribe::cli(&settings, &file, options, output, &stop).await;
            match (trace_out, traces) {
                (Some(path), Some(store)) => write_trace(&store, &path).and(result),
                _ => result,
            }
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ragtrace-ingest: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Writes the transcription job's trace (the newest `transcribe …` trace of `store`) to `path`.
fn write_trace(store: &TraceStore, path: &Path) -> anyhow::Result<()> {
    let trace = store
        .matching(&Default::default(), 16)
        .into_iter()
        .find(|t| {
            t.root().is_some_and(|r| {
                r.name
                    .starts_with(&ragtrace_core::semconv::span::transcribe(""))
            })
        })
        .and_then(|t| store.get(&t.trace_id))
        .context("the transcription recorded no trace")?;
    let json = serde_json::to_string(&ragtrace_core::trace_store::trace_json(&trace))?;
    std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "trace {} ({} spans) written to {}; open it in ragtrace: Traces → Open a trace file",
        trace.trace_id,
        trace.spans.len(),
        path.display()
    );
    Ok(())
}

/// `ragtrace-ingest index`: one traced index build of the configured store.
async fn build_index(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    use tracing::Instrument as _;
    let store = settings
        .vector_store
        .build(&settings.data_dir())
        .await
        .context("cannot open the vector store")?;
    store
        .ensure_collection()
        .await
        .context("the vector store is not ready")?;
    let span = tracing::info_span!(
        "index",
        { ragtrace_core::semconv::attr::OTEL_NAME } = ragtrace_core::semconv::span::INDEX_BUILD,
    );
    let started = std::time::Instant::now();
    let (before, changed, after) = async {
        let before = store.index_status().await?;
        let changed = store.optimize().await?;
        let after = store.index_status().await?;
        Ok::<_, ragtrace_core::vector_store::VectorStoreError>((before, changed, after))
    }
    .instrument(span)
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{}: {} of {} vectors indexed before, {} after ({} segments), in {seconds:.2} s",
        store.describe(),
        before.indexed_vectors,
        before.points,
        after.indexed_vectors,
        after.segments,
    );
    if json {
        println!(
            "{}",
            serde_json::json!({"changed": changed, "seconds": seconds, "before": before, "after": after})
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn ingest(
    settings: &Settings,
    paths: Vec<PathBuf>,
    prune: bool,
    json: bool,
    stop: &CancellationToken,
) -> anyhow::Result<ExitCode> {
    let built = ragtrace_ingest::setup::build(settings).await?;
    let display = ragtrace_ingest::setup::Display::new();
    let summary = ragtrace_ingest::run::run(
        &built.ingestor,
        &ragtrace_ingest::run::RunOptions {
            paths,
            prune,
            max_file_bytes: settings.ingest.max_file_bytes,
            corpus_root: Some(settings.ingest.corpus_root.clone()),
        },
        &display,
        stop,
    )
    .await;
    display.finish();
    built.upstreams.stop(false).await;
    eprintln!(
        "ingested {} documents ({} chunks: {} upserted, {} already stored, {} stale deleted), {} failed, in {:.2} s{}",
        summary.documents,
        summary.chunks,
        summary.upserted,
        summary.skipped,
        summary.deleted,
        summary.failed,
        summary.seconds,
        if summary.interrupted {
            " (interrupted: run again to finish)"
        } else {
            ""
        }
    );
    for f in &summary.failures {
        eprintln!("  failed: {} ({}): {}", f.source, f.cause, f.error);
    }
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    }
    Ok(if summary.interrupted {
        ExitCode::from(130)
    } else if summary.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
