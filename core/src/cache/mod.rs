//! The cache: one trait, two adapters.
//!
//! - [`memory::MemoryCache`]: an in-process LRU with TTL (the embedded default).
//! - [`redis::RedisCache`]: Redis through a `deadpool-redis` pool with every timeout set.
//!
//! A cache is an optimisation, never a dependency: callers treat every [`CacheError`] as a miss,
//! count it, and go on.

pub mod memory;
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::config::{CacheBackend, CacheSettings};
use crate::pool::PoolStatus;

/// Errors from a cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The pool had no free connection in time, or a connection could not be made.
    #[error("cache pool: {0}")]
    Pool(String),
    /// The server did not answer in time.
    #[error("cache timed out")]
    Timeout,
    /// The server answered with an error or the connection broke.
    #[error("cache error: {0}")]
    Backend(String),
}

impl CacheError {
    /// Short class for `error.type` and metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            CacheError::Pool(_) => "pool",
            CacheError::Timeout => "timeout",
            CacheError::Backend(_) => "backend",
        }
    }
}

/// A string key/value cache with per-entry TTL.
#[async_trait]
pub trait Cache: Send + Sync + std::fmt::Debug {
    /// `memory` or `redis`: the `ragtrace.cache.backend` span attribute, and in `/readyz`.
    fn backend(&self) -> &'static str;
    /// What this cache is and where it lives, for the start-up banner (never a password).
    fn describe(&self) -> String;
    /// The value under `key`, if present and not expired.
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError>;
    /// Stores `value` under `key` for `ttl`.
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError>;
    /// Whether the cache answers.
    async fn health(&self) -> Result<(), CacheError>;
    /// Pool use (Redis only).
    fn pool_status(&self) -> Option<PoolStatus>;
}

impl CacheSettings {
    /// Builds the configured cache. Redis connections are opened lazily, so this succeeds while
    /// the server is down; `/readyz` and the first request report it.
    pub fn build(&self) -> Result<Arc<dyn Cache>, CacheError> {
        Ok(match self.backend {
            CacheBackend::Memory => Arc::new(memory::MemoryCache::new(self.capacity)),
            CacheBackend::Redis => Arc::new(redis::RedisCache::new(self)?),
        })
    }
}

/// Cache key of an answer: namespaced, versioned (v2: the entry is the hit's response body, see
/// the app's `CachedAnswer`), and derived from the normalised question, so "How do I reset the
/// hub?" and "how do i reset the hub" share one entry.
pub fn answer_key(normalised_question: &str, model: &str) -> String {
    let id = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("{model}\n{normalised_question}").as_bytes(),
    );
    format!("ragtrace:answer:v2:{id}")
}

/// Cache key of a product search.
pub fn catalog_key(query: &str, limit: usize) -> String {
    let id = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("{limit}\n{}", query.trim().to_lowercase()).as_bytes(),
    );
    format!("ragtrace:catalog:v1:{id}")
}
