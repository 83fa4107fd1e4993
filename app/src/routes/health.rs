//! `GET /healthz` (the process is alive) and `GET /readyz` (its dependencies answer).

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// How long each readiness check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness: answers as long as the process serves HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "service": "ragtrace",
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

async fn check<F, T, E>(f: F) -> (bool, serde_json::Value)
where
    F: Future<Output = Result<T, E>>,
    T: serde::Serialize,
    E: std::fmt::Display,
{
    match tokio::time::timeout(CHECK_TIMEOUT, f).await {
        Ok(Ok(detail)) => (true, json!({"status": "ok", "detail": detail})),
        Ok(Err(e)) => (false, json!({"status": "error", "error": e.to_string()})),
        Err(_) => (
            false,
            json!({"status": "error", "error": format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())}),
        ),
    }
}

/// Readiness: the vector store, the cache and the LLM provider each answer. 200 when all do,
/// 503 with the failing checks otherwise.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let p = &state.pipeline;
    let store = async {
        let n = p.store.count().await?;
        ragtrace_core::metrics::gauge(&ragtrace_core::semconv::metric::VECTOR_STORE_POINTS, [])
            .set(n as f64);
        Ok::<_, ragtrace_core::vector_store::VectorStoreError>(json!({
            "backend": p.store.backend(),
            "collection": p.store.collection(),
            "points": n,
            "pool": p.store.pool_status(),
        }))
    };
    let cache = async {
        p.cache.health().await?;
        Ok::<_, ragtrace_core::cache::CacheError>(
            json!({"backend": p.cache.backend(), "pool": p.cache.pool_status()}),
        )
    };
    let llm = async {
        p.llm.ready().await?;
        Ok::<_, ragtrace_core::llm::LlmError>(
            json!({"base_url": ragtrace_core::config::redact_url(p.llm.base_url())}),
        )
    };
    let ((s_ok, s), (c_ok, c), (l_ok, l)) = tokio::join!(check(store), check(cache), check(llm));
    let ready = s_ok && c_ok && l_ok;
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {"vector_store": s, "cache": c, "llm": l},
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
