//! Every span name, attribute key and metric name ragtrace emits, in one place.
//!
//! The OpenTelemetry GenAI semantic conventions are still marked "Development" and keep moving;
//! keeping every name here makes a rename one edit. Dashboards, alert rules and `docs/telemetry.md`
//! use exactly these names. Attribute keys follow the OpenTelemetry conventions (GenAI, database,
//! HTTP); ragtrace's own keys are under `ragtrace.`.

/// `gen_ai.provider.name` of every call: ragtrace speaks the OpenAI API to OpenAI, to any
/// OpenAI-compatible server and to its simulator alike.
pub const PROVIDER: &str = "openai";

/// Span names and the stage budgets they are compared with.
pub mod span {
    /// Root span of a chat request is made by the HTTP layer (`POST /v1/chat`); the pipeline's
    /// own span under it.
    pub const CHAT_PIPELINE: &str = "rag.pipeline";
    /// Answer-cache lookup stage: a hit skips every later stage, the LLM call included.
    pub const CACHE_LOOKUP: &str = "cache.lookup";
    /// Answer-cache store stage, after post-processing, so the same question next time is a hit.
    pub const CACHE_STORE: &str = "cache.store";
    /// The vector search: the GenAI retrieval span (named after its operation).
    pub const RETRIEVAL: &str = "retrieval";
    /// Prompt build stage, including token counting and trimming.
    pub const PROMPT_BUILD: &str = "prompt.build";
    /// Post-processing stage: citations, validation, formatting.
    pub const POSTPROCESS: &str = "postprocess";
    /// The product-search tool (GenAI `execute_tool {tool}`).
    pub const TOOL_PRODUCT_SEARCH: &str = "execute_tool product_search";
    /// Name of the product-search tool.
    pub const PRODUCT_SEARCH_TOOL: &str = "product_search";
    /// The producer span of an ingest job: the upload that enqueues it.
    pub const INGEST_SEND: &str = "send ragtrace.ingest";
    /// The consumer span of an ingest job: the worker that processes it.
    pub const INGEST_PROCESS: &str = "process ragtrace.ingest";
    /// The queue's destination name, in both spans (`messaging.destination.name`).
    pub const INGEST_DESTINATION: &str = "ragtrace.ingest";
    /// One document through the ingest pipeline: `ingest {source}`.
    pub fn ingest_document(source: &str) -> String {
        format!("ingest {source}")
    }
    /// One embed-and-upsert batch of an ingest run: one embeddings request, one vector-store write.
    pub const INGEST_BATCH: &str = "ingest batch";
    /// Removing the points of files that no longer exist.
    pub const INGEST_PRUNE: &str = "ingest prune";
    /// `ragtrace-ingest index`: one build of the vector store's search index.
    pub const INDEX_BUILD: &str = "index build";
    /// One `ragtrace-ingest` CLI run.
    pub const INGEST_RUN: &str = "ingest run";
    /// One recording through case study 3: `transcribe {strategy}`.
    pub fn transcribe(strategy: &str) -> String {
        format!("transcribe {strategy}")
    }
    /// One batch of audio chunks.
    pub const TRANSCRIBE_BATCH: &str = "transcribe batch";
    /// One audio chunk's transcription request.
    pub const TRANSCRIBE_CHUNK: &str = "transcribe chunk";
    /// The HTTP server span of a chat request (tracing-actix-web names it by route).
    pub const CHAT_ROUTE: &str = "POST /v1/chat";

    /// The name of a GenAI client span: `{operation} {model}`, e.g. `chat gpt-4o-mini`.
    pub fn genai(operation: &str, model: &str) -> String {
        format!("{operation} {model}")
    }

    /// The span names of one chat request, in pipeline order, with the models in use.
    pub fn chat_request(chat_model: &str, embedding_model: &str) -> Vec<String> {
        vec![
            CHAT_ROUTE.to_owned(),
            CHAT_PIPELINE.to_owned(),
            CACHE_LOOKUP.to_owned(),
            genai("embeddings", embedding_model),
            RETRIEVAL.to_owned(),
            TOOL_PRODUCT_SEARCH.to_owned(),
            PROMPT_BUILD.to_owned(),
            genai("chat", chat_model),
            POSTPROCESS.to_owned(),
            CACHE_STORE.to_owned(),
        ]
    }
}

