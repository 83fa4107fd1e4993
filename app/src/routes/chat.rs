//! `POST /v1/chat`: answers a question, plain JSON or streamed as server-sent events.
//!
//! The handler parses the request, runs [`Pipeline::run`](crate::pipeline::Pipeline::run) and
//! turns its events into one JSON body or into server-sent events: `sources` (what the model
//! was given), `delta` (pieces of the answer), then `done` (the whole response, as the plain
//! endpoint returns it) or `error`. A request that fails before the model starts answering gets
//! a plain JSON error with its HTTP status, streamed or not. Whatever happens, the request's
//! outcome is recorded once, by `Outcome`.

use std::time::{Duration, Instant};

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, ResponseError as _, web};
use bytes::Bytes;
use futures::StreamExt as _;
use ragtrace_core::semconv::{attr, metric};
use ragtrace_core::telemetry::trace_id_of;
use tracing_actix_web::RootSpan;

use crate::domain::{
    ChatRequest, ChatRequestBody, ChatResponse, ChatStreamDelta, ChatStreamSources,
    EXPECT_SOURCES_HEADER, parse_expected_sources,
};
use crate::error::{ApiError, ErrorBody};
use crate::pipeline::ChatEvent;
use crate::routes::read_body;
use crate::state::AppState;
use crate::stats::Finished;

