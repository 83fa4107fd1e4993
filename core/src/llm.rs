//! The LLM client: chat completions (plain and streamed) and embeddings over `async-openai`, the
//! same code path against OpenAI, any OpenAI-compatible server, or the built-in simulator.
//!
//! async-openai creates no spans and retries on its own; here its HTTP layer is replaced by a
//! tower service that makes one HTTP client span per attempt and injects `traceparent`, and the
//! retry policy is ours: at most `max_attempts` attempts on 429, 5xx, timeouts and connection
//! errors, with full-jitter exponential backoff that honours `Retry-After`. Each operation is one
//! GenAI client span (`chat {model}`, `embeddings {model}`) with `gen_ai.*` attributes, and feeds
//! the `gen_ai_client_*` metrics and the spend counter.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::{OpenAIError, WrappedError};
use async_openai::middleware::HttpRequestFactory;
use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage, ChatCompletionStreamOptions, CreateChatCompletionRequest,
    CreateChatCompletionRequestArgs,
};
use async_openai::types::embeddings::CreateEmbeddingRequestArgs;
use futures::{Stream, StreamExt as _};
use rand::Rng as _;
use secrecy::ExposeSecret as _;
use tracing::Instrument as _;

use crate::config::{LlmSettings, ModelPrice};
use crate::semconv::{Stage, attr, metric};
use crate::telemetry::traceparent_of;

/// Errors from the LLM provider, after retries.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    /// Every attempt timed out (or the provider hung).
    #[error("the LLM did not answer within {timeout_ms} ms ({attempts} attempts)")]
    Timeout {
        /// Attempts made.
        attempts: u32,
        /// Per-attempt timeout.
        timeout_ms: u64,
    },
    /// The provider kept answering 429.
    #[error("the LLM provider is rate limiting requests (HTTP 429 after {attempts} attempts)")]
    RateLimited {
        /// Attempts made.
        attempts: u32,
        /// Last `Retry-After`, seconds.
        retry_after_secs: Option<u64>,
    },
    /// The provider kept failing with 5xx.
    #[error("the LLM provider failed with HTTP {status} after {attempts} attempts: {message}")]
    Upstream {
        /// HTTP status.
        status: u16,
        /// Provider's message.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The provider refused the request (4xx other than 429): a configuration problem such as a
    /// wrong API key or model name. Not retried.
    #[error("the LLM provider rejected the request with HTTP {status}: {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Provider's message.
        message: String,
    },
    /// The provider could not be reached.
    #[error("cannot reach the LLM provider ({attempts} attempts): {message}")]
    Unreachable {
        /// Transport error.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The provider answered something that is not a valid response.
    #[error("invalid response from the LLM provider: {0}")]
    Protocol(String),
}

impl LlmError {
    /// Short class for `error.type` and metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            LlmError::Timeout { .. } => "timeout",
            LlmError::RateLimited { .. } => "rate_limited",
            LlmError::Upstream { .. } => "upstream_5xx",
            LlmError::Rejected { .. } => "rejected",
            LlmError::Unreachable { .. } => "unreachable",
            LlmError::Protocol(_) => "protocol",
        }
    }
}

/// A non-2xx answer, kept typed (status, Retry-After, provider message) by our HTTP service.
#[derive(Debug)]
struct HttpStatusError {
    status: u16,
    retry_after: Option<Duration>,
    message: String,
}

impl std::fmt::Display for HttpStatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.message)
    }
}

impl std::error::Error for HttpStatusError {}

/// What one failed attempt tells the retry loop.
enum Attempt {
    Retry(LlmError, Option<Duration>),
    Fail(LlmError),
}

