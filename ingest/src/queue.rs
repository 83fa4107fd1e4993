//! Ingest jobs and the queues that carry them from `POST /v1/documents` to a worker: in-process
//! (the app runs the worker) or a Redis stream with a consumer group (`ragtrace-ingest worker`,
//! the compose stack). A job carries the W3C trace context of the request that made it, so the
//! upload and its processing are one trace across the asynchronous hop.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine as _;
use deadpool_redis::redis;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::extract::Format;

/// A document to ingest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Job id.
    pub id: Uuid,
    /// Source name the points are filed under (`uploads/notes.md`).
    pub source: String,
    /// Format of `content`.
    pub format: Format,
    /// The file's bytes (base64 in JSON).
    #[serde(with = "b64")]
    pub content: Vec<u8>,
    /// `traceparent` of the span that enqueued the job.
    pub traceparent: Option<String>,
    /// `tracestate`, if any.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for a worker.
    Queued,
    /// Being ingested.
    Running,
    /// Ingested.
    Done,
    /// Failed; see `error`.
    Failed,
}

/// A job's status, as `GET /v1/documents/{id}` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    /// Job id.
    pub id: Uuid,
    /// State.
    pub status: State,
    /// Source name.
    pub source: String,
    /// Chunks the document has (when done).
    pub chunks: usize,
    /// Chunks written.
    pub upserted: usize,
    /// Chunks already stored.
    pub skipped: usize,
    /// Stale chunks removed.
    pub deleted: usize,
    /// Why it failed.
    pub error: Option<String>,
    /// Short cause of the failure (`corrupt_pdf`, `empty`, ...).
    pub cause: Option<String>,
    /// Trace of the upload (and of the processing, which joins it).
    pub trace_id: Option<String>,
    /// Unix time, milliseconds.
    pub submitted_at_ms: u64,
    /// Unix time, milliseconds.
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

/// Queue errors.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The in-process queue is full.
    #[error("the ingest queue is full ({0} jobs waiting); retry later")]
    Full(usize),
    /// Redis failed.
    #[error("the ingest queue (Redis) failed: {0}")]
    Redis(String),
    /// A job could not be encoded or decoded.
    #[error("invalid job: {0}")]
    Invalid(String),
}

/// A job handed to a worker, to acknowledge once processed.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The job.
    pub job: Job,
    /// Queue-specific receipt (the Redis stream entry id).
    pub receipt: String,
}

/// A job queue with a status table.
#[async_trait]
pub trait JobQueue: Send + Sync + std::fmt::Debug {
    /// `memory` or `redis`.
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
}

/// The in-process queue.
#[derive(Debug)]
pub struct MemoryQueue {
    jobs: Mutex<VecDeque<Job>>,
    notify: tokio::sync::Notify,
    statuses: Mutex<HashMap<Uuid, JobStatus>>,
    order: Mutex<VecDeque<Uuid>>,
    capacity: usize,
}

/// Statuses the in-process queue remembers at most (oldest forgotten first).
const MEMORY_STATUSES: usize = 10_000;

