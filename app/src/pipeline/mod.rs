//! The chat pipeline owns one chat request, from the parsed question to its last event:
//!
//! answer cache → embeddings → vector search → product search (buying questions only) →
//! prompt build → LLM call (plain or streamed) → post-processing → answer cache.
//!
//! [`Pipeline::run`] is the one entry point, for the plain and the streamed endpoint alike. It
//! yields [`ChatEvent`]s and ends with exactly one [`ChatEvent::Done`] or
//! [`ChatEvent::Failed`]; the handler turns them into JSON or server-sent events.
//!
//! Every stage is measured by a [`StageTimer`], which records the stage's span, its budget and
//! its histogram together. **To add a stage**, add it to `ragtrace_core::semconv::Stage` (its
//! label and budget) and run its work through a `StageTimer` in this file; nothing else changes.

pub mod prompt;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt as _};
use ragtrace_core::cache::{Cache, answer_key};
use ragtrace_core::catalog::{CatalogClient, ScoredProduct};
use ragtrace_core::catalog::{Order, ProductTerms};
use ragtrace_core::config::ChatSettings;
use ragtrace_core::llm::{Completion, CompletionStream, LlmClient, LlmError, Prompt, StreamEvent};
use ragtrace_core::metrics::{count_cache, count_error};
use ragtrace_core::semconv::{Stage, attr, span};
use ragtrace_core::stage::StageTimer;
use ragtrace_core::telemetry::mark_failed;
use ragtrace_core::tokens::Tokenizer;
use ragtrace_core::vector_store::{Hit, Query, Retrieval, VectorStore, is_source, sparse};
use tracing::Instrument as _;

use crate::domain::{CachedAnswer, ChatRequest, ChatResponse, Source, TokenUsage};
use crate::error::ApiError;

/// What a chat request produces, in order: `Sources`, any number of `Delta`s, then one `Done`
/// or one `Failed`. A request that fails before the LLM has started answering yields only
/// `Failed`, and one that is not streamed only `Done` or `Failed`.
#[derive(Debug)]
pub enum ChatEvent {
    /// The passages and products the model was given.
    Sources(Vec<Source>),
    /// The next piece of the answer (a cached answer is one piece).
    Delta(String),
    /// The whole response, serialised as the plain endpoint returns it.
    Done(Answer),
    /// The request failed: always the last event, sent as an HTTP error or an SSE `error` event.
    Failed(ApiError),
}

/// A finished answer: the `ChatResponse` as JSON, ready to send (the plain endpoint's body, the
/// `done` event's data), and what the request's outcome records of it.
#[derive(Debug)]
pub struct Answer {
    /// Whether it came from the answer cache.
    pub cache_hit: bool,
    /// Its estimated cost in USD (zero for a cache hit).
    pub cost_usd: f64,
    /// The `ChatResponse`, serialised once (see [`CachedAnswer::with_body`]).
    pub body: String,
}

impl Answer {
    /// A cache hit's answer: its body, as [`CachedAnswer::body`] wrote it.
    fn cached(body: String) -> Self {
        Self {
            cache_hit: true,
            cost_usd: 0.0,
            body,
        }
    }
}

/// The events of one chat request.
pub type ChatEvents = Pin<Box<dyn Stream<Item = ChatEvent> + Send>>;

/// The adapters a chat request uses and the knobs of the pipeline, shared by all requests.
#[derive(Debug)]
pub struct Pipeline {
    /// Where the passages are searched.
    pub store: Arc<dyn VectorStore>,
    /// The answer cache (also the product search's result cache, when that is on).
    pub cache: Arc<dyn Cache>,
    /// Embeddings and chat completions.
    pub llm: LlmClient,
    /// The external product-search API.
    pub catalog: CatalogClient,
    /// Counts prompt tokens locally, before the call, to keep the context within its budget.
    pub tokenizer: Tokenizer,
    /// top-k, score threshold, token budget, deadline and the answer cache's lifetime.
    pub chat: ChatSettings,
    // `chat.parallel_product_search`, switchable on a running app (PUT /admin/fixes).
    parallel_product_search: AtomicBool,
    // What names a product, so only questions about products call the catalog.
    product_terms: ProductTerms,
}

