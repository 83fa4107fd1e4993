//! Prometheus metrics: one recorder per process, explicit histogram buckets, every metric
//! described and registered at start so `/metrics` shows the whole set from the first scrape.
//!
//! Names live in [`crate::semconv::metric`]; `docs/telemetry.md` lists them with their meaning.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::semconv::{Stage, metric};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Content type of the Prometheus text exposition served on `/metrics`.
pub const EXPOSITION_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The body of a `/metrics` scrape: every metric of this process. The app, the simulator and
/// the ingest worker all serve this.
pub fn render() -> String {
    handle().render()
}

/// The process's Prometheus handle, installing the recorder on first use. Every binary and every
/// in-process test app shares it (a process can have only one global recorder).
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let full = |name: &str| Matcher::Full(name.to_owned());
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    full(metric::HTTP_SERVER_DURATION),
                    &metric::DURATION_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        full(metric::STAGE_DURATION),
                        &metric::DURATION_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        full(metric::GEN_AI_OPERATION_DURATION),
                        &metric::DURATION_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        full(metric::GEN_AI_TOKEN_USAGE),
                        &metric::TOKEN_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        full(metric::POOL_WAIT_DURATION),
                        &metric::POOL_WAIT_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        full(metric::INGEST_EMBED_BATCH_DURATION),
                        &metric::BATCH_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        full(metric::INGEST_TRANSCRIBE_BATCH_DURATION),
                        &metric::BATCH_BUCKETS,
                    )
                })
                .expect("bucket lists are non-empty")
                .install_recorder()
                .expect("no other metrics recorder is installed in this process");
            describe();
            // Upkeep bounds histogram memory between scrapes; render() does it too.
            let h = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                        h.run_upkeep();
                    }
                })
                .expect("spawn metrics upkeep thread");
            handle
        })
        .clone()
}

fn describe() {
    describe_histogram!(
        metric::HTTP_SERVER_DURATION,
        Unit::Seconds,
        "Duration of HTTP requests served, by route and status."
    );
    describe_histogram!(
        metric::STAGE_DURATION,
        Unit::Seconds,
        "Duration of each chat pipeline stage."
    );
    describe_histogram!(
        metric::GEN_AI_OPERATION_DURATION,
        Unit::Seconds,
        "Duration of GenAI client operations (chat, embeddings), retries included."
    );
    describe_histogram!(
        metric::GEN_AI_TOKEN_USAGE,
        "Tokens used per GenAI operation, by token type."
    );
    describe_counter!(
        metric::TOKENS_TOTAL,
        "Tokens used, by model and token type."
    );
    describe_counter!(
        metric::COST_MICROUSD_TOTAL,
        "Estimated LLM spend in micro-dollars (divide by 1e6 for USD), from the configured price table."
    );
    describe_counter!(
        metric::CACHE_REQUESTS_TOTAL,
        "Cache lookups by cache (answer, catalog) and result (hit, miss, error)."
    );
    describe_counter!(metric::ERRORS_TOTAL, "Errors by type.");
    describe_counter!(
        metric::CHAT_REQUESTS_TOTAL,
        "Chat requests by outcome and cache hit."
    );
    describe_gauge!(metric::POOL_SIZE, "Configured size of a connection pool.");
    describe_gauge!(metric::POOL_IN_USE, "Connections of a pool in use.");
    describe_gauge!(
        metric::POOL_WAITING,
        "Callers waiting for a pooled connection."
    );
    describe_histogram!(
        metric::POOL_WAIT_DURATION,
        Unit::Seconds,
        "Time spent waiting for a pooled connection."
    );
    describe_counter!(
        metric::SPANS_EXPORTED_TOTAL,
        "Spans handed to the OTLP exporter by outcome (exported, failed, dropped)."
    );
    describe_gauge!(
        metric::VECTOR_STORE_POINTS,
        "Points in the vector store's collection."
    );
    describe_counter!(
        metric::INGEST_DOCUMENTS_TOTAL,
        "Documents ingested, by outcome (ingested, unchanged, failed)."
    );
    describe_counter!(
        metric::INGEST_CHUNKS_TOTAL,
        "Chunks by result: upserted, skipped (already stored), deleted (stale)."
    );
    describe_counter!(
        metric::INGEST_TOKENS_TOTAL,
        "Tokens sent to the embeddings model by the ingest pipeline."
    );
    describe_histogram!(
        metric::INGEST_EMBED_BATCH_DURATION,
        Unit::Seconds,
        "Duration of one embed-and-upsert batch."
    );
    describe_counter!(
        metric::INGEST_ERRORS_TOTAL,
        "Ingest errors by stage and cause."
    );
    describe_counter!(metric::INGEST_JOBS_TOTAL, "Ingest jobs by outcome.");
    describe_gauge!(
        metric::INGEST_CHUNK_BUFFER_BYTES,
        Unit::Bytes,
        "Bytes held right now in audio chunk buffers."
    );
    describe_gauge!(
        metric::INGEST_RESIDENT_MEMORY,
        Unit::Bytes,
        "Resident memory of the process doing the ingest work."
    );
    describe_histogram!(
        metric::INGEST_TRANSCRIBE_BATCH_DURATION,
        Unit::Seconds,
        "Duration of one transcription batch, by strategy."
    );
    describe_counter!(
        metric::INGEST_TRANSCRIBE_CHUNKS_TOTAL,
        "Audio chunks transcribed, by strategy and outcome."
    );
    describe_counter!(
        metric::SIM_REQUESTS_TOTAL,
        "Requests served by the simulator, by endpoint and outcome."
    );
}

