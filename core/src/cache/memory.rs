//! In-process LRU cache with per-entry TTL.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use lru::LruCache;
use tokio::time::Instant;

use super::{Cache, CacheError};
use crate::pool::PoolStatus;

/// The embedded cache. Entries expire after their TTL and the least recently used entry goes
/// first when the cache is full.
#[derive(Debug)]
pub struct MemoryCache {
    // `LruCache::get` reorders entries, so even reads need exclusive access; the lock is never
    // held across an await.
    entries: Mutex<LruCache<String, (Instant, String)>>,
    capacity: usize,
}

impl MemoryCache {
    /// A cache of at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        let cap = NonZeroUsize::new(capacity.max(1)).expect("max(1) is non-zero");
        Self {
            entries: Mutex::new(LruCache::new(cap)),
            capacity: cap.get(),
        }
    }

    /// Entries held (expired ones included until they are touched or evicted).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, (Instant, String)>> {
        // A panic while holding the lock cannot leave an LruCache half-updated in a way that
        // matters for a cache; keep serving.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Cache for MemoryCache {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn describe(&self) -> String {
        format!("in-process LRU, {} entries", self.capacity)
    }

    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some((expires, value)) if *expires > Instant::now() => Ok(Some(value.clone())),
            Some(_) => {
                entries.pop(key);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        self.lock()
            .put(key.to_owned(), (Instant::now() + ttl, value.to_owned()));
        Ok(())
    }

    async fn health(&self) -> Result<(), CacheError> {
        Ok(())
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries expire after their TTL.
    #[tokio::test(start_paused = true)]
    async fn entries_expire() {
        let c = MemoryCache::new(10);
        c.set("k", "v", Duration::from_secs(60)).await.unwrap();
        assert_eq!(c.get("k").await.unwrap().as_deref(), Some("v"));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(c.get("k").await.unwrap(), None);
        assert!(c.is_empty(), "expired entry is removed on access");
    }

    /// The least recently used entry is evicted at capacity.
    #[tokio::test]
    async fn evicts_least_recently_used() {
        let c = MemoryCache::new(2);
        let ttl = Duration::from_secs(60);
        c.set("a", "1", ttl).await.unwrap();
        c.set("b", "2", ttl).await.unwrap();
        c.get("a").await.unwrap(); // a is now the most recent
        c.set("c", "3", ttl).await.unwrap();
        assert_eq!(c.get("b").await.unwrap(), None);
        assert_eq!(c.get("a").await.unwrap().as_deref(), Some("1"));
        assert_eq!(c.get("c").await.unwrap().as_deref(), Some("3"));
    }
}
