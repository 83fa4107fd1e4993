//! Configuration: compiled-in defaults, an optional file, `RAGTRACE__...` variables, and the
//! ecosystem's own variables (`OPENAI_API_KEY`, `QDRANT_URL`, `REDIS_URL`, `OTEL_*`).
//!
//! The defaults live in `core/config/default.toml` and are compiled into every binary, so nothing
//! depends on the working directory. [`Settings::load`] applies the layers in order; the last wins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// OpenAI's API, used when `OPENAI_API_KEY` is set without a base URL.
pub const OPENAI_API_BASE: &str = "https://api.openai.com/v1";

/// The compiled-in defaults (TOML).
pub const DEFAULTS: &str = include_str!("../config/default.toml");

/// Errors while assembling the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A layer could not be read or a value has the wrong type.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] config::ConfigError),
    /// A value parsed but breaks a rule (e.g. a zero pool size).
    #[error("invalid configuration: {field}: {rule}")]
    Rule {
        /// Dotted path of the offending key, e.g. `vector_store.pool_size`.
        field: &'static str,
        /// What the value must satisfy.
        rule: String,
    },
}

/// Everything the binaries can be configured with. See `core/config/default.toml` for the meaning
/// and the default of every key.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// HTTP server.
    pub server: ServerSettings,
    /// The chat pipeline's knobs.
    pub chat: ChatSettings,
    /// Vector store backend.
    pub vector_store: VectorStoreSettings,
    /// Cache backend.
    pub cache: CacheSettings,
    /// LLM and embeddings provider.
    pub llm: LlmSettings,
    /// External product-search API.
    pub catalog: CatalogSettings,
    /// The embedded simulator's fault profile.
    pub simulator: SimulatorSettings,
    /// Traces, logs and metrics.
    pub telemetry: TelemetrySettings,
    /// The in-process trace store behind `/api/traces`.
    pub trace_store: TraceStoreSettings,
    /// The built-in web UI.
    pub ui: UiSettings,
    /// The ingest pipeline (`ragtrace-ingest`, and `POST /v1/documents`).
    pub ingest: IngestSettings,
    /// Meeting transcription (`ragtrace-ingest transcribe`).
    pub transcription: TranscriptionSettings,
    /// USD per one million tokens, by model name.
    #[serde(default)]
    pub pricing: BTreeMap<String, ModelPrice>,
}

/// HTTP server settings.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    /// `HOST:PORT` to listen on; port 0 picks a free port (tests use this).
    pub addr: String,
    /// Directory for embedded state.
    pub data_dir: PathBuf,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
}

/// Chat pipeline settings.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatSettings {
    /// Passages returned by the vector search at most.
    pub top_k: usize,
    /// Minimum cosine similarity of a passage.
    pub score_threshold: f32,
    /// Longest accepted question, in characters.
    pub max_question_chars: usize,
    /// Token budget of the retrieved context.
    pub context_token_budget: usize,
    /// Completion length limit.
    pub max_output_tokens: u32,
    /// Whole-request deadline.
    pub deadline_ms: u64,
    /// Lifetime of a cached answer.
    pub answer_cache_ttl_secs: u64,
    /// Record prompt and completion text on spans (opt-in).
    pub record_content: bool,
}

/// Which vector store implementation to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VectorStoreBackend {
    /// qdrant-edge, in-process, persistent under the data dir.
    Edge,
    /// A Qdrant server over gRPC.
    Qdrant,
}

/// Vector store settings.
#[derive(Debug, Clone, Deserialize)]
pub struct VectorStoreSettings {
    /// Backend.
    pub backend: VectorStoreBackend,
    /// gRPC URL of a Qdrant server.
    pub url: String,
    /// Optional API key of a Qdrant server (`QDRANT_API_KEY`).
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// Collection searched by the chat and filled by ingestion.
    pub collection: String,
    /// Concurrent operations allowed at once.
    pub pool_size: usize,
    /// How long a caller waits for a free slot.
    pub pool_timeout_ms: u64,
    /// Per-operation timeout (server backend).
    pub timeout_ms: u64,
    /// Connect timeout (server backend).
    pub connect_timeout_ms: u64,
    /// Vector dimension.
    pub dimension: usize,
    /// Index the demo corpus into an empty collection at start.
    pub seed_demo_corpus: bool,
}

