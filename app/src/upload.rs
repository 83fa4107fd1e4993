//! An uploaded document, parsed ("parse, don't validate"): whatever the body's shape (multipart
//! form, raw bytes with `?name=`, or JSON with text or base64), an [`Upload`] has a clean file
//! name, a format ragtrace can ingest, and content that passed the cheap checks, so obvious
//! mistakes get a 4xx now rather than a failed job later.

use actix_multipart::Multipart;
use actix_web::http::header::{self, HeaderMap};
use actix_web::web;
use futures::StreamExt as _;
use ragtrace_core::queue::{Format, decode_base64};
use serde::Deserialize;

use crate::error::ApiError;
use crate::routes::read_body;

/// A document upload that can be queued.
#[derive(Debug)]
pub struct Upload {
    /// The file name: its last path component, no control characters.
    pub name: String,
    /// The format, from the content type or else the name's extension.
    pub format: Format,
    /// The raw bytes (base64 already decoded), checked non-empty and a real PDF or valid UTF-8.
    pub content: Vec<u8>,
}

impl Upload {
    /// Reads and parses an upload body of at most `max_bytes` (before any decoding). `name` is
    /// the `?name=` of a raw upload.
    pub async fn read(
        headers: &HeaderMap,
        name: Option<String>,
        payload: web::Payload,
        max_bytes: usize,
        deadline: std::time::Duration,
    ) -> Result<Self, ApiError> {
        let essence = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let (name, mime, content) = match essence.as_str() {
            "multipart/form-data" => {
                crate::routes::within(
                    deadline,
                    read_multipart(Multipart::new(headers, payload), max_bytes),
                )
                .await?
            }
            // JSON bodies carry base64 (4/3 larger) and some framing.
            "application/json" => {
                let limit = max_bytes / 3 * 4 + 4096;
                let body = read_body(payload, limit, deadline, HINT, TOO_LARGE).await?;
                from_json(&body)?
            }
            _ => {
                let body = read_body(payload, max_bytes, deadline, HINT, TOO_LARGE).await?;
                let name = name.ok_or_else(|| {
                    ApiError::validation(
                        "name",
                        "is required as a query parameter for raw uploads",
                        "POST /v1/documents?name=notes.md with Content-Type text/markdown",
                    )
                })?;
                let mime =
                    Some(essence).filter(|m| !m.is_empty() && m != "application/octet-stream");
                (name, mime, body.to_vec())
            }
        };
        if content.len() > max_bytes {
            return Err(ApiError::PayloadTooLarge {
                limit: max_bytes,
                hint: TOO_LARGE,
            });
        }
        let name = clean_name(&name)?;
        let format = format_of(&name, mime.as_deref())?;
        validate(&content, format)?;
        Ok(Self {
            name,
            format,
            content,
        })
    }
}

/// What to send, when the body cannot be read.
const HINT: &str = "send the document as the request body";
/// The 413's hint of an upload.
const TOO_LARGE: &str = "send a smaller document: the limit is ingest.max_file_bytes";

/// JSON upload: text, or base64 for binary formats (one of the two).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "notes.md", "text": "# Notes\n\nThe hub resets with a 10-second press."}))]
pub struct JsonUpload {
    /// File name; its extension gives the format (`notes.md`, `guide.pdf`).
    name: String,
    /// UTF-8 text (Markdown, plain text or HTML).
    text: Option<String>,
    /// The file's bytes, base64 (any supported format, PDF included).
    content_base64: Option<String>,
}

/// Multipart upload: the file, and optionally its name (else the file part's filename).
#[derive(utoipa::ToSchema)]
#[allow(
    dead_code,
    reason = "describes the multipart form the parser below reads"
)]
pub struct MultipartUpload {
    /// The document's bytes.
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
    /// File name, when the file part's own is not the one to file it under.
    name: Option<String>,
}

/// A JSON upload's name and bytes.
fn from_json(body: &[u8]) -> Result<(String, Option<String>, Vec<u8>), ApiError> {
    let up: JsonUpload = serde_json::from_slice(body).map_err(|e| {
        ApiError::schema(
            None,
            &format!("invalid upload: {e}"),
            "the body is {\"name\": string, \"text\": string} or {\"name\": string, \"content_base64\": string}",
        )
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
    Ok((up.name, None, content))
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

/// Bytes a multipart body may hold beyond its file: the other fields' values.
const MULTIPART_OVERHEAD: usize = 64 << 10;

/// Fields a multipart body may have (`file`, `name`, and a few a form may add).
const MAX_MULTIPART_FIELDS: usize = 16;

async fn read_multipart(
    mut mp: Multipart,
    max: usize,
) -> Result<(String, Option<String>, Vec<u8>), ApiError> {
    let mut name = None;
    let mut file: Option<(Option<String>, Option<String>, Vec<u8>)> = None;
    // The whole body is bounded, not only each field: the file, plus a little for the other
    // fields and the framing.
    let total_limit = max.saturating_add(MULTIPART_OVERHEAD);
    let mut total = 0usize;
    let mut fields = 0usize;
    while let Some(field) = mp.next().await {
        fields += 1;
        if fields > MAX_MULTIPART_FIELDS {
            return Err(ApiError::bad_body(
                &format!("the multipart body has more than {MAX_MULTIPART_FIELDS} fields"),
                "send one `file` field (and optionally `name`)",
            ));
        }
        let mut field = field.map_err(|e| {
            ApiError::bad_body(
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
            total += chunk.len();
            if data.len() + chunk.len() > max || total > total_limit {
                return Err(ApiError::PayloadTooLarge {
                    limit: max,
                    hint: TOO_LARGE,
                });
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
