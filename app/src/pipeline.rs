//! The chat pipeline: cache lookup → embeddings → vector search → product search (when the
//! question is about products) → prompt build with token budget → LLM call → post-processing →
//! cache store.
//!
//! Each stage is a span carrying `ragtrace.stage` and its budget, and a sample of
//! `ragtrace_stage_duration_seconds`, so both a single trace and the aggregate show where the
//! time goes.

use std::sync::Arc;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use ragtrace_core::cache::{Cache, answer_key};
use ragtrace_core::catalog::{CatalogClient, ScoredProduct};
use ragtrace_core::config::ChatSettings;
use ragtrace_core::llm::{Completion, LlmClient, Prompt};
use ragtrace_core::metrics::{count_cache, count_error, record_stage};
use ragtrace_core::semconv::{Stage, attr, span};
use ragtrace_core::tokens::Tokenizer;
use ragtrace_core::vector_store::{Hit, VectorStore};
use regex::Regex;
use tracing::Instrument as _;

use crate::domain::{ChatRequest, ChatResponse, Source, TokenUsage};
use crate::error::ApiError;

/// Instructions given to the model with every question.
pub const SYSTEM_PROMPT: &str = "You are the Northwind Lumen assistant. Answer the question using only the \
context passages and products below. Cite every statement with the marker of its passage, like [1] or [P1]. \
If the context does not contain the answer, say that you could not find it. Be concise.";

/// Passages truncated to fewer tokens than this are dropped instead: a fragment misleads more
/// than it helps.
const MIN_PASSAGE_TOKENS: usize = 40;

/// Everything a request needs, shared by all requests.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// Vector store.
    pub store: Arc<dyn VectorStore>,
    /// Answer cache.
    pub cache: Arc<dyn Cache>,
    /// LLM and embeddings.
    pub llm: LlmClient,
    /// Product search.
    pub catalog: CatalogClient,
    /// Token counter.
    pub tokenizer: Tokenizer,
    /// Knobs.
    pub chat: ChatSettings,
}

/// The prompt and what is needed to finish the answer after the LLM call.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Prompt to send.
    pub prompt: Prompt,
    /// Sources given to the model.
    pub sources: Vec<Source>,
    /// Tokens embedded.
    pub embedding_tokens: u32,
    /// Cost of the embeddings, USD.
    pub embedding_cost: f64,
    /// Answer-cache key.
    pub cache_key: String,
}

/// Either a cached answer or a prompt ready for the LLM.
#[derive(Debug)]
pub enum Outcome {
    /// Answered from the cache.
    Cached(ChatResponse),
    /// Ready for the LLM.
    Ready(Prepared),
}

/// A span for one pipeline stage, with its budget.
pub fn stage_span(stage: Stage, name: &'static str) -> tracing::Span {
    tracing::info_span!(
        "stage",
        { attr::OTEL_NAME } = name,
        { attr::STAGE } = stage.as_str(),
        { attr::STAGE_BUDGET_MS } = stage.budget_ms() as i64,
        { attr::CACHE_BACKEND } = tracing::field::Empty,
        { attr::CACHE_NAME } = tracing::field::Empty,
        { attr::CACHE_HIT } = tracing::field::Empty,
        { attr::RETRIEVAL_TOP_K } = tracing::field::Empty,
        { attr::RETRIEVAL_SCORE_THRESHOLD } = tracing::field::Empty,
        { attr::RETRIEVAL_TOP_SCORE } = tracing::field::Empty,
        { attr::DB_RESPONSE_RETURNED_ROWS } = tracing::field::Empty,
        { attr::PROMPT_TOKENS } = tracing::field::Empty,
        { attr::PROMPT_PASSAGES_KEPT } = tracing::field::Empty,
        { attr::PROMPT_PASSAGES_DROPPED } = tracing::field::Empty,
        { attr::CITATIONS } = tracing::field::Empty,
        { attr::ERROR_TYPE } = tracing::field::Empty,
        { attr::OTEL_STATUS_CODE } = tracing::field::Empty,
        { attr::OTEL_STATUS_DESCRIPTION } = tracing::field::Empty,
    )
}

fn fail(span: &tracing::Span, e: &ApiError) {
    span.record(attr::ERROR_TYPE, e.kind());
    span.record(attr::OTEL_STATUS_CODE, "error");
    span.record(attr::OTEL_STATUS_DESCRIPTION, e.to_string().as_str());
}

static CITATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[([A-Za-z]?\d{1,3})\]").expect("citation regex compiles"));

