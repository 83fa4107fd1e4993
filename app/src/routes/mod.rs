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

/// Every route's path and its methods (the `Allow` of its 405): the route table below, and what
/// the OpenAPI description must describe, no more and no less (`crate::openapi`'s test).
pub const ROUTES: [(&str, &str); 24] = [
    ("/v1/chat", "POST"),
    ("/v1/documents", "POST"),
    ("/v1/documents/{id}", "GET"),
    ("/admin/fixes", "GET, PUT"),
    ("/admin/index", "POST"),
    ("/admin/scenarios/{name}", "POST"),
    ("/healthz", "GET"),
    ("/readyz", "GET"),
    ("/metrics", "GET"),
    ("/api/traces", "GET, POST"),
    ("/api/traces/{trace_id}", "GET"),
    ("/api/breakdown", "GET"),
    ("/api/summary", "GET"),
    ("/api/simulate", "POST"),
    ("/api/simulate/defaults", "GET"),
    ("/api/i18n", "GET"),
    ("/api/report", "POST"),
    ("/report", "GET"),
    ("/api/stats", "GET"),
    ("/api/ui-config", "GET"),
    ("/api/session", "POST"),
    ("/", "GET"),
    ("/ui/{path:.*}", "GET"),
    ("/openapi.json", "GET"),
];

/// The route table. Every resource answers a wrong method with a JSON 405, and unknown paths
/// get a JSON 404 that says where the API is described.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // A resource whose other methods get a JSON 405 with `Allow: {allow}`; it must be one of
    // `ROUTES`, which the OpenAPI description is checked against.
    let resource = |path: &str, allow: &'static str| {
        assert!(
            ROUTES.contains(&(path, allow)),
            "{path} ({allow}) is missing from routes::ROUTES"
        );
        web::resource(path.to_owned()).default_service(web::to(move |req: HttpRequest| {
            method_not_allowed(req, allow)
        }))
    };
    cfg.service(resource("/v1/chat", "POST").route(web::post().to(chat::chat)))
        .service(resource("/v1/documents", "POST").route(web::post().to(documents::create)))
        .service(resource("/v1/documents/{id}", "GET").route(web::get().to(documents::status)))
        .service(
            resource("/admin/fixes", "GET, PUT")
                .route(web::get().to(admin::get_fixes))
                .route(web::put().to(admin::put_fixes)),
        )
        .service(resource("/admin/index", "POST").route(web::post().to(admin::build_index)))
        .service(
            resource("/admin/scenarios/{name}", "POST").route(web::post().to(admin::set_scenario)),
        )
        .service(resource("/healthz", "GET").route(web::get().to(health::healthz)))
        .service(resource("/readyz", "GET").route(web::get().to(health::readyz)))
        .service(resource("/metrics", "GET").route(web::get().to(metrics)))
        .service(
            resource("/api/traces", "GET, POST")
                .route(web::get().to(traces::list))
                .route(web::post().to(traces::import)),
        )
        .service(resource("/api/traces/{trace_id}", "GET").route(web::get().to(traces::get)))
        .service(resource("/api/breakdown", "GET").route(web::get().to(traces::breakdown)))
        .service(resource("/api/summary", "GET").route(web::get().to(traces::summary)))
        .service(resource("/api/simulate", "POST").route(web::post().to(report::simulate)))
        .service(resource("/api/simulate/defaults", "GET").route(web::get().to(report::defaults)))
        .service(resource("/api/i18n", "GET").route(web::get().to(report::strings)))
        .service(resource("/api/report", "POST").route(web::post().to(report::lab_pair)))
        .service(resource("/report", "GET").route(web::get().to(report::live)))
        .service(resource("/api/stats", "GET").route(web::get().to(viewer::stats)))
        .service(resource("/api/ui-config", "GET").route(web::get().to(viewer::ui_config)))
        .service(resource("/api/session", "POST").route(web::post().to(viewer::session)))
        .service(resource("/", "GET").route(web::get().to(ui::root)))
        .service(resource("/ui/{path:.*}", "GET").route(web::get().to(ui::asset)))
        .service(resource("/openapi.json", "GET").route(web::get().to(ui::openapi)))
        .default_service(web::to(not_found));
}

/// Refuses a browser request sent by a page of another web origin than the app's own (its
/// `Origin` header names another host than its `Host` header), unless `server.allowed_origins`
/// lists it. Requests without `Origin` (curl, SDKs, same-origin GETs) pass: the check is against
/// web pages driving the app from a visitor's browser, including through DNS rebinding (the
/// page's origin is then its own domain, not the app's address).
pub fn same_origin(req: &HttpRequest, state: &crate::state::AppState) -> Result<(), ApiError> {
    let Some(origin) = req.headers().get(actix_web::http::header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin
        .to_str()
        .unwrap_or("(not text)")
        .trim_end_matches('/');
    let host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let own = origin.split_once("://").is_some_and(|(scheme, rest)| {
        matches!(scheme, "http" | "https") && host.is_some_and(|h| h.eq_ignore_ascii_case(rest))
    });
    if own
        || state
            .allowed_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
    {
        Ok(())
    } else {
        Err(ApiError::CrossOrigin {
            origin: origin.to_owned(),
        })
    }
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

/// Reads a request body, refusing more than `limit` bytes (with `too_large` as the 413's hint)
/// and a body that takes longer than `deadline` to arrive (408). `hint` tells the caller what to
/// send when the body cannot be read.
pub async fn read_body(
    mut payload: web::Payload,
    limit: usize,
    deadline: std::time::Duration,
    hint: &str,
    too_large: &'static str,
) -> Result<Bytes, ApiError> {
    within(deadline, async move {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk
                .map_err(|e| ApiError::bad_body(&format!("cannot read the body: {e}"), hint))?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::PayloadTooLarge {
                    limit,
                    hint: too_large,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    })
    .await
}

/// Runs `read` (reading a body), or answers 408 when it is not done within `deadline`.
pub async fn within<T>(
    deadline: std::time::Duration,
    read: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    tokio::time::timeout(deadline, read)
        .await
        .unwrap_or(Err(ApiError::BodyTimeout {
            ms: deadline.as_millis(),
        }))
}

/// `GET /metrics`: every metric in `semconv::metric` and the process's own, in the Prometheus
/// text format, or OpenMetrics with the request-duration exemplars (trace ids) when the scraper
/// asks for it.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    operation_id = "metrics",
    summary = "Prometheus exposition of every ragtrace metric and the process's own",
    description = "The Prometheus text format 0.0.4 by default; OpenMetrics 1.0, with the trace ids of sampled requests as exemplars of `http_server_request_duration_seconds`, when `Accept` asks for `application/openmetrics-text`.",
    params(("Accept" = Option<String>, Header, description = "`application/openmetrics-text` for OpenMetrics with exemplars.")),
    responses((status = 200, description = "The metrics.", content(
        (String = "text/plain"),
        (String = "application/openmetrics-text"),
    ))),
)]
pub async fn metrics(req: HttpRequest) -> HttpResponse {
    let accept = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let (content_type, body) = ragtrace_core::metrics::render_for(
        accept,
        &[&ragtrace_core::semconv::metric::HTTP_SERVER_DURATION],
    );
    HttpResponse::Ok().content_type(content_type).body(body)
}

/// Unknown routes: a JSON 404 that says where to look.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound {
        method: req.method().to_string(),
        path: req.path().to_owned(),
    })
}

/// Known routes with the wrong method: a JSON 405 with `Allow: {allow}`.
pub async fn method_not_allowed(
    req: HttpRequest,
    allow: &'static str,
) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        allow,
    })
}
