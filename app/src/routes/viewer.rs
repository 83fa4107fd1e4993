//! What the built-in viewer asks of the running app besides traces: the live tiles, and what it
//! must know about this deployment (the stage table, the span names of a chat request with the
//! models in use, the Jaeger link), so the UI copies none of it.

use actix_web::{HttpResponse, web};
use ragtrace_core::semconv::{Stage, span};
use serde_json::json;

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