/// Which cache implementation to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheBackend {
    /// In-process LRU with TTL.
    Memory,
    /// Redis through deadpool-redis.
    Redis,
}

/// Cache settings.
#[derive(Debug, Clone, Deserialize)]
pub struct CacheSettings {
    /// Backend.
    pub backend: CacheBackend,
    /// Redis URL; may carry a password, so it is a secret.
    pub url: SecretString,
    /// Capacity of the in-process LRU.
    pub capacity: usize,
    /// Redis pool size.
    pub pool_size: usize,
    /// Wait for a free pooled connection.
    pub wait_timeout_ms: u64,
    /// Open a new connection.
    pub create_timeout_ms: u64,
    /// Check a returned connection.
    pub recycle_timeout_ms: u64,
    /// One command's response.
    pub command_timeout_ms: u64,
}

/// LLM provider settings.
#[derive(Debug, Clone, Deserialize)]
pub struct LlmSettings {
    /// OpenAI-compatible base URL (ending in `/v1`); empty = built-in simulator.
    pub base_url: String,
    /// API key (`OPENAI_API_KEY`).
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// Chat model.
    pub chat_model: String,
    /// Embeddings model.
    pub embedding_model: String,
    /// Speech-to-text model.
    pub transcription_model: String,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
    /// Connect timeout.
    pub connect_timeout_ms: u64,
    /// Attempts in all.
    pub max_attempts: u32,
    /// Backoff base.
    pub backoff_base_ms: u64,
    /// Backoff cap.
    pub backoff_max_ms: u64,
    /// Sampling temperature.
    pub temperature: f32,
    /// Tokenizer used for counting (`cl100k_base` or `o200k_base`).
    pub tokenizer: String,
}

/// Product-search API settings.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogSettings {
    /// Base URL of the catalog API (its `/search` lives under it); empty = built-in simulator.
    pub base_url: String,
    /// Request timeout.
    pub timeout_ms: u64,
    /// Results per search.
    pub limit: usize,
    /// Cache search results (case study 1's fix).
    pub cache_enabled: bool,
    /// Lifetime of a cached search result.
    pub cache_ttl_secs: u64,
}

/// Settings of the embedded simulator.
#[derive(Debug, Clone, Deserialize)]
pub struct SimulatorSettings {
    /// Fault profile, e.g. `catalog.latency_ms=6000,chat.error_rate=0.1` (see the simulator docs).
    pub profile: String,
}

/// Telemetry settings.
#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    /// `service.name` resource attribute.
    pub service_name: String,
    /// OTLP gRPC endpoint; empty = no export.
    pub otlp_endpoint: String,
    /// Export timeout.
    pub otlp_timeout_ms: u64,
    /// Bounded export queue.
    pub max_queue_size: usize,
    /// Parent-based sampling ratio of new traces.
    pub sample_ratio: f64,
    /// Log filter directive.
    pub log_filter: String,
    /// `text` or `json`.
    pub log_format: String,
}

impl TelemetrySettings {
    /// Where traces go and how many are kept, for the start-up banner.
    pub fn describe(&self) -> String {
        let sampling = format!("sampling {:.0} %", self.sample_ratio * 100.0);
        if self.otlp_endpoint.is_empty() {
            format!("not exported (set OTEL_EXPORTER_OTLP_ENDPOINT); {sampling}")
        } else {
            format!(
                "OTLP gRPC to {} as service {}; {sampling}",
                redact_url(&self.otlp_endpoint),
                self.service_name
            )
        }
    }
}

/// Where ingest jobs wait between `POST /v1/documents` and the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueBackend {
    /// An in-process queue; the app runs the worker itself.
    Memory,
    /// A Redis stream (the cache's Redis, `cache.url` / `REDIS_URL`), consumed by
    /// `ragtrace-ingest worker`.
    Redis,
}