impl Pipeline {
    /// Everything up to the LLM call: a cached answer, or the prompt.
    pub async fn prepare(&self, req: &ChatRequest, trace_id: &str) -> Result<Outcome, ApiError> {
        let key = answer_key(&req.question.normalised(), self.llm.chat_model());
        if let Some(mut cached) = self.lookup(&key).await {
            cached.cache_hit = true;
            cached.usage = TokenUsage::default();
            cached.cost_usd = 0.0;
            trace_id.clone_into(&mut cached.trace_id);
            return Ok(Outcome::Cached(cached));
        }

        let (vector, embedding_tokens, embedding_cost) = self.embed(req.question.as_str()).await?;
        let hits = self.retrieve(vector).await?;
        let products = if req.question.concerns_products() {
            // The tool is best-effort: without it the answer still comes from the documents.
            self.catalog
                .search(&req.question.product_query())
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let (prompt, sources) = self.build_prompt(req.question.as_str(), &hits, &products);
        Ok(Outcome::Ready(Prepared {
            prompt,
            sources,
            embedding_tokens,
            embedding_cost,
            cache_key: key,
        }))
    }

    /// Answers a request without streaming.
    pub async fn answer(
        &self,
        req: &ChatRequest,
        trace_id: &str,
    ) -> Result<ChatResponse, ApiError> {
        match self.prepare(req, trace_id).await? {
            Outcome::Cached(resp) => Ok(resp),
            Outcome::Ready(prepared) => {
                let started = Instant::now();
                let completion = self
                    .llm
                    .chat(&prepared.prompt, self.chat.max_output_tokens)
                    .await;
                record_stage(Stage::Llm, started.elapsed().as_secs_f64());
                let completion = completion?;
                Ok(self.finish(prepared, completion, trace_id).await)
            }
        }
    }

    async fn lookup(&self, key: &str) -> Option<ChatResponse> {
        let span = stage_span(Stage::Cache, span::CACHE_LOOKUP);
        span.record(attr::CACHE_BACKEND, self.cache.backend());
        span.record(attr::CACHE_NAME, "answer");
        let started = Instant::now();
        let result = self.cache.get(key).instrument(span.clone()).await;
        record_stage(Stage::Cache, started.elapsed().as_secs_f64());
        match result {
            Ok(Some(json)) => match serde_json::from_str::<ChatResponse>(&json) {
                Ok(resp) => {
                    count_cache("answer", "hit");
                    span.record(attr::CACHE_HIT, true);
                    Some(resp)
                }
                Err(_) => {
                    // An entry from an older version: a miss, and it will be overwritten.
                    count_cache("answer", "miss");
                    span.record(attr::CACHE_HIT, false);
                    None
                }
            },
            Ok(None) => {
                count_cache("answer", "miss");
                span.record(attr::CACHE_HIT, false);
                None
            }
            Err(e) => {
                count_cache("answer", "error");
                count_error("cache");
                span.record(attr::CACHE_HIT, false);
                span.record(attr::ERROR_TYPE, e.kind());
                span.record(attr::OTEL_STATUS_CODE, "error");
                span.record(attr::OTEL_STATUS_DESCRIPTION, e.to_string().as_str());
                tracing::warn!(parent: &span, error.type = e.kind(), "answer cache unavailable, answering without it: {e}");
                None
            }
        }
    }

    async fn embed(&self, question: &str) -> Result<(Vec<f32>, u32, f64), ApiError> {
        let started = Instant::now();
        let result = self.llm.embed(vec![question.to_owned()]).await;
        record_stage(Stage::Embeddings, started.elapsed().as_secs_f64());
        let mut e = result?;
        let vector = e
            .vectors
            .pop()
            .ok_or_else(|| anyhow::anyhow!("the embeddings response has no vector"))?;
        Ok((vector, e.input_tokens, e.cost_usd))
    }

    async fn retrieve(&self, vector: Vec<f32>) -> Result<Vec<Hit>, ApiError> {
        let span = stage_span(Stage::Retrieval, span::RETRIEVAL);
        span.record(attr::RETRIEVAL_TOP_K, self.chat.top_k as i64);
        span.record(
            attr::RETRIEVAL_SCORE_THRESHOLD,
            f64::from(self.chat.score_threshold),
        );
        let started = Instant::now();
        let result = self
            .store
            .search(vector, self.chat.top_k, Some(self.chat.score_threshold))
            .instrument(span.clone())
            .await;
        record_stage(Stage::Retrieval, started.elapsed().as_secs_f64());
        match result {
            Ok(hits) => {
                span.record(attr::DB_RESPONSE_RETURNED_ROWS, hits.len() as i64);
                if let Some(top) = hits.first() {
                    span.record(attr::RETRIEVAL_TOP_SCORE, f64::from(top.score));
                }
                Ok(hits)
            }
            Err(e) => {
                let e = ApiError::from(e);
                fail(&span, &e);
                Err(e)
            }
        }
    }

    /// Builds the prompt: passages in rank order while they fit the token budget (the first that
    /// does not fit is truncated if enough of it remains), then the products.
    pub fn build_prompt(
        &self,
        question: &str,
        hits: &[Hit],
        products: &[ScoredProduct],
    ) -> (Prompt, Vec<Source>) {
        let span = stage_span(Stage::Prompt, span::PROMPT_BUILD);
        let _enter = span.enter();
        let started = Instant::now();
        let budget = self.chat.context_token_budget;
        let mut used = 0;
        let mut context = String::new();
        let mut sources = Vec::new();
        let mut dropped = 0;
        for hit in hits {
            let marker = (sources.len() + 1).to_string();
            let title = hit.field("title");
            let text = hit.field("text");
            let tokens = self.tokenizer.count(text);
            let remaining = budget.saturating_sub(used);
            let text = if tokens <= remaining {
                used += tokens;
                text.to_owned()
            } else if remaining >= MIN_PASSAGE_TOKENS {
                used += remaining;
                self.tokenizer.truncate(text, remaining)
            } else {
                dropped += 1;
                continue;
            };
            context.push_str(&format!(
                "[{marker}] {title} ({})\n{text}\n\n",
                hit.field("source")
            ));
            sources.push(Source {
                marker,
                id: hit.id.clone(),
                title: title.to_owned(),
                source: hit.field("source").to_owned(),
                score: hit.score,
                cited: false,
            });
        }
        for (i, p) in products.iter().enumerate() {
            let marker = format!("P{}", i + 1);
            let prod = &p.product;
            context.push_str(&format!(
                "[{marker}] Product {}: {} costs ${:.2}, is {}, and is rated {:.1} of 5. {}\n\n",
                prod.id,
                prod.name,
                prod.price_usd,
                if prod.in_stock {
                    "in stock"
                } else {
                    "out of stock"
                },
                prod.rating,
                prod.description
            ));
            sources.push(Source {
                marker,
                id: prod.id.clone(),
                title: prod.name.clone(),
                source: "catalog".into(),
                score: p.score,
                cited: false,
            });
        }
        if context.is_empty() {
            context.push_str("(no passages matched the question)\n\n");
        }
        let user = format!("Context:\n{context}Question: {question}");
        let prompt_tokens = self.tokenizer.count(SYSTEM_PROMPT) + self.tokenizer.count(&user);
        span.record(attr::PROMPT_TOKENS, prompt_tokens as i64);
        span.record(attr::PROMPT_PASSAGES_KEPT, sources.len() as i64);
        span.record(attr::PROMPT_PASSAGES_DROPPED, dropped as i64);
        record_stage(Stage::Prompt, started.elapsed().as_secs_f64());
        (
            Prompt {
                system: SYSTEM_PROMPT.to_owned(),
                user,
            },
            sources,
        )
    }

    /// Post-processing: keeps only citations of real sources, marks the cited sources, and
    /// normalises whitespace.
    pub fn postprocess(&self, text: &str, sources: &mut [Source]) -> String {
        let span = stage_span(Stage::Postprocess, span::POSTPROCESS);
        let _enter = span.enter();
        let started = Instant::now();
        let mut citations = 0;
        let cleaned = CITATION.replace_all(text, |c: &regex::Captures<'_>| {
            let marker = &c[1];
            match sources
                .iter_mut()
                .find(|s| s.marker.eq_ignore_ascii_case(marker))
            {
                Some(s) => {
                    s.cited = true;
                    citations += 1;
                    c[0].to_owned()
                }
                // A citation of a passage the model was never given: drop it.
                None => String::new(),
            }
        });
        let answer = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
        span.record(attr::CITATIONS, citations as i64);
        record_stage(Stage::Postprocess, started.elapsed().as_secs_f64());
        answer
    }

