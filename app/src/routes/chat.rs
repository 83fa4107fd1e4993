//! `POST /v1/chat`: answers a question, plain JSON or streamed as server-sent events.
//!
//! Streamed answers are a sequence of events: `sources` (what the model was given), `delta`
//! (pieces of the answer), then `done` (the whole response, as the plain endpoint returns it), or
//! `error` if the LLM fails after the stream has started. Errors before the first byte are plain
//! JSON errors with their HTTP status.

use std::time::{Duration, Instant};

use actix_web::{HttpResponse, ResponseError as _, web};
use bytes::Bytes;
use futures::StreamExt as _;
use ragtrace_core::llm::StreamEvent;
use ragtrace_core::metrics::record_stage;
use ragtrace_core::semconv::{Stage, attr, metric, span};
use ragtrace_core::telemetry::trace_id_of;
use serde_json::json;
use tracing::Instrument as _;
use tracing_actix_web::RootSpan;

use crate::domain::{ChatRequest, ChatResponse};
use crate::error::ApiError;
use crate::pipeline::Outcome;
use crate::startup::AppState;

/// Reads the body, refusing more than `limit` bytes.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_json(&format!("cannot read the body: {e}"), "retry the request")
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn sse(event: &str, data: &serde_json::Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

fn count_request(outcome: &'static str, cache_hit: bool) {
    metrics::counter!(metric::CHAT_REQUESTS_TOTAL, "outcome" => outcome, "cache_hit" => if cache_hit { "true" } else { "false" })
        .increment(1);
}

fn record_answer(
    state: &AppState,
    started: Instant,
    root: &tracing::Span,
    pipeline: &tracing::Span,
    resp: &ChatResponse,
) {
    for s in [root, pipeline] {
        s.record(attr::CACHE_HIT, resp.cache_hit);
        s.record(attr::COST_USD, resp.cost_usd);
    }
    count_request("ok", resp.cache_hit);
    state
        .recent
        .record(started.elapsed(), false, resp.cache_hit, resp.cost_usd);
}

/// The handler.
pub async fn chat(
    state: web::Data<AppState>,
    root: RootSpan,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let root: tracing::Span = (*root).clone();
    let started = Instant::now();
    let result = handle(state.clone(), started, &root, payload).await;
    if let Err(e) = &result {
        if e.status_code().is_server_error() {
            state.recent.record(started.elapsed(), true, false, 0.0);
        }
        e.count();
        // The caller's mistakes are not the service's errors: they do not count against the
        // error-rate SLO.
        let outcome = if e.status_code().is_client_error() {
            "rejected"
        } else {
            "error"
        };
        count_request(outcome, false);
        root.record(attr::ERROR_TYPE, e.kind());
    }
    result
}

async fn handle(
    state: web::Data<AppState>,
    started: Instant,
    root: &tracing::Span,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let settings = &state.pipeline.chat;
    let body = read_body(payload, state.max_body_bytes).await?;
    let req = ChatRequest::parse(&body, settings.max_question_chars)?;
    if let Some(u) = &req.user_id {
        root.record(attr::USER_ID, u.as_str());
    }
    if let Some(s) = &req.session_id {
        root.record(attr::SESSION_ID, s.as_str());
    }
    let trace_id = trace_id_of(root).unwrap_or_default();
    let pspan = tracing::info_span!(
        "pipeline",
        { attr::OTEL_NAME } = span::CHAT_PIPELINE,
        { attr::USER_ID } = req.user_id.as_deref().unwrap_or(""),
        { attr::CACHE_HIT } = tracing::field::Empty,
        { attr::COST_USD } = tracing::field::Empty,
        { attr::ERROR_TYPE } = tracing::field::Empty,
        { attr::OTEL_STATUS_CODE } = tracing::field::Empty,
    );
    let deadline = Duration::from_millis(settings.deadline_ms);
    let deadline_err = || ApiError::Deadline {
        ms: settings.deadline_ms,
    };
    let fail = |e: ApiError| {
        pspan.record(attr::ERROR_TYPE, e.kind());
        pspan.record(attr::OTEL_STATUS_CODE, "error");
        e
    };

    if !req.stream {
        let resp = tokio::time::timeout(
            deadline,
            state
                .pipeline
                .answer(&req, &trace_id)
                .instrument(pspan.clone()),
        )
        .await
        .map_err(|_| deadline_err())
        .and_then(|r| r)
        .map_err(fail)?;
        record_answer(&state, started, root, &pspan, &resp);
        return Ok(HttpResponse::Ok().json(resp));
    }

    let outcome = tokio::time::timeout(
        deadline,
        state
            .pipeline
            .prepare(&req, &trace_id)
            .instrument(pspan.clone()),
    )
    .await
    .map_err(|_| deadline_err())
    .and_then(|r| r)
    .map_err(fail)?;
    let prepared = match outcome {
        Outcome::Cached(resp) => {
            record_answer(&state, started, root, &pspan, &resp);
            let events = vec![
                sse("sources", &json!({"sources": resp.sources})),
                sse("delta", &json!({"text": resp.answer})),
                sse("done", &serde_json::to_value(&resp).unwrap_or_default()),
            ];
            return Ok(sse_response(futures::stream::iter(
                events.into_iter().map(Ok),
            )));
        }
        Outcome::Ready(p) => p,
    };

    let remaining = deadline.saturating_sub(started.elapsed());
    let tokenizer = state.pipeline.tokenizer;
    let llm_started = Instant::now();
    let upstream = tokio::time::timeout(
        remaining,
        state
            .pipeline
            .llm
            .chat_stream(&prepared.prompt, settings.max_output_tokens, move |s| {
                tokenizer.count(s) as u32
            })
            .instrument(pspan.clone()),
    )
    .await
    .map_err(|_| deadline_err())
    .and_then(|r| r.map_err(ApiError::from));
    let mut upstream = match upstream {
        Ok(s) => s,
        Err(e) => {
            record_stage(Stage::Llm, llm_started.elapsed().as_secs_f64());
            return Err(fail(e));
        }
    };

    let pipeline = state.pipeline.clone();
    let app = state.clone();
    let root = root.clone();
    let deadline_at = started + deadline;
    let deadline_ms = settings.deadline_ms;
    let body = async_stream::stream! {
        yield Ok::<_, actix_web::Error>(sse("sources", &json!({"sources": prepared.sources})));
        loop {
            let left = deadline_at.saturating_duration_since(Instant::now());
            let item = match tokio::time::timeout(left, upstream.next()).await {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(_) => Err(ragtrace_core::llm::LlmError::Timeout { attempts: 1, timeout_ms: deadline_ms }),
            };
            match item {
                Ok(StreamEvent::Delta(text)) => yield Ok(sse("delta", &json!({"text": text}))),
                Ok(StreamEvent::Done(completion)) => {
                    record_stage(Stage::Llm, llm_started.elapsed().as_secs_f64());
                    let resp = pipeline.finish(prepared, completion, &trace_id).instrument(pspan.clone()).await;
                    record_answer(&app, started, &root, &pspan, &resp);
                    yield Ok(sse("done", &serde_json::to_value(&resp).unwrap_or_default()));
                    return;
                }
                Err(e) => {
                    record_stage(Stage::Llm, llm_started.elapsed().as_secs_f64());
                    let e = ApiError::from(e);
                    e.count();
                    app.recent.record(started.elapsed(), true, false, 0.0);
                    count_request("error", false);
                    pspan.record(attr::ERROR_TYPE, e.kind());
                    pspan.record(attr::OTEL_STATUS_CODE, "error");
                    root.record(attr::ERROR_TYPE, e.kind());
                    yield Ok(sse("error", &e.body()));
                    return;
                }
            }
        }
        // The upstream ended without its final event: report it rather than hang up silently.
        let e = ApiError::Llm(ragtrace_core::llm::LlmError::Protocol("the stream ended early".into()));
        e.count();
        app.recent.record(started.elapsed(), true, false, 0.0);
        yield Ok(sse("error", &e.body()));
    };
    Ok(sse_response(body))
}

fn sse_response<S>(body: S) -> HttpResponse
where
    S: futures::Stream<Item = Result<Bytes, actix_web::Error>> + 'static,
{
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        // Proxies such as nginx must not buffer the stream.
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body)
}
