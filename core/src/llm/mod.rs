//! The LLM client: chat completions (plain and streamed), embeddings and transcription over
//! `async-openai`, the same code path against OpenAI, any OpenAI-compatible server, or the
//! built-in simulator.
//!
//! Each operation is one GenAI client span (`chat {model}`, `embeddings {model}`) with `gen_ai.*`
//! attributes, and feeds the `gen_ai_client_*` metrics and the spend counter.
//!
//! # Layout
//!
//! - [`error`]: [`LlmError`] and how one failed attempt is classified.
//! - `http`: the HTTP layer under async-openai (one client span per attempt, `traceparent`).
//! - `retry`: the retry policy (attempts, per-attempt timeout, full-jitter backoff).
//! - [`chat`], [`embeddings`], [`transcription`]: the three operations and their types.

pub mod chat;
pub mod embeddings;
pub mod error;
mod http;
mod retry;
pub mod transcription;

pub use chat::{Completion, CompletionStream, Prompt, StreamEvent};
pub use embeddings::Embeddings;
pub use error::LlmError;
pub use transcription::{Transcript, TranscriptSegment};

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use secrecy::ExposeSecret as _;

use crate::config::{LlmSettings, ModelPrice};
use crate::metrics::{counter, histogram};
use crate::semconv::{PROVIDER, Stage, attr, metric};
use crate::telemetry::mark_failed;

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

/// Token counts of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// Prompt (input) tokens, priced at the model's input rate.
    pub input_tokens: u32,
    /// Completion (output) tokens, priced at the output rate; 0 for embeddings and transcription.
    pub output_tokens: u32,
}

/// The LLM client for chat, embeddings and transcription; clones share one HTTP client.
#[derive(Clone)]
pub struct LlmClient {
    client: Client<OpenAIConfig>,
    // The same HTTP client, for the readiness check (async-openai has no `GET /models` probe
    // that goes through our span layer without a model list we do not need).
    http: reqwest::Client,
    settings: LlmSettings,
    base_url: String,
    // `server.address` of every GenAI span: the base URL's host, parsed once.
    host: String,
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
pub(super) enum Operation {
    Chat,
    Embeddings,
    Transcription,
}

impl Operation {
    pub(super) fn as_str(self) -> &'static str {
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
            Client::build(http.clone(), config).with_http_service(http::http_service(http.clone()));
        Ok(Self {
            client,
            http,
            settings: settings.clone(),
            base_url: base_url.to_owned(),
            host: url::Url::parse(base_url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default(),
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

    pub(super) fn genai_span(&self, op: Operation, model: &str, stream: bool) -> tracing::Span {
        let s = &self.settings;
        let stage = Stage::current();
        tracing::info_span!(
            "gen_ai",
            { attr::OTEL_NAME } = crate::semconv::span::genai(op.as_str(), model),
            { attr::OTEL_KIND } = "client",
            { attr::GEN_AI_OPERATION_NAME } = op.as_str(),
            { attr::GEN_AI_PROVIDER_NAME } = PROVIDER,
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
            { attr::SERVER_ADDRESS } = self.host.as_str(),
            { attr::ERROR_TYPE } = tracing::field::Empty,
            { attr::OTEL_STATUS_CODE } = tracing::field::Empty,
            { attr::OTEL_STATUS_DESCRIPTION } = tracing::field::Empty,
            // The stage this call serves, when the chat pipeline's stage timer runs it.
            { attr::STAGE } = stage.map(Stage::as_str),
            { attr::STAGE_BUDGET_MS } = stage.map(|s| s.budget_ms() as i64),
        )
    }

    pub(super) fn record_failure(
        &self,
        span: &tracing::Span,
        op: Operation,
        model: &str,
        e: &LlmError,
        started: Instant,
    ) {
        mark_failed(span, e.kind(), &e.to_string());
        histogram(
            &metric::GEN_AI_OPERATION_DURATION,
            [op.as_str(), PROVIDER, model, e.kind()],
        )
        .record(started.elapsed().as_secs_f64());
    }

    pub(super) fn record_success(
        &self,
        span: &tracing::Span,
        op: Operation,
        model: &str,
        usage: Usage,
        cost: f64,
        started: Instant,
    ) {
        tracing::record_all!(
            span,
            { attr::GEN_AI_USAGE_INPUT_TOKENS } = i64::from(usage.input_tokens),
            { attr::GEN_AI_USAGE_OUTPUT_TOKENS } = i64::from(usage.output_tokens),
            { attr::COST_USD } = cost,
        );
        histogram(
            &metric::GEN_AI_OPERATION_DURATION,
            [op.as_str(), PROVIDER, model, ""],
        )
        .record(started.elapsed().as_secs_f64());
        for (kind, n) in [
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
        ] {
            if !matches!(op, Operation::Chat) && kind == "output" {
                continue;
            }
            histogram(
                &metric::GEN_AI_TOKEN_USAGE,
                [op.as_str(), PROVIDER, model, kind],
            )
            .record(f64::from(n));
            counter(&metric::TOKENS_TOTAL, [model, kind]).increment(u64::from(n));
        }
        crate::metrics::add_cost(model, cost);
    }
}
