//! `POST /v1/embeddings` (deterministic lexical vectors, float or base64) and `GET /v1/models`.

use actix_web::{HttpResponse, web};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::SimState;
use crate::embeddings::embed;
use crate::error::SimError;
use crate::fault::{apply_profile, sim_model};
use crate::profile::Endpoint;

/// Largest batch of embedding inputs OpenAI accepts.
pub const MAX_EMBEDDING_INPUTS: usize = 2048;

/// An embeddings request: `input` as a string or an array of strings.
#[derive(Debug, Deserialize)]
pub struct EmbeddingRequest {
    model: String,
    input: Value,
    #[serde(default)]
    dimensions: Option<usize>,
    #[serde(default)]
    encoding_format: Option<String>,
}

/// `POST /v1/embeddings`: one deterministic lexical vector per input, float or base64.
pub async fn embeddings(
    state: web::Data<SimState>,
    req: web::Json<EmbeddingRequest>,
) -> Result<HttpResponse, SimError> {
    let req = req.into_inner();
    let bad = |msg: &str, param: &str| {
        Err(SimError::bad_request(
            &state,
            Endpoint::Embeddings,
            msg,
            param,
        ))
    };
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
    let latency = apply_profile(&state, Endpoint::Embeddings).await?;
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
    state.count(Endpoint::Embeddings, "ok");
    Ok(HttpResponse::Ok().json(json!({
        "object": "list",
        "data": data,
        "model": sim_model(&req.model),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })))
}

/// `GET /v1/models`: the simulated models, each named `sim-…`.
pub async fn models(state: web::Data<SimState>) -> Result<HttpResponse, SimError> {
    apply_profile(&state, Endpoint::Models).await?;
    state.count(Endpoint::Models, "ok");
    let created = super::chat::now_secs();
    let data: Vec<Value> = [
        "sim-gpt-4o-mini",
        "sim-gpt-4o",
        "sim-text-embedding-3-small",
        "sim-whisper-1",
    ]
    .iter()
    .map(|id| json!({"id": id, "object": "model", "created": created, "owned_by": "ragtrace-sim"}))
    .collect();
    Ok(HttpResponse::Ok().json(json!({"object": "list", "data": data})))
}
