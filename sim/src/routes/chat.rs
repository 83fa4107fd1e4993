//! `POST /v1/chat/completions`: an extractive answer built from the context passages the
//! prompt carries, plain or streamed as server-sent events (with usage when
//! `stream_options.include_usage` is set).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::SimState;
use crate::answer::{answer, extract_question, parse_passages};
use crate::error::SimError;
use crate::fault::{apply_profile, sim_model};
use crate::profile::Endpoint;

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

/// The part of a chat completion request the simulator reads; other fields are ignored, as
/// OpenAI ignores what it does not know.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
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

/// An answer and what the API says about it.
struct Answer {
    id: String,
    model: String,
    created: u64,
    text: String,
    finish: &'static str,
    usage: Value,
}

/// The extractive answer to `req`, cut to its token limit.
fn answer_to(state: &SimState, req: &ChatRequest) -> Answer {
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
    Answer {
        id: format!("chatcmpl-sim-{}", uuid_like()),
        model: sim_model(&req.model),
        created: now_secs(),
        text,
        finish,
        usage: json!({
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }),
    }
}

/// `POST /v1/chat/completions`: an extractive answer after the profile's latency, plain or SSE.
pub async fn chat_completions(
    state: web::Data<SimState>,
    req: web::Json<ChatRequest>,
) -> Result<HttpResponse, SimError> {
    let req = req.into_inner();
    if req.messages.is_empty() {
        return Err(SimError::bad_request(
            &state,
            Endpoint::Chat,
            "'messages' must contain at least one message",
            "messages",
        ));
    }
    if req.model.trim().is_empty() {
        return Err(SimError::bad_request(
            &state,
            Endpoint::Chat,
            "'model' must not be empty",
            "model",
        ));
    }
    let latency = apply_profile(&state, Endpoint::Chat).await?;
    let answer = answer_to(&state, &req);
    state.count(Endpoint::Chat, "ok");
    if !req.stream.unwrap_or(false) {
        tokio::time::sleep(latency).await;
        return Ok(HttpResponse::Ok().json(json!({
            "id": answer.id,
            "object": "chat.completion",
            "created": answer.created,
            "model": answer.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": answer.text},
                "finish_reason": answer.finish,
            }],
            "usage": answer.usage,
        })));
    }
    let include_usage = req
        .stream_options
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    Ok(streamed(answer, latency, include_usage))
}

/// The answer as server-sent events: a quarter of the latency before the first token, the rest
/// spread over the pieces, like a model that thinks and then types.
fn streamed(answer: Answer, latency: Duration, include_usage: bool) -> HttpResponse {
    let Answer {
        id,
        model,
        created,
        text,
        finish,
        usage,
    } = answer;
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

/// Seconds since the Unix epoch, for `created`.
pub(super) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