/// Pipeline stages: the label of `ragtrace_stage_duration_seconds` and the `ragtrace.stage`
/// attribute. Budgets come from the telemetry contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Answer-cache lookup and store.
    Cache,
    /// Embedding the question (a GenAI `embeddings` call) for the vector search.
    Embeddings,
    /// Vector search, including the wait for a free vector-store connection (case study 2).
    Retrieval,
    /// The external product-search API, called for buying questions only (best-effort).
    ExternalApi,
    /// Prompt build and token counting.
    Prompt,
    /// The chat completion call, its retries and backoff included.
    Llm,
    /// Post-processing of the completion: citations, validation, formatting.
    Postprocess,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 7] = [
        Stage::Cache,
        Stage::Embeddings,
        Stage::Retrieval,
        Stage::ExternalApi,
        Stage::Prompt,
        Stage::Llm,
        Stage::Postprocess,
    ];

    /// What people call the stage, for the viewer and the docs.
    pub const fn label(self) -> &'static str {
        match self {
            Stage::Cache => "Cache",
            Stage::Embeddings => "Embeddings",
            Stage::Retrieval => "Retrieval",
            Stage::ExternalApi => "Product search API",
            Stage::Prompt => "Prompt build",
            Stage::Llm => "LLM call",
            Stage::Postprocess => "Post-processing",
        }
    }

    /// The `stage` metric label and `ragtrace.stage` value; [`Stage::label`] is for people.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Cache => "cache",
            Stage::Embeddings => "embeddings",
            Stage::Retrieval => "retrieval",
            Stage::ExternalApi => "external_api",
            Stage::Prompt => "prompt",
            Stage::Llm => "llm",
            Stage::Postprocess => "postprocess",
        }
    }

    /// Target duration of the stage, in milliseconds (the contract's budgets: prompt 0.1 s,
    /// LLM 3 s, vector search 0.5 s, external API 1 s, post-processing 0.2 s; cache and
    /// embeddings get budgets of the same spirit).
    pub const fn budget_ms(self) -> u64 {
        match self {
            Stage::Cache => 50,
            Stage::Embeddings => 500,
            Stage::Retrieval => 500,
            Stage::ExternalApi => 1000,
            Stage::Prompt => 100,
            Stage::Llm => 3000,
            Stage::Postprocess => 200,
        }
    }
}

/// Span attribute keys: OpenTelemetry's where a convention exists, ragtrace's own otherwise.
pub mod attr {
    // GenAI (https://opentelemetry.io/docs/specs/semconv/gen-ai/)
    /// GenAI operation: `chat`, `embeddings`, `transcription`, `retrieval` or `execute_tool`.
    pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
    /// Provider, `openai` for every OpenAI-compatible server.
    pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
    /// The model a GenAI client span asked for; it names the span and labels the GenAI metrics.
    pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
    /// The completion limit a chat span sent as `max_tokens` (`chat.max_output_tokens`).
    pub const GEN_AI_REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
    /// The sampling temperature configured for a GenAI client span's call (`llm.temperature`).
    pub const GEN_AI_REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
    /// The model the provider says answered, often a dated version of the model asked for.
    pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
    /// The provider's id of a chat completion, to match the span with the provider's own records.
    pub const GEN_AI_RESPONSE_ID: &str = "gen_ai.response.id";
    /// Why a chat completion stopped (`stop`, `length`, ...), comma-separated; `length` = cut off.
    pub const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
    /// Input tokens of a GenAI call; priced by `[pricing]` into the span's `ragtrace.cost_usd`.
    pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
    /// Output tokens of a GenAI call; priced by `[pricing]` into the span's `ragtrace.cost_usd`.
    pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
    /// Dimension of the returned embeddings.
    pub const GEN_AI_EMBEDDINGS_DIMENSION_COUNT: &str = "gen_ai.embeddings.dimension.count";
    /// The tool an `execute_tool` span ran (`product_search`).
    pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
    /// The kind of tool an `execute_tool` span ran; `function` for the product search.
    pub const GEN_AI_TOOL_TYPE: &str = "gen_ai.tool.type";
    /// Prompt text (opt-in only).
    pub const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
    /// Completion text (opt-in only).
    pub const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
    /// Whether the response was streamed.
    pub const GEN_AI_REQUEST_STREAM: &str = "gen_ai.request.stream";
    /// The collection a retrieval searched (GenAI retrieval spans).
    pub const GEN_AI_DATA_SOURCE_ID: &str = "gen_ai.data_source.id";
    /// Documents a retrieval asked for at most (GenAI retrieval spans).
    pub const GEN_AI_RETRIEVAL_TOP_K: &str = "gen_ai.retrieval.top_k";
    /// The conversation a request belongs to (the chat API's `session_id`).
    pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
    /// Time to first token, seconds (streaming only).
    pub const GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";

