//! Chat completions, plain and streamed.

use std::pin::Pin;
use std::time::{Duration, Instant};

use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage, ChatCompletionResponseStream, ChatCompletionStreamOptions,
    CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
    CreateChatCompletionStreamResponse,
};
use futures::{Stream, StreamExt as _};
use tracing::Instrument as _;

use super::error::{Attempt, classify};
use super::{LlmClient, LlmError, Operation, Usage};
use crate::semconv::{PROVIDER, attr, metric};

/// A chat prompt: system instructions and the user turn (with the context in it).
#[derive(Debug, Clone)]
pub struct Prompt {
    /// Instructions, sent as the system message so they stay apart from user-supplied text.
    pub system: String,
    /// The user turn: the retrieved context, then the question.
    pub user: String,
}

/// A finished chat completion.
#[derive(Debug, Clone)]
pub struct Completion {
    /// The whole answer text; for a stream, its deltas joined.
    pub text: String,
    /// The model the provider reports, which may be a dated snapshot of the one requested.
    pub model: String,
    /// Token counts from the provider, or the caller's estimate when a stream reports none.
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

/// A streamed completion: `Delta` items, then one `Done`; an `Err` item ends it early.
pub type CompletionStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, LlmError>> + Send>>;

impl LlmClient {
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
            // Said explicitly: with async-openai's `byot` feature (on for the embeddings' own
            // response type), `create_stream` sends the request as it is given.
            b.stream(true).stream_options(ChatCompletionStreamOptions {
                include_usage: Some(true),
                include_obfuscation: None,
            });
        }
        b.build().map_err(|e| LlmError::Protocol(e.to_string()))
    }

    fn record_prompt(&self, span: &tracing::Span, prompt: &Prompt, max_tokens: u32) {
        let messages = self.record_content.then(|| {
            serde_json::json!([
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ])
            .to_string()
        });
        tracing::record_all!(
            span,
            { attr::GEN_AI_REQUEST_MAX_TOKENS } = i64::from(max_tokens),
            { attr::GEN_AI_INPUT_MESSAGES } = messages.as_deref(),
        );
    }

    fn record_completion(&self, span: &tracing::Span, c: &Completion) {
        let out = self
            .record_content
            .then(|| serde_json::json!([{"role": "assistant", "content": c.text}]).to_string());
        tracing::record_all!(
            span,
            { attr::GEN_AI_RESPONSE_MODEL } = c.model.as_str(),
            { attr::GEN_AI_RESPONSE_FINISH_REASONS } = c.finish_reason.as_str(),
            { attr::GEN_AI_OUTPUT_MESSAGES } = out.as_deref(),
        );
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
                    // Boxed: the HTTP client's future is large, and every future that awaits
                    // this one would carry (and copy) it (bench/instructions.py).
                    Box::pin(async move { client.chat().create(req).await })
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
                Box::pin(async move { client.chat().create_stream(req).await })
            })
            .instrument(span.clone())
            .await;
        let upstream = match opened {
            Ok(s) => s,
            Err(e) => {
                self.record_failure(&span, Operation::Chat, &model, &e, started);
                return Err(e);
            }
        };
        let prompt_estimate = estimate(&format!("{}\n{}", prompt.system, prompt.user));
        Ok(self.clone().completion_stream(
            upstream,
            Opened {
                span,
                model,
                started,
            },
            move |text| Usage {
                input_tokens: prompt_estimate,
                output_tokens: estimate(text),
            },
        ))
    }

    /// The stream of a completion whose request the provider has accepted: its pieces of text,
    /// then the whole completion. An idle gap longer than the per-attempt timeout ends it with
    /// an error; `estimate` gives the usage when the provider sends none.
    fn completion_stream(
        self,
        mut upstream: ChatCompletionResponseStream,
        opened: Opened,
        estimate: impl Fn(&str) -> Usage + Send + 'static,
    ) -> CompletionStream {
        let Opened {
            span,
            model,
            started,
        } = opened;
        let idle = Duration::from_millis(self.settings.timeout_ms);
        let idle_ms = idle.as_millis() as u64;
        Box::pin(async_stream::stream! {
            let mut so_far = SoFar::new(&model);
            loop {
                let next = match tokio::time::timeout(idle, upstream.next()).instrument(span.clone()).await {
                    Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
                    Ok(Some(Err(e))) => Err(match classify(&e, 1, idle_ms) {
                        Attempt::Retry(e, _) | Attempt::Fail(e) => e,
                    }),
                    Ok(None) => Ok(None),
                    Err(_) => Err(LlmError::Timeout { attempts: 1, timeout_ms: idle_ms }),
                };
                let chunk = match next {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => break,
                    Err(e) => {
                        self.record_failure(&span, Operation::Chat, &model, &e, started);
                        yield Err(e);
                        return;
                    }
                };
                for delta in so_far.absorb(chunk, &span, started, &model) {
                    yield Ok(StreamEvent::Delta(delta));
                }
            }
            let usage = so_far.usage.unwrap_or_else(|| estimate(&so_far.text));
            let completion = Completion {
                cost_usd: self.cost(&model, usage),
                text: so_far.text,
                model: so_far.model,
                usage,
                finish_reason: so_far.finish,
            };
            self.record_completion(&span, &completion);
            self.record_success(&span, Operation::Chat, &model, usage, completion.cost_usd, started);
            // End the span now: the consumer may stop polling after the last item, and the LLM
            // call is over whatever it does next. (tracing-opentelemetry takes a span's end time
            // from its last exit, which is why every poll of the upstream is instrumented.)
            drop(span);
            yield Ok(StreamEvent::Done(completion));
        })
    }
}

/// A streamed call the provider has accepted: its GenAI span, model and start.
struct Opened {
    span: tracing::Span,
    model: String,
    started: Instant,
}

/// What a streamed completion has said so far.
struct SoFar {
    text: String,
    usage: Option<Usage>,
    finish: String,
    model: String,
    first: bool,
}

impl SoFar {
    fn new(model: &str) -> Self {
        Self {
            text: String::new(),
            usage: None,
            finish: String::new(),
            model: model.to_owned(),
            first: true,
        }
    }

    /// Takes in one chunk and returns its pieces of text. The first piece records the time to
    /// first chunk, on the span and in its histogram.
    fn absorb(
        &mut self,
        chunk: CreateChatCompletionStreamResponse,
        span: &tracing::Span,
        started: Instant,
        requested_model: &str,
    ) -> Vec<String> {
        if self.first {
            span.record(attr::GEN_AI_RESPONSE_ID, chunk.id.as_str());
        }
        self.model.clone_from(&chunk.model);
        if let Some(u) = chunk.usage {
            self.usage = Some(Usage {
                input_tokens: u.prompt_tokens,
                output_tokens: u.completion_tokens,
            });
        }
        let mut deltas = Vec::new();
        for choice in chunk.choices {
            if let Some(f) = choice.finish_reason {
                self.finish = format!("{f:?}").to_lowercase();
            }
            if let Some(delta) = choice.delta.content.filter(|d| !d.is_empty()) {
                if self.first {
                    self.first = false;
                    let seconds = started.elapsed().as_secs_f64();
                    span.record(attr::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, seconds);
                    crate::metrics::histogram(
                        &metric::GEN_AI_TIME_TO_FIRST_CHUNK,
                        ["chat", PROVIDER, requested_model],
                    )
                    .record(seconds);
                }
                self.text.push_str(&delta);
                deltas.push(delta);
            }
        }
        deltas
    }
}
