//! HTTP routes. Handlers are thin: they parse, call the pipeline, and map errors once.

pub mod chat;
pub mod documents;
pub mod health;
pub mod traces;
pub mod ui;

use actix_web::{HttpRequest, HttpResponse};

use crate::error::ApiError;

/// `GET /metrics`: the Prometheus exposition of every metric in `semconv::metric`.
pub async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ragtrace_core::metrics::EXPOSITION_CONTENT_TYPE)
        .body(ragtrace_core::metrics::render())
}

/// Unknown routes: a JSON 404 that says where to look.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound {
        method: req.method().to_string(),
        path: req.path().to_owned(),
    })
}

/// Known routes with the wrong method: a JSON 405.
pub async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed {
        method: req.method().to_string(),
        path: req.path().to_owned(),
    })
}
