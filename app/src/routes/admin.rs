//! The admin API: the case studies' fixes, switched on a running app, and the simulator's
//! scenarios through it. Each change is an event on the request's span and a log line, so the
//! trace list shows when a fix went in.
//!
//! - `GET /admin/fixes`, `PUT /admin/fixes`: the product-search cache and its parallel call
//!   (case study 1), the vector store's pool size (case study 2), with the index status.
//! - `POST /admin/index`: builds the vector store's search index now (case study 2).
//! - `POST /admin/scenarios/{name}`: sets the simulator's scenario (when the LLM upstream is
//!   ragtrace-sim).
//!
//! Loopback callers only, unless `admin.allow_remote` is set.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use ragtrace_core::vector_store::IndexStatus;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;

/// Largest vector-store pool the admin API sets: beyond it the pool only hides a slow store.
const MAX_POOL_SIZE: usize = 1024;

/// The fixes in force, as `GET /admin/fixes` reports them.
#[derive(Debug, Serialize)]
pub struct Fixes {
    /// Product-search results are cached (case study 1).
    pub catalog_cache: bool,
    /// The product search runs beside the vector search (case study 1).
    pub parallel_product_search: bool,
    /// Vector-store operations allowed at once (case study 2).
    pub vector_store_pool_size: usize,
    /// How much of the collection the search index covers (case study 2); `null` when the store
    /// cannot say.
    pub vector_index: Option<IndexStatus>,
}

/// A change of fixes: each field given is applied, the others stay as they are.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixesPatch {
    /// Switch the product-search cache.
    pub catalog_cache: Option<bool>,
    /// Switch the parallel product search.
    pub parallel_product_search: Option<bool>,
    /// Resize the vector store's connection pool.
    pub vector_store_pool_size: Option<usize>,
}

/// Refuses callers other than loopback, unless the deployment allows them, and pages of other
/// web origins always (a page on any site can send requests to `localhost`).
pub(crate) fn local_only(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    crate::routes::same_origin(req, state)?;
    let peer = req.peer_addr();
    if state.admin_allow_remote || peer.is_some_and(|p| p.ip().is_loopback()) {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            peer: peer.map_or_else(|| "an unknown peer".to_owned(), |p| p.ip().to_string()),
        })
    }
}

async fn fixes(state: &AppState) -> Fixes {
    let p = &state.pipeline;
    Fixes {
        catalog_cache: p.catalog.cached(),
        parallel_product_search: p.parallel_product_search(),
        vector_store_pool_size: p.store.pool_status().size,
        vector_index: p.store.index_status().await.ok(),
    }
}

/// `GET /admin/fixes`: the fixes in force.
pub async fn get_fixes(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    local_only(&req, &state)?;
    Ok(HttpResponse::Ok().json(fixes(&state).await))
}

/// `PUT /admin/fixes`: applies the fields given, from the next request on.
pub async fn put_fixes(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    local_only(&req, &state)?;
    let patch: FixesPatch = serde_json::from_slice(&body).map_err(|e| {
        ApiError::schema(
            None,
            &format!("invalid fixes: {e}"),
            "the body is {\"catalog_cache\"?: boolean, \"parallel_product_search\"?: boolean, \"vector_store_pool_size\"?: 1..1024}",
        )
    })?;
    if let Some(n) = patch.vector_store_pool_size
        && !(1..=MAX_POOL_SIZE).contains(&n)
    {
        return Err(ApiError::validation(
            "vector_store_pool_size",
            &format!("must be a whole number from 1 to {MAX_POOL_SIZE}"),
            "size the pool for the concurrent searches you expect",
        ));
    }
    let p = &state.pipeline;
    if let Some(on) = patch.catalog_cache {
        let was = p.catalog.cached();
        p.catalog.set_cached(on);
        tracing::info!(
            fix = "catalog_cache",
            was,
            now = on,
            "fix changed: catalog_cache {was} -> {on}"
        );
    }
    if let Some(on) = patch.parallel_product_search {
        let was = p.parallel_product_search();
        p.set_parallel_product_search(on);
        tracing::info!(
            fix = "parallel_product_search",
            was,
            now = on,
            "fix changed: parallel_product_search {was} -> {on}"
        );
    }
    if let Some(n) = patch.vector_store_pool_size {
        let was = p.store.pool_status().size;
        p.store.resize_pool(n);
        tracing::info!(
            fix = "vector_store_pool_size",
            was,
            now = n,
            "fix changed: vector_store_pool_size {was} -> {n}"
        );
    }
    Ok(HttpResponse::Ok().json(fixes(&state).await))
}

/// `POST /admin/index`: builds the vector store's search index (HNSW) now. The build is a
/// database span of its own (`optimize {collection}`) in this request's trace.
pub async fn build_index(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    local_only(&req, &state)?;
    let store = &state.pipeline.store;
    let before = store.index_status().await?;
    let started = Instant::now();
    let changed = store.optimize().await?;
    let seconds = started.elapsed().as_secs_f64();
    let after = store.index_status().await?;
    tracing::info!(
        fix = "vector_index",
        indexed_before = before.indexed_vectors,
        indexed_after = after.indexed_vectors,
        points = after.points,
        seconds,
        "fix changed: vector index built ({} of {} vectors indexed, {seconds:.2} s)",
        after.indexed_vectors,
        after.points,
    );
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "changed": changed,
        "seconds": seconds,
        "before": before,
        "after": after,
    })))
}

/// `POST /admin/scenarios/{name}`: sets the simulator's scenario, when the LLM upstream is
/// ragtrace-sim (embedded or in compose). Answers what the simulator answered.
pub async fn set_scenario(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    local_only(&req, &state)?;
    let base = state.pipeline.llm.base_url();
    let sim = base.trim_end_matches('/').trim_end_matches("/v1");
    let url = format!("{sim}/admin/scenarios/{}", name.as_str());
    let not_sim = |why: String| {
        ApiError::NoSimulator(format!(
            "cannot set scenario {name}: the LLM upstream at {} is not ragtrace-sim ({why})",
            ragtrace_core::config::redact_url(base)
        ))
    };
    let resp = reqwest::Client::new()
        .post(&url)
        .send()
        .await
        .map_err(|e| not_sim(e.to_string()))?;
    let status = resp.status();
    let body: serde_json::Value = resp
        .json()
        .await
        .map_err(|e| not_sim(format!("HTTP {status}, not JSON: {e}")))?;
    if status.is_success() {
        tracing::info!(scenario = %name, "fix changed: simulator scenario -> {name}");
    }
    let status = actix_web::http::StatusCode::from_u16(status.as_u16())
        .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
    Ok(HttpResponse::build(status).json(body))
}
