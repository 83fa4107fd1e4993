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

use std::collections::BTreeMap;
use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use ragtrace_core::vector_store::IndexStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Largest vector-store pool the admin API sets: beyond it the pool only hides a slow store.
const MAX_POOL_SIZE: usize = 1024;

/// The fixes in force, as `GET /admin/fixes` reports them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"catalog_cache": true, "vector_store_pool_size": 32}))]
pub struct FixesPatch {
    /// Switch the product-search cache.
    pub catalog_cache: Option<bool>,
    /// Switch the parallel product search.
    pub parallel_product_search: Option<bool>,
    /// Resize the vector store's connection pool (1 to 1024).
    #[schema(minimum = 1, maximum = 1024)]
    pub vector_store_pool_size: Option<usize>,
}

/// The outcome of building the vector store's search index.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexBuild {
    /// Whether the build changed anything (false: already indexed).
    pub changed: bool,
    /// How long the build took, seconds.
    pub seconds: f64,
    /// The index before the build.
    pub before: IndexStatus,
    /// The index after it.
    pub after: IndexStatus,
}

/// The simulator's answer to a scenario change: the scenario now in force and every endpoint's
/// profile under it (read from ragtrace-sim, and answered as read).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScenarioSet {
    /// The scenario in force.
    #[schema(example = "slow-catalog")]
    pub scenario: String,
    /// Per simulated endpoint (`chat`, `embeddings`, `models`, `catalog`, `audio`), its profile.
    pub profiles: BTreeMap<String, SimProfile>,
}

/// One simulated endpoint's latency and fault profile (ragtrace-sim's `Profile`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SimProfile {
    /// Mean latency, milliseconds (transcription: per minute of audio).
    pub latency_ms: u64,
    /// Uniform jitter around the mean, milliseconds.
    pub jitter_ms: u64,
    /// Share of requests answered with HTTP 500.
    pub error_rate: f64,
    /// Share of requests answered with HTTP 429.
    pub rate_limit_rate: f64,
    /// Share of requests that never answer (until `hang_ms`).
    pub hang_rate: f64,
    /// `Retry-After` of the 429s, seconds.
    pub retry_after_secs: u64,
    /// How long a hanging request hangs, milliseconds.
    pub hang_ms: u64,
    /// Requests served at once at most (0: no limit).
    #[serde(default)]
    pub concurrency: u64,
    /// How long a request waits for a slot before a 429, milliseconds.
    #[serde(default)]
    pub queue_ms: u64,
}

/// An error of the simulator, forwarded as it answered: OpenAI's shape.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"error": {"message": "unknown scenario; one of healthy, instant, slow-catalog, afternoon, rate-limited, llm-errors, llm-hang", "type": "invalid_request_error", "param": "name", "code": null}}))]
pub struct SimErrorBody {
    /// What went wrong.
    pub error: SimErrorDetail,
}

/// The simulator's error.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SimErrorDetail {
    /// What went wrong; for an unknown scenario, the valid names.
    pub message: String,
    /// The error class, e.g. `invalid_request_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The offending parameter, e.g. `name`.
    #[serde(default)]
    pub param: Option<String>,
    /// A machine-readable code.
    #[serde(default)]
    pub code: Option<String>,
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
#[utoipa::path(
    get,
    path = "/admin/fixes",
    tag = "admin",
    operation_id = "getFixes",
    summary = "The fixes in force, with the vector index's status",
    responses(
        (status = 200, description = "The fixes in force.", body = Fixes),
        (status = 403, description = "`forbidden`: the caller is not on loopback and `admin.allow_remote` is off.", body = ErrorBody),
    ),
)]
pub async fn get_fixes(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    local_only(&req, &state)?;
    Ok(HttpResponse::Ok().json(fixes(&state).await))
}

