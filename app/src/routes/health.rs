//! `GET /healthz` (the process is alive) and `GET /readyz` (its dependencies answer).

use std::time::Duration;

use actix_web::{HttpResponse, web};
use ragtrace_core::pool::PoolStatus;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// How long each readiness check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The answer of `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`: an answer at all means the process is alive.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The service's name.
    #[schema(example = "ragtrace")]
    pub service: &'static str,
    /// The service's version.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

/// Whether every dependency answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    /// Every check passed.
    Ready,
    /// At least one check failed.
    NotReady,
}

/// The answer of `GET /readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` when every check passed.
    pub status: ReadyStatus,
    /// Each dependency's check.
    pub checks: Checks,
}

/// The checks of `GET /readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    /// The vector store counts the collection's points.
    pub vector_store: Check<VectorStoreDetail>,
    /// The cache answers a ping.
    pub cache: Check<CacheDetail>,
    /// `GET {llm base_url}/models` answers.
    pub llm: Check<LlmDetail>,
}

/// One dependency's check: `detail` when it answered, `error` when it did not.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Check<T> {
    /// It answered.
    Ok {
        /// What it said.
        detail: T,
    },
    /// It failed, or gave no answer within 2 s.
    Error {
        /// Why.
        error: String,
    },
}

/// What the vector store reported.
#[derive(Debug, Serialize, ToSchema)]
pub struct VectorStoreDetail {
    /// `edge` (embedded) or `qdrant`.
    #[schema(example = "edge")]
    pub backend: &'static str,
    /// The collection searched.
    pub collection: String,
    /// Points in the collection.
    pub points: u64,
    /// The connection pool's use.
    pub pool: PoolStatus,
}

/// What the cache reported.
#[derive(Debug, Serialize, ToSchema)]
pub struct CacheDetail {
    /// `memory` (in-process) or `redis`.
    #[schema(example = "memory")]
    pub backend: &'static str,
    /// The Redis pool; null for the in-process cache.
    pub pool: Option<PoolStatus>,
}

/// Where the LLM provider is.
#[derive(Debug, Serialize, ToSchema)]
pub struct LlmDetail {
    /// Its base URL, credentials removed.
    pub base_url: String,
}

/// Liveness: answers as long as the process serves HTTP.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    operation_id = "healthz",
    summary = "Liveness: answers while the process serves HTTP",
    responses((status = 200, description = "Alive.", body = Health)),
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        service: "ragtrace",
        version: env!("CARGO_PKG_VERSION"),
    })
}

async fn check<F, T, E>(f: F) -> Check<T>
where
    F: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    match tokio::time::timeout(CHECK_TIMEOUT, f).await {
        Ok(Ok(detail)) => Check::Ok { detail },
        Ok(Err(e)) => Check::Error {
            error: e.to_string(),
        },
        Err(_) => Check::Error {
            error: format!("no answer within {} ms", CHECK_TIMEOUT.as_millis()),
        },
    }
}

/// Readiness: the vector store, the cache and the LLM provider each answer. 200 when all do,
/// 503 with the failing checks otherwise.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    operation_id = "readyz",
    summary = "Readiness: the vector store, the cache and the LLM provider each answer (2 s timeout each)",
    responses(
        (status = 200, description = "Every check passed (`status` = `ready`).", body = Readiness),
        (status = 503, description = "At least one check failed (`status` = `not_ready`).", body = Readiness),
    ),
)]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let p = &state.pipeline;
    let store = async {
        let n = p.store.count().await?;
        ragtrace_core::metrics::gauge(&ragtrace_core::semconv::metric::VECTOR_STORE_POINTS, [])
            .set(n as f64);
        Ok::<_, ragtrace_core::vector_store::VectorStoreError>(VectorStoreDetail {
            backend: p.store.backend(),
            collection: p.store.collection().to_owned(),
            points: n,
            pool: p.store.pool_status(),
        })
    };
    let cache = async {
        p.cache.health().await?;
        Ok::<_, ragtrace_core::cache::CacheError>(CacheDetail {
            backend: p.cache.backend(),
            pool: p.cache.pool_status(),
        })
    };
    let llm = async {
        p.llm.ready().await?;
        Ok::<_, ragtrace_core::llm::LlmError>(LlmDetail {
            base_url: ragtrace_core::config::redact_url(p.llm.base_url()),
        })
    };
    let (vector_store, cache, llm) = tokio::join!(check(store), check(cache), check(llm));
    let ready = [
        matches!(vector_store, Check::Ok { .. }),
        matches!(cache, Check::Ok { .. }),
        matches!(llm, Check::Ok { .. }),
    ]
    .iter()
    .all(|ok| *ok);
    let body = Readiness {
        status: if ready {
            ReadyStatus::Ready
        } else {
            ReadyStatus::NotReady
        },
        checks: Checks {
            vector_store,
            cache,
            llm,
        },
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
