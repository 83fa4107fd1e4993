//! What the built-in viewer asks of the running app besides traces: the live tiles, and what it
//! must know about this deployment (the stage table, the span names of a chat request with the
//! models in use, the Jaeger link), so the UI copies none of it.

use actix_web::{HttpResponse, web};
use ragtrace_core::semconv::{Stage, span};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// What the viewer must know about this deployment.
#[derive(Debug, Serialize, ToSchema)]
pub struct UiConfig {
    /// Base URL of a Jaeger UI (the UI links `{jaeger_url}/trace/{trace_id}`); null when none is
    /// configured.
    #[schema(example = "http://localhost:16686")]
    pub jaeger_url: Option<String>,
    /// The pipeline's stages in pipeline order (`Stage` in core/src/semconv.rs).
    pub stages: Vec<StageInfo>,
    /// The span names of one chat request as this deployment names them, with its models
    /// (`span::chat_request` in core/src/semconv.rs).
    #[schema(example = json!(["POST /v1/chat", "rag.pipeline", "cache.lookup", "embeddings sim-text-embedding-3-small", "retrieval", "execute_tool product_search", "prompt.build", "chat sim-gpt-4o-mini", "postprocess", "cache.store"]))]
    pub operations: Vec<String>,
}

/// One pipeline stage.
#[derive(Debug, Serialize, ToSchema)]
pub struct StageInfo {
    /// The `ragtrace.stage` value.
    #[schema(example = "llm")]
    pub id: &'static str,
    /// What people call it.
    #[schema(example = "LLM call")]
    pub label: &'static str,
    /// Its latency budget, milliseconds.
    #[schema(example = 3000)]
    pub budget_ms: u64,
}

/// The body of `POST /api/session`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The API key (`server.api_key`).
    pub key: String,
}

/// `GET /api/stats`: the live tiles (request rate, p95, error rate, cache hit rate, spend) over
/// the last minute of chat requests, every request counted whatever the sampling.
#[utoipa::path(
    get,
    path = "/api/stats",
    tag = "ops",
    operation_id = "stats",
    summary = "The live tiles: request rate, p95, error rate, cache hit rate and spend over the last minute",
    description = "Every chat request is counted, whatever the trace sampling.",
    responses((status = 200, description = "The tiles.", body = crate::stats::LiveStats)),
)]
pub async fn stats(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.recent.snapshot())
}

/// `GET /api/ui-config`: the Jaeger link, the pipeline's stages (id, label, budget) in pipeline
/// order, and the span names of one chat request as this deployment names them.
#[utoipa::path(
    get,
    path = "/api/ui-config",
    tag = "ui",
    operation_id = "uiConfig",
    summary = "What the viewer must know about this deployment: the Jaeger link, the stages, the span names",
    responses((status = 200, description = "The deployment's settings for the UI.", body = UiConfig)),
)]
pub async fn ui_config(state: web::Data<AppState>) -> HttpResponse {
    let llm = &state.pipeline.llm;
    let stages = Stage::ALL
        .iter()
        .map(|s| StageInfo {
            id: s.as_str(),
            label: s.label(),
            budget_ms: s.budget_ms(),
        })
        .collect();
    HttpResponse::Ok().json(UiConfig {
        jaeger_url: state.jaeger_url.clone(),
        stages,
        operations: span::chat_request(llm.chat_model(), llm.embedding_model()),
    })
}

/// `POST /api/session`: the UI's login when `server.api_key` is set. The right key gets 204 and
/// an HttpOnly, SameSite=Strict cookie that the UI's own requests (and its links, such as the
/// live report) then carry; a wrong one gets 401. Without an API key, 204 and no cookie.
#[utoipa::path(
    post,
    path = "/api/session",
    tag = "ui",
    operation_id = "session",
    summary = "Log the UI in when server.api_key is set",
    description = "The right key gets 204 and an HttpOnly, SameSite=Strict cookie (`ragtrace_key`) that the browser then sends with the UI's requests; a wrong key gets 401. Without an API key configured: 204 and no cookie.",
    request_body = SessionRequest,
    responses(
        (status = 204, description = "Logged in (or no key is required)."),
        (status = 401, description = "`unauthorized`: the key is wrong.", body = ErrorBody),
        (status = 403, description = "`forbidden`: sent by a page of another origin.", body = ErrorBody),
        (status = 422, description = "`validation`: not JSON, or not `{\"key\": string}`.", body = ErrorBody),
    ),
)]
pub async fn session(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    use secrecy::ExposeSecret as _;
    crate::routes::same_origin(&req, &state)?;
    let body = crate::routes::read_body(
        payload,
        4096,
        state.body_timeout,
        r#"send {"key": "..."}"#,
        "the key is short: send it alone",
    )
    .await?;
    let login: SessionRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::schema(
            None,
            &format!("invalid login: {e}"),
            r#"send {"key": "..."}"#,
        )
    })?;
    let Some(key) = &state.api_key else {
        return Ok(HttpResponse::NoContent().finish());
    };
    if !crate::middleware::same_secret(login.key.trim(), key.expose_secret()) {
        return Err(ApiError::Unauthorized {
            reason: "the key is wrong",
        });
    }
    let cookie = actix_web::cookie::Cookie::build(
        crate::middleware::SESSION_COOKIE,
        key.expose_secret().to_owned(),
    )
    .path("/")
    .http_only(true)
    .same_site(actix_web::cookie::SameSite::Strict)
    .secure(req.connection_info().scheme() == "https")
    .finish();
    Ok(HttpResponse::NoContent().cookie(cookie).finish())
}
