//! The trace API over the in-process store: `GET /api/traces` (filtered, newest first,
//! paginated), `GET /api/traces/{trace_id}` (every span), `POST /api/traces` (opens a trace
//! another process saved, such as `ragtrace-ingest transcribe --trace-out`) and
//! `GET /api/breakdown` (where the time of recent requests goes, stage by stage, against each
//! stage's budget).

use actix_web::{HttpRequest, HttpResponse, web};
use ragtrace_core::trace_store::heap::for_the_store;
use ragtrace_core::trace_store::{
    Breakdown, StoreStats, TraceDetail, TracePage, TraceQuery, TraceStore, WindowSummary,
    breakdown as compute_breakdown, read_trace, summarize, trace_json,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::routes::admin::local_only;
use crate::routes::{parse_query, read_body};
use crate::state::AppState;

/// The largest trace document `POST /api/traces` reads.
const MAX_TRACE_BYTES: usize = 32 << 20;

/// A page of the trace list, with the store's use and caps.
#[derive(Debug, Serialize, ToSchema)]
pub struct TraceList {
    /// The page.
    #[serde(flatten)]
    pub page: TracePage,
    /// The store's use and caps.
    pub store: StoreStats,
}

/// What `POST /api/traces` added.
#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    /// The trace's id: open it at `/api/traces/{trace_id}`.
    pub trace_id: String,
    /// Spans added.
    pub spans: usize,
}

fn store(state: &AppState) -> Result<&TraceStore, ApiError> {
    state.traces.as_deref().ok_or(ApiError::FeatureDisabled {
        feature: "the in-process trace store (trace_store.enabled)",
        hint: "set RAGTRACE__TRACE_STORE__ENABLED=true, or look the trace up in Jaeger",
    })
}

/// `GET /api/traces`: stored traces, newest first, filtered by `service`, `operation`, duration,
/// `error`, `user_id` and `cache_hit`, and paged with `limit` (1 to 200) and `offset`.
#[utoipa::path(
    get,
    path = "/api/traces",
    tag = "traces",
    operation_id = "listTraces",
    summary = "Recent traces from the in-process store, newest first, filtered and paginated",
    description = "Unknown query parameters are rejected with 422.",
    params(TraceQuery),
    responses(
        (status = 200, description = "A page of trace summaries, with the store's use and caps.", body = TraceList),
        (status = 404, description = "`feature_disabled`: the in-process trace store is off (`trace_store.enabled = false`); look the trace up in Jaeger.", body = ErrorBody),
        (status = 422, description = "`validation`: an invalid query string (unknown parameter, wrong type), `min_duration_ms` > `max_duration_ms`, `limit` not 1–200.", body = ErrorBody),
    ),
)]
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
    Ok(HttpResponse::Ok().json(TraceList {
        page,
        store: store.stats(),
    }))
}