/// Ingest pipeline settings.
#[derive(Debug, Clone, Deserialize)]
pub struct IngestSettings {
    /// Chunk size, tokens of `llm.tokenizer`.
    pub chunk_tokens: usize,
    /// Tokens shared by consecutive chunks.
    pub chunk_overlap_tokens: usize,
    /// Inputs per embeddings request at most (OpenAI: 2048).
    pub batch_max_items: usize,
    /// Tokens per embeddings request at most (OpenAI: 300,000).
    pub batch_max_tokens: usize,
    /// Files larger than this are refused.
    pub max_file_bytes: u64,
    /// Job queue backend.
    pub queue: QueueBackend,
    /// Redis stream holding the jobs.
    pub stream: String,
    /// Consumer group of the workers.
    pub group: String,
    /// How long a job's status is kept, seconds.
    pub job_ttl_secs: u64,
    /// Jobs waiting in the in-process queue at most; beyond it uploads get 503.
    pub queue_capacity: usize,
    /// Where `ragtrace-ingest worker` serves `/metrics`.
    pub metrics_addr: String,
}

/// How `transcribe` handles a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TranscribeStrategy {
    /// Decode everything, cut every chunk up front, send them all at once (the reported failure).
    Naive,
    /// Stream the file and keep at most `batch_size` chunks in flight.
    Bounded,
}

impl TranscribeStrategy {
    /// `naive` or `bounded`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Naive => "naive",
            Self::Bounded => "bounded",
        }
    }
}

/// Meeting transcription settings.
#[derive(Debug, Clone, Deserialize)]
pub struct TranscriptionSettings {
    /// Default strategy.
    pub strategy: TranscribeStrategy,
    /// Chunks in flight at most (bounded strategy).
    pub batch_size: usize,
    /// Length of one audio chunk, seconds.
    pub chunk_seconds: u32,
    /// Audio shared by consecutive chunks, seconds.
    pub overlap_seconds: u32,
}

/// Built-in web UI settings.
#[derive(Debug, Clone, Deserialize)]
pub struct UiSettings {
    /// Base URL of a Jaeger UI to link traces to; empty = none.
    pub jaeger_url: String,
}

/// In-process trace store settings.
#[derive(Debug, Clone, Deserialize)]
pub struct TraceStoreSettings {
    /// Keep recent traces in memory and serve them on `/api/traces`.
    pub enabled: bool,
    /// Traces kept at most.
    pub max_traces: usize,
    /// Approximate bytes kept at most.
    pub max_bytes: usize,
    /// Keep every trace even when export is sampled (the sampling ratio then applies to export
    /// only, by trace id).
    pub keep_all: bool,
}

/// Price of a model, USD per one million tokens.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
pub struct ModelPrice {
    /// Input (prompt) tokens.
    pub input: f64,
    /// Output (completion) tokens.
    pub output: f64,
}

/// Where a layer of configuration comes from, for [`Settings::load_from`].
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// Optional TOML file.
    pub file: Option<PathBuf>,
    /// `--addr`.
    pub addr: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
}

impl Settings {
    /// Loads the configuration from the process environment.
    pub fn load(overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::load_from(overrides, &std::env::vars().collect())
    }