    /// Post-processes a completion into the response and stores it in the cache.
    pub async fn finish(
        &self,
        mut prepared: Prepared,
        completion: Completion,
        trace_id: &str,
    ) -> ChatResponse {
        let answer = self.postprocess(&completion.text, &mut prepared.sources);
        let resp = ChatResponse {
            answer,
            sources: prepared.sources,
            usage: TokenUsage {
                input_tokens: completion.usage.input_tokens,
                output_tokens: completion.usage.output_tokens,
                embedding_tokens: prepared.embedding_tokens,
            },
            // Rounded to a billionth of a dollar: float noise is not information.
            cost_usd: ((completion.cost_usd + prepared.embedding_cost) * 1e9).round() / 1e9,
            cache_hit: false,
            model: completion.model,
            trace_id: trace_id.to_owned(),
        };
        self.store(&prepared.cache_key, &resp).await;
        resp
    }

    async fn store(&self, key: &str, resp: &ChatResponse) {
        let span = stage_span(Stage::Cache, span::CACHE_STORE);
        span.record(attr::CACHE_BACKEND, self.cache.backend());
        span.record(attr::CACHE_NAME, "answer");
        let started = Instant::now();
        let value = serde_json::to_string(resp).unwrap_or_default();
        let ttl = Duration::from_secs(self.chat.answer_cache_ttl_secs);
        let result = self
            .cache
            .set(key, &value, ttl)
            .instrument(span.clone())
            .await;
        record_stage(Stage::Cache, started.elapsed().as_secs_f64());
        if let Err(e) = result {
            count_error("cache");
            span.record(attr::ERROR_TYPE, e.kind());
            span.record(attr::OTEL_STATUS_CODE, "error");
            span.record(attr::OTEL_STATUS_DESCRIPTION, e.to_string().as_str());
            tracing::warn!(parent: &span, error.type = e.kind(), "answer cache store failed: {e}");
        }
    }
}