/// Installs the process's recorder (once) and registers every series the app exposes at zero:
/// the chat series for the configured models and the ingest series (the app runs the embedded
/// worker).
pub fn install(llm: &crate::config::LlmSettings) {
    register_series(&llm.chat_model, &llm.embedding_model);
    register_ingest_series();
}

/// Registers the labelled series a dashboard or alert expects before the first event: error
/// types, cache results, stages, outcomes, and the models in use.
pub fn register_series(chat_model: &str, embedding_model: &str) {
    let _ = handle();
    for t in metric::ERROR_TYPES {
        metrics::counter!(metric::ERRORS_TOTAL, "type" => t).increment(0);
    }
    for cache in ["answer", "catalog"] {
        for result in ["hit", "miss", "error"] {
            metrics::counter!(metric::CACHE_REQUESTS_TOTAL, "cache" => cache, "result" => result)
                .increment(0);
        }
    }
    for outcome in ["ok", "error", "rejected"] {
        for hit in ["true", "false"] {
            metrics::counter!(metric::CHAT_REQUESTS_TOTAL, "outcome" => outcome, "cache_hit" => hit)
                .increment(0);
        }
    }
    for outcome in ["exported", "failed", "dropped"] {
        metrics::counter!(metric::SPANS_EXPORTED_TOTAL, "outcome" => outcome).increment(0);
    }
    for model in [chat_model, embedding_model] {
        metrics::counter!(metric::COST_MICROUSD_TOTAL, "gen_ai_request_model" => model.to_owned())
            .increment(0);
    }
    for kind in ["input", "output"] {
        metrics::counter!(metric::TOKENS_TOTAL, "gen_ai_request_model" => chat_model.to_owned(), "gen_ai_token_type" => kind)
            .increment(0);
    }
    for stage in Stage::ALL {
        let _ = metrics::histogram!(metric::STAGE_DURATION, "stage" => stage.as_str());
    }
}

/// Registers the ingest pipeline's series at zero, so dashboards and alerts see them before the
/// first document.
pub fn register_ingest_series() {
    let _ = handle();
    for outcome in ["ingested", "unchanged", "failed"] {
        metrics::counter!(metric::INGEST_DOCUMENTS_TOTAL, "outcome" => outcome).increment(0);
    }
    for result in ["upserted", "skipped", "deleted"] {
        metrics::counter!(metric::INGEST_CHUNKS_TOTAL, "result" => result).increment(0);
    }
    metrics::counter!(metric::INGEST_TOKENS_TOTAL).increment(0);
    let _ = metrics::histogram!(metric::INGEST_EMBED_BATCH_DURATION);
    for outcome in ["queued", "done", "failed"] {
        metrics::counter!(metric::INGEST_JOBS_TOTAL, "outcome" => outcome).increment(0);
    }
    metrics::counter!(metric::INGEST_ERRORS_TOTAL, "stage" => "embed", "cause" => "rate_limited")
        .increment(0);
    metrics::gauge!(metric::INGEST_CHUNK_BUFFER_BYTES).set(0.0);
    update_resident_memory();
    for strategy in ["naive", "bounded"] {
        let _ =
            metrics::histogram!(metric::INGEST_TRANSCRIBE_BATCH_DURATION, "strategy" => strategy);
        for outcome in ["ok", "error"] {
            metrics::counter!(metric::INGEST_TRANSCRIBE_CHUNKS_TOTAL, "strategy" => strategy, "outcome" => outcome)
                .increment(0);
        }
    }
}

/// Resident memory of this process in bytes (Linux `/proc/self/statm`), `None` elsewhere.
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Peak resident memory of this process in bytes (`VmHWM` of `/proc/self/status`).
pub fn peak_resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Sets the resident-memory gauge from `/proc`.
pub fn update_resident_memory() {
    if let Some(b) = resident_memory_bytes() {
        metrics::gauge!(metric::INGEST_RESIDENT_MEMORY).set(b as f64);
    }
}

/// Adds an estimated cost (USD) to the spend counter, carrying sub-micro-dollar fractions over
/// to the next call so that many cheap calls still add up.
pub fn add_cost(model: &str, cost_usd: f64) {
    static CARRY: OnceLock<Mutex<HashMap<String, f64>>> = OnceLock::new();
    if !(cost_usd.is_finite() && cost_usd > 0.0) {
        return;
    }
    let whole = {
        let mut carry = CARRY
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let acc = carry.entry(model.to_owned()).or_insert(0.0);
        *acc += cost_usd * 1_000_000.0;
        let whole = acc.floor();
        *acc -= whole;
        whole as u64
    };
    if whole > 0 {
        metrics::counter!(metric::COST_MICROUSD_TOTAL, "gen_ai_request_model" => model.to_owned())
            .increment(whole);
    }
}

/// Records a stage's duration.
pub fn record_stage(stage: Stage, seconds: f64) {
    metrics::histogram!(metric::STAGE_DURATION, "stage" => stage.as_str()).record(seconds);
}

/// Counts an error of `kind` (one of [`metric::ERROR_TYPES`]).
pub fn count_error(kind: &'static str) {
    metrics::counter!(metric::ERRORS_TOTAL, "type" => kind).increment(1);
}

/// Counts a cache lookup.
pub fn count_cache(cache: &'static str, result: &'static str) {
    metrics::counter!(metric::CACHE_REQUESTS_TOTAL, "cache" => cache, "result" => result)
        .increment(1);
}
