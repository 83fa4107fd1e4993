//! HTTP handlers of the simulator.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, web};
use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::SimState;
use crate::answer::{answer, extract_question, parse_passages};
use crate::embeddings::embed;
use crate::profile::{Endpoint, Fault, ProfilePatch, Scenario};

/// Largest batch of embedding inputs OpenAI accepts.
pub const MAX_EMBEDDING_INPUTS: usize = 2048;

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
                        let msg = err.to_string();
                        actix_web::error::InternalError::from_response(
                            err,
                            openai_error(
                                StatusCode::BAD_REQUEST,
                                "invalid_request_error",
                                &format!("invalid JSON body: {msg}"),
                                None,
                            ),
                        )
                        .into()
                    }),
            )
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                let msg = err.to_string();
                actix_web::error::InternalError::from_response(
                    err,
                    openai_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        &format!("invalid query string: {msg}"),
                        None,
                    ),
                )
                .into()
            }))
            .route("/v1/chat/completions", web::post().to(chat_completions))
            .route("/v1/embeddings", web::post().to(embeddings))
            .route("/v1/models", web::get().to(models))
            .route(
                "/v1/audio/transcriptions",
                web::post().to(crate::audio::transcriptions),
            )
            .route("/catalog/search", web::get().to(catalog_search))
            .route("/admin/profiles", web::get().to(get_profiles))
            .route("/admin/profiles/{endpoint}", web::put().to(put_profile))
            .route("/admin/scenarios", web::get().to(list_scenarios))
            .route("/admin/scenarios/{name}", web::post().to(set_scenario))
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
            openai_error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "unknown route; the simulator serves /v1/chat/completions, /v1/embeddings, /v1/models, /v1/audio/transcriptions, /catalog/search and /admin/*",
                None,
            )
        }));
    }
}

/// An error in OpenAI's shape (`{"error": {message, type, param, code}}`), which async-openai and
/// the official SDKs parse into typed errors.
pub fn openai_error(
    status: StatusCode,
    kind: &str,
    message: &str,
    param: Option<&str>,
) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "error": {"message": message, "type": kind, "param": param, "code": Value::Null}
    }))
}

pub(crate) fn count(endpoint: Endpoint, outcome: &'static str) {
    ragtrace_core::metrics::counter(
        &ragtrace_core::semconv::metric::SIM_REQUESTS_TOTAL,
        [endpoint.as_str(), outcome],
    )
    .increment(1);
}

/// A 400 in OpenAI's shape for a request to `endpoint`, counted as `bad_request`.
fn bad_request(endpoint: Endpoint, message: &str, param: &str) -> HttpResponse {
    count(endpoint, "bad_request");
    openai_error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        message,
        Some(param),
    )
}

/// Applies the endpoint's profile: returns the latency to spend on success, or the fault
/// response after spending its share of time.
pub(crate) async fn apply_profile(
    state: &SimState,
    endpoint: Endpoint,
) -> Result<Duration, HttpResponse> {
    let profile = state
        .profiles
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(endpoint);
    let (fault, latency) = {
        let mut rng = rand::rng();
        (
            profile.sample_fault(&mut rng),
            profile.sample_latency(&mut rng),
        )
    };
    match fault {
        Fault::None => Ok(latency),
        Fault::Hang => {
            count(endpoint, "hang");
            tokio::time::sleep(Duration::from_millis(profile.hang_ms)).await;
            Err(openai_error(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                "simulated hang ended",
                None,
            ))
        }
        Fault::RateLimited => {
            count(endpoint, "rate_limited");
            // A rate limit answers fast: the point is the refusal, not the wait.
            tokio::time::sleep(latency / 10).await;
            let mut resp = openai_error(
                StatusCode::TOO_MANY_REQUESTS,
                "requests",
                "Rate limit reached (simulated by ragtrace-sim). Please retry after the delay in Retry-After.",
                None,
            );
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(profile.retry_after_secs),
            );
            Err(resp)
        }
        Fault::ServerError => {
            count(endpoint, "error");
            tokio::time::sleep(latency / 2).await;
            Err(openai_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "The server had an error while processing your request (simulated by ragtrace-sim).",
                None,
            ))
        }
    }
}

