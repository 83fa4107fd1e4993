//! What the built-in viewer asks of the running app besides traces: the live tiles, and what it
//! must know about this deployment (the stage table, the span names of a chat request with the
//! models in use, the Jaeger link), so the UI copies none of it.

use actix_web::{HttpResponse, web};
use ragtrace_core::semconv::{Stage, span};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /api/stats`: the live tiles (request rate, p95, error rate, cache hit rate, spend) over
/// the last minute of chat requests, every request counted whatever the sampling.
pub async fn stats(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.recent.snapshot())
}

/// `GET /api/ui-config`: the Jaeger link, the pipeline's stages (id, label, budget) in pipeline
/// order, and the span names of one chat request as this deployment names them.
pub async fn ui_config(state: web::Data<AppState>) -> HttpResponse {
    let llm = &state.pipeline.llm;
    let stages: Vec<_> = Stage::ALL
        .iter()
        .map(|s| json!({"id": s.as_str(), "label": s.label(), "budget_ms": s.budget_ms()}))
        .collect();
    HttpResponse::Ok().json(json!({
        "jaeger_url": state.jaeger_url,
        "stages": stages,
        "operations": span::chat_request(llm.chat_model(), llm.embedding_model()),
    }))
}

/// The body of `POST /api/session`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The API key (`server.api_key`).
    pub key: String,
}

/// `POST /api/session`: the UI's login when `server.api_key` is set. The right key gets 204 and
/// an HttpOnly, SameSite=Strict cookie that the UI's own requests (and its links, such as the
/// live report) then carry; a wrong one gets 401. Without an API key, 204 and no cookie.
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