/// Everything up to the LLM call, and what is needed to finish the answer after it.
#[derive(Debug)]
struct Prepared {
    prompt: Prompt,
    sources: Vec<Source>,
    embedding_tokens: u32,
    embedding_cost: f64,
    cache_key: String,
}

/// Either a cached answer or a prompt ready for the LLM.
#[derive(Debug)]
enum Prepare {
    /// A cached answer as the plain endpoint's body.
    CachedBody(String),
    /// A cached answer, parsed (a streamed answer sends its parts as events), and its body.
    Cached(ChatResponse, String),
    Ready(Prepared),
}

impl Pipeline {
    /// The pipeline over these adapters, with the `[chat]` knobs and the tokenizer of
    /// `settings`.
    pub fn new(
        store: Arc<dyn VectorStore>,
        cache: Arc<dyn Cache>,
        llm: LlmClient,
        catalog: CatalogClient,
        settings: &ragtrace_core::config::Settings,
    ) -> Self {
        Self {
            store,
            cache,
            llm,
            catalog,
            tokenizer: Tokenizer::by_name(&settings.llm.tokenizer),
            chat: settings.chat.clone(),
            parallel_product_search: AtomicBool::new(settings.chat.parallel_product_search),
            product_terms: ProductTerms::from_setting(&settings.catalog.product_terms),
        }
    }

    /// Whether a buying question's product search runs beside its vector search.
    pub fn parallel_product_search(&self) -> bool {
        self.parallel_product_search.load(Ordering::Acquire)
    }

    /// Runs the product search beside the vector search (`true`) or after it, from the next
    /// request on.
    pub fn set_parallel_product_search(&self, on: bool) {
        self.parallel_product_search.store(on, Ordering::Release);
    }

    /// Runs one chat request within `deadline`. The events stream the answer when
    /// `req.stream` is set; otherwise the LLM is called once and the answer arrives whole.
    pub fn run(
        self: Arc<Self>,
        req: ChatRequest,
        trace_id: String,
        deadline: Duration,
    ) -> ChatEvents {
        let span = request_span(&req);
        let request = Request {
            span: span.clone(),
            trace_id,
            budget: Budget::from_now(deadline),
        };
        // The stages' futures are large (every adapter call's state): boxed, they are built in
        // place on the heap, where they would otherwise be copied into the stream's own state
        // and moved with it (about 11 % of a request's instructions, bench/instructions.py).
        // A request that is not streamed gets its answer whole: only `Done` (or `Failed`) is
        // yielded, without copies of the sources and the text for events nobody reads.
        let stream = req.stream;
        let events = async_stream::stream! {
            let prepared = request
                .budget
                .within(Box::pin(self.prepare(&req, &request.trace_id)))
                .instrument(request.span.clone())
                .await;
            match prepared {
                Ok(Prepare::CachedBody(body)) => yield ChatEvent::Done(Answer::cached(body)),
                Ok(Prepare::Cached(resp, body)) => {
                    yield ChatEvent::Sources(resp.sources);
                    yield ChatEvent::Delta(resp.answer);
                    yield ChatEvent::Done(Answer::cached(body));
                }
                Ok(Prepare::Ready(prepared)) if stream => {
                    let mut events = Box::pin(self.streamed(prepared, &request));
                    while let Some(event) = events.next().await {
                        yield event;
                    }
                }
                Ok(Prepare::Ready(prepared)) => match Box::pin(self.whole(prepared, &request)).await {
                    Ok(answer) => yield ChatEvent::Done(answer),
                    Err(e) => yield ChatEvent::Failed(e),
                },
                Err(e) => yield ChatEvent::Failed(e),
            }
        };
        // The request's outcome goes on its span once, whichever way it ended.
        Box::pin(events.inspect(move |event| match event {
            ChatEvent::Done(answer) => tracing::record_all!(
                span,
                { attr::CACHE_HIT } = answer.cache_hit,
                { attr::COST_USD } = answer.cost_usd,
            ),
            ChatEvent::Failed(e) => mark_failed(&span, e.kind(), &e.to_string()),
            ChatEvent::Sources(_) | ChatEvent::Delta(_) => {}
        }))
    }