/// `PUT /admin/fixes`: applies the fields given, from the next request on.
#[utoipa::path(
    put,
    path = "/admin/fixes",
    tag = "admin",
    operation_id = "putFixes",
    summary = "Switch fixes on a running app",
    description = "Applies each field given, from the next request on; the others stay as they are. Answers the fixes in force after the change. Each change is an event on this request's span and a log line.",
    request_body = FixesPatch,
    responses(
        (status = 200, description = "The fixes in force after the change.", body = Fixes),
        (status = 403, description = "`forbidden`: the caller is not on loopback and `admin.allow_remote` is off.", body = ErrorBody),
        (status = 422, description = "`validation`: not JSON, an unknown field, a value of the wrong type, or `vector_store_pool_size` not 1–1024 (`field` names it).", body = ErrorBody),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/admin/index",
    tag = "admin",
    operation_id = "buildIndex",
    summary = "Build the vector store's search index (HNSW) now",
    description = "Builds the index of the collection and answers the index status before and after, and how long it took. The build is a database span (`optimize {collection}`) in this request's trace. It can take a while on a large collection.",
    responses(
        (status = 200, description = "The build's outcome.", body = IndexBuild),
        (status = 403, description = "`forbidden`: the caller is not on loopback and `admin.allow_remote` is off.", body = ErrorBody),
        (status = 500, description = "`vector_store`: the store failed to report or build its index.", body = ErrorBody),
        (status = 503, description = "`vector_store`: the store is unreachable or its pool is exhausted.", body = ErrorBody),
    ),
)]
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
    Ok(HttpResponse::Ok().json(IndexBuild {
        changed,
        seconds,
        before,
        after,
    }))
}

/// `POST /admin/scenarios/{name}`: sets the simulator's scenario, when the LLM upstream is
/// ragtrace-sim (embedded or in compose). Answers what the simulator answered.
#[utoipa::path(
    post,
    path = "/admin/scenarios/{name}",
    tag = "admin",
    operation_id = "setScenario",
    summary = "Set the simulator's scenario",
    description = "Forwards to the simulator (`POST /admin/scenarios/{name}` on ragtrace-sim, embedded or in the compose stack) and answers what it answered, with its status. The app does not report which scenario is in force afterwards.",
    params(("name" = String, Path, description = "The scenario: `healthy` (realistic latencies of a hosted API, no faults), `instant` (every endpoint answers at once), `slow-catalog` (case study 1: the product-search API takes about 6 s), `afternoon` (case study 2: a quick LLM, the vector store carries the load), `rate-limited` (the LLM answers 429 to 80 % of requests), `llm-errors` (the LLM answers 500 to 80 % of requests), `llm-hang` (the LLM never answers).", example = "slow-catalog")),
    responses(
        (status = 200, description = "The scenario is in force; every simulated endpoint's profile under it.", body = ScenarioSet),
        (status = 403, description = "`forbidden`: the caller is not on loopback and `admin.allow_remote` is off.", body = ErrorBody),
        (status = 404, description = "The simulator knows no such scenario; its message lists the valid names.", body = SimErrorBody),
        (status = 409, description = "`no_simulator`: the LLM upstream is not ragtrace-sim (or did not answer like it).", body = ErrorBody),
    ),
)]
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
    let body = resp
        .bytes()
        .await
        .map_err(|e| not_sim(format!("HTTP {status}, body unreadable: {e}")))?;
    let unlike = |e: serde_json::Error| not_sim(format!("HTTP {status}, not its answer: {e}"));
    let code = actix_web::http::StatusCode::from_u16(status.as_u16())
        .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
    if status.is_success() {
        let set: ScenarioSet = serde_json::from_slice(&body).map_err(unlike)?;
        tracing::info!(scenario = %name, "fix changed: simulator scenario -> {name}");
        Ok(HttpResponse::build(code).json(set))
    } else {
        let err: SimErrorBody = serde_json::from_slice(&body).map_err(unlike)?;
        Ok(HttpResponse::build(code).json(err))
    }
}