    // Database (https://opentelemetry.io/docs/specs/semconv/database/)
    /// The database of a client span: `qdrant` (the vector store) or `redis` (the cache).
    pub const DB_SYSTEM_NAME: &str = "db.system.name";
    /// Operation, e.g. `query`, `upsert`, `GET`.
    pub const DB_OPERATION_NAME: &str = "db.operation.name";
    /// The Qdrant collection a vector-store span operates on (`vector_store.collection`).
    pub const DB_COLLECTION_NAME: &str = "db.collection.name";
    /// Points a vector-store search or listing returned (Qdrant spans and the `retrieval` span).
    pub const DB_RESPONSE_RETURNED_ROWS: &str = "db.response.returned_rows";
    /// Database namespace (Redis db index).
    pub const DB_NAMESPACE: &str = "db.namespace";

    // HTTP / network
    /// The HTTP method of an outgoing call's client span (OpenTelemetry HTTP conventions).
    pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
    /// The HTTP status an outgoing call got; on LLM calls, 429 and 5xx are what gets retried.
    pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
    /// Full URL of an outgoing request (query string included, secrets masked).
    pub const URL_FULL: &str = "url.full";
    /// Host of the server a client span calls: the LLM provider, the catalog API, Qdrant or Redis.
    pub const SERVER_ADDRESS: &str = "server.address";
    /// Port of the server an HTTP client span calls (the scheme's default when the URL has none).
    pub const SERVER_PORT: &str = "server.port";
    /// Error class on a failed operation.
    pub const ERROR_TYPE: &str = "error.type";

    // Messaging (https://opentelemetry.io/docs/specs/semconv/messaging/), for the ingest queue.
    /// The ingest queue's backend on its producer and consumer spans: `memory` or `redis`.
    pub const MESSAGING_SYSTEM: &str = "messaging.system";
    /// `send` on an upload's producer span, `process` on the worker's consumer span.
    pub const MESSAGING_OPERATION_TYPE: &str = "messaging.operation.type";
    /// The operation as the system names it.
    pub const MESSAGING_OPERATION_NAME: &str = "messaging.operation.name";
    /// The queue an ingest job goes through (`ragtrace.ingest`), on both of its spans.
    pub const MESSAGING_DESTINATION_NAME: &str = "messaging.destination.name";
    /// The ingest job's id on its producer and consumer spans, linking an upload to its processing.
    pub const MESSAGING_MESSAGE_ID: &str = "messaging.message.id";

    // Span kind and status, understood by tracing-opentelemetry.
    /// Overrides the span name (e.g. `chat gpt-4o-mini`).
    pub const OTEL_NAME: &str = "otel.name";
    /// `client`, `server`, `internal`, ...
    pub const OTEL_KIND: &str = "otel.kind";
    /// Span status read by tracing-opentelemetry, `ok` or `error`; `mark_failed` sets `error`.
    pub const OTEL_STATUS_CODE: &str = "otel.status_code";
    /// The error message of a failed span, next to its status (set by `mark_failed`).
    pub const OTEL_STATUS_DESCRIPTION: &str = "otel.status_description";