    /// The LLM called once, then post-processing: the whole answer.
    async fn whole(&self, prepared: Prepared, request: &Request) -> Result<Answer, ApiError> {
        let llm = StageTimer::adapter(Stage::Llm);
        let completion = request
            .budget
            .within(async {
                let max_tokens = self.chat.max_output_tokens;
                Ok(llm.run(self.llm.chat(&prepared.prompt, max_tokens)).await?)
            })
            .instrument(request.span.clone())
            .await;
        drop(llm);
        Ok(self
            .finish(prepared, completion?, &request.trace_id)
            .instrument(request.span.clone())
            .await)
    }

    /// The LLM's answer as it comes: the sources once the model has accepted the prompt (so a
    /// failure before that is still a plain JSON error with its status), each piece of text,
    /// then the post-processed whole.
    fn streamed<'a>(
        &'a self,
        prepared: Prepared,
        request: &'a Request,
    ) -> impl Stream<Item = ChatEvent> + Send + 'a {
        async_stream::stream! {
            let llm = StageTimer::adapter(Stage::Llm);
            let tokenizer = self.tokenizer;
            let max_tokens = self.chat.max_output_tokens;
            let opened = request
                .budget
                .within(async {
                    let count = move |s: &str| tokenizer.count(s) as u32;
                    Ok(llm.run(self.llm.chat_stream(&prepared.prompt, max_tokens, count)).await?)
                })
                .instrument(request.span.clone())
                .await;
            let mut upstream = match opened {
                Ok(upstream) => upstream,
                Err(e) => {
                    yield ChatEvent::Failed(e);
                    return;
                }
            };
            yield ChatEvent::Sources(prepared.sources.clone());
            loop {
                match request.budget.next_of(&mut upstream).await {
                    Ok(StreamEvent::Delta(text)) => yield ChatEvent::Delta(text),
                    Ok(StreamEvent::Done(completion)) => {
                        drop(llm);
                        let answer = self
                            .finish(prepared, completion, &request.trace_id)
                            .instrument(request.span.clone())
                            .await;
                        yield ChatEvent::Done(answer);
                        return;
                    }
                    Err(e) => {
                        yield ChatEvent::Failed(ApiError::from(e));
                        return;
                    }
                }
            }
        }
    }

    /// Everything up to the LLM call: a cached answer, or the prompt.
    async fn prepare(&self, req: &ChatRequest, trace_id: &str) -> Result<Prepare, ApiError> {
        let key = answer_key(&req.question.normalised(), self.llm.chat_model());
        if let Some(cached) = self.lookup(&key, req.stream, trace_id).await {
            return Ok(cached);
        }
        let product_query = req
            .question
            .concerns_products(&self.product_terms)
            .then(|| req.question.product_query());
        let order = Order::asked_in(&req.question.normalised());
        let products = async {
            match &product_query {
                Some(q) => self.search_products(q, order).await,
                None => Vec::new(),
            }
        };
        let question = req.question.as_str();
        let expected = &req.expected_sources;
        // The prompt needs both results, but neither search needs the other's: in parallel, a
        // buying question waits for the slower of the two instead of for both.
        let (retrieved, products) = if self.parallel_product_search() {
            tokio::join!(self.embed_and_retrieve(question, expected), products)
        } else {
            let retrieved = self.embed_and_retrieve(question, expected).await?;
            (Ok(retrieved), products.await)
        };
        let (hits, embedding_tokens, embedding_cost) = retrieved?;
        let (prompt, sources) = self.build_prompt(req.question.as_str(), &hits, &products);
        Ok(Prepare::Ready(Prepared {
            prompt,
            sources,
            embedding_tokens,
            embedding_cost,
            cache_key: key,
        }))
    }

    /// The answer-cache lookup: the hit as the plain endpoint's body, or parsed when `stream`
    /// wants its parts. A cache that fails is a miss: the request is answered without it.
    async fn lookup(&self, key: &str, stream: bool, trace_id: &str) -> Option<Prepare> {
        let timer = StageTimer::own(Stage::Cache, span::CACHE_LOOKUP);
        let span = timer.span();
        tracing::record_all!(
            span,
            { attr::CACHE_BACKEND } = self.cache.backend(),
            { attr::CACHE_NAME } = "answer",
        );
        let found = match timer.run(self.cache.get(key)).await {
            // An entry of another shape is from an older version: a miss, overwritten later.
            Ok(Some(json)) => CachedAnswer::from_stored(json).and_then(|cached| {
                let body = cached.body(trace_id);
                if stream {
                    let resp = serde_json::from_str(&body).ok()?;
                    Some(Prepare::Cached(resp, body))
                } else {
                    Some(Prepare::CachedBody(body))
                }
            }),
            Ok(None) => None,
            Err(e) => {
                count_cache("answer", "error");
                count_error("cache");
                span.record(attr::CACHE_HIT, false);
                timer.fail(e.kind(), &e.to_string());
                tracing::warn!(parent: span, error.type = e.kind(), "answer cache unavailable, answering without it: {e}");
                return None;
            }
        };
        count_cache("answer", if found.is_some() { "hit" } else { "miss" });
        span.record(attr::CACHE_HIT, found.is_some());
        found
    }

    /// The passages for the question: its embedding (unless retrieval is sparse only) and its
    /// terms, then the search.
    async fn embed_and_retrieve(
        &self,
        question: &str,
        expected: &[String],
    ) -> Result<(Vec<Hit>, u32, f64), ApiError> {
        let mode = self.chat.retrieval;
        let (dense, tokens, cost) = if mode.uses_dense() {
            let (vector, tokens, cost) = self.embed(question).await?;
            (Some(vector), tokens, cost)
        } else {
            (None, 0, 0.0)
        };
        let query = Query {
            dense,
            sparse: mode.uses_sparse().then(|| sparse::query(question)),
            top_k: self.chat.top_k,
            score_threshold: Some(self.chat.score_threshold),
            candidates: self.chat.fusion_candidates,
            fusion: self.chat.fusion,
        };
        Ok((self.retrieve(query, expected).await?, tokens, cost))
    }

    /// Embeds the question (the adapter's GenAI span is the stage's span).
    async fn embed(&self, question: &str) -> Result<(Vec<f32>, u32, f64), ApiError> {
        let timer = StageTimer::adapter(Stage::Embeddings);
        let mut e = timer.run(self.llm.embed(vec![question.to_owned()])).await?;
        let vector = e
            .vectors
            .pop()
            .ok_or_else(|| anyhow::anyhow!("the embeddings response has no vector"))?;
        Ok((vector, e.input_tokens, e.cost_usd))
    }

    /// The search: the GenAI `retrieval` span, with the store's database span under it. The span
    /// says which legs ran, what each found and how they were fused.
    async fn retrieve(&self, query: Query, expected: &[String]) -> Result<Vec<Hit>, ApiError> {
        let timer = StageTimer::own(Stage::Retrieval, span::RETRIEVAL);
        let span = timer.span();
        tracing::record_all!(
            span,
            { attr::GEN_AI_OPERATION_NAME } = "retrieval",
            { attr::GEN_AI_DATA_SOURCE_ID } = self.store.collection(),
            { attr::GEN_AI_RETRIEVAL_TOP_K } = self.chat.top_k as i64,
            { attr::RETRIEVAL_MODE } = self.chat.retrieval.as_str(),
            { attr::RETRIEVAL_FUSION } =
                (self.chat.retrieval == Retrieval::Hybrid).then(|| self.chat.fusion.as_str()),
            { attr::RETRIEVAL_SCORE_THRESHOLD } = f64::from(self.chat.score_threshold),
            { attr::RETRIEVAL_SPARSE_TERMS } =
                query.sparse.as_ref().map(|t| t.indices.len() as i64),
        );
        let result = timer.run(self.store.search(query)).await;
        match result {
            Ok(hits) => {
                record_retrieved(span, self.chat.retrieval, &hits);
                if !expected.is_empty() {
                    let rank = hits
                        .iter()
                        .position(|h| expected.iter().any(|e| is_source(h.field("source"), e)))
                        .map_or(0, |i| i as i64 + 1);
                    span.record(attr::RETRIEVAL_EXPECTED_RANK, rank);
                }
                Ok(hits)
            }
            Err(e) => {
                let e = ApiError::from(e);
                timer.fail(e.kind(), &e.to_string());
                Err(e)
            }
        }
    }

    /// The product-search tool (GenAI `execute_tool`). It is best-effort: without it the answer
    /// still comes from the documents.
    async fn search_products(&self, query: &str, order: Order) -> Vec<ScoredProduct> {
        let timer = StageTimer::own(Stage::ExternalApi, span::TOOL_PRODUCT_SEARCH);
        let span = timer.span();
        tracing::record_all!(
            span,
            { attr::GEN_AI_OPERATION_NAME } = "execute_tool",
            { attr::GEN_AI_TOOL_NAME } = span::PRODUCT_SEARCH_TOOL,
            { attr::GEN_AI_TOOL_TYPE } = "function",
        );
        match timer.run(self.catalog.search(query, order)).await {
            Ok(found) => {
                tracing::record_all!(
                    span,
                    { attr::CACHE_HIT } = found.cache_hit,
                    { attr::TOOL_RESULTS } = found.products.len() as i64,
                );
                found.products
            }
            Err(e) => {
                count_error("catalog");
                timer.fail(e.kind(), &e.to_string());
                Vec::new()
            }
        }
    }

    fn build_prompt(
        &self,
        question: &str,
        hits: &[Hit],
        products: &[ScoredProduct],
    ) -> (Prompt, Vec<Source>) {
        let timer = StageTimer::own(Stage::Prompt, span::PROMPT_BUILD);
        timer.run_sync(|span| {
            let built = prompt::build(
                self.tokenizer,
                self.chat.context_token_budget,
                question,
                hits,
                products,
            );
            tracing::record_all!(
                span,
                { attr::PROMPT_TOKENS } = built.tokens as i64,
                { attr::PROMPT_PASSAGES_KEPT } = built.sources.len() as i64,
                { attr::PROMPT_PASSAGES_DROPPED } = built.dropped as i64,
            );
            (built.prompt, built.sources)
        })
    }

    /// Post-processes a completion into the response and stores it in the answer cache.
    async fn finish(
        &self,
        mut prepared: Prepared,
        completion: Completion,
        trace_id: &str,
    ) -> Answer {
        let timer = StageTimer::own(Stage::Postprocess, span::POSTPROCESS);
        let answer = timer.run_sync(|span| {
            let (answer, citations) = prompt::postprocess(&completion.text, &mut prepared.sources);
            span.record(attr::CITATIONS, citations as i64);
            answer
        });
        drop(timer);
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
        let (body, entry) = CachedAnswer::with_body(&resp);
        self.store(&prepared.cache_key, &entry).await;
        Answer {
            cache_hit: false,
            cost_usd: resp.cost_usd,
            body,
        }
    }

    /// Stores an answer in the cache. A cache that fails costs the next asker time, not this one
    /// an answer.
    async fn store(&self, key: &str, value: &CachedAnswer) {
        let timer = StageTimer::own(Stage::Cache, span::CACHE_STORE);
        let span = timer.span();
        tracing::record_all!(
            span,
            { attr::CACHE_BACKEND } = self.cache.backend(),
            { attr::CACHE_NAME } = "answer",
        );
        let ttl = Duration::from_secs(self.chat.answer_cache_ttl_secs);
        if let Err(e) = timer.run(self.cache.set(key, value.as_str(), ttl)).await {
            count_error("cache");
            timer.fail(e.kind(), &e.to_string());
            tracing::warn!(parent: span, error.type = e.kind(), "answer cache store failed: {e}");
        }
    }
}

