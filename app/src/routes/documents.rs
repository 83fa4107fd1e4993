//! `POST /v1/documents` enqueues a document for the ingest worker and answers 202 with the job's
//! id; `GET /v1/documents/{id}` reports the job. The upload's trace continues in the worker:
//! [`queue::send`] enqueues the job in a producer span whose context the job carries.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use ragtrace_core::queue::{self, Job};
use ragtrace_core::queue::{JobStatus, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::upload::{JsonUpload, MultipartUpload, Upload};

/// `?name=` of a raw upload.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NameQuery {
    /// File name of a raw upload (its extension gives the format when the Content-Type does not).
    pub name: Option<String>,
}

/// The answer of `POST /v1/documents`: the job is on disk and queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobAccepted {
    /// The job's id.
    pub id: Uuid,
    /// `queued`.
    pub status: State,
    /// The source the document's chunks are filed under (`uploads/notes.md`).
    pub source: String,
    /// Where to poll the job: `/v1/documents/{id}`.
    pub status_url: String,
    /// The upload's trace, which the worker's processing joins.
    pub trace_id: Option<String>,
}

/// `POST /v1/documents`: parses the upload, queues an ingest job, answers 202 with its status URL.
/// A refusal is counted in `ragtrace_errors_total` (a full queue as `queue`).
#[utoipa::path(
    post,
    path = "/v1/documents",
    tag = "documents",
    operation_id = "uploadDocument",
    summary = "Upload a document to index",
    description = "Markdown, plain text, HTML or PDF, as a multipart `file` field, as a raw body with its Content-Type and `?name=`, or as JSON `{\"name\", \"text\" | \"content_base64\"}`. The upload is written to disk before the 202, and indexed by the worker; poll `status_url`.",
    params(NameQuery),
    request_body(content(
        (MultipartUpload = "multipart/form-data"),
        (JsonUpload = "application/json"),
        (String = "text/markdown"),
        (String = "text/plain"),
        (String = "text/html"),
        (Vec<u8> = "application/pdf"),
    )),
    responses(
        (status = 202, description = "Accepted: on disk, queued for the worker.", body = JobAccepted, headers(("Location" = String, description = "The job's status URL."))),
        (status = 400, description = "`validation`: the body cannot be read (a broken multipart body, too many fields).", body = ErrorBody),
        (status = 403, description = "`forbidden`: sent by a page of another origin, or naming an unknown host.", body = ErrorBody),
        (status = 408, description = "`validation`: the body did not arrive within `server.body_timeout_ms`.", body = ErrorBody),
        (status = 413, description = "`validation`: larger than `ingest.max_file_bytes`.", body = ErrorBody),
        (status = 415, description = "`validation`: a type that cannot be ingested.", body = ErrorBody),
        (status = 422, description = "`validation`: a missing name or file, an empty or non-UTF-8 text, a \"PDF\" that is not one; `field` names it.", body = ErrorBody),
        (status = 503, description = "`queue`: the ingest queue is full or cannot write to disk; retry after `Retry-After`.", body = ErrorBody, headers(("Retry-After" = String, description = "Seconds to wait."))),
    ),
)]
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
        .json(JobAccepted {
            id,
            status: status.status,
            source: status.source,
            status_url: format!("/v1/documents/{id}"),
            trace_id: status.trace_id,
        }))
}

/// `GET /v1/documents/{id}`: the job's status; 422 for a non-UUID id, 404 if unknown or expired.
#[utoipa::path(
    get,
    path = "/v1/documents/{id}",
    tag = "documents",
    operation_id = "documentStatus",
    summary = "An upload's status",
    params(("id" = Uuid, Path, description = "The job's id, as `POST /v1/documents` answered it.")),
    responses(
        (status = 200, description = "The job's status.", body = JobStatus),
        (status = 404, description = "`not_found`: no such job, or its status expired (`ingest.job_ttl_secs`).", body = ErrorBody),
        (status = 422, description = "`validation`: the id is not a UUID.", body = ErrorBody),
    ),
)]
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