/// `sim-` + the requested model, so responses say they are simulated.
pub(crate) fn sim_model(requested: &str) -> String {
    if requested.starts_with("sim-") {
        requested.to_owned()
    } else {
        format!("sim-{requested}")
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[derive(Debug, Deserialize)]
struct ChatMessage {
    role: String,
    #[serde(default)]
    content: Value,
}

impl ChatMessage {
    /// Text of a message whose content is a string or an array of `{type: text, text}` parts.
    fn text(&self) -> String {
        match &self.content {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct ChatRequest {
    model: String,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    max_tokens: Option<u32>,
}

async fn chat_completions(state: web::Data<SimState>, req: web::Json<ChatRequest>) -> HttpResponse {
    let req = req.into_inner();
    if req.messages.is_empty() {
        return bad_request(
            Endpoint::Chat,
            "'messages' must contain at least one message",
            "messages",
        );
    }
    if req.model.trim().is_empty() {
        return bad_request(Endpoint::Chat, "'model' must not be empty", "model");
    }
    let latency = match apply_profile(&state, Endpoint::Chat).await {
        Ok(l) => l,
        Err(resp) => return resp,
    };

    let all_text: String = req
        .messages
        .iter()
        .map(ChatMessage::text)
        .collect::<Vec<_>>()
        .join("\n");
    let user = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(ChatMessage::text)
        .unwrap_or_default();
    let passages = parse_passages(&all_text);
    let mut text = answer(extract_question(&user), &passages);
    let max_tokens = req
        .max_completion_tokens
        .or(req.max_tokens)
        .unwrap_or(u32::MAX) as usize;
    let mut finish = "stop";
    if state.tokenizer.count(&text) > max_tokens {
        text = state.tokenizer.truncate(&text, max_tokens);
        finish = "length";
    }
    let prompt_tokens = state.tokenizer.count(&all_text) as u32 + 3 * req.messages.len() as u32;
    let completion_tokens = state.tokenizer.count(&text) as u32;
    let usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    let id = format!("chatcmpl-sim-{}", uuid_like());
    let model = sim_model(&req.model);
    let created = now_secs();
    count(Endpoint::Chat, "ok");

    if !req.stream.unwrap_or(false) {
        tokio::time::sleep(latency).await;
        return HttpResponse::Ok().json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
            }],
            "usage": usage,
        }));
    }

    // Streamed: a quarter of the latency before the first token, the rest spread over the
    // pieces, like a model that thinks and then types.
    let include_usage = req
        .stream_options
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    let pieces = split_pieces(&text);
    let ttft = latency / 4;
    let per_piece = (latency - ttft) / (pieces.len().max(1) as u32);
    let chunk = move |delta: Value, finish: Value, usage: Value| {
        let mut c = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": if delta.is_null() && finish.is_null() { json!([]) } else {
                json!([{"index": 0, "delta": delta, "finish_reason": finish}])
            },
        });
        if !usage.is_null() {
            c["usage"] = usage;
        }
        Bytes::from(format!("data: {c}\n\n"))
    };
    let stream = async_stream::stream! {
        tokio::time::sleep(ttft).await;
        yield Ok::<_, actix_web::Error>(chunk(json!({"role": "assistant", "content": ""}), Value::Null, Value::Null));
        for piece in pieces {
            tokio::time::sleep(per_piece).await;
            yield Ok(chunk(json!({"content": piece}), Value::Null, Value::Null));
        }
        yield Ok(chunk(json!({}), json!(finish), Value::Null));
        if include_usage {
            yield Ok(chunk(Value::Null, Value::Null, usage));
        }
        yield Ok(Bytes::from_static(b"data: [DONE]\n\n"));
    };
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .streaming(stream)
}

