//! The trace API over the in-process store: `GET /api/traces` (filtered, newest first,
//! paginated), `GET /api/traces/{trace_id}` (every span), `POST /api/traces` (opens a trace
//! another process saved, such as `ragtrace-ingest transcribe --trace-out`) and
//! `GET /api/breakdown` (where the time of recent requests goes, stage by stage, against each
//! stage's budget).

use actix_web::{HttpRequest, HttpResponse, web};
use ragtrace_core::trace_store::{
    TraceQuery, TraceStore, breakdown as compute_breakdown, read_trace, summarize, trace_json,
};
use serde_json::json;

use crate::error::ApiError;
use crate::routes::admin::local_only;
use crate::routes::{parse_query, read_body};
use crate::state::AppState;

/// The largest trace document `POST /api/traces` reads.
const MAX_TRACE_BYTES: usize = 32 << 20;

fn store(state: &AppState) -> Result<&TraceStore, ApiError> {
    state.traces.as_deref().ok_or(ApiError::FeatureDisabled {
        feature: "the in-process trace store (trace_store.enabled)",
        hint: "set RAGTRACE__TRACE_STORE__ENABLED=true, or look the trace up in Jaeger",
    })
}

/// `GET /api/traces`: stored traces, newest first, filtered by `service`, `operation`, duration,
/// `error`, `user_id` and `cache_hit`, and paged with `limit` (1 to 200) and `offset`.
pub async fn list(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let store = store(&state)?;
    let q: TraceQuery = parse_query(&req)?;
    if let (Some(min), Some(max)) = (q.min_duration_ms, q.max_duration_ms)
        && min > max
    {
        return Err(ApiError::validation(
            "min_duration_ms",
            "must not be greater than max_duration_ms",
            "swap the two bounds",
        ));
    }
    if q.limit.is_some_and(|l| l == 0 || l > 200) {
        return Err(ApiError::validation(
            "limit",
            "must be between 1 and 200",
            "page with offset",
        ));
    }
    let page = store.list(&q);
    Ok(HttpResponse::Ok().json(json!({
        "traces": page.traces,
        "total": page.total,
        "offset": page.offset,
        "limit": page.limit,
        "store": store.stats(),
    })))
}

/// `GET /api/traces/{trace_id}`: one trace's summary and every span, by its 32-hex-digit id.
pub async fn get(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let store = store(&state)?;
    let id = path.into_inner();
    if id.len() != 32 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::validation(
            "trace_id",
            "must be 32 hexadecimal characters",
            "use the trace_id of a chat response or of GET /api/traces",
        ));
    }
    match store.get(&id) {
        Some(trace) => Ok(HttpResponse::Ok().json(trace_json(&trace))),
        None => Err(ApiError::TraceNotFound { trace_id: id }),
    }
}

/// `POST /api/traces`: adds one trace document (what `GET /api/traces/{trace_id}` answers) to
/// the store, so a trace saved by another process opens in the viewer. Loopback callers only,
/// like the admin API: it writes into what everyone reads.
pub async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    local_only(&req, &state)?;
    let store = store(&state)?;
    let hint = "send a trace document: the JSON of GET /api/traces/{trace_id}, or the file `ragtrace-ingest transcribe --trace-out` writes";
    let body = read_body(
        payload,
        MAX_TRACE_BYTES,
        state.body_timeout,
        hint,
        "open a smaller trace file: at most 32 MiB",
    )
    .await?;
    let doc: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_json(&format!("the body is not JSON: {e}"), hint))?;
    let spans = read_trace(&doc).map_err(|e| ApiError::validation(&e.field, &e.message, hint))?;
    let trace_id = spans[0].trace_id.clone();
    let count = spans.len();
    if !store.insert_trace(spans) {
        return Err(ApiError::TraceExists { trace_id });
    }
    tracing::info!(trace_id, spans = count, "trace imported");
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/traces/{trace_id}"),
        ))
        .json(json!({"trace_id": trace_id, "spans": count})))
}

/// `GET /api/breakdown?limit=N` plus the filters of `/api/traces` (e.g. `min_duration_ms` for
/// where the time of slow requests goes). Without `operation`, only chat requests (traces with
/// a `rag.pipeline` span) are counted.
pub async fn breakdown(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let store = store(&state)?;
    let mut q: TraceQuery = parse_query(&req)?;
    // Chat requests by default: a start-up indexing trace is not a request.
    if q.operation.is_none() {
        q.operation = Some(ragtrace_core::semconv::span::CHAT_PIPELINE.to_owned());
    }
    let n = q.limit.unwrap_or(200);
    if n == 0 || n > 10_000 {
        return Err(ApiError::validation(
            "limit",
            "must be between 1 and 10000",
            "omit it for the last 200 traces",
        ));
    }
    Ok(HttpResponse::Ok().json(compute_breakdown(&store.matching(&q, n))))
}

/// `GET /api/summary?from_ms=&to_ms=` plus the filters of `/api/traces` (`user_id` picks one
/// run's requests): what the chat requests among the matching traces measured: latency
/// percentiles and distribution, errors, stages on the critical path, cache hits, cost.
pub async fn summary(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let store = store(&state)?;
    let q: TraceQuery = parse_query(&req)?;
    if let (Some(from), Some(to)) = (q.from_ms, q.to_ms)
        && from > to
    {
        return Err(ApiError::validation(
            "from_ms",
            "must not be after to_ms",
            "swap the two bounds",
        ));
    }
    Ok(HttpResponse::Ok().json(summarize(&store.matching(&q, usize::MAX))))
}