/// Records what a search returned on its retrieval span: how many passages, the best score,
/// which leg found each, and every passage's scores.
fn record_retrieved(span: &tracing::Span, mode: Retrieval, hits: &[Hit]) {
    let dense = mode
        .uses_dense()
        .then(|| hits.iter().filter(|h| h.dense.is_some()).count() as i64);
    let sparse = mode
        .uses_sparse()
        .then(|| hits.iter().filter(|h| h.sparse.is_some()).count() as i64);
    // The hits JSON is written out only by a layer that records the field: an unsampled request
    // whose log level hides the span never builds it (the span itself exists whatever the
    // filters say).
    tracing::record_all!(
        span,
        { attr::DB_RESPONSE_RETURNED_ROWS } = hits.len() as i64,
        { attr::RETRIEVAL_TOP_SCORE } = hits.first().map(|top| f64::from(top.score)),
        { attr::RETRIEVAL_DENSE_HITS } = dense,
        { attr::RETRIEVAL_SPARSE_HITS } = sparse,
        { attr::RETRIEVAL_HITS } = tracing::field::display(HitsJson(hits)),
    );
}

/// The `ragtrace.retrieval.hits` attribute: every passage's source, fused score and each leg's
/// `[rank, score]` (or `null`), best first, as JSON.
struct HitsJson<'a>(&'a [Hit]);

