//! Ingest jobs and the queues that carry them from `POST /v1/documents` to a worker, one trait
//! and two adapters, shaped like `cache/`:
//!
//! - [`memory::MemoryQueue`]: in-process; the app runs the worker itself (the embedded default).
//! - [`redis::RedisQueue`]: a Redis stream with a consumer group, consumed by
//!   `ragtrace-ingest worker` processes (the compose stack).
//!
//! The queue hop is traced here too: [`send`] enqueues a job inside a producer span whose W3C
//! context the job carries, and [`consumer_span`] continues that trace in the worker, so an
//! upload and its processing are one trace across the asynchronous hop.

pub mod memory;
pub mod redis;

pub use memory::MemoryQueue;
pub use redis::RedisQueue;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use secrecy::{ExposeSecret as _, SecretString};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::config::{IngestSettings, QueueBackend};
use crate::semconv::{attr, metric, span};

/// A document format ragtrace can ingest.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[schema(as = DocumentFormat)]
pub enum Format {
    /// `.md`, `.markdown` or `text/markdown`: chunked by the Markdown-aware splitter.
    Markdown,
    /// `.txt`, `.text` or `text/plain`: must be UTF-8, chunked as plain text.
    Text,
    /// `.html`, `.htm` or `text/html`: converted to plain text; its `<title>` names the document.
    Html,
    /// `.pdf` or `application/pdf`: its text is extracted; uploads must start with `%PDF-`.
    Pdf,
}

impl Format {
    /// The format of `path` by its extension, `None` for anything else.
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "md" | "markdown" => Some(Self::Markdown),
            "txt" | "text" => Some(Self::Text),
            "html" | "htm" => Some(Self::Html),
            "pdf" => Some(Self::Pdf),
            _ => None,
        }
    }

    /// The format of a MIME type (`text/markdown`, `text/plain`, `text/html`, `application/pdf`).
    pub fn from_mime(mime: &str) -> Option<Self> {
        let essence = mime.split(';').next().unwrap_or("").trim();
        match essence.to_ascii_lowercase().as_str() {
            "text/markdown" | "text/x-markdown" => Some(Self::Markdown),
            "text/plain" => Some(Self::Text),
            "text/html" => Some(Self::Html),
            "application/pdf" => Some(Self::Pdf),
            _ => None,
        }
    }

    /// Lower-case name, as in JSON and on the `ragtrace.ingest.format` span attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Markdown => "markdown",
            Self::Text => "text",
            Self::Html => "html",
            Self::Pdf => "pdf",
        }
    }
}

/// A document to ingest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The job's id: what `POST /v1/documents` answers and `GET /v1/documents/{id}` looks up.
    pub id: Uuid,
    /// Source name the points are filed under (`uploads/notes.md`).
    pub source: String,
    /// Format of `content`, from the upload's MIME type or extension; it picks the extractor.
    pub format: Format,
    /// The file's bytes (base64 in JSON).
    #[serde(with = "b64")]
    pub content: Vec<u8>,
    /// `traceparent` of the span that enqueued the job.
    pub traceparent: Option<String>,
    /// W3C `tracestate`, restored with `traceparent` in the worker; [`send`] leaves it `None`.
    pub tracestate: Option<String>,
    /// Unix time of submission, milliseconds.
    pub submitted_at_ms: u64,
}

mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = JobState)]
pub enum State {
    /// Waiting for a worker.
    Queued,
    /// A worker has taken the job and is extracting, embedding and storing its chunks.
    Running,
    /// Ingested: the chunk counts are final and the chunks are stored.
    Done,
    /// Gave up on the document; `error` says why and `cause` classifies it.
    Failed,
}

/// A job's status, as `GET /v1/documents/{id}` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobStatus {
    /// The job's id, as `POST /v1/documents` answered it.
    pub id: Uuid,
    /// Where the job is; poll until it is `done` or `failed`.
    pub status: State,
    /// The source name the document's chunks are filed under (`uploads/notes.md`).
    pub source: String,
    /// Chunks the document has (when done).
    pub chunks: usize,
    /// Chunks embedded and written by this job: new, or changed since the last upload.
    pub upserted: usize,
    /// Chunks already stored with the same document hash, so not embedded again.
    pub skipped: usize,
    /// Chunks of an earlier version no longer produced, deleted once the new ones were stored.
    pub deleted: usize,
    /// The failure as a sentence for people, when `status` is `failed`; `cause` is for code.
    pub error: Option<String>,
    /// Short cause of the failure (`corrupt_pdf`, `empty`, ...).
    pub cause: Option<String>,
    /// Trace of the upload (and of the processing, which joins it).
    pub trace_id: Option<String>,
    /// When the job was enqueued, Unix milliseconds; the worker's queue wait counts from it.
    pub submitted_at_ms: u64,
    /// When the worker finished (done or failed), Unix milliseconds; `None` until then.
    pub finished_at_ms: Option<u64>,
}