impl MemoryQueue {
    /// A queue holding at most `capacity` waiting jobs.
    pub fn new(capacity: usize) -> Self {
        Self {
            jobs: Mutex::new(VecDeque::new()),
            notify: tokio::sync::Notify::new(),
            statuses: Mutex::new(HashMap::new()),
            order: Mutex::new(VecDeque::new()),
            capacity,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[async_trait]
impl JobQueue for MemoryQueue {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn describe(&self) -> String {
        "in-process queue and worker (POST /v1/documents)".to_owned()
    }

    async fn enqueue(&self, job: Job) -> Result<(), QueueError> {
        {
            let mut jobs = lock(&self.jobs);
            if jobs.len() >= self.capacity {
                return Err(QueueError::Full(jobs.len()));
            }
            self.set_status_sync(&JobStatus::queued(&job));
            jobs.push_back(job);
        }
        self.notify.notify_one();
        Ok(())
    }

    async fn next(&self, wait: Duration) -> Result<Option<Delivery>, QueueError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.notify.notified();
            if let Some(job) = lock(&self.jobs).pop_front() {
                return Ok(Some(Delivery {
                    receipt: job.id.to_string(),
                    job,
                }));
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(None);
            }
        }
    }

    async fn ack(&self, _delivery: &Delivery) -> Result<(), QueueError> {
        Ok(())
    }

    async fn set_status(&self, status: &JobStatus) -> Result<(), QueueError> {
        self.set_status_sync(status);
        Ok(())
    }

    async fn status(&self, id: Uuid) -> Result<Option<JobStatus>, QueueError> {
        Ok(lock(&self.statuses).get(&id).cloned())
    }
}

impl MemoryQueue {
    fn set_status_sync(&self, status: &JobStatus) {
        let mut statuses = lock(&self.statuses);
        if statuses.insert(status.id, status.clone()).is_none() {
            let mut order = lock(&self.order);
            order.push_back(status.id);
            while order.len() > MEMORY_STATUSES {
                if let Some(old) = order.pop_front() {
                    statuses.remove(&old);
                }
            }
        }
    }
}

/// A Redis stream with a consumer group: `XADD` to enqueue, `XREADGROUP` to take, `XACK` when
/// processed. A worker that dies mid-job leaves the entry pending; on start it first re-reads
/// its own pending entries, so the job is processed again (ingesting is idempotent).
#[derive(Debug)]
pub struct RedisQueue {
    pool: deadpool_redis::Pool,
    location: String,
    stream: String,
    group: String,
    consumer: String,
    status_ttl_secs: u64,
    pending_checked: std::sync::atomic::AtomicBool,
}

fn redis_err(e: impl std::fmt::Display) -> QueueError {
    QueueError::Redis(e.to_string())
}

impl RedisQueue {
    /// A queue on the Redis at `url`. `consumer` names this worker inside the group.
    pub fn new(
        url: &str,
        stream: &str,
        group: &str,
        consumer: &str,
        status_ttl_secs: u64,
    ) -> Result<Self, QueueError> {
        let mut cfg = deadpool_redis::Config::from_url(url);
        cfg.pool = Some(deadpool_redis::PoolConfig {
            max_size: 4,
            timeouts: deadpool_redis::Timeouts {
                wait: Some(Duration::from_secs(2)),
                create: Some(Duration::from_secs(2)),
                recycle: Some(Duration::from_secs(1)),
            },
            ..Default::default()
        });
        let pool = cfg
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .map_err(redis_err)?;
        Ok(Self {
            pool,
            location: ragtrace_core::config::redact_url(url),
            stream: stream.to_owned(),
            group: group.to_owned(),
            consumer: consumer.to_owned(),
            status_ttl_secs,
            pending_checked: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn status_key(&self, id: Uuid) -> String {
        format!("{}:status:{id}", self.stream)
    }

    async fn conn(&self) -> Result<deadpool_redis::Connection, QueueError> {
        self.pool.get().await.map_err(redis_err)
    }

    /// Creates the consumer group (and the stream) if missing.
    pub async fn ensure_group(&self) -> Result<(), QueueError> {
        let mut c = self.conn().await?;
        let r: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream)
            .arg(&self.group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut c)
            .await;
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.to_string().contains("BUSYGROUP") => Ok(()),
            Err(e) => Err(redis_err(e)),
        }
    }

    async fn read(&self, id: &str, block_ms: u64) -> Result<Option<Delivery>, QueueError> {
        let mut c = self.conn().await?;
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(1);
        if id == ">" {
            cmd.arg("BLOCK").arg(block_ms);
        }
        cmd.arg("STREAMS").arg(&self.stream).arg(id);
        let reply: Option<redis::streams::StreamReadReply> =
            cmd.query_async(&mut c).await.map_err(redis_err)?;
        let Some(entry) = reply
            .and_then(|r| r.keys.into_iter().next())
            .and_then(|k| k.ids.into_iter().next())
        else {
            return Ok(None);
        };
        let payload: Option<String> = entry.get("job");
        let Some(payload) = payload else {
            // Not one of ours: acknowledge it so it is not delivered for ever.
            let _: redis::RedisResult<i64> = redis::cmd("XACK")
                .arg(&self.stream)
                .arg(&self.group)
                .arg(&entry.id)
                .query_async(&mut c)
                .await;
            return Err(QueueError::Invalid(format!(
                "stream entry {} has no job",
                entry.id
            )));
        };
        let job: Job = serde_json::from_str(&payload)
            .map_err(|e| QueueError::Invalid(format!("stream entry {}: {e}", entry.id)))?;
        Ok(Some(Delivery {
            job,
            receipt: entry.id,
        }))
    }
}

#[async_trait]
impl JobQueue for RedisQueue {
    fn backend(&self) -> &'static str {
        "redis"
    }

