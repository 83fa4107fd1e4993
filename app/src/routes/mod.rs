//! HTTP routes: the route table ([`configure`]) and thin handlers that parse, call the pipeline
//! or an adapter, and map errors once (through [`ApiError`]).

pub mod admin;
pub mod chat;
pub mod documents;
pub mod health;
pub mod report;
pub mod traces;
pub mod ui;
pub mod viewer;

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures::StreamExt as _;

use crate::error::ApiError;

/// The route table. Every resource answers a wrong method with a JSON 405, and unknown paths
/// get a JSON 404 that says where the API is described.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let resource =
        |path: &str| web::resource(path.to_owned()).default_service(web::to(method_not_allowed));
    cfg.service(resource("/v1/chat").route(web::post().to(chat::chat)))
        .service(resource("/v1/documents").route(web::post().to(documents::create)))
        .service(resource("/v1/documents/{id}").route(web::get().to(documents::status)))
        .service(
            resource("/admin/fixes")
                .route(web::get().to(admin::get_fixes))
                .route(web::put().to(admin::put_fixes)),
        )
        .service(resource("/admin/index").route(web::post().to(admin::build_index)))
        .service(resource("/admin/scenarios/{name}").route(web::post().to(admin::set_scenario)))
        .service(web::resource("/healthz").route(web::get().to(health::healthz)))
        .service(web::resource("/readyz").route(web::get().to(health::readyz)))
        .service(web::resource("/metrics").route(web::get().to(metrics)))
        .service(
            resource("/api/traces")
                .route(web::get().to(traces::list))
                .route(web::post().to(traces::import)),
        )
        .service(web::resource("/api/traces/{trace_id}").route(web::get().to(traces::get)))
        .service(web::resource("/api/breakdown").route(web::get().to(traces::breakdown)))
        .service(web::resource("/api/summary").route(web::get().to(traces::summary)))
        .service(resource("/api/simulate").route(web::post().to(report::simulate)))
        .service(web::resource("/api/simulate/defaults").route(web::get().to(report::defaults)))
        .service(web::resource("/api/i18n").route(web::get().to(report::strings)))
        .service(resource("/api/report").route(web::post().to(report::lab_pair)))
        .service(web::resource("/report").route(web::get().to(report::live)))
        .service(web::resource("/api/stats").route(web::get().to(viewer::stats)))
        .service(web::resource("/api/ui-config").route(web::get().to(viewer::ui_config)))
        .service(web::resource("/").route(web::get().to(ui::root)))
        .service(web::resource("/ui/{path:.*}").route(web::get().to(ui::asset)))
        .service(web::resource("/openapi.json").route(web::get().to(ui::openapi)))
        .default_service(web::to(not_found));
}

/// Parses the query string as `T`; a parameter that is unknown or of the wrong type is a 422.
pub fn parse_query<T: serde::de::DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    web::Query::<T>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| {
            ApiError::schema(
                None,
                &format!("invalid query string: {e}"),
                "the query parameters are described at GET /openapi.json",
            )
        })
}

/// Reads a request body, refusing more than `limit` bytes (with `too_large` as the 413's hint).
/// `hint` tells the caller what to send when the body cannot be read.
pub async fn read_body(
    mut payload: web::Payload,
    limit: usize,
    hint: &str,
    too_large: &'static str,
) -> Result<Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_body(&format!("cannot read the body: {e}"), hint))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge {
                limit,
                hint: too_large,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

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