impl std::fmt::Display for HitsJson<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[derive(serde::Serialize)]
        struct Row<'a> {
            source: &'a str,
            score: f64,
            dense: Option<(u32, f64)>,
            sparse: Option<(u32, f64)>,
        }
        let leg =
            |l: Option<ragtrace_core::vector_store::LegHit>| l.map(|l| (l.rank, round4(l.score)));
        let rows: Vec<Row<'_>> = self
            .0
            .iter()
            .map(|h| Row {
                source: h.field("source"),
                score: round4(h.score),
                dense: leg(h.dense),
                sparse: leg(h.sparse),
            })
            .collect();
        f.write_str(&serde_json::to_string(&rows).map_err(|_| std::fmt::Error)?)
    }
}

fn round4(x: f32) -> f64 {
    (f64::from(x) * 1e4).round() / 1e4
}

/// The pipeline's span: one per chat request, under the HTTP server span, parent of every stage.
fn request_span(req: &ChatRequest) -> tracing::Span {
    tracing::info_span!(
        "pipeline",
        { attr::OTEL_NAME } = span::CHAT_PIPELINE,
        { attr::USER_ID } = req.user_id.as_deref().unwrap_or(""),
        { attr::GEN_AI_CONVERSATION_ID } = req.session_id.as_deref(),
        { attr::CACHE_HIT } = tracing::field::Empty,
        { attr::COST_USD } = tracing::field::Empty,
        { attr::ERROR_TYPE } = tracing::field::Empty,
        { attr::OTEL_STATUS_CODE } = tracing::field::Empty,
        { attr::OTEL_STATUS_DESCRIPTION } = tracing::field::Empty,
    )
}