fn classify(e: &OpenAIError, attempts: u32, timeout_ms: u64) -> Attempt {
    match e {
        OpenAIError::Boxed(b) => match b.downcast_ref::<HttpStatusError>() {
            Some(h) if h.status == 429 => Attempt::Retry(
                LlmError::RateLimited {
                    attempts,
                    retry_after_secs: h.retry_after.map(|d| d.as_secs()),
                },
                h.retry_after,
            ),
            Some(h) if h.status >= 500 => Attempt::Retry(
                LlmError::Upstream {
                    status: h.status,
                    message: h.message.clone(),
                    attempts,
                },
                h.retry_after,
            ),
            Some(h) => Attempt::Fail(LlmError::Rejected {
                status: h.status,
                message: h.message.clone(),
            }),
            None => classify_transport(b.as_ref(), attempts, timeout_ms),
        },
        OpenAIError::Reqwest(r) => classify_transport(r, attempts, timeout_ms),
        OpenAIError::ApiError(a) => {
            let status = a.status_code.as_u16();
            let message = a.api_error.message.chars().take(300).collect();
            if status == 429 {
                Attempt::Retry(
                    LlmError::RateLimited {
                        attempts,
                        retry_after_secs: None,
                    },
                    None,
                )
            } else if status >= 500 {
                Attempt::Retry(
                    LlmError::Upstream {
                        status,
                        message,
                        attempts,
                    },
                    None,
                )
            } else {
                Attempt::Fail(LlmError::Rejected { status, message })
            }
        }
        // Never echo the body: it may hold user data.
        OpenAIError::JSONDeserialize(e, _) => Attempt::Fail(LlmError::Protocol(format!(
            "cannot parse the response: {e}"
        ))),
        OpenAIError::StreamError(e) => Attempt::Fail(LlmError::Protocol(format!("stream: {e}"))),
        other => Attempt::Fail(LlmError::Protocol(other.to_string())),
    }
}

fn classify_transport(
    e: &(dyn std::error::Error + 'static),
    attempts: u32,
    timeout_ms: u64,
) -> Attempt {
    let is_timeout = e
        .downcast_ref::<reqwest::Error>()
        .is_some_and(reqwest::Error::is_timeout)
        || e.to_string().contains("timed out");
    if is_timeout {
        Attempt::Retry(
            LlmError::Timeout {
                attempts,
                timeout_ms,
            },
            None,
        )
    } else {
        // Connection refused/reset: the sort of failure a retry can fix.
        let mut message = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        Attempt::Retry(LlmError::Unreachable { message, attempts }, None)
    }
}

/// The HTTP layer under async-openai: one client span per attempt, `traceparent` injected,
/// non-2xx kept typed. Called inside the GenAI span's future, so `Span::current()` is it.
fn http_service(
    http: reqwest::Client,
) -> impl tower::Service<
    HttpRequestFactory,
    Response = reqwest::Response,
    Error = OpenAIError,
    Future = impl Future<Output = Result<reqwest::Response, OpenAIError>> + Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(move |factory: HttpRequestFactory| {
        let http = http.clone();
        let span = tracing::info_span!(
            "http.client",
            { attr::OTEL_NAME } = "POST",
            { attr::OTEL_KIND } = "client",
            { attr::HTTP_REQUEST_METHOD } = "POST",
            { attr::URL_FULL } = tracing::field::Empty,
            { attr::SERVER_ADDRESS } = tracing::field::Empty,
            { attr::SERVER_PORT } = tracing::field::Empty,
            { attr::HTTP_RESPONSE_STATUS_CODE } = tracing::field::Empty,
            { attr::ERROR_TYPE } = tracing::field::Empty,
            { attr::OTEL_STATUS_CODE } = tracing::field::Empty,
        );
        let traceparent = traceparent_of(&span);
        let span2 = span.clone();
        async move {
            let mut req = factory.build().await?;
            span.record(attr::URL_FULL, req.url().as_str());
            if let Some(host) = req.url().host_str() {
                span.record(attr::SERVER_ADDRESS, host);
            }
            if let Some(port) = req.url().port_or_known_default() {
                span.record(attr::SERVER_PORT, i64::from(port));
            }
            if let Some(tp) =
                traceparent.and_then(|t| reqwest::header::HeaderValue::from_str(&t).ok())
            {
                req.headers_mut().insert("traceparent", tp);
            }
            let resp = match http.execute(req).await {
                Ok(r) => r,
                Err(e) => {
                    span.record(
                        attr::ERROR_TYPE,
                        if e.is_timeout() { "timeout" } else { "connect" },
                    );
                    span.record(attr::OTEL_STATUS_CODE, "error");
                    return Err(OpenAIError::Reqwest(e));
                }
            };
            let status = resp.status();
            span.record(attr::HTTP_RESPONSE_STATUS_CODE, i64::from(status.as_u16()));
            if status.is_success() {
                return Ok(resp);
            }
            span.record(attr::ERROR_TYPE, status.as_str());
            span.record(attr::OTEL_STATUS_CODE, "error");
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = resp.bytes().await.unwrap_or_default();
            let message = serde_json::from_slice::<WrappedError>(&body)
                .map(|w| w.error.message)
                .unwrap_or_else(|_| status.canonical_reason().unwrap_or("error").to_owned());
            Err(OpenAIError::Boxed(Box::new(HttpStatusError {
                status: status.as_u16(),
                retry_after,
                message: message.chars().take(300).collect(),
            })))
        }
        .instrument(span2)
    })
}

