//! `POST /v1/documents` enqueues a document for the ingest worker and answers 202 with the job's
//! id; `GET /v1/documents/{id}` reports the job. The upload's trace continues in the worker:
//! [`queue::send`] enqueues the job in a producer span whose context the job carries.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use ragtrace_core::queue::{self, Job};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::upload::Upload;

/// `?name=` of a raw upload.
#[derive(Debug, Deserialize)]
pub struct NameQuery {
    /// File name (its extension gives the format when the Content-Type does not).
    pub name: Option<String>,
}

/// `POST /v1/documents`: parses the upload, queues an ingest job, answers 202 with its status URL.
/// A refusal is counted in `ragtrace_errors_total` (a full queue as `queue`).
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NameQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    accept(req, state, query, payload)
        .await
        .inspect_err(ApiError::count)
}

async fn accept(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NameQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    crate::routes::same_origin(&req, &state)?;
    let docs = &state.documents;
    let upload = Upload::read(
        req.headers(),
        query.into_inner().name,
        payload,
        docs.max_bytes,
        state.body_timeout,
    )
    .await?;
    let job = Job::new(
        format!("uploads/{}", upload.name),
        upload.format,
        upload.content,
    );
    let id = job.id;
    let status = queue::send(docs.queue.as_ref(), job).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/v1/documents/{id}")))
        .json(serde_json::json!({
            "id": id,
            "status": status.status,
            "source": status.source,
            "status_url": format!("/v1/documents/{id}"),
            "trace_id": status.trace_id,
        })))
}

/// `GET /v1/documents/{id}`: the job's status; 422 for a non-UUID id, 404 if unknown or expired.
pub async fn status(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let id: Uuid = raw.parse().map_err(|_| {
        ApiError::validation(
            "id",
            "is not a UUID",
            "use the id returned by POST /v1/documents",
        )
    })?;
    match state.documents.queue.status(id).await? {
        Some(s) => Ok(HttpResponse::Ok().json(s)),
        None => Err(ApiError::JobNotFound { id: raw }),
    }
}
