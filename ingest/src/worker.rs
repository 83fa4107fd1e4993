//! The worker: takes jobs from a queue (`ragtrace_core::queue`), ingests each in the consumer
//! span that continues the trace of the request that enqueued it, records the job's status,
//! acknowledges it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ragtrace_core::config::{QueueBackend, Settings, redact_url};
use ragtrace_core::queue::{Delivery, JobQueue, JobStatus, State, consumer_span, now_ms};
use ragtrace_core::semconv::metric;
use ragtrace_core::telemetry::mark_failed;
use secrecy::ExposeSecret as _;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::extract::extract_bounded;
use crate::pipeline::{Ingestor, Quiet, count_error};

/// Processes one delivered job in a consumer span that continues the upload's trace, and
/// records its outcome; returns the final status.
pub async fn process(queue: &dyn JobQueue, ingestor: &Ingestor, delivery: &Delivery) -> JobStatus {
    let job = &delivery.job;
    let span = consumer_span(queue, job);
    let mut status = JobStatus::queued(job);
    status.status = State::Running;
    if let Err(e) = queue.set_status(&status).await {
        tracing::warn!("cannot record the job's status: {e}");
    }
    let result = async {
        // On the blocking pool, bounded in expansion and time: a hostile PDF fails its job.
        let doc = extract_bounded(
            job.source.clone(),
            job.content.clone(),
            job.format,
            ingestor.extract_limits(),
        )
        .await
        .map_err(|e| {
            count_error("extract", e.cause());
            (e.cause().to_owned(), e.to_string())
        })?;
        // One document: there is no batch boundary to stop at, so nothing cancels it.
        let report = ingestor
            .ingest(vec![doc], &Quiet, &CancellationToken::new())
            .await
            .into_iter()
            .next()
            .expect("one report per document");
        match report.failure {
            Some(f) => Err((f.cause.to_owned(), f.error)),
            None => Ok(report),
        }
    }
    .instrument(span.clone())
    .await;
    match result {
        Ok(r) => {
            status.status = State::Done;
            status.chunks = r.chunks;
            status.upserted = r.upserted;
            status.skipped = r.skipped;
            status.deleted = r.deleted;
            ragtrace_core::metrics::counter(&metric::INGEST_JOBS_TOTAL, ["done"]).increment(1);
        }
        Err((cause, error)) => {
            mark_failed(&span, &cause, &error);
            tracing::warn!(parent: &span, job = %job.id, source = %job.source, "ingest job failed: {error}");
            status.status = State::Failed;
            status.cause = Some(cause);
            status.error = Some(error);
            ragtrace_core::metrics::counter(&metric::INGEST_JOBS_TOTAL, ["failed"]).increment(1);
        }
    }
    status.finished_at_ms = Some(now_ms());
    if let Err(e) = queue.set_status(&status).await {
        tracing::warn!("cannot record the job's status: {e}");
    }
    ragtrace_core::metrics::update_resident_memory();
    status
}

/// Consumes `queue` until `stop` is cancelled. A job in progress is finished first: it is one
/// document, and its status must not be left `running`.
pub async fn run_loop(queue: Arc<dyn JobQueue>, ingestor: Ingestor, stop: CancellationToken) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let next = tokio::select! {
            () = stop.cancelled() => return,
            next = queue.next(Duration::from_millis(500)) => next,
        };
        match next {
            Ok(Some(delivery)) => {
                backoff = Duration::from_millis(200);
                process(queue.as_ref(), &ingestor, &delivery).await;
                if let Err(e) = queue.ack(&delivery).await {
                    tracing::warn!("cannot acknowledge job {}: {e}", delivery.job.id);
                }
            }
            Ok(None) => {}
            Err(e) => {
                // Redis down: wait and try again, never spin.
                count_error("queue", "unavailable");
                tracing::warn!("ingest queue: {e}; retrying in {backoff:?}");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// `ragtrace-ingest worker`: the Redis stream, `/metrics`, until SIGINT/SIGTERM.
pub async fn run_standalone(
    settings: &Settings,
    metrics_addr: Option<String>,
    stop: CancellationToken,
) -> anyhow::Result<std::process::ExitCode> {
    let url = settings.cache.url.expose_secret().to_owned();
    anyhow::ensure!(
        !url.is_empty(),
        "the worker consumes a Redis stream: set REDIS_URL (e.g. redis://127.0.0.1:6379/0)"
    );
    let mut ingest = settings.ingest.clone();
    ingest.queue = QueueBackend::Redis;
    let consumer = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("worker-{}", std::process::id()));
    let queue = ingest.build_queue(&settings.cache.url, &consumer, None)?;
    queue
        .prepare()
        .await
        .context("cannot create the consumer group")?;
    let built = crate::setup::build(settings).await?;
    let addr = metrics_addr.unwrap_or_else(|| settings.ingest.metrics_addr.clone());
    let (handle, bound) = serve_metrics(&addr)?;
    println!(
        "ragtrace-ingest worker: consuming stream {} (group {}, consumer {}) on {}; LLM at {}; vector store {}; metrics on http://{}/metrics",
        settings.ingest.stream,
        settings.ingest.group,
        consumer,
        redact_url(&url),
        built.upstreams.llm,
        built.ingestor.store().describe(),
        bound,
    );
    run_loop(queue, built.ingestor, stop).await;
    tracing::info!("worker stopped");
    handle.stop(true).await;
    built.upstreams.stop(false).await;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Serves `/metrics` (and `/healthz`) on `addr` until the handle stops it; returns the handle
/// and the address bound.
pub fn serve_metrics(
    addr: &str,
) -> anyhow::Result<(actix_web::dev::ServerHandle, std::net::SocketAddr)> {
    let server = actix_web::HttpServer::new(|| {
        actix_web::App::new()
            .route(
                "/metrics",
                actix_web::web::get().to(|| async {
                    ragtrace_core::metrics::update_resident_memory();
                    actix_web::HttpResponse::Ok()
                        .content_type(ragtrace_core::metrics::EXPOSITION_CONTENT_TYPE)
                        .body(ragtrace_core::metrics::render())
                }),
            )
            .route(
                "/healthz",
                actix_web::web::get().to(|| async { actix_web::HttpResponse::Ok().body("ok") }),
            )
    })
    .workers(1)
    .disable_signals()
    .bind(addr)
    .with_context(|| format!("cannot listen on {addr} for /metrics"))?;
    let bound = server
        .addrs()
        .first()
        .copied()
        .context("no address bound")?;
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Ok((handle, bound))
}