impl LlmSettings {
    /// The client for `base_url` (ending in `/v1`), pricing calls with `pricing`, asking for
    /// embeddings of `dimensions`. `record_content` puts prompt and completion text on spans.
    pub fn build(
        &self,
        base_url: &str,
        pricing: &BTreeMap<String, ModelPrice>,
        record_content: bool,
        dimensions: usize,
    ) -> Result<LlmClient, LlmError> {
        Ok(
            LlmClient::new(self, base_url, pricing.clone(), record_content)?
                .with_dimensions(dimensions),
        )
    }
}

/// A chat prompt: system instructions and the user turn (with the context in it).
#[derive(Debug, Clone)]
pub struct Prompt {
    /// System message.
    pub system: String,
    /// User message.
    pub user: String,
}

/// Token counts of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Completion tokens.
    pub output_tokens: u32,
}

/// A finished chat completion.
#[derive(Debug, Clone)]
pub struct Completion {
    /// Answer text.
    pub text: String,
    /// Model that answered.
    pub model: String,
    /// Token usage.
    pub usage: Usage,
    /// Estimated cost, USD (0 when the model is not in the price table).
    pub cost_usd: f64,
    /// Finish reason, e.g. `stop`.
    pub finish_reason: String,
}

/// An item of a streamed completion.
#[derive(Debug, Clone)]
pub enum StreamEvent {
    /// Next piece of text.
    Delta(String),
    /// The stream ended; the whole completion.
    Done(Completion),
}

/// A streamed completion.
pub type CompletionStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, LlmError>> + Send>>;

/// Embeddings of a batch of texts.
#[derive(Debug, Clone)]
pub struct Embeddings {
    /// One vector per input, in input order.
    pub vectors: Vec<Vec<f32>>,
    /// Input tokens billed.
    pub input_tokens: u32,
    /// Estimated cost, USD.
    pub cost_usd: f64,
}

/// A transcript of one audio file.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// The whole text.
    pub text: String,
    /// Length of the audio, seconds.
    pub duration_secs: f64,
    /// Timestamped segments, seconds from the start of the file.
    pub segments: Vec<TranscriptSegment>,
}

/// A timestamped piece of a transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptSegment {
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Text.
    pub text: String,
}

/// The LLM client.
#[derive(Clone)]
pub struct LlmClient {
    client: Client<OpenAIConfig>,
    // The same HTTP client, for the readiness check (async-openai has no `GET /models` probe
    // that goes through our span layer without a model list we do not need).
    http: reqwest::Client,
    settings: LlmSettings,
    base_url: String,
    pricing: BTreeMap<String, ModelPrice>,
    record_content: bool,
    dimensions: Option<u32>,
}

impl std::fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmClient")
            .field("base_url", &self.base_url)
            .field("chat_model", &self.settings.chat_model)
            .finish_non_exhaustive()
    }
}

/// Input of the generic retry loop: which GenAI operation, for spans and metrics.
#[derive(Clone, Copy)]
enum Operation {
    Chat,
    Embeddings,
    Transcription,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::Embeddings => "embeddings",
            Operation::Transcription => "transcription",
        }
    }
}

