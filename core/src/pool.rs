//! A measured connection limit: at most `size` operations at once, callers beyond it queue, and
//! every wait is timed.
//!
//! Both vector-store adapters run their operations through one of these, so "the vector store's
//! connection limit saturates" (case study 2) is a real queue with real waits, visible in
//! `ragtrace_pool_*` metrics and in the `ragtrace.pool.wait_seconds` span attribute.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::semconv::metric;

/// Snapshot of a pool, for `/readyz` and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PoolStatus {
    /// Configured size: the most operations that can run at once.
    pub size: usize,
    /// Connections in use now; at `size`, new callers queue.
    pub in_use: usize,
    /// Callers waiting for one.
    pub waiting: usize,
}

/// The wait for a slot took longer than the pool's timeout.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "no free {pool} connection within {waited_ms} ms ({size} in use); raise the pool size or lower the load"
)]
pub struct PoolTimeout {
    /// Which limit timed out (`vector_store`): the `pool` label of the `ragtrace_pool_*` metrics.
    pub pool: &'static str,
    /// How long the caller waited.
    pub waited_ms: u64,
    /// Pool size, all of it in use, so the message can suggest raising it.
    pub size: usize,
}

/// A limit of concurrent operations with wait-time measurement. Its size can change at run
/// time ([`ConnectionLimit::resize`]): case study 2's fix is applied to a running app.
#[derive(Debug, Clone)]
pub struct ConnectionLimit {
    name: &'static str,
    size: Arc<AtomicUsize>,
    timeout: Duration,
    sem: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
}

/// A held slot; releasing it (drop) updates the in-use gauge.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    limit: ConnectionLimit,
    /// How long the caller waited for this slot.
    pub waited: Duration,
}

impl Drop for Slot {
    fn drop(&mut self) {
        // The permit is released after this body runs; count it as free already.
        let in_use = self.limit.in_use().saturating_sub(1);
        crate::metrics::gauge(&metric::POOL_IN_USE, [self.limit.name]).set(in_use as f64);
    }
}

impl ConnectionLimit {
    /// A limit of `size` concurrent operations named `name` (the `pool` metric label).
    pub fn new(name: &'static str, size: usize, timeout: Duration) -> Self {
        let size = size.max(1);
        crate::metrics::gauge(&metric::POOL_SIZE, [name]).set(size as f64);
        crate::metrics::gauge(&metric::POOL_IN_USE, [name]).set(0.0);
        crate::metrics::gauge(&metric::POOL_WAITING, [name]).set(0.0);
        Self {
            name,
            size: Arc::new(AtomicUsize::new(size)),
            timeout,
            sem: Arc::new(Semaphore::new(size)),
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Waits for a free slot, at most the pool's timeout.
    pub async fn acquire(&self) -> Result<Slot, PoolTimeout> {
        let start = Instant::now();
        let waiting = self.waiting.fetch_add(1, Ordering::AcqRel) + 1;
        crate::metrics::gauge(&metric::POOL_WAITING, [self.name]).set(waiting as f64);
        let permit = tokio::time::timeout(self.timeout, self.sem.clone().acquire_owned()).await;
        let waiting = self.waiting.fetch_sub(1, Ordering::AcqRel) - 1;
        crate::metrics::gauge(&metric::POOL_WAITING, [self.name]).set(waiting as f64);
        let waited = start.elapsed();
        crate::metrics::histogram(&metric::POOL_WAIT_DURATION, [self.name])
            .record(waited.as_secs_f64());
        match permit {
            Ok(Ok(permit)) => {
                crate::metrics::gauge(&metric::POOL_IN_USE, [self.name]).set(self.in_use() as f64);
                Ok(Slot {
                    _permit: permit,
                    limit: self.clone(),
                    waited,
                })
            }
            // The semaphore is never closed, so only the timeout can end the wait early.
            Ok(Err(_)) | Err(_) => Err(PoolTimeout {
                pool: self.name,
                waited_ms: waited.as_millis() as u64,
                size: self.size(),
            }),
        }
    }

    /// The most operations that can run at once now.
    pub fn size(&self) -> usize {
        self.size.load(Ordering::Acquire)
    }

    fn in_use(&self) -> usize {
        self.size().saturating_sub(self.sem.available_permits())
    }

    /// Changes the size to `size` (at least 1). Growing frees slots at once; shrinking takes
    /// free slots away at once and the rest as operations in flight finish, so nothing running
    /// is cut short.
    pub fn resize(&self, size: usize) {
        let size = size.max(1);
        let old = self.size.swap(size, Ordering::AcqRel);
        if size > old {
            self.sem.add_permits(size - old);
        } else if size < old {
            let owed = old - size;
            let taken = self.sem.forget_permits(owed);
            if taken < owed {
                let sem = self.sem.clone();
                let rest = u32::try_from(owed - taken).unwrap_or(u32::MAX);
                tokio::spawn(async move {
                    if let Ok(permits) = sem.acquire_many_owned(rest).await {
                        permits.forget();
                    }
                });
            }
        }
        crate::metrics::gauge(&metric::POOL_SIZE, [self.name]).set(size as f64);
    }

    /// Current size, use and queue.
    pub fn status(&self) -> PoolStatus {
        PoolStatus {
            size: self.size(),
            in_use: self.in_use(),
            waiting: self.waiting.load(Ordering::Acquire),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Callers beyond the size queue, are counted as waiting, and time out with a clear error.
    #[tokio::test(start_paused = true)]
    async fn queues_beyond_size_and_times_out() {
        let pool = ConnectionLimit::new("test", 2, Duration::from_millis(100));
        let a = pool.acquire().await.unwrap();
        let _b = pool.acquire().await.unwrap();
        assert_eq!(
            pool.status(),
            PoolStatus {
                size: 2,
                in_use: 2,
                waiting: 0
            }
        );

        let p2 = pool.clone();
        let waiter = tokio::spawn(async move { p2.acquire().await });
        tokio::task::yield_now().await;
        assert_eq!(pool.status().waiting, 1);
        tokio::time::advance(Duration::from_millis(40)).await;
        drop(a);
        let slot = waiter.await.unwrap().unwrap();
        assert!(
            slot.waited >= Duration::from_millis(40),
            "{:?}",
            slot.waited
        );

        // Both slots are held now; the next caller times out.
        let err = pool.acquire().await.unwrap_err();
        assert_eq!(err.waited_ms, 100);
        assert!(err.to_string().contains("raise the pool size"));
    }

    /// A resize takes effect for the next caller: growing lets a queued caller in, shrinking
    /// holds new callers back until the operations in flight finish.
    #[tokio::test(start_paused = true)]
    async fn resizes_at_run_time() {
        let pool = ConnectionLimit::new("test-resize", 1, Duration::from_millis(100));
        let a = pool.acquire().await.unwrap();
        assert!(pool.acquire().await.is_err(), "a pool of 1 is full");
        pool.resize(3);
        let b = pool.acquire().await.unwrap();
        let c = pool.acquire().await.unwrap();
        assert_eq!(pool.status().in_use, 3);
        pool.resize(1);
        assert_eq!(pool.status().size, 1);
        drop((a, b));
        tokio::task::yield_now().await;
        assert!(
            pool.acquire().await.is_err(),
            "one operation still runs, and the pool is 1 now"
        );
        drop(c);
        tokio::task::yield_now().await;
        assert!(pool.acquire().await.is_ok(), "the last slot is free again");
    }
}