/// One request as the pipeline carries it from stage to stage.
#[derive(Debug)]
struct Request {
    /// The pipeline's span: every stage runs inside it.
    span: tracing::Span,
    trace_id: String,
    budget: Budget,
}

/// The request's deadline: every wait of the request is bounded by what is left of it.
#[derive(Debug, Clone, Copy)]
struct Budget {
    deadline_at: Instant,
    deadline_ms: u64,
}

impl Budget {
    fn from_now(deadline: Duration) -> Self {
        Self {
            deadline_at: Instant::now() + deadline,
            deadline_ms: u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// `fut`, unless the deadline passes first (then a `deadline` error).
    async fn within<T>(
        &self,
        fut: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        tokio::time::timeout_at(self.deadline_at.into(), fut)
            .await
            .unwrap_or(Err(ApiError::Deadline {
                ms: self.deadline_ms,
            }))
    }

    /// The next event of a streamed completion, unless the deadline passes first (then the LLM
    /// timed out mid-stream); a stream that ends without its final event is a protocol error.
    async fn next_of(&self, upstream: &mut CompletionStream) -> Result<StreamEvent, LlmError> {
        match tokio::time::timeout_at(self.deadline_at.into(), upstream.next()).await {
            Ok(Some(item)) => item,
            Ok(None) => Err(LlmError::Protocol("the stream ended early".into())),
            Err(_) => Err(LlmError::Timeout {
                attempts: 1,
                timeout_ms: self.deadline_ms,
            }),
        }
    }
}