impl LlmClient {
    /// A client for `base_url` (ending in `/v1`).
    pub fn new(
        settings: &LlmSettings,
        base_url: &str,
        pricing: BTreeMap<String, ModelPrice>,
        record_content: bool,
    ) -> Result<Self, LlmError> {
        let mut config = OpenAIConfig::new().with_api_base(base_url.trim_end_matches('/'));
        // The simulator ignores the key; OpenAI needs one. A key with stray whitespace would
        // make an invalid header, so it is trimmed.
        let key = settings
            .api_key
            .as_ref()
            .map(|k| k.expose_secret().trim().to_owned())
            .unwrap_or_else(|| "sk-no-key-needed-for-the-simulator".to_owned());
        config = config.with_api_key(key);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            // An idle gap this long between reads fails the attempt; streams can run longer in
            // total as long as tokens keep coming. Non-streamed calls also get a total timeout.
            .read_timeout(Duration::from_millis(settings.timeout_ms))
            .build()
            .map_err(|e| LlmError::Protocol(format!("cannot build the HTTP client: {e}")))?;
        let client =
            Client::build(http.clone(), config).with_http_service(http_service(http.clone()));
        Ok(Self {
            client,
            http,
            settings: settings.clone(),
            base_url: base_url.to_owned(),
            pricing,
            record_content,
            dimensions: None,
        })
    }

    /// Asks for embeddings of `dimensions` (OpenAI's `dimensions` parameter).
    pub fn with_dimensions(mut self, dimensions: usize) -> Self {
        self.dimensions = u32::try_from(dimensions).ok();
        self
    }

    /// The chat model's name.
    pub fn chat_model(&self) -> &str {
        &self.settings.chat_model
    }

    /// The embeddings model's name.
    pub fn embedding_model(&self) -> &str {
        &self.settings.embedding_model
    }

    /// Base URL, for the start-up banner.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Where the calls go and with which models, for the start-up banner (never the key).
    pub fn describe(&self) -> String {
        format!(
            "{} (chat {}, embeddings {}{})",
            crate::config::redact_url(&self.base_url),
            self.settings.chat_model,
            self.settings.embedding_model,
            if self.settings.api_key.is_some() {
                ", API key set"
            } else {
                ""
            },
        )
    }

