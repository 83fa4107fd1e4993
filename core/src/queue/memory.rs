//! The in-process queue: the app's own worker task takes the jobs (the embedded default).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use super::{Delivery, Job, JobQueue, JobStatus, QueueError};

/// The in-process queue: jobs and statuses live only in this process, so a restart loses both.
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

    async fn prepare(&self) -> Result<(), QueueError> {
        Ok(())
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
}