impl JobStatus {
    /// The status of a job just enqueued.
    pub fn queued(job: &Job) -> Self {
        Self {
            id: job.id,
            status: State::Queued,
            source: job.source.clone(),
            chunks: 0,
            upserted: 0,
            skipped: 0,
            deleted: 0,
            error: None,
            cause: None,
            trace_id: job
                .traceparent
                .as_deref()
                .and_then(|tp| tp.split('-').nth(1))
                .map(str::to_owned),
            submitted_at_ms: job.submitted_at_ms,
            finished_at_ms: None,
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Why a job could not be enqueued, taken or recorded; `POST /v1/documents` answers 503.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The in-process queue is full.
    #[error("the ingest queue is full ({0} jobs waiting); retry later")]
    Full(usize),
    /// A Redis connection or command failed (the `redis` backend); its `kind` is `unavailable`.
    #[error("the ingest queue (Redis) failed: {0}")]
    Redis(String),
    /// A job could not be encoded or decoded.
    #[error("invalid job: {0}")]
    Invalid(String),
    /// The in-process queue could not write an accepted job to disk.
    #[error("the ingest queue cannot write to disk: {0}")]
    Disk(String),
}

/// A job handed to a worker, to acknowledge once processed.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The job as enqueued, with the trace context the consumer span continues.
    pub job: Job,
    /// Queue-specific receipt (the Redis stream entry id).
    pub receipt: String,
}

/// A job queue with a status table.
#[async_trait]
pub trait JobQueue: Send + Sync + std::fmt::Debug {
    /// `memory` or `redis`: the `messaging.system` attribute of the queue spans.
    fn backend(&self) -> &'static str;
    /// Where jobs wait and who takes them, for the start-up banner (never a password).
    fn describe(&self) -> String;
    /// Adds a job (and its `queued` status).
    async fn enqueue(&self, job: Job) -> Result<(), QueueError>;
    /// The next job, waiting up to `wait`; `None` when there is none yet.
    async fn next(&self, wait: Duration) -> Result<Option<Delivery>, QueueError>;
    /// Marks a delivered job as processed (it will not be delivered again).
    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError>;
    /// Records a job's status.
    async fn set_status(&self, status: &JobStatus) -> Result<(), QueueError>;
    /// A job's status, if known.
    async fn status(&self, id: Uuid) -> Result<Option<JobStatus>, QueueError>;
    /// Gets the queue ready to take jobs (the Redis consumer group); safe to call again.
    async fn prepare(&self) -> Result<(), QueueError>;
}

impl Job {
    /// A new job for the document `source`, submitted now. Its trace context is set by [`send`].
    pub fn new(source: String, format: Format, content: Vec<u8>) -> Self {
        Self {
            id: Uuid::new_v4(),
            source,
            format,
            content,
            traceparent: None,
            tracestate: None,
            submitted_at_ms: now_ms(),
        }
    }

