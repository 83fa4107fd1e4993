//! The in-process queue: the app's own worker task takes the jobs (the embedded default).
//!
//! With a directory ([`MemoryQueue::durable`], the app's data dir), a job is written to disk
//! (its bytes included, fsynced) before `enqueue` returns, so a 202 means the upload survives a
//! crash; it is deleted once processed (`ack`). Statuses are written too. At start, the jobs
//! left on disk are queued again and the statuses read back: after `kill -9`, every accepted
//! id still reaches `done`. Processing a job twice is harmless: ingestion is idempotent.
//!
//! ```text
//! DIR/jobs/<id>.json     accepted, not yet processed (the Job, content in base64)
//! DIR/status/<id>.json   the job's last status
//! ```

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use super::{Delivery, Job, JobQueue, JobStatus, QueueError};

/// The in-process queue: jobs wait in memory, and also on disk when it is durable.
#[derive(Debug)]
pub struct MemoryQueue {
    jobs: Mutex<VecDeque<Job>>,
    notify: tokio::sync::Notify,
    statuses: Mutex<HashMap<Uuid, JobStatus>>,
    order: Mutex<VecDeque<Uuid>>,
    capacity: usize,
    /// Where accepted jobs and statuses are kept, when durable.
    dir: Option<PathBuf>,
}

/// Statuses the in-process queue remembers at most (oldest forgotten first).
const MEMORY_STATUSES: usize = 10_000;

impl MemoryQueue {
    /// A queue holding at most `capacity` waiting jobs.
    /// Jobs and statuses live only in this process: a restart loses both.
    pub fn new(capacity: usize) -> Self {
        Self {
            jobs: Mutex::new(VecDeque::new()),
            notify: tokio::sync::Notify::new(),
            statuses: Mutex::new(HashMap::new()),
            order: Mutex::new(VecDeque::new()),
            capacity,
            dir: None,
        }
    }

    /// A queue kept under `dir`: the statuses and the jobs left there by an earlier process are
    /// read back, and those jobs queued again (a job that was running when the process died is
    /// `queued` again).
    pub fn durable(capacity: usize, dir: &Path) -> Result<Self, QueueError> {
        let disk = |e: std::io::Error| QueueError::Disk(format!("{}: {e}", dir.display()));
        for sub in ["jobs", "status"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(disk)?;
        }
        let mut q = Self::new(capacity);
        q.dir = Some(dir.to_path_buf());
        let mut statuses: Vec<JobStatus> = read_all(&dir.join("status"));
        statuses.sort_by_key(|s| s.submitted_at_ms);
        for s in statuses {
            q.remember(&s);
        }
        let mut jobs: Vec<Job> = read_all(&dir.join("jobs"));
        jobs.sort_by_key(|j| j.submitted_at_ms);
        if !jobs.is_empty() {
            tracing::info!(
                "ingest queue: resuming {} accepted upload(s) from {}",
                jobs.len(),
                dir.display()
            );
        }
        for job in jobs {
            let status = JobStatus::queued(&job);
            q.remember(&status);
            q.write("status", status.id, &status)?;
            lock(&q.jobs).push_back(job);
        }
        Ok(q)
    }

    /// Writes `value` as `DIR/{sub}/{id}.json`, atomically and durably (temp file, fsync,
    /// rename, fsync of the folder); nothing when the queue is not durable.
    fn write<T: serde::Serialize>(&self, sub: &str, id: Uuid, value: &T) -> Result<(), QueueError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let json = serde_json::to_vec(value).map_err(|e| QueueError::Invalid(e.to_string()))?;
        write_file(&dir.join(sub), id, &json)
    }

    /// [`Self::write`] on the blocking pool, for the async methods (an upload is megabytes, and
    /// fsync waits for the disk).
    async fn write_async<T: serde::Serialize>(
        &self,
        sub: &str,
        id: Uuid,
        value: &T,
    ) -> Result<(), QueueError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let json = serde_json::to_vec(value).map_err(|e| QueueError::Invalid(e.to_string()))?;
        let folder = dir.join(sub);
        tokio::task::spawn_blocking(move || write_file(&folder, id, &json))
            .await
            .map_err(|e| QueueError::Disk(e.to_string()))?
    }

    fn forget(&self, sub: &str, id: Uuid) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_file(dir.join(sub).join(format!("{id}.json")));
        }
    }
}

