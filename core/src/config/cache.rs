//! `[cache]`: which cache, and its Redis pool. Every key is explained, with its default, in
//! `core/config/default.toml`.

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use super::{ConfigError, rule};

/// Which cache implementation to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheBackend {
    /// In-process LRU with TTL.
    Memory,
    /// Redis through deadpool-redis: one cache for every process pointed at it (`REDIS_URL`).
    Redis,
}

/// `[cache]`: where answers and product-search results are cached, and the Redis pool's limits.
#[derive(Debug, Clone, Deserialize)]
pub struct CacheSettings {
    /// `memory` (in-process LRU with TTL) or `redis`; setting `REDIS_URL` selects `redis`.
    pub backend: CacheBackend,
    /// Redis URL; may carry a password, so it is a secret.
    pub url: SecretString,
    /// Capacity of the in-process LRU.
    pub capacity: usize,
    /// Redis connections open at most; callers beyond it wait up to `wait_timeout_ms` for one.
    pub pool_size: usize,
    /// Wait for a free pooled connection.
    pub wait_timeout_ms: u64,
    /// Open a new connection.
    pub create_timeout_ms: u64,
    /// Check a returned connection.
    pub recycle_timeout_ms: u64,
    /// How long one Redis command's response may take, so a hung Redis costs one bounded wait.
    pub command_timeout_ms: u64,
}

impl CacheSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        rule("cache.pool_size", self.pool_size > 0, "must be > 0")?;
        rule("cache.capacity", self.capacity > 0, "must be > 0")?;
        rule(
            "cache.url",
            self.backend != CacheBackend::Redis || !self.url.expose_secret().is_empty(),
            "must be set (or REDIS_URL) when backend = \"redis\"",
        )
    }
}