/// `POST /v1/chat`: parses the request, runs the pipeline, maps its events to JSON or SSE.
#[utoipa::path(
    post,
    path = "/v1/chat",
    tag = "chat",
    operation_id = "chat",
    summary = "Answer a question (JSON, or server-sent events with `stream: true`)",
    description = "Looks up the answer cache, embeds the question, searches the vector store, calls the product-search API (buying questions only), builds the prompt, calls the LLM, post-processes the citations and stores the answer.\n\nWith `\"stream\": true` the answer is a `text/event-stream` of events: `sources` (`ChatStreamSources`), one or more `delta` (`ChatStreamDelta`), then `done` (`ChatResponse`) or, when the LLM fails after the stream has started, `error` (`Error`). A failure before the first byte is a plain JSON error with its HTTP status. An incoming `traceparent` is continued.",
    params(
        ("traceparent" = Option<String>, Header, description = "W3C trace context of the caller; its trace is continued.", pattern = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"),
        ("x-ragtrace-expect-sources" = Option<String>, Header, description = "Sources a golden-set run expects the question to find (ragtrace-lab eval), comma separated, at most 16: the retrieval span records where the first of them ranked (ragtrace.eval.expected_rank). A malformed value is a 422.", max_length = 3400),
    ),
    request_body(
        content = ChatRequestBody,
        description = "At most `server.max_body_bytes` (default 65536) bytes; larger bodies get 413.",
        content_type = "application/json",
        examples(
            ("product" = (summary = "A buying question (calls the product search)", value = json!({"question": "How much does a Beam bulb cost?", "user_id": "u-42"}))),
            ("streamed" = (summary = "A streamed answer", value = json!({"question": "How do I reset the Lumen Hub 2?", "stream": true}))),
        ),
    ),
    responses(
        (status = 200, description = "The answer: a JSON `ChatResponse`, or with `stream: true` a `text/event-stream` of `event: NAME\ndata: JSON` events: `sources` (`ChatStreamSources`), `delta` (`ChatStreamDelta`, one per piece of the answer), then `done` (`ChatResponse`) or `error` (`Error`). A cached answer streams as one `sources`, one `delta` and one `done`.", content(
            (ChatResponse = "application/json"),
            (ChatStreamEvent = "text/event-stream", example = "event: sources\ndata: {\"sources\":[]}\n\nevent: delta\ndata: {\"text\":\"Press and hold \"}\n\nevent: done\ndata: {\"answer\":\"…\",\"sources\":[],\"usage\":{\"input_tokens\":0,\"output_tokens\":0,\"embedding_tokens\":0},\"cost_usd\":0.0,\"cache_hit\":true,\"model\":\"sim-gpt-4o-mini\",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\"}\n\n"),
        )),
        (status = 400, description = "`validation`: the body is empty or is not JSON.", body = ErrorBody),
        (status = 403, description = "`forbidden`: sent by a web page of another origin than the app's own (not in `server.allowed_origins`), or naming a host the app is not published under (not an IP address, `localhost` or in `server.allowed_hosts`).", body = ErrorBody),
        (status = 408, description = "`validation`: the body did not arrive whole within `server.body_timeout_ms`; the connection is closed.", body = ErrorBody),
        (status = 413, description = "`validation`: the body is larger than `server.max_body_bytes`.", body = ErrorBody),
        (status = 415, description = "`validation`: the body is not declared JSON. Send `Content-Type: application/json`; a page on another origin cannot send it without a CORS preflight, so it cannot drive the chat.", body = ErrorBody),
        (status = 422, description = "`validation`: wrong schema (wrong type, missing or unknown field) or a broken rule (empty question, longer than `chat.max_question_chars`, control characters, `user_id`/`session_id` not 1–128 printable characters); `field` names the field when known.", body = ErrorBody),
        (status = 429, description = "`rate_limited`: more chats than `chat.client_rate_per_minute` (per client address) or `chat.user_rate_per_minute` (per `user_id`) allow; `budget`: the user's estimated spend today reached `chat.user_daily_budget_usd`. `Retry-After` says when to retry.", body = ErrorBody, headers(("Retry-After" = String, description = "Seconds to wait."))),
        (status = 500, description = "`vector_store` (vector dimension mismatch or another backend error) or `internal`.", body = ErrorBody),
        (status = 502, description = "`llm_upstream` (the LLM failed with 5xx after every attempt, was unreachable, rejected the request or sent an invalid response) or `llm_rate_limited` (still 429 after every attempt; the provider's `Retry-After` is passed on).", body = ErrorBody, headers(("Retry-After" = String, description = "The provider's, when it sent one."))),
        (status = 503, description = "`vector_store`: unavailable, timed out, or no free connection within `vector_store.pool_timeout_ms`.", body = ErrorBody, headers(("Retry-After" = String, description = "Seconds to wait."))),
        (status = 504, description = "`llm_timeout` (every LLM attempt timed out) or `deadline` (the request passed `chat.deadline_ms`).", body = ErrorBody),
    ),
)]
pub async fn chat(
    state: web::Data<AppState>,
    root: RootSpan,
    http: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut outcome = Outcome {
        state: state.clone(),
        root: (*root).clone(),
        started: Instant::now(),
        spender: None,
    };
    let expected = http
        .headers()
        .get(EXPECT_SOURCES_HEADER)
        .map(|v| v.as_bytes());
    // The caller's address, only when a limit needs it (they are off by default).
    let budgeted = state.budget.daily_usd() > 0.0;
    let client = if state.client_rate.per_minute() > 0 || budgeted {
        http.peer_addr()
            .map_or_else(|| "unknown".to_owned(), |p| p.ip().to_string())
    } else {
        String::new()
    };
    if let Err(e) = crate::routes::same_origin(&http, &state)
        .and_then(|()| require_json(&http))
        .and_then(|()| rate(&state.client_rate, "client", &client))
    {
        return Err(outcome.failed(e));
    }
    let req = match parse(&state, &outcome.root, payload, expected).await {
        Ok(req) => req,
        Err(e) => return Err(outcome.failed(e)),
    };
    // A spent budget first: it is the lasting reason, and says when it ends. A user's spend is
    // counted by their user_id; without one, by the client's address.
    if budgeted {
        let spender = req
            .user_id
            .clone()
            .unwrap_or_else(|| format!("client {client}"));
        let (day, until_tomorrow) = crate::limits::today();
        if let Err(spent) = state.budget.check(&spender, day) {
            return Err(outcome.failed(ApiError::BudgetSpent {
                budget: state.budget.daily_usd(),
                spent,
                retry_after: until_tomorrow,
            }));
        }
        outcome.spender = Some((spender, day));
    }
    if let Some(user) = &req.user_id
        && let Err(e) = rate(&state.user_rate, "user", user)
    {
        return Err(outcome.failed(e));
    }
    let stream = req.stream;
    let deadline = Duration::from_millis(state.pipeline.chat.deadline_ms);
    let trace_id = trace_id_of(&outcome.root).unwrap_or_default();
    let mut events = state.pipeline.clone().run(req, trace_id, deadline);

    if !stream {
        while let Some(event) = events.next().await {
            match event {
                ChatEvent::Done(answer) => {
                    outcome.answered(answer.cache_hit, answer.cost_usd);
                    return Ok(HttpResponse::Ok()
                        .content_type(ContentType::json())
                        .body(answer.body));
                }
                ChatEvent::Failed(e) => return Err(outcome.failed(e)),
                ChatEvent::Sources(_) | ChatEvent::Delta(_) => {}
            }
        }
        return Err(outcome.failed(ended_early()));
    }

    let first = match events.next().await {
        Some(ChatEvent::Failed(e)) => return Err(outcome.failed(e)),
        Some(event) => event,
        None => return Err(outcome.failed(ended_early())),
    };
    let body = futures::stream::once(async { first })
        .chain(events)
        .map(move |event| {
            Ok::<_, actix_web::Error>(match event {
                ChatEvent::Sources(sources) => sse(Sse::Sources, &ChatStreamSources { sources }),
                ChatEvent::Delta(text) => sse(Sse::Delta, &ChatStreamDelta { text }),
                ChatEvent::Done(answer) => {
                    outcome.answered(answer.cache_hit, answer.cost_usd);
                    ChatStreamEvent {
                        event: Sse::Done,
                        data: answer.body,
                    }
                    .frame()
                }
                ChatEvent::Failed(e) => sse(Sse::Error, &outcome.failed(e).body()),
            })
        });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        // Proxies such as nginx must not buffer the stream.
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body))
}

