//! A Redis stream with a consumer group, consumed by `ragtrace-ingest worker` processes.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::redis;
use uuid::Uuid;

use super::{Delivery, Job, JobQueue, JobStatus, QueueError};

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
            location: crate::config::redact_url(url),
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
    async fn ensure_group(&self) -> Result<(), QueueError> {
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

    async fn prepare(&self) -> Result<(), QueueError> {
        self.ensure_group().await
    }
}
