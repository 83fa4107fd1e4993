//! The built-in web UI, served from assets compiled into the binary (`app/ui`), so the viewer
//! needs no Node and no files at run time, and the OpenAPI description generated from the code.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use include_dir::{Dir, include_dir};

use crate::error::ApiError;

/// `app/ui` (the viewer and the API page), compiled in so the binary needs no files at run time.
pub static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/ui");

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// The UI's Content-Security-Policy: its own scripts, styles and API only (no inline script,
/// nothing from elsewhere), never framed by another page (clickjacking), no `<base>` or form
/// posts elsewhere.
pub const UI_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// The headers every page of the app carries: no content sniffing, no framing, no referrer to
/// the sites it links to (Jaeger, Grafana), and `csp` as its Content-Security-Policy.
pub fn secure_page(resp: &mut actix_web::HttpResponseBuilder, csp: &'static str) {
    resp.insert_header((header::CONTENT_SECURITY_POLICY, csp))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
}

/// `GET /` → the UI.
#[utoipa::path(
    get,
    path = "/",
    tag = "ui",
    operation_id = "root",
    summary = "Redirects to the built-in UI",
    responses((status = 302, description = "To `/ui/`.", headers(("Location" = String, description = "`/ui/`")))),
)]
pub async fn root() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/ui/"))
        .finish()
}

/// `GET /ui/{path}`: an embedded asset; `/ui/` is the page.
#[utoipa::path(
    get,
    path = "/ui/{path}",
    tag = "ui",
    operation_id = "uiAsset",
    summary = "The built-in UI: assets compiled into the binary; an empty path is the page",
    description = "`/ui/` is the trace viewer, `/ui/api.html` this API's interactive description.",
    params(("path" = String, Path, description = "Asset path (`index.html`, `app.js`, `api.html`, …); empty for the page.")),
    responses(
        (status = 200, description = "The asset.", content(
            (String = "text/html"), (String = "text/javascript"), (String = "text/css"), (String = "application/json"),
        )),
        (status = 404, description = "`not_found`: no such asset.", body = crate::error::ErrorBody),
    ),
)]
pub async fn asset(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let path = path.into_inner();
    let path = if path.is_empty() {
        "index.html".to_owned()
    } else {
        path
    };
    match ASSETS.get_file(&path) {
        Some(file) if !path.contains("..") => {
            let mut resp = HttpResponse::Ok();
            resp.content_type(content_type(&path))
                // Assets change only with the binary; the page itself is always revalidated.
                .insert_header((header::CACHE_CONTROL, "no-cache"));
            secure_page(&mut resp, UI_CSP);
            Ok(resp.body(file.contents()))
        }
        _ => Err(ApiError::NotFound {
            method: req.method().to_string(),
            path: req.path().to_owned(),
        }),
    }
}

/// `GET /openapi.json`: the OpenAPI description of the whole HTTP API, generated from the
/// handlers and their types ([`crate::openapi`]).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "ui",
    operation_id = "openapi",
    summary = "This OpenAPI description",
    description = "Generated from the handlers and the types they read and answer; `/ui/api.html` shows it as an interactive page.",
    responses((status = 200, description = "An OpenAPI 3.1 document.", body = Object)),
)]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(crate::openapi::json())
}
