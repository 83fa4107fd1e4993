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
    let id = name_id(&[model.as_bytes(), b"\n", normalised_question.as_bytes()]);
    format!("ragtrace:answer:v2:{id}")
}

/// Cache key of a product search.
pub fn catalog_key(query: &str, limit: usize) -> String {
    let id = name_id(&[
        limit.to_string().as_bytes(),
        b"\n",
        query.trim().to_lowercase().as_bytes(),
    ]);
    format!("ragtrace:catalog:v1:{id}")
}

/// The name-based UUID (version 5, in the OID namespace) of the name made of `parts`, the same
/// as `uuid::Uuid::new_v5(&Uuid::NAMESPACE_OID, &parts.concat())`, which the keys were made
/// with before: SHA-1 from the `sha1` crate, which uses the CPU's SHA instructions where it has
/// them, and no copy of the name (an answer key in half the time, docs/benchmarks.md). SHA-1
/// rather than a faster non-cryptographic hash: a key a client can aim a question at (a
/// collision) would let it plant an answer for another question.
fn name_id(parts: &[&[u8]]) -> uuid::Uuid {
    use sha1::Digest;
    let mut sha = sha1::Sha1::new();
    sha.update(uuid::Uuid::NAMESPACE_OID.as_bytes());
    for part in parts {
        sha.update(part);
    }
    let digest = sha.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    /// The keys stay what uuid's `new_v5` made them (entries cached before are still found):
    /// names of every length across several of SHA-1's 64-byte blocks and its padding, each
    /// split in two.
    #[test]
    fn name_ids_are_uuids_v5_of_the_whole_name() {
        let text = "How do I reset the hub? Ünïcödé, \n and a long tail. ".repeat(8);
        for len in (0..text.len()).filter(|n| text.is_char_boundary(*n)) {
            let name = &text.as_bytes()[..len];
            let want = Uuid::new_v5(&Uuid::NAMESPACE_OID, name);
            let cut = len / 3;
            assert_eq!(super::name_id(&[name]), want, "{len} bytes");
            assert_eq!(
                super::name_id(&[&name[..cut], &name[cut..]]),
                want,
                "{len} bytes, cut at {cut}"
            );
        }
        assert_eq!(
            super::answer_key("how do i enrol in mfa", "sim-gpt-4o-mini"),
            format!(
                "ragtrace:answer:v2:{}",
                Uuid::new_v5(
                    &Uuid::NAMESPACE_OID,
                    b"sim-gpt-4o-mini\nhow do i enrol in mfa"
                )
            )
        );
        assert_eq!(
            super::catalog_key("  Docking Station ", 5),
            format!(
                "ragtrace:catalog:v1:{}",
                Uuid::new_v5(&Uuid::NAMESPACE_OID, b"5\ndocking station")
            )
        );
    }
}