    /// Loads the configuration with `env` standing in for the process environment (testable).
    pub fn load_from(
        overrides: &Overrides,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        use config::{Config, Environment, File, FileFormat};

        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(path) = &overrides.file {
            builder = builder.add_source(File::from(path.as_path()).required(true));
        }
        // RAGTRACE__SECTION__KEY, taken from `env` so tests need not touch the process env.
        let vars: config::Map<String, String> = env
            .iter()
            .filter(|(k, _)| k.starts_with("RAGTRACE__"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        builder = builder.add_source(
            Environment::with_prefix("RAGTRACE")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(vars)),
        );
        let mut s: Settings = builder.build()?.try_deserialize()?;
        s.apply_ecosystem_env(env);
        if let Some(addr) = &overrides.addr {
            s.server.addr.clone_from(addr);
        }
        if let Some(dir) = &overrides.data_dir {
            s.server.data_dir.clone_from(dir);
        }
        s.validate()?;
        Ok(s)
    }

    /// The ecosystem's own variables win over `RAGTRACE__` ones: they are what people already set.
    fn apply_ecosystem_env(&mut self, env: &BTreeMap<String, String>) {
        let non_empty = |k: &str| env.get(k).filter(|v| !v.trim().is_empty()).cloned();
        if let Some(key) = non_empty("OPENAI_API_KEY") {
            self.llm.api_key = Some(SecretString::from(key));
            // A key alone means OpenAI itself, with the real models the simulator stands in for.
            if self.llm.base_url.is_empty() && non_empty("OPENAI_BASE_URL").is_none() {
                self.llm.base_url = OPENAI_API_BASE.to_owned();
                for model in [
                    &mut self.llm.chat_model,
                    &mut self.llm.embedding_model,
                    &mut self.llm.transcription_model,
                ] {
                    if let Some(real) = model.strip_prefix("sim-") {
                        *model = real.to_owned();
                    }
                }
            }
        }
        if let Some(url) = non_empty("OPENAI_BASE_URL") {
            self.llm.base_url = url;
        }
        if let Some(url) = non_empty("QDRANT_URL") {
            self.vector_store.url = url;
            self.vector_store.backend = VectorStoreBackend::Qdrant;
        }
        if let Some(key) = non_empty("QDRANT_API_KEY") {
            self.vector_store.api_key = Some(SecretString::from(key));
        }
        if let Some(url) = non_empty("REDIS_URL") {
            self.cache.url = SecretString::from(url);
            self.cache.backend = CacheBackend::Redis;
        }
        if let Some(ep) = non_empty("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| non_empty("OTEL_EXPORTER_OTLP_ENDPOINT"))
        {
            self.telemetry.otlp_endpoint = ep;
        }
        if let Some(name) = non_empty("OTEL_SERVICE_NAME") {
            self.telemetry.service_name = name;
        }
        if let Some(ratio) = sampler_ratio_from_env(
            non_empty("OTEL_TRACES_SAMPLER").as_deref(),
            non_empty("OTEL_TRACES_SAMPLER_ARG").as_deref(),
        ) {
            self.telemetry.sample_ratio = ratio;
        }
        if let Some(filter) = non_empty("RUST_LOG") {
            self.telemetry.log_filter = filter;
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        fn rule(field: &'static str, ok: bool, rule: &str) -> Result<(), ConfigError> {
            if ok {
                Ok(())
            } else {
                Err(ConfigError::Rule {
                    field,
                    rule: rule.to_owned(),
                })
            }
        }
        rule(
            "chat.top_k",
            (1..=100).contains(&self.chat.top_k),
            "must be 1..=100",
        )?;
        rule(
            "chat.max_question_chars",
            self.chat.max_question_chars > 0,
            "must be > 0",
        )?;
        rule("chat.deadline_ms", self.chat.deadline_ms > 0, "must be > 0")?;
        rule(
            "vector_store.pool_size",
            self.vector_store.pool_size > 0,
            "must be > 0",
        )?;
        rule(
            "vector_store.dimension",
            (8..=4096).contains(&self.vector_store.dimension),
            "must be 8..=4096",
        )?;
        rule(
            "vector_store.url",
            self.vector_store.backend != VectorStoreBackend::Qdrant
                || !self.vector_store.url.is_empty(),
            "must be set (or QDRANT_URL) when backend = \"qdrant\"",
        )?;
        rule("cache.pool_size", self.cache.pool_size > 0, "must be > 0")?;
        let i = &self.ingest;
        rule(
            "ingest.chunk_tokens",
            (16..=8000).contains(&i.chunk_tokens),
            "must be 16..=8000 (embedding models accept 8191 tokens per input)",
        )?;
        rule(
            "ingest.chunk_overlap_tokens",
            i.chunk_overlap_tokens < i.chunk_tokens,
            "must be smaller than ingest.chunk_tokens",
        )?;
        rule(
            "ingest.batch_max_items",
            (1..=2048).contains(&i.batch_max_items),
            "must be 1..=2048 (OpenAI's limit per embeddings request)",
        )?;
        rule(
            "ingest.batch_max_tokens",
            i.batch_max_tokens >= i.chunk_tokens && i.batch_max_tokens <= 300_000,
            "must be at least ingest.chunk_tokens and at most 300000 (OpenAI's limit per request)",
        )?;
        rule("ingest.max_file_bytes", i.max_file_bytes > 0, "must be > 0")?;
        rule("ingest.queue_capacity", i.queue_capacity > 0, "must be > 0")?;
        rule(
            "ingest.queue",
            i.queue != QueueBackend::Redis || !self.cache.url.expose_secret().is_empty(),
            "\"redis\" needs a Redis URL (REDIS_URL or cache.url)",
        )?;
        let t = &self.transcription;
        rule(
            "transcription.batch_size",
            (1..=256).contains(&t.batch_size),
            "must be 1..=256",
        )?;
        rule(
            "transcription.chunk_seconds",
            (5..=600).contains(&t.chunk_seconds),
            "must be 5..=600",
        )?;
        rule(
            "transcription.overlap_seconds",
            t.overlap_seconds < t.chunk_seconds,
            "must be smaller than transcription.chunk_seconds",
        )?;
        rule(
            "trace_store.max_traces",
            self.trace_store.max_traces > 0,
            "must be > 0",
        )?;
        rule("cache.capacity", self.cache.capacity > 0, "must be > 0")?;
        rule(
            "cache.url",
            self.cache.backend != CacheBackend::Redis || !self.cache.url.expose_secret().is_empty(),
            "must be set (or REDIS_URL) when backend = \"redis\"",
        )?;
        rule(
            "llm.max_attempts",
            (1..=10).contains(&self.llm.max_attempts),
            "must be 1..=10",
        )?;
        rule(
            "llm.tokenizer",
            matches!(self.llm.tokenizer.as_str(), "cl100k_base" | "o200k_base"),
            "must be \"cl100k_base\" or \"o200k_base\"",
        )?;
        rule(
            "telemetry.sample_ratio",
            (0.0..=1.0).contains(&self.telemetry.sample_ratio),
            "must be between 0.0 and 1.0",
        )?;
        rule(
            "telemetry.log_format",
            matches!(self.telemetry.log_format.as_str(), "text" | "json"),
            "must be \"text\" or \"json\"",
        )?;
        Ok(())
    }

    /// Whether the LLM calls go to the built-in simulator.
    pub fn uses_embedded_simulator(&self) -> bool {
        self.llm.base_url.is_empty() || self.catalog.base_url.is_empty()
    }

    /// The price of `model`, if the table knows it.
    pub fn price_of(&self, model: &str) -> Option<ModelPrice> {
        self.pricing.get(model).copied()
    }

    /// Absolute data directory.
    pub fn data_dir(&self) -> PathBuf {
        absolute(&self.server.data_dir)
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Maps `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` to the ratio of new traces sampled.
/// ragtrace always samples parent-based, so `traceidratio` and `parentbased_traceidratio` mean the
/// same here; unknown values are ignored (the SDK specification says to fall back to the default).
pub fn sampler_ratio_from_env(sampler: Option<&str>, arg: Option<&str>) -> Option<f64> {
    let ratio = || {
        arg.and_then(|a| a.trim().parse::<f64>().ok())
            .filter(|r| (0.0..=1.0).contains(r))
            .unwrap_or(1.0)
    };
    match sampler?.trim() {
        "always_on" | "parentbased_always_on" => Some(1.0),
        "always_off" | "parentbased_always_off" => Some(0.0),
        "traceidratio" | "parentbased_traceidratio" => Some(ratio()),
        _ => None,
    }
}

/// Hides the password of a URL such as `redis://:secret@host:6379/0`, for start-up banners.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("****"));
            }
            u.to_string()
        }
        Err(_) => "<unparseable url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The compiled-in defaults parse and select the embedded backends.
    #[test]
    fn defaults_select_embedded_backends() {
        let s = Settings::load_from(&Overrides::default(), &env_of(&[])).unwrap();
        assert_eq!(s.vector_store.backend, VectorStoreBackend::Edge);
        assert_eq!(s.cache.backend, CacheBackend::Memory);
        assert!(s.uses_embedded_simulator());
        assert_eq!(s.server.addr, "127.0.0.1:8080");
        assert!(s.price_of("gpt-4o-mini").is_some());
    }

    /// Ecosystem variables select the real backends and carry the key as a secret.
    #[test]
    fn ecosystem_variables_select_real_backends() {
        let s = Settings::load_from(
            &Overrides::default(),
            &env_of(&[
                ("QDRANT_URL", "http://qdrant:6334"),
                ("REDIS_URL", "redis://:pw@redis:6379"),
                ("OPENAI_API_KEY", "sk-test"),
                ("OPENAI_BASE_URL", "https://api.example/v1"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
                ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ]),
        )
        .unwrap();
        assert_eq!(s.vector_store.backend, VectorStoreBackend::Qdrant);
        assert_eq!(s.cache.backend, CacheBackend::Redis);
        assert_eq!(s.llm.base_url, "https://api.example/v1");
        let key_only = Settings::load_from(
            &Overrides::default(),
            &env_of(&[("OPENAI_API_KEY", "sk-x")]),
        )
        .unwrap();
        assert_eq!(
            key_only.llm.base_url, OPENAI_API_BASE,
            "a key alone means OpenAI"
        );
        assert_eq!(key_only.llm.chat_model, "gpt-4o-mini");
        assert_eq!(key_only.llm.embedding_model, "text-embedding-3-small");
        assert_eq!(s.telemetry.otlp_endpoint, "http://collector:4317");
        assert!((s.telemetry.sample_ratio - 0.25).abs() < f64::EPSILON);
        assert!(
            !format!("{s:?}").contains("sk-test"),
            "Debug must not leak the key"
        );
    }

    /// `RAGTRACE__SECTION__KEY` variables override the defaults, typed.
    #[test]
    fn ragtrace_variables_override_defaults() {
        let s = Settings::load_from(
            &Overrides::default(),
            &env_of(&[
                ("RAGTRACE__CHAT__TOP_K", "8"),
                ("RAGTRACE__CATALOG__CACHE_ENABLED", "true"),
                ("RAGTRACE__VECTOR_STORE__POOL_SIZE", "2"),
            ]),
        )
        .unwrap();
        assert_eq!(s.chat.top_k, 8);
        assert!(s.catalog.cache_enabled);
        assert_eq!(s.vector_store.pool_size, 2);
        let err = Settings::load_from(
            &Overrides::default(),
            &env_of(&[("RAGTRACE__CHAT__TOP_K", "0")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("chat.top_k"), "{err}");
    }

    /// Flags win over everything else.
    #[test]
    fn flags_override() {
        let o = Overrides {
            addr: Some("0.0.0.0:9000".into()),
            data_dir: Some("/tmp/x".into()),
            file: None,
        };
        let s = Settings::load_from(&o, &env_of(&[])).unwrap();
        assert_eq!(s.server.addr, "0.0.0.0:9000");
        assert_eq!(s.server.data_dir, PathBuf::from("/tmp/x"));
    }

    /// Sampler variables follow the OTel SDK specification's names.
    #[test]
    fn sampler_env_mapping() {
        assert_eq!(sampler_ratio_from_env(Some("always_off"), None), Some(0.0));
        assert_eq!(
            sampler_ratio_from_env(Some("traceidratio"), Some("0.5")),
            Some(0.5)
        );
        assert_eq!(
            sampler_ratio_from_env(Some("traceidratio"), Some("7")),
            Some(1.0)
        );
        assert_eq!(sampler_ratio_from_env(Some("jaeger_remote"), None), None);
    }

    /// Passwords in URLs never reach the start-up banner.
    #[test]
    fn redacts_url_passwords() {
        assert_eq!(
            redact_url("redis://:hunter2@redis:6379/0"),
            "redis://:****@redis:6379/0"
        );
        assert_eq!(redact_url("redis://redis:6379"), "redis://redis:6379");
    }
}