fn write_file(folder: &Path, id: Uuid, bytes: &[u8]) -> Result<(), QueueError> {
    let write = || -> std::io::Result<()> {
        use std::io::Write as _;
        let tmp = folder.join(format!(".{id}.tmp"));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, folder.join(format!("{id}.json")))?;
        std::fs::File::open(folder)?.sync_all()
    };
    write().map_err(|e| QueueError::Disk(format!("{}: {e}", folder.display())))
}

/// Every `*.json` under `folder` that parses as `T` (a file that does not, left by a crash
/// mid-write, is skipped: the rename that would have published it never happened).
fn read_all<T: serde::de::DeserializeOwned>(folder: &Path) -> Vec<T> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .collect()
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
            let jobs = lock(&self.jobs);
            if jobs.len() >= self.capacity {
                return Err(QueueError::Full(jobs.len()));
            }
        }
        let status = JobStatus::queued(&job);
        // On disk before the caller is told it is accepted.
        self.write_async("jobs", job.id, &job).await?;
        self.write_async("status", status.id, &status).await?;
        self.remember(&status);
        lock(&self.jobs).push_back(job);
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

    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError> {
        self.forget("jobs", delivery.job.id);
        Ok(())
    }

    async fn set_status(&self, status: &JobStatus) -> Result<(), QueueError> {
        self.write_async("status", status.id, status).await?;
        self.remember(status);
        Ok(())
    }

    async fn status(&self, id: Uuid) -> Result<Option<JobStatus>, QueueError> {
        Ok(lock(&self.statuses).get(&id).cloned())
    }

    async fn prepare(&self) -> Result<(), QueueError> {
        Ok(())
    }
}

impl MemoryQueue {
    /// Keeps `status` in memory; beyond [`MEMORY_STATUSES`], the oldest is forgotten (on disk
    /// too).
    fn remember(&self, status: &JobStatus) {
        let mut statuses = lock(&self.statuses);
        if statuses.insert(status.id, status.clone()).is_none() {
            let mut order = lock(&self.order);
            order.push_back(status.id);
            while order.len() > MEMORY_STATUSES {
                if let Some(old) = order.pop_front() {
                    statuses.remove(&old);
                    self.forget("status", old);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{Format, State};

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

    /// A durable queue's accepted jobs and statuses outlive it: a new queue over the same
    /// folder delivers the jobs not yet acknowledged (a running one again) and knows every
    /// status; an acknowledged job is not delivered again.
    #[tokio::test]
    async fn durable_queue_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let q = MemoryQueue::durable(10, dir.path()).unwrap();
        for n in 1..=3 {
            q.enqueue(job(n)).await.unwrap();
        }
        let first = q.next(Duration::from_millis(10)).await.unwrap().unwrap();
        let mut done = JobStatus::queued(&first.job);
        done.status = State::Done;
        q.set_status(&done).await.unwrap();
        q.ack(&first).await.unwrap();
        let second = q.next(Duration::from_millis(10)).await.unwrap().unwrap();
        let mut running = JobStatus::queued(&second.job);
        running.status = State::Running;
        q.set_status(&running).await.unwrap();
        drop(q); // the process dies here, job 2 half done, job 3 waiting

        let q = MemoryQueue::durable(10, dir.path()).unwrap();
        let s = |n| {
            let q = &q;
            async move { q.status(job(n).id).await.unwrap().unwrap().status }
        };
        assert_eq!(s(1).await, State::Done);
        assert_eq!(s(2).await, State::Queued, "a running job is queued again");
        assert_eq!(s(3).await, State::Queued);
        let again: Vec<Uuid> = [
            q.next(Duration::from_millis(10)).await.unwrap().unwrap(),
            q.next(Duration::from_millis(10)).await.unwrap().unwrap(),
        ]
        .iter()
        .map(|d| d.job.id)
        .collect();
        assert_eq!(again, [job(2).id, job(3).id]);
        assert_eq!(
            q.next(Duration::from_millis(10))
                .await
                .unwrap()
                .map(|d| d.job.id),
            None
        );
        // Bytes intact.
        let dir2 = tempfile::tempdir().unwrap();
        let q = MemoryQueue::durable(10, dir2.path()).unwrap();
        q.enqueue(job(7)).await.unwrap();
        drop(q);
        let q = MemoryQueue::durable(10, dir2.path()).unwrap();
        assert_eq!(
            q.next(Duration::from_millis(10))
                .await
                .unwrap()
                .unwrap()
                .job,
            job(7)
        );
    }
}