    /// Whether the provider answers `GET /models` with this client's key: the readiness check.
    pub async fn ready(&self) -> Result<(), LlmError> {
        let mut req = self
            .http
            .get(format!("{}/models", self.base_url.trim_end_matches('/')));
        if let Some(key) = &self.settings.api_key {
            req = req.bearer_auth(key.expose_secret().trim());
        }
        let resp = req.send().await.map_err(|e| LlmError::Unreachable {
            message: e.to_string(),
            attempts: 1,
        })?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(LlmError::Rejected {
                status: status.as_u16(),
                message: format!("GET /models answered HTTP {}", status.as_u16()),
            })
        }
    }

    /// Estimated cost of `usage` on `model`.
    pub fn cost(&self, model: &str, usage: Usage) -> f64 {
        self.pricing.get(model).map_or(0.0, |p| {
            (f64::from(usage.input_tokens) * p.input + f64::from(usage.output_tokens) * p.output)
                / 1_000_000.0
        })
    }

    fn genai_span(&self, op: Operation, model: &str, stream: bool) -> tracing::Span {
        let s = &self.settings;
        let stage = Stage::current();
        let host = url::Url::parse(&self.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        tracing::info_span!(
            "gen_ai",
            { attr::OTEL_NAME } = crate::semconv::span::genai(op.as_str(), model),
            { attr::OTEL_KIND } = "client",
            { attr::GEN_AI_OPERATION_NAME } = op.as_str(),
            { attr::GEN_AI_PROVIDER_NAME } = "openai",
            { attr::GEN_AI_REQUEST_MODEL } = model,
            { attr::GEN_AI_REQUEST_MAX_TOKENS } = tracing::field::Empty,
            { attr::GEN_AI_REQUEST_TEMPERATURE } = f64::from(s.temperature),
            { attr::GEN_AI_REQUEST_STREAM } = stream,
            { attr::GEN_AI_RESPONSE_MODEL } = tracing::field::Empty,
            { attr::GEN_AI_RESPONSE_ID } = tracing::field::Empty,
            { attr::GEN_AI_RESPONSE_FINISH_REASONS } = tracing::field::Empty,
            { attr::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK } = tracing::field::Empty,
            { attr::GEN_AI_USAGE_INPUT_TOKENS } = tracing::field::Empty,
            { attr::GEN_AI_USAGE_OUTPUT_TOKENS } = tracing::field::Empty,
            { attr::GEN_AI_EMBEDDINGS_DIMENSION_COUNT } = tracing::field::Empty,
            { attr::GEN_AI_INPUT_MESSAGES } = tracing::field::Empty,
            { attr::GEN_AI_OUTPUT_MESSAGES } = tracing::field::Empty,
            { attr::COST_USD } = tracing::field::Empty,
            { attr::ATTEMPT } = tracing::field::Empty,
            { attr::SERVER_ADDRESS } = host.as_str(),
            { attr::ERROR_TYPE } = tracing::field::Empty,
            { attr::OTEL_STATUS_CODE } = tracing::field::Empty,
            { attr::OTEL_STATUS_DESCRIPTION } = tracing::field::Empty,
            // The stage this call serves, when the chat pipeline's stage timer runs it.
            { attr::STAGE } = stage.map(Stage::as_str),
            { attr::STAGE_BUDGET_MS } = stage.map(|s| s.budget_ms() as i64),
        )
    }

    /// Runs `call` with the retry policy. `call` makes one HTTP attempt.
    async fn with_retries<T, F, Fut>(
        &self,
        span: &tracing::Span,
        mut call: F,
    ) -> Result<T, LlmError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, OpenAIError>>,
    {
        let s = &self.settings;
        let mut attempt = 0;
        loop {
            attempt += 1;
            span.record(attr::ATTEMPT, i64::from(attempt));
            let err = match tokio::time::timeout(Duration::from_millis(s.timeout_ms), call()).await
            {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => classify(&e, attempt, s.timeout_ms),
                // The attempt took longer than its timeout (a hung provider, a slow body).
                Err(_) => Attempt::Retry(
                    LlmError::Timeout {
                        attempts: attempt,
                        timeout_ms: s.timeout_ms,
                    },
                    None,
                ),
            };
            match err {
                Attempt::Retry(e, retry_after) if attempt < s.max_attempts => {
                    // Full jitter: uniform in [0, min(cap, base * 2^(n-1))], and never sooner
                    // than the provider asked (capped, so a huge Retry-After cannot stall us).
                    let exp = s
                        .backoff_base_ms
                        .saturating_mul(1 << (attempt - 1).min(16))
                        .min(s.backoff_max_ms);
                    let mut delay = Duration::from_millis(rand::rng().random_range(0..=exp));
                    if let Some(ra) = retry_after {
                        delay = delay.max(ra.min(Duration::from_millis(s.backoff_max_ms)));
                    }
                    tracing::warn!(
                        attempt,
                        error.type = e.kind(),
                        delay_ms = delay.as_millis() as u64,
                        "LLM call failed, retrying: {e}"
                    );
                    tokio::time::sleep(delay).await;
                }
                Attempt::Retry(e, _) | Attempt::Fail(e) => return Err(e),
            }
        }
    }

    fn record_failure(
        &self,
        span: &tracing::Span,
        op: Operation,
        model: &str,
        e: &LlmError,
        started: Instant,
    ) {
        span.record(attr::ERROR_TYPE, e.kind());
        span.record(attr::OTEL_STATUS_CODE, "error");
        span.record(attr::OTEL_STATUS_DESCRIPTION, e.to_string().as_str());
        metrics::histogram!(
            metric::GEN_AI_OPERATION_DURATION,
            "gen_ai_operation_name" => op.as_str(),
            "gen_ai_request_model" => model.to_owned(),
            "error_type" => e.kind(),
        )
        .record(started.elapsed().as_secs_f64());
    }

    fn record_success(
        &self,
        span: &tracing::Span,
        op: Operation,
        model: &str,
        usage: Usage,
        cost: f64,
        started: Instant,
    ) {
        span.record(
            attr::GEN_AI_USAGE_INPUT_TOKENS,
            i64::from(usage.input_tokens),
        );
        span.record(
            attr::GEN_AI_USAGE_OUTPUT_TOKENS,
            i64::from(usage.output_tokens),
        );
        span.record(attr::COST_USD, cost);
        let model = model.to_owned();
        metrics::histogram!(
            metric::GEN_AI_OPERATION_DURATION,
            "gen_ai_operation_name" => op.as_str(),
            "gen_ai_request_model" => model.clone(),
            "error_type" => "",
        )
        .record(started.elapsed().as_secs_f64());
        for (kind, n) in [
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
        ] {
            if !matches!(op, Operation::Chat) && kind == "output" {
                continue;
            }
            metrics::histogram!(
                metric::GEN_AI_TOKEN_USAGE,
                "gen_ai_operation_name" => op.as_str(),
                "gen_ai_request_model" => model.clone(),
                "gen_ai_token_type" => kind,
            )
            .record(f64::from(n));
            metrics::counter!(
                metric::TOKENS_TOTAL,
                "gen_ai_request_model" => model.clone(),
                "gen_ai_token_type" => kind,
            )
            .increment(u64::from(n));
        }
        crate::metrics::add_cost(&model, cost);
    }

    /// Embeds `inputs` (one request; the caller batches).
    pub async fn embed(&self, inputs: Vec<String>) -> Result<Embeddings, LlmError> {
        let model = self.settings.embedding_model.clone();
        let span = self.genai_span(Operation::Embeddings, &model, false);
        let started = Instant::now();
        let n = inputs.len();
        let result = async {
            let mut req = CreateEmbeddingRequestArgs::default();
            req.model(model.clone()).input(inputs);
            if let Some(d) = self.dimensions {
                req.dimensions(d);
            }
            let req = req.build().map_err(|e| LlmError::Protocol(e.to_string()))?;
            let resp = self
                .with_retries(&span, || {
                    let (client, req) = (self.client.clone(), req.clone());
                    async move { client.embeddings().create(req).await }
                })
                .await?;
            if resp.data.len() != n {
                return Err(LlmError::Protocol(format!(
                    "asked for {n} embeddings, got {}",
                    resp.data.len()
                )));
            }
            let mut data = resp.data;
            data.sort_by_key(|e| e.index);
            Ok((
                data.into_iter().map(|e| e.embedding).collect::<Vec<_>>(),
                resp.usage.prompt_tokens,
                resp.model,
            ))
        }
        .instrument(span.clone())
        .await;
        match result {
            Ok((vectors, input_tokens, resp_model)) => {
                let usage = Usage {
                    input_tokens,
                    output_tokens: 0,
                };
                let cost = self.cost(&model, usage);
                span.record(attr::GEN_AI_RESPONSE_MODEL, resp_model.as_str());
                if let Some(v) = vectors.first() {
                    span.record(attr::GEN_AI_EMBEDDINGS_DIMENSION_COUNT, v.len() as i64);
                }
                self.record_success(&span, Operation::Embeddings, &model, usage, cost, started);
                Ok(Embeddings {
                    vectors,
                    input_tokens,
                    cost_usd: cost,
                })
            }
            Err(e) => {
                self.record_failure(&span, Operation::Embeddings, &model, &e, started);
                Err(e)
            }
        }
    }

    /// Transcribes one audio file (WAV bytes) with timestamps (`verbose_json`, segment
    /// granularity). One GenAI span; retries like every other call.
    pub async fn transcribe(
        &self,
        filename: &str,
        audio: bytes::Bytes,
    ) -> Result<Transcript, LlmError> {
        use async_openai::types::audio::{
            AudioInput, AudioResponseFormat, CreateTranscriptionRequestArgs, TimestampGranularity,
        };
        let model = self.settings.transcription_model.clone();
        let span = self.genai_span(Operation::Transcription, &model, false);
        let started = Instant::now();
        let result = async {
            let req = CreateTranscriptionRequestArgs::default()
                .file(AudioInput::from_bytes(filename.to_owned(), audio))
                .model(model.clone())
                .response_format(AudioResponseFormat::VerboseJson)
                .timestamp_granularities(vec![TimestampGranularity::Segment])
                .build()
                .map_err(|e| LlmError::Protocol(e.to_string()))?;
            self.with_retries(&span, || {
                let (client, req) = (self.client.clone(), req.clone());
                async move {
                    client
                        .audio()
                        .transcription()
                        .create_verbose_json(req)
                        .await
                }
            })
            .await
        }
        .instrument(span.clone())
        .await;
        match result {
            Ok(resp) => {
                // Billed by the minute of audio; the price table is per million tokens, so
                // transcription cost is left out of the spend figures.
                self.record_success(
                    &span,
                    Operation::Transcription,
                    &model,
                    Usage::default(),
                    0.0,
                    started,
                );
                Ok(Transcript {
                    text: resp.text,
                    duration_secs: f64::from(resp.duration),
                    segments: resp
                        .segments
                        .unwrap_or_default()
                        .into_iter()
                        .map(|s| TranscriptSegment {
                            start: f64::from(s.start),
                            end: f64::from(s.end),
                            text: s.text,
                        })
                        .collect(),
                })
            }
            Err(e) => {
                self.record_failure(&span, Operation::Transcription, &model, &e, started);
                Err(e)
            }
        }
    }

    fn chat_request(
        &self,
        prompt: &Prompt,
        max_tokens: u32,
        stream: bool,
    ) -> Result<CreateChatCompletionRequest, LlmError> {
        let messages: Vec<ChatCompletionRequestMessage> = vec![
            ChatCompletionRequestSystemMessage::from(prompt.system.as_str()).into(),
            ChatCompletionRequestUserMessage::from(prompt.user.as_str()).into(),
        ];
        let mut b = CreateChatCompletionRequestArgs::default();
        b.model(self.settings.chat_model.clone())
            .messages(messages)
            .max_completion_tokens(max_tokens)
            .temperature(self.settings.temperature);
        if stream {
            b.stream_options(ChatCompletionStreamOptions {
                include_usage: Some(true),
                include_obfuscation: None,
            });
        }
        b.build().map_err(|e| LlmError::Protocol(e.to_string()))
    }

    fn record_prompt(&self, span: &tracing::Span, prompt: &Prompt, max_tokens: u32) {
        span.record(attr::GEN_AI_REQUEST_MAX_TOKENS, i64::from(max_tokens));
        if self.record_content {
            let messages = serde_json::json!([
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ]);
            span.record(attr::GEN_AI_INPUT_MESSAGES, messages.to_string().as_str());
        }
    }

    fn record_completion(&self, span: &tracing::Span, c: &Completion) {
        span.record(attr::GEN_AI_RESPONSE_MODEL, c.model.as_str());
        span.record(
            attr::GEN_AI_RESPONSE_FINISH_REASONS,
            c.finish_reason.as_str(),
        );
        if self.record_content {
            let out = serde_json::json!([{"role": "assistant", "content": c.text}]);
            span.record(attr::GEN_AI_OUTPUT_MESSAGES, out.to_string().as_str());
        }
    }

    /// One chat completion, not streamed.
    pub async fn chat(&self, prompt: &Prompt, max_tokens: u32) -> Result<Completion, LlmError> {
        let model = self.settings.chat_model.clone();
        let span = self.genai_span(Operation::Chat, &model, false);
        self.record_prompt(&span, prompt, max_tokens);
        let started = Instant::now();
        let result = async {
            let req = self.chat_request(prompt, max_tokens, false)?;
            let resp = self
                .with_retries(&span, || {
                    let (client, req) = (self.client.clone(), req.clone());
                    async move { client.chat().create(req).await }
                })
                .await?;
            span.record(attr::GEN_AI_RESPONSE_ID, resp.id.as_str());
            let choice = resp
                .choices
                .into_iter()
                .next()
                .ok_or_else(|| LlmError::Protocol("no choices in the response".into()))?;
            let usage = resp.usage.map_or(Usage::default(), |u| Usage {
                input_tokens: u.prompt_tokens,
                output_tokens: u.completion_tokens,
            });
            Ok(Completion {
                text: choice.message.content.unwrap_or_default(),
                cost_usd: self.cost(&model, usage),
                model: resp.model,
                usage,
                finish_reason: choice
                    .finish_reason
                    .map(|f| format!("{f:?}").to_lowercase())
                    .unwrap_or_default(),
            })
        }
        .instrument(span.clone())
        .await;
        match &result {
            Ok(c) => {
                self.record_completion(&span, c);
                self.record_success(&span, Operation::Chat, &model, c.usage, c.cost_usd, started);
            }
            Err(e) => self.record_failure(&span, Operation::Chat, &model, e, started),
        }
        result
    }

    /// One chat completion, streamed. Retries happen only before the first token; once text
    /// has been sent to the client, a failure ends the stream with an error item.
    /// `estimate` counts tokens when the provider sends no usage.
    pub async fn chat_stream(
        &self,
        prompt: &Prompt,
        max_tokens: u32,
        estimate: impl Fn(&str) -> u32 + Send + 'static,
    ) -> Result<CompletionStream, LlmError> {
        let model = self.settings.chat_model.clone();
        let span = self.genai_span(Operation::Chat, &model, true);
        self.record_prompt(&span, prompt, max_tokens);
        let started = Instant::now();
        let req = match self.chat_request(prompt, max_tokens, true) {
            Ok(r) => r,
            Err(e) => {
                self.record_failure(&span, Operation::Chat, &model, &e, started);
                return Err(e);
            }
        };
        let opened = self
            .with_retries(&span, || {
                let (client, req) = (self.client.clone(), req.clone());
                async move { client.chat().create_stream(req).await }
            })
            .instrument(span.clone())
            .await;
        let mut upstream = match opened {
            Ok(s) => s,
            Err(e) => {
                self.record_failure(&span, Operation::Chat, &model, &e, started);
                return Err(e);
            }
        };
        let this = self.clone();
        let prompt_estimate = estimate(&format!("{}\n{}", prompt.system, prompt.user));
        let idle = Duration::from_millis(self.settings.timeout_ms);
        let stream = async_stream::stream! {
            let mut text = String::new();
            let mut usage = None;
            let mut finish = String::new();
            let mut resp_model = model.clone();
            let mut first = true;
            loop {
                let item = match tokio::time::timeout(idle, upstream.next()).instrument(span.clone()).await {
                    Ok(Some(item)) => item,
                    Ok(None) => break,
                    Err(_) => {
                        let e = LlmError::Timeout { attempts: 1, timeout_ms: idle.as_millis() as u64 };
                        this.record_failure(&span, Operation::Chat, &model, &e, started);
                        yield Err(e);
                        return;
                    }
                };
                match item {
                    Ok(chunk) => {
                        if first {
                            span.record(attr::GEN_AI_RESPONSE_ID, chunk.id.as_str());
                        }
                        resp_model.clone_from(&chunk.model);
                        if let Some(u) = chunk.usage {
                            usage = Some(Usage { input_tokens: u.prompt_tokens, output_tokens: u.completion_tokens });
                        }
                        for choice in chunk.choices {
                            if let Some(f) = choice.finish_reason {
                                finish = format!("{f:?}").to_lowercase();
                            }
                            if let Some(delta) = choice.delta.content.filter(|d| !d.is_empty()) {
                                if first {
                                    first = false;
                                    span.record(attr::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, started.elapsed().as_secs_f64());
                                }
                                text.push_str(&delta);
                                yield Ok(StreamEvent::Delta(delta));
                            }
                        }
                    }
                    Err(e) => {
                        let e = match classify(&e, 1, idle.as_millis() as u64) {
                            Attempt::Retry(e, _) | Attempt::Fail(e) => e,
                        };
                        this.record_failure(&span, Operation::Chat, &model, &e, started);
                        yield Err(e);
                        return;
                    }
                }
            }
            let usage = usage.unwrap_or_else(|| Usage { input_tokens: prompt_estimate, output_tokens: estimate(&text) });
            let completion = Completion {
                cost_usd: this.cost(&model, usage),
                text,
                model: resp_model,
                usage,
                finish_reason: finish,
            };
            this.record_completion(&span, &completion);
            this.record_success(&span, Operation::Chat, &model, usage, completion.cost_usd, started);
            // End the span now: the consumer may stop polling after the last item, and the LLM
            // call is over whatever it does next. (tracing-opentelemetry takes a span's end time
            // from its last exit, which is why every poll of the upstream is instrumented.)
            drop(span);
            yield Ok(StreamEvent::Done(completion));
        };
        Ok(Box::pin(stream))
    }
}