    // Business attributes
    /// End user id (as sent by the caller).
    pub const USER_ID: &str = "user.id";
    /// Whether the answer came from the cache.
    pub const CACHE_HIT: &str = "ragtrace.cache_hit";
    /// Estimated cost of the request, USD.
    pub const COST_USD: &str = "ragtrace.cost_usd";
    /// Pipeline stage of a span.
    pub const STAGE: &str = "ragtrace.stage";
    /// The stage's budget, milliseconds.
    pub const STAGE_BUDGET_MS: &str = "ragtrace.stage.budget_ms";
    /// Cache backend (`memory`, `redis`).
    pub const CACHE_BACKEND: &str = "ragtrace.cache.backend";
    /// Which cache: `answer` or `catalog`.
    pub const CACHE_NAME: &str = "ragtrace.cache.name";
    /// Best similarity score of a search.
    pub const RETRIEVAL_TOP_SCORE: &str = "ragtrace.retrieval.top_score";
    /// The `chat.score_threshold` a retrieval applied, to explain why few or no passages came back.
    pub const RETRIEVAL_SCORE_THRESHOLD: &str = "ragtrace.retrieval.score_threshold";
    /// Which legs the search ran: `dense`, `sparse` or `hybrid` (`chat.retrieval`).
    pub const RETRIEVAL_MODE: &str = "ragtrace.retrieval.mode";
    /// How a hybrid search merged its legs: `dbsf` or `rrf` (`chat.fusion`).
    pub const RETRIEVAL_FUSION: &str = "ragtrace.retrieval.fusion";
    /// Distinct terms of the question's sparse vector (0: only stop words, the sparse leg finds
    /// nothing).
    pub const RETRIEVAL_SPARSE_TERMS: &str = "ragtrace.retrieval.sparse.terms";
    /// Returned passages the dense leg found.
    pub const RETRIEVAL_DENSE_HITS: &str = "ragtrace.retrieval.dense.hits";
    /// Returned passages the sparse leg found.
    pub const RETRIEVAL_SPARSE_HITS: &str = "ragtrace.retrieval.sparse.hits";
    /// The returned passages, best first, as JSON: `[{"source", "score", "dense": [rank, score],
    /// "sparse": [rank, score]}]`, `score` being the fused one in hybrid mode.
    pub const RETRIEVAL_HITS: &str = "ragtrace.retrieval.hits";
    /// Rank (1-based) among the returned passages of the first one from a source the question is
    /// expected to find, 0 when none is: recorded when a golden-set run names the expected
    /// sources (`ragtrace-lab eval`).
    pub const RETRIEVAL_EXPECTED_RANK: &str = "ragtrace.eval.expected_rank";
    /// Time spent waiting for a pooled connection, seconds.
    pub const POOL_WAIT_SECONDS: &str = "ragtrace.pool.wait_seconds";
    /// Prompt tokens counted locally before the call.
    pub const PROMPT_TOKENS: &str = "ragtrace.prompt.tokens";
    /// Context passages kept after trimming to the budget.
    pub const PROMPT_PASSAGES_KEPT: &str = "ragtrace.prompt.passages_kept";
    /// Context passages dropped by trimming.
    pub const PROMPT_PASSAGES_DROPPED: &str = "ragtrace.prompt.passages_dropped";
    /// Products returned by the product search.
    pub const TOOL_RESULTS: &str = "ragtrace.tool.results";
    /// Citations in the answer.
    pub const CITATIONS: &str = "ragtrace.answer.citations";
    /// The document an ingest job or span is about (`uploads/notes.md`).
    pub const INGEST_SOURCE: &str = "ragtrace.ingest.source";
    /// Size of an uploaded document, bytes.
    pub const INGEST_BYTES: &str = "ragtrace.ingest.bytes";
    /// How long a job waited in the queue before a worker took it, milliseconds.
    pub const INGEST_QUEUE_WAIT_MS: &str = "ragtrace.ingest.queue_wait_ms";
    // Ingest (the document pipeline) and transcription (case study 3).
    /// Format of an ingested document (`markdown`, `text`, `html`, `pdf`).
    pub const INGEST_FORMAT: &str = "ragtrace.ingest.format";
    /// Chunks a document has.
    pub const INGEST_CHUNKS: &str = "ragtrace.ingest.chunks";
    /// Chunks of a document that are new or changed, so embedded and written.
    pub const INGEST_TO_UPSERT: &str = "ragtrace.ingest.to_upsert";
    /// Stored chunks of a document that it no longer has.
    pub const INGEST_STALE: &str = "ragtrace.ingest.stale";
    /// Position of an embed-and-upsert batch in its run (0-based).
    pub const INGEST_BATCH_INDEX: &str = "ragtrace.ingest.batch.index";
    /// Batches in the run.
    pub const INGEST_BATCH_COUNT: &str = "ragtrace.ingest.batch.count";
    /// Chunks in a batch.
    pub const INGEST_BATCH_ITEMS: &str = "ragtrace.ingest.batch.items";
    /// Tokens in a batch.
    pub const INGEST_BATCH_TOKENS: &str = "ragtrace.ingest.batch.tokens";
    /// Paths given to a CLI run.
    pub const INGEST_PATHS: &str = "ragtrace.ingest.paths";
    /// Documents a run found.
    pub const INGEST_DOCUMENTS: &str = "ragtrace.ingest.documents";
    /// Documents a run could not ingest.
    pub const INGEST_FAILED: &str = "ragtrace.ingest.failed";
    /// Strategy of a `transcribe` span, `naive` or `bounded`, to compare the runs of case study 3.
    pub const TRANSCRIBE_STRATEGY: &str = "ragtrace.transcribe.strategy";
    /// Chunks in flight at most.
    pub const TRANSCRIBE_BATCH_SIZE: &str = "ragtrace.transcribe.batch_size";
    /// Length of the recording, seconds.
    pub const TRANSCRIBE_AUDIO_SECONDS: &str = "ragtrace.transcribe.audio_seconds";
    /// Audio chunks the recording was cut into.
    pub const TRANSCRIBE_CHUNKS: &str = "ragtrace.transcribe.chunks";
    /// Audio chunks whose transcription failed after retries: gaps in the stitched transcript.
    pub const TRANSCRIBE_FAILED_CHUNKS: &str = "ragtrace.transcribe.failed_chunks";
    /// Most bytes held in chunk buffers at once.
    pub const TRANSCRIBE_PEAK_BUFFER_BYTES: &str = "ragtrace.transcribe.peak_buffer_bytes";
    /// Position of a batch (0-based).
    pub const TRANSCRIBE_BATCH: &str = "ragtrace.transcribe.batch";
    /// Chunks in a batch.
    pub const TRANSCRIBE_BATCH_CHUNKS: &str = "ragtrace.transcribe.batch.chunks";
    /// Chunks of a batch not transcribed.
    pub const TRANSCRIBE_BATCH_FAILED: &str = "ragtrace.transcribe.batch.failed";
    /// Position of a chunk (0-based).
    pub const TRANSCRIBE_CHUNK: &str = "ragtrace.transcribe.chunk";
    /// Where a chunk starts in the recording, seconds.
    pub const TRANSCRIBE_CHUNK_START_S: &str = "ragtrace.transcribe.chunk.start_s";
    /// Size of a chunk's WAV, bytes.
    pub const TRANSCRIBE_CHUNK_BYTES: &str = "ragtrace.transcribe.chunk.bytes";
    /// Attempt number of a retried call (1-based).
    pub const ATTEMPT: &str = "ragtrace.attempt";
}