/// `GET /api/traces/{trace_id}`: one trace's summary and every span, by its 32-hex-digit id.
#[utoipa::path(
    get,
    path = "/api/traces/{trace_id}",
    tag = "traces",
    operation_id = "getTrace",
    summary = "One trace: its summary and every span",
    params(
        ("trace_id" = String, Path, description = "W3C trace id (32 hexadecimal characters).", pattern = "^[0-9a-fA-F]{32}$", example = "4bf92f3577b34da6a3ce929d0e0e4736"),
    ),
    responses(
        (status = 200, description = "The trace; spans sorted by start.", body = TraceDetail<'static>),
        (status = 404, description = "`not_found`: not in the store (evicted, not sampled, or not finished yet). A trace can take a moment to land after its response. `feature_disabled`: the in-process trace store is off (`trace_store.enabled = false`); look the trace up in Jaeger.", body = ErrorBody),
        (status = 422, description = "`validation`: `trace_id` is not 32 hexadecimal characters.", body = ErrorBody),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/api/traces",
    tag = "traces",
    operation_id = "importTrace",
    summary = "Open a trace saved by another process",
    description = "Adds one trace document to the in-process store: the JSON that `GET /api/traces/{trace_id}` answers, or the file `ragtrace-ingest transcribe --trace-out` writes (only `spans` is read). The trace then opens in the viewer like any other. Loopback callers only unless `admin.allow_remote`; up to 32 MB and 20,000 spans.",
    request_body(content = TraceDetail<'static>, description = "A trace document; only `spans` is read (at least 1, at most 20,000)."),
    responses(
        (status = 201, description = "Added; `Location` is the trace's URL.", body = Imported, headers(("Location" = String, description = "`/api/traces/{trace_id}`"))),
        (status = 400, description = "`validation`: the body is not JSON.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller is not on loopback and `admin.allow_remote` is off.", body = ErrorBody),
        (status = 404, description = "`feature_disabled`: the in-process trace store is off.", body = ErrorBody),
        (status = 409, description = "`conflict`: the store already holds this trace; its hint says where to open it.", body = ErrorBody),
        (status = 413, description = "`validation`: the body is larger than 32 MB.", body = ErrorBody),
        (status = 422, description = "`validation`: a span field is missing or malformed; `field` names it (`spans[3].span_id`).", body = ErrorBody),
    ),
)]
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
    // The spans' strings, made as the store's (`trace_store::heap`): they are kept.
    let spans = for_the_store(|| read_trace(&doc))
        .map_err(|e| ApiError::validation(&e.field, &e.message, hint))?;
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
        .json(Imported {
            trace_id,
            spans: count,
        }))
}

/// `GET /api/breakdown?limit=N` plus the filters of `/api/traces` (e.g. `min_duration_ms` for
/// where the time of slow requests goes). Without `operation`, only chat requests (traces with
/// a `rag.pipeline` span) are counted.
#[utoipa::path(
    get,
    path = "/api/breakdown",
    tag = "traces",
    operation_id = "breakdown",
    summary = "Where the time of recent requests goes, stage by stage, on the critical path and against each stage's budget",
    description = "Looks at the newest `limit` traces matching the filters (the same as `/api/traces`; `limit` 1 to 10,000, default 200). Per trace it sums each stage's spans (by `ragtrace.stage`) and attributes the request's time on its critical path, so stages that ran in parallel are not counted twice; then it reports per stage the time, the critical-path time and its share, p50/p95 across traces (nearest rank), the budget and whether p95 is over it, the slowest stage (most critical-path time) and the pairs of stages that overlapped. Without `operation`, only chat requests (traces with a `rag.pipeline` span) are counted. Unknown query parameters are rejected with 422.",
    params(TraceQuery),
    responses(
        (status = 200, description = "The breakdown.", body = Breakdown),
        (status = 404, description = "`feature_disabled`: the in-process trace store is off (`trace_store.enabled = false`); look the trace up in Jaeger.", body = ErrorBody),
        (status = 422, description = "`validation`: an invalid query string, or `limit` not 1–10000.", body = ErrorBody),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/api/summary",
    tag = "traces",
    operation_id = "summary",
    summary = "What the chat requests in a window measured: latency percentiles and distribution, errors, stages on the critical path, cache hits, cost",
    description = "Summarises every stored chat request (trace with a `rag.pipeline` span) matching the filters: the same as `/api/traces`, plus `from_ms`/`to_ms` on the trace's start (a run's window) or `user_id` (one run's requests). The lab runner (`ragtrace-lab run`) and the UI's Compare page read it. Unknown query parameters are rejected with 422.",
    params(TraceQuery),
    responses(
        (status = 200, description = "The summary; zeros and empty lists when no request matches.", body = WindowSummary),
        (status = 404, description = "`feature_disabled`: the in-process trace store is off (`trace_store.enabled = false`).", body = ErrorBody),
        (status = 422, description = "`validation`: an invalid query string, or `from_ms` after `to_ms`.", body = ErrorBody),
    ),
)]
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
