//! Redis through a `deadpool-redis` pool.
//!
//! deadpool waits forever by default; here the wait for a pooled connection, the creation of a
//! new one, its recycling and every command's response are all bounded, so a stopped or hung
//! Redis costs a request one short wait, then the request goes on without the cache.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use deadpool_redis::redis::{AsyncConnectionConfig, AsyncTypedCommands as _};
use deadpool_redis::{Manager, Pool, PoolError, Runtime, TimeoutType};
use secrecy::ExposeSecret as _;
use tracing::Instrument as _;

use super::{Cache, CacheError};
use crate::config::{CacheSettings, redact_url};
use crate::pool::PoolStatus;
use crate::semconv::{attr, metric};

/// The Redis cache: every pool wait and command is bounded, so a hung Redis costs one short wait.
#[derive(Clone)]
pub struct RedisCache {
    pool: Pool,
    location: String,
    host: String,
    db: String,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

fn classify(e: PoolError) -> CacheError {
    match e {
        PoolError::Timeout(TimeoutType::Wait) => {
            CacheError::Pool("no free connection in time (pool exhausted)".into())
        }
        PoolError::Timeout(TimeoutType::Create) => {
            CacheError::Pool("cannot connect in time".into())
        }
        PoolError::Timeout(TimeoutType::Recycle) => CacheError::Timeout,
        PoolError::Backend(e) if e.is_timeout() => CacheError::Timeout,
        PoolError::Backend(e) => CacheError::Backend(e.to_string()),
        other => CacheError::Pool(other.to_string()),
    }
}

fn command_error(e: deadpool_redis::redis::RedisError) -> CacheError {
    if e.is_timeout() {
        CacheError::Timeout
    } else {
        CacheError::Backend(e.to_string())
    }
}

impl RedisCache {
    /// A pool for `settings.url` with the configured size and timeouts.
    pub fn new(settings: &CacheSettings) -> Result<Self, CacheError> {
        let url = settings.url.expose_secret();
        let conn_config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(settings.create_timeout_ms)))
            .set_response_timeout(Some(Duration::from_millis(settings.command_timeout_ms)));
        let manager = Manager::new_with_config(url, conn_config)
            .map_err(|e| CacheError::Pool(format!("invalid Redis URL: {e}")))?;
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size)
            .wait_timeout(Some(Duration::from_millis(settings.wait_timeout_ms)))
            .create_timeout(Some(Duration::from_millis(settings.create_timeout_ms)))
            .recycle_timeout(Some(Duration::from_millis(settings.recycle_timeout_ms)))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| CacheError::Pool(e.to_string()))?;
        let parsed = url::Url::parse(url).ok();
        let host = parsed
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let db = parsed
            .as_ref()
            .map(|u| u.path().trim_start_matches('/').to_owned())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "0".into());
        crate::metrics::gauge(&metric::POOL_SIZE, ["redis"]).set(settings.pool_size as f64);
        crate::metrics::gauge(&metric::POOL_IN_USE, ["redis"]).set(0.0);
        crate::metrics::gauge(&metric::POOL_WAITING, ["redis"]).set(0.0);
        Ok(Self {
            pool,
            location: redact_url(url),
            host,
            db,
        })
    }

    fn span(&self, command: &'static str) -> tracing::Span {
        tracing::info_span!(
            "redis",
            { attr::OTEL_NAME } = command,
            { attr::OTEL_KIND } = "client",
            { attr::DB_SYSTEM_NAME } = "redis",
            { attr::DB_OPERATION_NAME } = command,
            { attr::DB_NAMESPACE } = self.db.as_str(),
            { attr::SERVER_ADDRESS } = self.host.as_str(),
            { attr::POOL_WAIT_SECONDS } = tracing::field::Empty,
            { attr::ERROR_TYPE } = tracing::field::Empty,
            { attr::OTEL_STATUS_CODE } = tracing::field::Empty,
            { attr::OTEL_STATUS_DESCRIPTION } = tracing::field::Empty,
        )
    }

    /// A pooled connection, with the wait measured and the pool gauges updated.
    async fn conn(&self, span: &tracing::Span) -> Result<deadpool_redis::Connection, CacheError> {
        let start = Instant::now();
        let result = self.pool.get().await;
        let waited = start.elapsed();
        crate::metrics::histogram(&metric::POOL_WAIT_DURATION, ["redis"])
            .record(waited.as_secs_f64());
        span.record(attr::POOL_WAIT_SECONDS, waited.as_secs_f64());
        self.publish_status();
        result.map_err(classify)
    }

    fn publish_status(&self) {
        let s = self.pool.status();
        let in_use = s.size.saturating_sub(s.available);
        crate::metrics::gauge(&metric::POOL_IN_USE, ["redis"]).set(in_use as f64);
        crate::metrics::gauge(&metric::POOL_WAITING, ["redis"]).set(s.waiting as f64);
    }
}

fn record_error<T>(span: &tracing::Span, result: &Result<T, CacheError>) {
    if let Err(e) = result {
        crate::telemetry::mark_failed(span, e.kind(), &e.to_string());
    }
}

#[async_trait]
impl Cache for RedisCache {
    fn backend(&self) -> &'static str {
        "redis"
    }

    fn describe(&self) -> String {
        format!(
            "Redis at {} (pool {})",
            self.location,
            self.pool.status().max_size
        )
    }

    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        let span = self.span("GET");
        let result = async {
            let mut conn = self.conn(&span).await?;
            conn.get(key).await.map_err(command_error)
        }
        .instrument(span.clone())
        .await;
        self.publish_status();
        record_error(&span, &result);
        result
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let span = self.span("SET");
        let result = async {
            let mut conn = self.conn(&span).await?;
            conn.set_ex(key, value, ttl.as_secs().max(1))
                .await
                .map_err(command_error)
        }
        .instrument(span.clone())
        .await;
        self.publish_status();
        record_error(&span, &result);
        result
    }

    async fn health(&self) -> Result<(), CacheError> {
        let mut conn = self.pool.get().await.map_err(classify)?;
        deadpool_redis::redis::cmd("PING")
            .query_async::<String>(&mut *conn)
            .await
            .map(|_| ())
            .map_err(command_error)
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        let s = self.pool.status();
        Some(PoolStatus {
            size: s.max_size,
            in_use: s.size.saturating_sub(s.available),
            waiting: s.waiting,
        })
    }
}