    fn describe(&self) -> String {
        format!(
            "Redis stream {} at {} for `ragtrace-ingest worker` (POST /v1/documents)",
            self.stream, self.location
        )
    }

    async fn enqueue(&self, job: Job) -> Result<(), QueueError> {
        let payload =
            serde_json::to_string(&job).map_err(|e| QueueError::Invalid(e.to_string()))?;
        self.set_status(&JobStatus::queued(&job)).await?;
        let mut c = self.conn().await?;
        let _: String = redis::cmd("XADD")
            .arg(&self.stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(10_000)
            .arg("*")
            .arg("job")
            .arg(payload)
            .arg("id")
            .arg(job.id.to_string())
            .query_async(&mut c)
            .await
            .map_err(redis_err)?;
        Ok(())
    }

    async fn next(&self, wait: Duration) -> Result<Option<Delivery>, QueueError> {
        // This consumer's pending entries first (a job it took and never acknowledged).
        if !self
            .pending_checked
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            match self.read("0", 0).await? {
                Some(d) => return Ok(Some(d)),
                None => self
                    .pending_checked
                    .store(true, std::sync::atomic::Ordering::Relaxed),
            }
        }
        self.read(">", wait.as_millis().max(1) as u64).await
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError> {
        let mut c = self.conn().await?;
        let _: i64 = redis::cmd("XACK")
            .arg(&self.stream)
            .arg(&self.group)
            .arg(&delivery.receipt)
            .query_async(&mut c)
            .await
            .map_err(redis_err)?;
        Ok(())
    }

    async fn set_status(&self, status: &JobStatus) -> Result<(), QueueError> {
        let json = serde_json::to_string(status).map_err(|e| QueueError::Invalid(e.to_string()))?;
        let mut c = self.conn().await?;
        let _: () = redis::cmd("SET")
            .arg(self.status_key(status.id))
            .arg(json)
            .arg("EX")
            .arg(self.status_ttl_secs.max(1))
            .query_async(&mut c)
            .await
            .map_err(redis_err)?;
        Ok(())
    }

    async fn status(&self, id: Uuid) -> Result<Option<JobStatus>, QueueError> {
        let mut c = self.conn().await?;
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.status_key(id))
            .query_async(&mut c)
            .await
            .map_err(redis_err)?;
        raw.map(|s| serde_json::from_str(&s).map_err(|e| QueueError::Invalid(e.to_string())))
            .transpose()
    }
}

/// Decodes base64 text (for JSON uploads).
pub fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(n: u8) -> Job {
        Job {
            id: Uuid::from_u128(u128::from(n)),
            source: format!("uploads/{n}.md"),
            format: Format::Markdown,
            content: vec![b'#', b' ', b'a' + n],
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            tracestate: None,
            submitted_at_ms: 1,
        }
    }

    /// Jobs come out in order, bytes intact through JSON, statuses readable, capacity enforced.
    #[tokio::test]
    async fn memory_queue_round_trip() {
        let q = MemoryQueue::new(2);
        q.enqueue(job(1)).await.unwrap();
        q.enqueue(job(2)).await.unwrap();
        assert!(matches!(q.enqueue(job(3)).await, Err(QueueError::Full(2))));
        let s = q.status(job(1).id).await.unwrap().unwrap();
        assert_eq!(s.status, State::Queued);
        assert_eq!(
            s.trace_id.as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
        let d = q.next(Duration::from_millis(10)).await.unwrap().unwrap();
        assert_eq!(d.job, job(1));
        let d = q.next(Duration::from_millis(10)).await.unwrap().unwrap();
        assert_eq!(d.job.id, job(2).id);
        assert!(q.next(Duration::from_millis(10)).await.unwrap().is_none());
        let json = serde_json::to_string(&job(4)).unwrap();
        assert_eq!(serde_json::from_str::<Job>(&json).unwrap(), job(4));
    }
}
