//! The simulator's HTTP routes: the OpenAI-compatible API, the product catalog and the admin
//! API. Handlers answer with a result or a [`SimError`], written out once in OpenAI's shape.
//!
//! # Layout
//!
//! - [`chat`]: `POST /v1/chat/completions`, plain and streamed.
//! - [`embeddings`]: `POST /v1/embeddings` and `GET /v1/models`.
//! - [`audio`]: `POST /v1/audio/transcriptions`.
//! - [`catalog`]: `GET /catalog/search`.
//! - [`admin`]: `/admin/profiles` and `/admin/scenarios`.

pub mod admin;
pub mod audio;
pub mod catalog;
pub mod chat;
pub mod embeddings;

use actix_web::{HttpResponse, ResponseError as _, web};
use serde_json::json;

use crate::SimState;
use crate::error::SimError;

/// A 400 for a body or query string that does not parse, before any handler runs.
fn unparsable(what: &str, err: impl std::fmt::Display) -> HttpResponse {
    SimError::BadRequest {
        message: format!("invalid {what}: {err}"),
        param: None,
    }
    .error_response()
}

/// Registers every route; `/metrics` only when `serve_metrics`.
pub fn configure(
    state: web::Data<SimState>,
    serve_metrics: bool,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(state)
            .app_data(
                web::JsonConfig::default()
                    .limit(8 * 1024 * 1024)
                    .error_handler(|err, _| {
                        let resp = unparsable("JSON body", &err);
                        actix_web::error::InternalError::from_response(err, resp).into()
                    }),
            )
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                let resp = unparsable("query string", &err);
                actix_web::error::InternalError::from_response(err, resp).into()
            }))
            .route(
                "/v1/chat/completions",
                web::post().to(chat::chat_completions),
            )
            .route("/v1/embeddings", web::post().to(embeddings::embeddings))
            .route("/v1/models", web::get().to(embeddings::models))
            .route(
                "/v1/audio/transcriptions",
                web::post().to(audio::transcriptions),
            )
            .route("/catalog/search", web::get().to(catalog::catalog_search))
            .route("/admin/profiles", web::get().to(admin::get_profiles))
            .route(
                "/admin/profiles/{endpoint}",
                web::put().to(admin::put_profile),
            )
            .route("/admin/requests", web::get().to(admin::requests))
            .route("/admin/scenarios", web::get().to(admin::list_scenarios))
            .route(
                "/admin/scenarios/{name}",
                web::post().to(admin::set_scenario),
            )
            .route(
                "/healthz",
                web::get().to(|| async { HttpResponse::Ok().json(json!({"status": "ok"})) }),
            );
        if serve_metrics {
            cfg.route(
                "/metrics",
                web::get().to(|| async {
                    HttpResponse::Ok()
                        .content_type(ragtrace_core::metrics::EXPOSITION_CONTENT_TYPE)
                        .body(ragtrace_core::metrics::render())
                }),
            );
        }
        cfg.default_service(web::to(|| async {
            Err::<HttpResponse, _>(SimError::NotFound {
                message: "unknown route; the simulator serves /v1/chat/completions, /v1/embeddings, /v1/models, /v1/audio/transcriptions, /catalog/search and /admin/*".into(),
                param: None,
            })
        }));
    }
}