/// Splits text into word-sized pieces that concatenate back to it.
fn split_pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        cur.push(ch);
        if ch == ' ' {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn uuid_like() -> String {
    use rand::Rng as _;
    format!("{:032x}", rand::rng().random::<u128>())
}

#[derive(Debug, Deserialize)]
struct EmbeddingRequest {
    model: String,
    input: Value,
    #[serde(default)]
    dimensions: Option<usize>,
    #[serde(default)]
    encoding_format: Option<String>,
}

async fn embeddings(state: web::Data<SimState>, req: web::Json<EmbeddingRequest>) -> HttpResponse {
    let req = req.into_inner();
    let bad = |msg: &str, param: &str| bad_request(Endpoint::Embeddings, msg, param);
    let inputs: Vec<String> = match &req.input {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Value::Array(_) => {
            return bad(
                "the simulator accepts 'input' as a string or an array of strings (token arrays are not supported)",
                "input",
            );
        }
        _ => return bad("'input' must be a string or an array of strings", "input"),
    };
    if inputs.is_empty() || inputs.iter().any(|s| s.is_empty()) {
        return bad(
            "'input' must not be empty, and no input may be an empty string",
            "input",
        );
    }
    if inputs.len() > MAX_EMBEDDING_INPUTS {
        return bad(
            &format!(
                "'input' has {} items; at most {MAX_EMBEDDING_INPUTS} are allowed per request",
                inputs.len()
            ),
            "input",
        );
    }
    let dim = req.dimensions.unwrap_or(state.embedding_dim);
    if !(8..=4096).contains(&dim) {
        return bad("'dimensions' must be between 8 and 4096", "dimensions");
    }
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(_) => {
            return bad(
                "'encoding_format' must be 'float' or 'base64'",
                "encoding_format",
            );
        }
    };
    let latency = match apply_profile(&state, Endpoint::Embeddings).await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    let tokens: usize = inputs.iter().map(|s| state.tokenizer.count(s)).sum();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let v = embed(text, dim);
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    tokio::time::sleep(latency).await;
    count(Endpoint::Embeddings, "ok");
    HttpResponse::Ok().json(json!({
        "object": "list",
        "data": data,
        "model": sim_model(&req.model),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
}

async fn models(state: web::Data<SimState>) -> HttpResponse {
    if let Err(resp) = apply_profile(&state, Endpoint::Models).await {
        return resp;
    }
    count(Endpoint::Models, "ok");
    let created = now_secs();
    let data: Vec<Value> = [
        "sim-gpt-4o-mini",
        "sim-gpt-4o",
        "sim-text-embedding-3-small",
        "sim-whisper-1",
    ]
    .iter()
    .map(|id| json!({"id": id, "object": "model", "created": created, "owned_by": "ragtrace-sim"}))
    .collect();
    HttpResponse::Ok().json(json!({"object": "list", "data": data}))
}

#[derive(Debug, Deserialize)]
struct CatalogQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    limit: Option<usize>,
}

async fn catalog_search(
    state: web::Data<SimState>,
    query: web::Query<CatalogQuery>,
) -> HttpResponse {
    let q = query.q.trim();
    if q.is_empty() {
        return bad_request(
            Endpoint::Catalog,
            "query parameter 'q' is required, e.g. /catalog/search?q=motion+sensor",
            "q",
        );
    }
    let limit = query.limit.unwrap_or(5);
    if !(1..=50).contains(&limit) {
        return bad_request(
            Endpoint::Catalog,
            "'limit' must be between 1 and 50",
            "limit",
        );
    }
    let latency = match apply_profile(&state, Endpoint::Catalog).await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    let results = state.catalog.search(q, limit);
    tokio::time::sleep(latency).await;
    count(Endpoint::Catalog, "ok");
    HttpResponse::Ok().json(ragtrace_core::catalog::SearchResponse {
        query: q.to_owned(),
        results,
    })
}

async fn get_profiles(state: web::Data<SimState>) -> HttpResponse {
    let p = state
        .profiles
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    HttpResponse::Ok().json(p)
}

async fn put_profile(
    state: web::Data<SimState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let Some(endpoint) = Endpoint::parse(&path) else {
        return openai_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "unknown endpoint; one of chat, embeddings, models, catalog",
            Some("endpoint"),
        );
    };
    let patch: ProfilePatch = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return openai_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!(
                    "invalid profile: {e}; fields: latency_ms, jitter_ms, error_rate, rate_limit_rate, hang_rate, retry_after_secs, hang_ms"
                ),
                None,
            );
        }
    };
    let result = state
        .profiles
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .patch(endpoint, &patch);
    match result {
        Ok(p) => {
            tracing::info!(endpoint = endpoint.as_str(), ?p, "profile changed");
            HttpResponse::Ok().json(p)
        }
        Err(e) => openai_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request_error",
            &e.to_string(),
            Some(&e.field),
        ),
    }
}

async fn list_scenarios() -> HttpResponse {
    let list: Vec<Value> = [
        "healthy",
        "instant",
        "slow-catalog",
        "rate-limited",
        "llm-errors",
        "llm-hang",
    ]
    .iter()
    .filter_map(|n| Scenario::parse(n))
    .map(|s| json!({"name": s.as_str(), "description": s.description()}))
    .collect();
    HttpResponse::Ok().json(list)
}

async fn set_scenario(state: web::Data<SimState>, path: web::Path<String>) -> HttpResponse {
    match Scenario::parse(&path) {
        Some(s) => {
            let profiles = s.profiles();
            *state.profiles.write().unwrap_or_else(|p| p.into_inner()) = profiles.clone();
            tracing::info!(scenario = s.as_str(), "scenario set");
            HttpResponse::Ok()
                .content_type(ContentType::json())
                .json(json!({"scenario": s.as_str(), "profiles": profiles}))
        }
        None => openai_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            &format!("unknown scenario; one of {}", Scenario::names()),
            Some("name"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Streamed pieces concatenate back to the answer.
    #[test]
    fn pieces_concatenate() {
        let t = "To reset the hub [2]. Hold it.";
        assert_eq!(split_pieces(t).concat(), t);
        assert!(split_pieces("").is_empty());
    }
}
