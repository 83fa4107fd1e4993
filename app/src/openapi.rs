//! The OpenAPI description of the HTTP API, generated from the code: each handler's
//! `#[utoipa::path]` and the types it reads and answers (`ToSchema`, `IntoParams`), so the
//! description cannot drift from the handlers. `GET /openapi.json` serves it and `/ui/api.html`
//! shows it as an interactive page (Swagger UI, vendored in `app/ui/vendor`).
//!
//! [`crate::routes::ROUTES`] lists the route table's paths and methods; a test checks that it
//! and this description name the same operations.

use std::sync::LazyLock;

use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{HeaderBuilder, ObjectBuilder, RefOr, Type};

use crate::routes;

/// The description, assembled from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ragtrace",
        description = "A retrieval-augmented chat service, traced end to end with OpenTelemetry and Prometheus.\n\nEvery error response is JSON: `{\"error\": {\"type\", \"message\", \"field\"?, \"hint\"?}}` (`Error`). Unknown routes answer 404 (`not_found`); a known route with another method answers 405 (`method_not_allowed`) with `Allow`.\n\nEvery response carries a W3C `traceresponse` header (`00-{trace_id}-{root span id}-{flags}`). `/`, `/ui/*`, `/openapi.json`, `/api/*`, `/metrics`, `/healthz` and `/readyz` are not traced.\n\nThis description is generated from the code (utoipa); the interactive page is at `/ui/api.html`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "/", description = "The ragtrace server (default http://127.0.0.1:8080)")),
    tags(
        (name = "chat", description = "Ask a question"),
        (name = "documents", description = "Upload documents for the ingest worker to index"),
        (name = "traces", description = "The in-process trace store: recent traces without Jaeger"),
        (name = "ops", description = "Health, readiness, metrics and live stats"),
        (name = "ui", description = "The built-in trace viewer and this description"),
        (name = "report", description = "For the people who decide: the executive report of two measured windows (one HTML page) and the cost simulator. See docs/report.md."),
        (name = "admin", description = "The case studies' fixes and the simulator's scenario, switched on a running app. Loopback callers only (403 `forbidden` otherwise) unless `admin.allow_remote` is set. Each change is an event on the admin request's span and a log line."),
    ),
    paths(
        routes::chat::chat,
        routes::documents::create,
        routes::documents::status,
        routes::health::healthz,
        routes::health::readyz,
        routes::metrics,
        routes::traces::list,
        routes::traces::import,
        routes::traces::get,
        routes::traces::breakdown,
        routes::traces::summary,
        routes::viewer::stats,
        routes::viewer::ui_config,
        routes::viewer::session,
        routes::report::live,
        routes::report::lab_pair,
        routes::report::simulate,
        routes::report::defaults,
        routes::report::strings,
        routes::admin::get_fixes,
        routes::admin::put_fixes,
        routes::admin::build_index,
        routes::admin::set_scenario,
        routes::ui::root,
        routes::ui::asset,
        routes::ui::openapi,
    ),
    components(schemas(crate::domain::ChatStreamSources, crate::domain::ChatStreamDelta)),
    modifiers(&TraceResponse),
)]
pub struct ApiDoc;

/// Adds the `traceresponse` header, which the middleware puts on every response, to every
/// response of every operation.
struct TraceResponse;

impl utoipa::Modify for TraceResponse {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let header = HeaderBuilder::new()
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")),
            ))
            .description(Some(
                "W3C trace context of this response: `00-{trace_id}-{root span id}-{flags}`.",
            ))
            .build();
        for item in openapi.paths.paths.values_mut() {
            let ops: [&mut Option<Operation>; 4] = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ];
            for op in ops.into_iter().flatten() {
                for resp in op.responses.responses.values_mut() {
                    if let RefOr::T(resp) = resp {
                        resp.headers
                            .insert("traceresponse".to_owned(), RefOr::T(header.clone()));
                    }
                }
            }
        }
    }
}

/// The description as JSON, built once.
pub fn json() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI description serialises")
    });
    &JSON
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Each operation as `METHOD path`, from the description.
    fn described() -> BTreeSet<String> {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        let mut ops = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                    ops.insert(format!("{} {path}", method.to_uppercase()));
                }
            }
        }
        ops
    }

    /// The route table and the description name the same operations: a route added without a
    /// description, or a description of a route that does not exist, fails here.
    #[test]
    fn describes_exactly_the_routes_served() {
        let served: BTreeSet<String> = routes::ROUTES
            .iter()
            .flat_map(|(path, allow)| {
                // actix's `{path:.*}` is OpenAPI's `{path}`.
                let path = path.replace(":.*}", "}");
                allow
                    .split(", ")
                    .map(move |m| format!("{m} {path}"))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(described(), served);
    }

    /// The chat request schema is the handler's own type: its fields, required ones and the
    /// refusal of unknown fields come from `ChatRequestBody`.
    #[test]
    fn chat_schemas_come_from_the_handlers_types() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        let chat = &doc["components"]["schemas"]["ChatRequest"];
        let fields: BTreeSet<&str> = chat["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            BTreeSet::from(["question", "user_id", "session_id", "stream"])
        );
        assert_eq!(chat["required"], serde_json::json!(["question"]));
        assert_eq!(chat["additionalProperties"], false);
        let op = &doc["paths"]["/v1/chat"]["post"];
        assert_eq!(
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ChatRequest"
        );
        assert_eq!(
            op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error"
        );
        assert!(doc["paths"]["/v1/documents"]["post"].is_object());
    }

    /// Every error class the API can answer is in the description's enum, named as the body
    /// names it.
    #[test]
    fn error_types_are_the_error_kinds() {
        use crate::error::ErrorKind;
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        let described: BTreeSet<String> = doc["components"]["schemas"]["ErrorKind"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let kinds: BTreeSet<String> = ErrorKind::ALL
            .iter()
            .map(|k| {
                let json = serde_json::to_value(k).unwrap();
                assert_eq!(json, k.as_str(), "serde and as_str agree");
                k.as_str().to_owned()
            })
            .collect();
        assert_eq!(described, kinds);
    }
}