/// Every metric, declared once: its Prometheus name, type, unit, help text, histogram buckets
/// and label keys together. `crate::metrics` installs the recorder from these declarations and
/// records through them, so a call site names a metric and gives its label values, never a
/// label key: a label cannot be misspelled.
pub mod metric {
    /// How Prometheus exposes a metric.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Kind {
        /// Only goes up (requests, tokens, errors); dashboards take its `rate()`.
        Counter,
        /// Goes up and down.
        Gauge,
        /// Observations counted in `buckets`, for percentiles with `histogram_quantile`.
        Histogram,
    }

    impl Kind {
        /// The Prometheus type name.
        pub const fn as_str(self) -> &'static str {
            match self {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
            }
        }
    }

    /// What a metric's values measure.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Unit {
        /// Durations in seconds, the Prometheus base unit of time.
        Seconds,
        /// Sizes in bytes (buffers, resident memory), the Prometheus base unit of size.
        Bytes,
        /// Counts of things (requests, tokens, spans).
        Count,
    }

    /// One metric's whole declaration, so its name, type, buckets and labels cannot drift apart.
    #[derive(Debug, Clone, Copy)]
    pub struct Metric {
        /// The name `/metrics` exposes; dashboards and alert rules query exactly this.
        pub name: &'static str,
        /// Counter, gauge or histogram: how it is registered, and which helper may record it.
        pub kind: Kind,
        /// What the values measure.
        pub unit: Unit,
        /// The `# HELP` text.
        pub help: &'static str,
        /// Bucket bounds (histograms only; without them the exporter renders a summary).
        pub buckets: &'static [f64],
        /// Label keys, in the order call sites give their values.
        pub labels: &'static [&'static str],
    }

    impl std::fmt::Display for Metric {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.name)
        }
    }

    const fn counter(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Metric {
        Metric {
            name,
            kind: Kind::Counter,
            unit: Unit::Count,
            help,
            buckets: &[],
            labels,
        }
    }

    const fn gauge(
        name: &'static str,
        unit: Unit,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Metric {
        Metric {
            name,
            kind: Kind::Gauge,
            unit,
            help,
            buckets: &[],
            labels,
        }
    }

    const fn histogram(
        name: &'static str,
        unit: Unit,
        buckets: &'static [f64],
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Metric {
        Metric {
            name,
            kind: Kind::Histogram,
            unit,
            help,
            buckets,
            labels,
        }
    }

    /// The GenAI metrics' labels: operation, provider and model (the GenAI conventions).
    const GEN_AI: [&str; 3] = [
        "gen_ai_operation_name",
        "gen_ai_provider_name",
        "gen_ai_request_model",
    ];

    /// HTTP server request duration.
    pub const HTTP_SERVER_DURATION: Metric = histogram(
        "http_server_request_duration_seconds",
        Unit::Seconds,
        &DURATION_BUCKETS,
        "Duration of HTTP requests served, by route and status.",
        &[
            "http_route",
            "http_request_method",
            "http_response_status_code",
        ],
    );
    /// Duration of each pipeline stage.
    pub const STAGE_DURATION: Metric = histogram(
        "ragtrace_stage_duration_seconds",
        Unit::Seconds,
        &DURATION_BUCKETS,
        "Duration of each chat pipeline stage.",
        &["stage"],
    );
    /// GenAI client operation duration, retries included; `error_type` is empty on success.
    pub const GEN_AI_OPERATION_DURATION: Metric = histogram(
        "gen_ai_client_operation_duration_seconds",
        Unit::Seconds,
        &DURATION_BUCKETS,
        "Duration of GenAI client operations (chat, embeddings, transcription), retries included.",
        &[GEN_AI[0], GEN_AI[1], GEN_AI[2], "error_type"],
    );
    /// Time from the request to the first chunk of a streamed completion.
    pub const GEN_AI_TIME_TO_FIRST_CHUNK: Metric = histogram(
        "gen_ai_client_operation_time_to_first_chunk_seconds",
        Unit::Seconds,
        &DURATION_BUCKETS,
        "Time from a streamed GenAI request to the first chunk of its response.",
        &GEN_AI,
    );
    /// Tokens per GenAI operation, by token type (`input`, `output`).
    pub const GEN_AI_TOKEN_USAGE: Metric = histogram(
        "gen_ai_client_token_usage",
        Unit::Count,
        &TOKEN_BUCKETS,
        "Tokens used per GenAI operation, by token type.",
        &[GEN_AI[0], GEN_AI[1], GEN_AI[2], "gen_ai_token_type"],
    );
    /// Tokens used, as a counter for rates.
    pub const TOKENS_TOTAL: Metric = counter(
        "ragtrace_llm_tokens_total",
        "Tokens used, by model and token type.",
        &["gen_ai_request_model", "gen_ai_token_type"],
    );
    /// Estimated spend in micro-dollars (USD / 1e6; Prometheus counters are integers here, and
    /// fractions are carried over, not lost).
    pub const COST_MICROUSD_TOTAL: Metric = counter(
        "ragtrace_llm_cost_microusd_total",
        "Estimated LLM spend in micro-dollars (divide by 1e6 for USD), from the configured price table.",
        &["gen_ai_request_model"],
    );
    /// Cache lookups by cache (`answer`, `catalog`) and result (`hit`, `miss`, `error`).
    pub const CACHE_REQUESTS_TOTAL: Metric = counter(
        "ragtrace_cache_requests_total",
        "Cache lookups by cache (answer, catalog) and result (hit, miss, error).",
        &["cache", "result"],
    );
    /// Errors by type (one of [`ERROR_TYPES`]).
    pub const ERRORS_TOTAL: Metric = counter("ragtrace_errors_total", "Errors by type.", &["type"]);
    /// Chat requests by outcome (`ok`; `error` = the service failed, 5xx or an error event
    /// mid-stream; `rejected` = the request was invalid, 4xx) and cache hit.
    pub const CHAT_REQUESTS_TOTAL: Metric = counter(
        "ragtrace_chat_requests_total",
        "Chat requests by outcome and cache hit.",
        &["outcome", "cache_hit"],
    );
    /// Configured pool size, by pool (`vector_store`, `redis`).
    pub const POOL_SIZE: Metric = gauge(
        "ragtrace_pool_size",
        Unit::Count,
        "Configured size of a connection pool.",
        &["pool"],
    );
    /// Connections of a pool in use right now; next to [`POOL_SIZE`] it shows saturation.
    pub const POOL_IN_USE: Metric = gauge(
        "ragtrace_pool_in_use",
        Unit::Count,
        "Connections of a pool in use.",
        &["pool"],
    );
    /// Callers waiting for a connection.
    pub const POOL_WAITING: Metric = gauge(
        "ragtrace_pool_waiting",
        Unit::Count,
        "Callers waiting for a pooled connection.",
        &["pool"],
    );
    /// Time spent waiting for a connection.
    pub const POOL_WAIT_DURATION: Metric = histogram(
        "ragtrace_pool_wait_duration_seconds",
        Unit::Seconds,
        &POOL_WAIT_BUCKETS,
        "Time spent waiting for a pooled connection.",
        &["pool"],
    );
    /// Spans handed to the exporter, by outcome (`exported`, `failed`, or `dropped` when the
    /// bounded export queue is full).
    pub const SPANS_EXPORTED_TOTAL: Metric = counter(
        "ragtrace_telemetry_spans_total",
        "Spans handed to the OTLP exporter by outcome (exported, failed, dropped).",
        &["outcome"],
    );
    /// Points in the vector store's collection.
    pub const VECTOR_STORE_POINTS: Metric = gauge(
        "ragtrace_vector_store_points",
        Unit::Count,
        "Points in the vector store's collection.",
        &[],
    );
    /// Requests served by the simulator, by `endpoint` and `outcome` (`ok`, `error`,
    /// `rate_limited`, `hang`, `bad_request`).
    pub const SIM_REQUESTS_TOTAL: Metric = counter(
        "ragtrace_sim_requests_total",
        "Requests served by the simulator, by endpoint and outcome.",
        &["endpoint", "outcome"],
    );

    /// Documents ingested, by `outcome` (`ingested`, `unchanged`, `failed`).
    pub const INGEST_DOCUMENTS_TOTAL: Metric = counter(
        "ragtrace_ingest_documents_total",
        "Documents ingested, by outcome (ingested, unchanged, failed).",
        &["outcome"],
    );
    /// Chunks, by `result` (`upserted`, `skipped` = already stored, `deleted` = stale).
    pub const INGEST_CHUNKS_TOTAL: Metric = counter(
        "ragtrace_ingest_chunks_total",
        "Chunks by result: upserted, skipped (already stored), deleted (stale).",
        &["result"],
    );
    /// Tokens sent to the embeddings model by the ingest pipeline.
    pub const INGEST_TOKENS_TOTAL: Metric = counter(
        "ragtrace_ingest_tokens_total",
        "Tokens sent to the embeddings model by the ingest pipeline.",
        &[],
    );
    /// Duration of one ingest batch: its embeddings request plus its vector-store write.
    pub const INGEST_EMBED_BATCH_DURATION: Metric = histogram(
        "ragtrace_ingest_embed_batch_duration_seconds",
        Unit::Seconds,
        &BATCH_BUCKETS,
        "Duration of one embed-and-upsert batch.",
        &[],
    );
    /// Ingest errors, by `stage` (`read`, `extract`, `embed`, `upsert`, `transcribe`, `queue`)
    /// and `cause`.
    pub const INGEST_ERRORS_TOTAL: Metric = counter(
        "ragtrace_ingest_errors_total",
        "Ingest errors by stage and cause.",
        &["stage", "cause"],
    );
    /// Ingest jobs, by `outcome` (`queued`, `done`, `failed`).
    pub const INGEST_JOBS_TOTAL: Metric = counter(
        "ragtrace_ingest_jobs_total",
        "Ingest jobs by outcome.",
        &["outcome"],
    );
    /// Bytes held right now in audio chunk buffers (decoded samples and encoded chunks).
    pub const INGEST_CHUNK_BUFFER_BYTES: Metric = gauge(
        "ragtrace_ingest_chunk_buffer_bytes",
        Unit::Bytes,
        "Bytes held right now in audio chunk buffers.",
        &[],
    );
    /// Resident memory of the ingest process (from `/proc/self/statm`).
    pub const INGEST_RESIDENT_MEMORY: Metric = gauge(
        "ragtrace_ingest_process_resident_memory_bytes",
        Unit::Bytes,
        "Resident memory of the process doing the ingest work.",
        &[],
    );
    /// One transcription batch (every chunk of it sent and answered), by `strategy`.
    pub const INGEST_TRANSCRIBE_BATCH_DURATION: Metric = histogram(
        "ragtrace_ingest_transcribe_batch_duration_seconds",
        Unit::Seconds,
        &BATCH_BUCKETS,
        "Duration of one transcription batch, by strategy.",
        &["strategy"],
    );
    /// Audio chunks transcribed, by `strategy` and `outcome` (`ok`, `error`).
    pub const INGEST_TRANSCRIBE_CHUNKS_TOTAL: Metric = counter(
        "ragtrace_ingest_transcribe_chunks_total",
        "Audio chunks transcribed, by strategy and outcome.",
        &["strategy", "outcome"],
    );

    /// Every metric the app exposes. `docs/telemetry.md` has a row for each, and a test checks
    /// `/metrics` carries each one after a request.
    pub const APP: [Metric; 17] = [
        HTTP_SERVER_DURATION,
        STAGE_DURATION,
        GEN_AI_OPERATION_DURATION,
        GEN_AI_TIME_TO_FIRST_CHUNK,
        GEN_AI_TOKEN_USAGE,
        TOKENS_TOTAL,
        COST_MICROUSD_TOTAL,
        CACHE_REQUESTS_TOTAL,
        ERRORS_TOTAL,
        CHAT_REQUESTS_TOTAL,
        POOL_SIZE,
        POOL_IN_USE,
        POOL_WAITING,
        POOL_WAIT_DURATION,
        SPANS_EXPORTED_TOTAL,
        VECTOR_STORE_POINTS,
        SIM_REQUESTS_TOTAL,
    ];

    /// Every metric of the ingest pipeline: exposed by `ragtrace-ingest worker` and by the app
    /// (which runs the embedded worker).
    pub const INGEST: [Metric; 10] = [
        INGEST_DOCUMENTS_TOTAL,
        INGEST_CHUNKS_TOTAL,
        INGEST_TOKENS_TOTAL,
        INGEST_EMBED_BATCH_DURATION,
        INGEST_ERRORS_TOTAL,
        INGEST_JOBS_TOTAL,
        INGEST_CHUNK_BUFFER_BYTES,
        INGEST_RESIDENT_MEMORY,
        INGEST_TRANSCRIBE_BATCH_DURATION,
        INGEST_TRANSCRIBE_CHUNKS_TOTAL,
    ];

    /// [`APP`] as (name, Prometheus type) pairs.
    pub const ALL: [(&str, &str); APP.len()] = pairs(APP);
    /// [`INGEST`] as (name, Prometheus type) pairs.
    pub const INGEST_ALL: [(&str, &str); INGEST.len()] = pairs(INGEST);

    const fn pairs<const N: usize>(metrics: [Metric; N]) -> [(&'static str, &'static str); N] {
        let mut out = [("", ""); N];
        let mut i = 0;
        while i < N {
            out[i] = (metrics[i].name, metrics[i].kind.as_str());
            i += 1;
        }
        out
    }

    /// Buckets for ingest and transcription batches, seconds.
    pub const BATCH_BUCKETS: [f64; 12] = [
        0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
    ];

    /// Error types counted in [`ERRORS_TOTAL`]; registered at zero so that alert expressions
    /// and dashboards see the series before the first error.
    pub const ERROR_TYPES: [&str; 12] = [
        "validation",
        "llm_timeout",
        "llm_rate_limited",
        "llm_upstream",
        "vector_store",
        "cache",
        "catalog",
        "deadline",
        "queue",
        "rate_limited",
        "budget",
        "internal",
    ];

    /// Buckets for request and stage durations, seconds: from 5 ms to 30 s, dense where the
    /// budgets are (0.1 s, 0.2 s, 0.5 s, 1 s, 3 s).
    pub const DURATION_BUCKETS: [f64; 16] = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 3.0, 5.0, 10.0, 30.0,
    ];
    /// Buckets for token counts, the GenAI conventions' advice (powers of 4).
    pub const TOKEN_BUCKETS: [f64; 10] = [
        1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0,
    ];
    /// Buckets for pool wait, seconds: most waits are zero; queueing shows up in the upper ones.
    pub const POOL_WAIT_BUCKETS: [f64; 12] = [
        0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    ];
}
