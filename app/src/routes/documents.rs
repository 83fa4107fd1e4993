//! `POST /v1/documents` enqueues a document for the ingest worker and answers 202 with the job's
//! id; `GET /v1/documents/{id}` reports the job. The upload's trace continues in the worker:
//! [`queue::send`] enqueues the job in a producer span whose context the job carries.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt as _;
use ragtrace_core::queue::{self, Format, Job, decode_base64};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::ApiError;
use crate::routes::read_body;
use crate::state::AppState;

/// JSON upload: text, or base64 for binary formats.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonUpload {
    /// File name; its extension gives the format (`notes.md`, `guide.pdf`).
    name: String,
    /// UTF-8 text (Markdown, plain text or HTML).
    text: Option<String>,
    /// The file's bytes, base64 (any supported format, PDF included).
    content_base64: Option<String>,
}

/// `?name=` of a raw upload.
#[derive(Debug, Deserialize)]
pub struct NameQuery {
    /// File name (its extension gives the format when the Content-Type does not).
    pub name: Option<String>,
}

/// A file name made safe as a source: its last path component, no control characters.
fn clean_name(name: &str) -> Result<String, ApiError> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let base: String = base.chars().filter(|c| !c.is_control()).collect();
    if base.is_empty() || base == "." || base == ".." || base.len() > 200 {
        return Err(ApiError::validation(
            "name",
            "must be a file name of 1 to 200 characters",
            "give the document's file name, e.g. \"vpn-faq.md\"; its extension sets the format",
        ));
    }
    Ok(base)
}

fn format_of(name: &str, mime: Option<&str>) -> Result<Format, ApiError> {
    mime.and_then(Format::from_mime)
        .or_else(|| Format::from_path(std::path::Path::new(name)))
        .ok_or_else(|| ApiError::UnsupportedMediaType {
            got: mime.map(str::to_owned).unwrap_or_else(|| name.to_owned()),
        })
}

/// Cheap checks before queueing, so obvious mistakes get a 4xx now rather than a failed job
/// later: empty bodies, text that is not UTF-8, PDFs that are not PDFs.
fn validate(content: &[u8], format: Format) -> Result<(), ApiError> {
    if content.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::validation(
            "content",
            "must not be empty",
            "send the document's bytes",
        ));
    }
    match format {
        Format::Pdf if !content.starts_with(b"%PDF-") => Err(ApiError::validation(
            "content",
            "is not a PDF (it does not start with %PDF-)",
            "send the PDF file itself, or give the document's real type",
        )),
        Format::Pdf => Ok(()),
        _ => std::str::from_utf8(content).map(|_| ()).map_err(|e| {
            ApiError::validation(
                "content",
                &format!(
                    "is not valid UTF-8 (first bad byte at offset {})",
                    e.valid_up_to()
                ),
                "save the document as UTF-8",
            )
        }),
    }
}

async fn read_multipart(
    mut mp: Multipart,
    max: usize,
) -> Result<(String, Option<String>, Vec<u8>), ApiError> {
    let mut name = None;
    let mut file: Option<(Option<String>, Option<String>, Vec<u8>)> = None;
    while let Some(field) = mp.next().await {
        let mut field = field.map_err(|e| {
            ApiError::bad_json(
                &format!("invalid multipart body: {e}"),
                "send a multipart/form-data body with a `file` field",
            )
        })?;
        let field_name = field.name().unwrap_or("").to_owned();
        let filename = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(str::to_owned);
        let mime = field.content_type().map(|m| m.essence_str().to_owned());
        let mut data = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::bad_json(
                    &format!("invalid multipart body: {e}"),
                    "send a multipart/form-data body with a `file` field",
                )
            })?;
            if data.len() + chunk.len() > max {
                return Err(ApiError::PayloadTooLarge { limit: max });
            }
            data.extend_from_slice(&chunk);
        }
        match field_name.as_str() {
            "file" => file = Some((filename, mime, data)),
            "name" => name = Some(String::from_utf8_lossy(&data).trim().to_owned()),
            _ => {}
        }
    }
    let (filename, mime, data) = file.ok_or_else(|| {
        ApiError::validation(
            "file",
            "is required",
            "curl -F file=@notes.md http://.../v1/documents",
        )
    })?;
    let name = name.or(filename).ok_or_else(|| {
        ApiError::validation(
            "name",
            "is required",
            "give the file a name (curl sends it with -F file=@path)",
        )
    })?;
    // application/octet-stream says nothing: decide by the name.
    let mime = mime.filter(|m| m != "application/octet-stream");
    Ok((name, mime, data))
}

/// `POST /v1/documents`.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NameQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let docs = &state.documents;
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let essence = ctype
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (name, mime, content) = if essence == "multipart/form-data" {
        read_multipart(Multipart::new(req.headers(), payload), docs.max_bytes).await?
    } else {
        // JSON bodies carry base64 (4/3 larger) and some framing.
        let limit = if essence == "application/json" {
            docs.max_bytes / 3 * 4 + 4096
        } else {
            docs.max_bytes
        };
        let body = read_body(payload, limit, "send the document as the request body").await?;
        if essence == "application/json" {
            let up: JsonUpload = serde_json::from_slice(&body).map_err(|e| {
                ApiError::schema(None, &format!("invalid upload: {e}; the body is {{\"name\": string, \"text\": string}} or {{\"name\": string, \"content_base64\": string}}"))
            })?;
            let content = match (up.text, up.content_base64) {
                (Some(t), None) => t.into_bytes(),
                (None, Some(b)) => decode_base64(&b).map_err(|e| {
                    ApiError::validation(
                        "content_base64",
                        &format!("is not valid base64: {e}"),
                        "encode the file with standard base64",
                    )
                })?,
                _ => {
                    return Err(ApiError::validation(
                        "text",
                        "exactly one of text and content_base64 must be given",
                        "send {\"name\": \"notes.md\", \"text\": \"# Notes ...\"}",
                    ));
                }
            };
            (up.name, None, content)
        } else {
            let name = query.into_inner().name.ok_or_else(|| {
                ApiError::validation(
                    "name",
                    "is required as a query parameter for raw uploads",
                    "POST /v1/documents?name=notes.md with Content-Type text/markdown",
                )
            })?;
            (
                name,
                Some(essence.clone()).filter(|m| !m.is_empty() && m != "application/octet-stream"),
                body.to_vec(),
            )
        }
    };
    if content.len() > docs.max_bytes {
        return Err(ApiError::PayloadTooLarge {
            limit: docs.max_bytes,
        });
    }
    let name = clean_name(&name)?;
    let format = format_of(&name, mime.as_deref())?;
    validate(&content, format)?;

    let job = Job::new(format!("uploads/{name}"), format, content);
    let id = job.id;
    let status = queue::send(docs.queue.as_ref(), job)
        .await
        .map_err(|e| ApiError::QueueUnavailable(e.to_string()))?;
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

/// `GET /v1/documents/{id}`.
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
    match state
        .documents
        .queue
        .status(id)
        .await
        .map_err(|e| ApiError::QueueUnavailable(e.to_string()))?
    {
        Some(s) => Ok(HttpResponse::Ok().json(s)),
        None => Err(ApiError::JobNotFound { id: raw }),
    }
}