/// Reads and parses the body, and puts who is asking on the request's span.
async fn parse(
    state: &AppState,
    root: &tracing::Span,
    payload: web::Payload,
    expected: Option<&[u8]>,
) -> Result<ChatRequest, ApiError> {
    let body = read_body(
        payload,
        state.max_body_bytes,
        state.body_timeout,
        "retry the request",
        "send a shorter question (chat.max_question_chars); bodies over server.max_body_bytes are refused",
    )
    .await?;
    let mut req = ChatRequest::parse(&body, state.pipeline.chat.max_question_chars)?;
    req.expected_sources = parse_expected_sources(expected)?;
    if let Some(u) = &req.user_id {
        root.record(attr::USER_ID, u.as_str());
    }
    if let Some(s) = &req.session_id {
        root.record(attr::GEN_AI_CONVERSATION_ID, s.as_str());
    }
    Ok(req)
}

/// Takes one chat from `limiter` for `key`, or the 429 that says when to retry.
fn rate(
    limiter: &crate::limits::RateLimiter,
    scope: &'static str,
    key: &str,
) -> Result<(), ApiError> {
    limiter
        .check(key, Instant::now())
        .map_err(|retry_after| ApiError::RateLimited {
            scope,
            per_minute: limiter.per_minute(),
            retry_after,
        })
}

/// A chat body must be declared JSON (`application/json`, or any `application/*+json`). A web
/// page on another origin can send `text/plain`, form or multipart bodies without asking (a
/// CORS "simple" request), but not `application/json`: refusing the others keeps such a page
/// from making this app answer, and spend, on a visitor's behalf.
fn require_json(http: &HttpRequest) -> Result<(), ApiError> {
    let got = http
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = got
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::NotJson {
            got: got.to_owned(),
        })
    }
}

/// The pipeline always ends with `Done` or `Failed`; this is what a caller would see if a
/// future change broke that.
fn ended_early() -> ApiError {
    ApiError::Unexpected(anyhow::anyhow!("the chat pipeline ended without an answer"))
}

/// One server-sent event of a streamed answer, framed as `event: NAME\ndata: JSON\n\n`.
#[derive(Debug, utoipa::ToSchema)]
pub struct ChatStreamEvent {
    /// What `data` holds: `sources` → `ChatStreamSources`, `delta` → `ChatStreamDelta` (one per
    /// piece of the answer), then `done` → `ChatResponse` or `error` → `Error`.
    pub event: Sse,
    /// The event's JSON.
    pub data: String,
}

/// The events of a streamed answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = ChatStreamEventName, rename_all = "lowercase")]
pub enum Sse {
    /// What the model was given.
    Sources,
    /// The next piece of the answer.
    Delta,
    /// The whole response, as the plain endpoint answers it.
    Done,
    /// The failure, when the answer failed after the stream started.
    Error,
}

impl ChatStreamEvent {
    /// The event on the wire.
    fn frame(&self) -> Bytes {
        let name = match self.event {
            Sse::Sources => "sources",
            Sse::Delta => "delta",
            Sse::Done => "done",
            Sse::Error => "error",
        };
        Bytes::from(format!("event: {name}\ndata: {}\n\n", self.data))
    }
}

fn sse(event: Sse, data: &impl serde::Serialize) -> Bytes {
    // Serialising these types cannot fail: they hold no maps with non-string keys.
    let data = serde_json::to_string(data).unwrap_or_default();
    ChatStreamEvent { event, data }.frame()
}

/// How a chat request ended, recorded once: the request counter, the error counter, the live
/// tiles and the request's span.
struct Outcome {
    state: web::Data<AppState>,
    root: tracing::Span,
    started: Instant,
    /// Whose daily budget an answer is charged to, and the UTC day it was asked on.
    spender: Option<(String, u64)>,
}

impl Outcome {
    fn answered(&self, cache_hit: bool, cost_usd: f64) {
        if let Some((spender, day)) = &self.spender {
            self.state.budget.spend(spender, *day, cost_usd);
        }
        self.root.record(attr::CACHE_HIT, cache_hit);
        self.root.record(attr::COST_USD, cost_usd);
        count_request("ok", cache_hit);
        self.state.recent.record(
            self.started.elapsed(),
            Finished::Answered {
                cache_hit,
                cost_usd,
            },
        );
    }

    fn failed(&self, e: ApiError) -> ApiError {
        e.count();
        // The caller's mistakes are not the service's errors: they do not count against the
        // error-rate SLO, nor in the live tiles.
        if e.status_code().is_client_error() {
            count_request("rejected", false);
        } else {
            count_request("error", false);
            self.state
                .recent
                .record(self.started.elapsed(), Finished::Failed);
        }
        self.root.record(attr::ERROR_TYPE, e.kind());
        e
    }
}

fn count_request(outcome: &'static str, cache_hit: bool) {
    let cache_hit = if cache_hit { "true" } else { "false" };
    ragtrace_core::metrics::counter_static(&metric::CHAT_REQUESTS_TOTAL, [outcome, cache_hit])
        .increment(1);
}