    /// The job's trace context as headers, for extraction on the consumer side.
    fn carrier(&self) -> http::HeaderMap {
        let mut carrier = http::HeaderMap::new();
        for (k, v) in [
            ("traceparent", &self.traceparent),
            ("tracestate", &self.tracestate),
        ] {
            if let Some(v) = v
                .as_deref()
                .and_then(|v| http::HeaderValue::from_str(v).ok())
            {
                carrier.insert(k, v);
            }
        }
        carrier
    }
}

/// Enqueues `job` inside a producer span (`send ragtrace.ingest`) whose context the job carries,
/// and counts it. Returns the job's first status.
pub async fn send(queue: &dyn JobQueue, mut job: Job) -> Result<JobStatus, QueueError> {
    let span = tracing::info_span!(
        "queue.send",
        { attr::OTEL_NAME } = span::INGEST_SEND,
        { attr::OTEL_KIND } = "producer",
        { attr::MESSAGING_SYSTEM } = queue.backend(),
        { attr::MESSAGING_OPERATION_TYPE } = "send",
        { attr::MESSAGING_OPERATION_NAME } = "send",
        { attr::MESSAGING_DESTINATION_NAME } = span::INGEST_DESTINATION,
        { attr::MESSAGING_MESSAGE_ID } = %job.id,
        { attr::INGEST_SOURCE } = job.source.as_str(),
        { attr::INGEST_BYTES } = job.content.len() as i64,
        { attr::ERROR_TYPE } = tracing::field::Empty,
        { attr::OTEL_STATUS_CODE } = tracing::field::Empty,
        { attr::OTEL_STATUS_DESCRIPTION } = tracing::field::Empty,
    );
    job.traceparent = crate::telemetry::traceparent_of(&span);
    let status = JobStatus::queued(&job);
    if let Err(e) = queue.enqueue(job).instrument(span.clone()).await {
        crate::telemetry::mark_failed(&span, e.kind(), &e.to_string());
        return Err(e);
    }
    crate::metrics::counter(&metric::INGEST_JOBS_TOTAL, ["queued"]).increment(1);
    Ok(status)
}

/// The consumer span of a delivered job (`process ragtrace.ingest`): the upload's trace
/// continues here, as a child of the producer span the job carries.
pub fn consumer_span(queue: &dyn JobQueue, job: &Job) -> tracing::Span {
    // Made as a trace's first span here, whatever span is current, so that the span is recorded
    // or not by the sampler's answer for the trace it continues.
    let span = crate::telemetry::new_trace(|| {
        tracing::info_span!(
            parent: None,
            "queue.process",
            { attr::OTEL_NAME } = span::INGEST_PROCESS,
            { attr::OTEL_KIND } = "consumer",
            { attr::MESSAGING_SYSTEM } = queue.backend(),
            { attr::MESSAGING_OPERATION_TYPE } = "process",
            { attr::MESSAGING_OPERATION_NAME } = "process",
            { attr::MESSAGING_DESTINATION_NAME } = span::INGEST_DESTINATION,
            { attr::MESSAGING_MESSAGE_ID } = %job.id,
            { attr::INGEST_SOURCE } = job.source.as_str(),
            { attr::INGEST_QUEUE_WAIT_MS } = now_ms().saturating_sub(job.submitted_at_ms) as i64,
            { attr::ERROR_TYPE } = tracing::field::Empty,
            { attr::OTEL_STATUS_CODE } = tracing::field::Empty,
            { attr::OTEL_STATUS_DESCRIPTION } = tracing::field::Empty,
        )
    });
    let _ = span.set_parent(crate::telemetry::extract(&job.carrier()));
    span
}

impl QueueError {
    /// A short class for `error.type` and the ingest `cause` label.
    pub fn kind(&self) -> &'static str {
        match self {
            QueueError::Full(_) => "full",
            QueueError::Redis(_) => "unavailable",
            QueueError::Invalid(_) => "invalid",
            QueueError::Disk(_) => "disk",
        }
    }
}

impl IngestSettings {
    /// The configured job queue: in-process, or the Redis stream at `redis_url`, read as
    /// `consumer` of the workers' group. Redis connections open lazily: call
    /// [`JobQueue::prepare`] to find out whether the server answers.
    /// The in-process queue keeps its jobs and statuses under `dir` when given, so that an
    /// accepted upload survives a crash.
    pub fn build_queue(
        &self,
        redis_url: &SecretString,
        consumer: &str,
        dir: Option<&std::path::Path>,
    ) -> Result<Arc<dyn JobQueue>, QueueError> {
        Ok(match self.queue {
            QueueBackend::Memory => match dir {
                Some(dir) => Arc::new(MemoryQueue::durable(self.queue_capacity, dir)?),
                None => Arc::new(MemoryQueue::new(self.queue_capacity)),
            },
            QueueBackend::Redis => Arc::new(RedisQueue::new(
                redis_url.expose_secret(),
                &self.stream,
                &self.group,
                consumer,
                self.job_ttl_secs,
            )?),
        })
    }
}

/// Decodes base64 text (for JSON uploads).
pub fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| e.to_string())
}
