//! Configuration: compiled-in defaults, an optional file, `RAGTRACE__...` variables, and the
//! ecosystem's own variables (`OPENAI_API_KEY`, `QDRANT_URL`, `REDIS_URL`, `OTEL_*`).
//!
//! The defaults live in `core/config/default.toml` and are compiled into every binary, so nothing
//! depends on the working directory. [`Settings::load`] applies the layers in order; the last wins.
//!
//! One file per section, each struct next to its own rules: `Settings::validate` asks every
//! section to check itself, and a broken rule names its key (`chat.top_k: must be 1..=100`).

mod admin;
mod cache;
mod catalog;
mod chat;
mod ingest;
mod llm;
mod server;
mod simulator;
mod telemetry;
mod trace_store;
mod transcription;
mod ui;
mod vector_store;

pub use admin::AdminSettings;
pub use cache::{CacheBackend, CacheSettings};
pub use catalog::CatalogSettings;
pub use chat::ChatSettings;
pub use ingest::{IngestSettings, QueueBackend};
pub use llm::{LlmSettings, ModelPrice};
pub use server::ServerSettings;
pub use simulator::SimulatorSettings;
pub use telemetry::{OtlpExporterKind, OtlpProtocol, TelemetrySettings};
pub use trace_store::{TraceKeep, TraceStoreSettings};
pub use transcription::{TranscribeStrategy, TranscriptionSettings};
pub use ui::UiSettings;
pub use vector_store::{VectorStoreBackend, VectorStoreSettings};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

/// OpenAI's API, used when `OPENAI_API_KEY` is set without a base URL.
pub const OPENAI_API_BASE: &str = "https://api.openai.com/v1";

/// The compiled-in defaults (TOML).
pub const DEFAULTS: &str = include_str!("../../config/default.toml");

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
    /// `[server]`: where the HTTP API listens, where embedded state lives, how big a body may be.
    pub server: ServerSettings,
    /// The chat pipeline's knobs.
    pub chat: ChatSettings,
    /// `[vector_store]`: embedded or server Qdrant, its collection, and the connection limit.
    pub vector_store: VectorStoreSettings,
    /// `[cache]`: the in-process or Redis cache for answers and product-search results.
    pub cache: CacheSettings,
    /// LLM and embeddings provider.
    pub llm: LlmSettings,
    /// `[catalog]`: the product-search API behind the `product_search` tool, and its result cache.
    pub catalog: CatalogSettings,
    /// The embedded simulator's fault profile.
    pub simulator: SimulatorSettings,
    /// Traces, logs and metrics.
    pub telemetry: TelemetrySettings,
    /// The in-process trace store behind `/api/traces`.
    pub trace_store: TraceStoreSettings,
    /// Who may use the admin API that switches fixes at run time.
    pub admin: AdminSettings,
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

/// Where a layer of configuration comes from, for [`Settings::load_from`].
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// TOML file from `--config` (or `RAGTRACE_CONFIG`), layered over the compiled-in defaults.
    pub file: Option<PathBuf>,
    /// `--addr`: wins over `server.addr` from every other layer, so one flag moves the listener.
    pub addr: Option<String>,
    /// `--data-dir` (app or ingest CLI): wins over `server.data_dir` from every other layer.
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
        s.apply_ecosystem_env(env)?;
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
    fn apply_ecosystem_env(&mut self, env: &BTreeMap<String, String>) -> Result<(), ConfigError> {
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
        // The specification's OTLP exporter variables; each `_TRACES_` form wins over the
        // general one. Headers are read by the exporter itself.
        let otlp = |name: &str| {
            non_empty(&format!("OTEL_EXPORTER_OTLP_TRACES_{name}"))
                .or_else(|| non_empty(&format!("OTEL_EXPORTER_OTLP_{name}")))
        };
        if let Some(ep) = non_empty("OTEL_EXPORTER_OTLP_ENDPOINT") {
            self.telemetry.otlp_endpoint = ep;
        }
        if let Some(ep) = non_empty("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            self.telemetry.otlp_traces_endpoint = ep;
        }
        if let Some(protocol) = otlp("PROTOCOL") {
            self.telemetry.otlp_protocol = match OtlpProtocol::parse(&protocol) {
                Ok(p) => p,
                Err(rule) => {
                    return Err(ConfigError::Rule {
                        field: "OTEL_EXPORTER_OTLP_PROTOCOL",
                        rule,
                    });
                }
            };
        }
        if let Some(path) = otlp("CERTIFICATE") {
            self.telemetry.otlp_certificate = path;
        }
        if let Some(path) = otlp("CLIENT_CERTIFICATE") {
            self.telemetry.otlp_client_certificate = path;
        }
        if let Some(path) = otlp("CLIENT_KEY") {
            self.telemetry.otlp_client_key = path;
        }
        if let Some(disabled) = non_empty("OTEL_SDK_DISABLED") {
            // The specification: only a case-insensitive "true" disables the SDK.
            self.telemetry.sdk_disabled = disabled.trim().eq_ignore_ascii_case("true");
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
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.chat.validate()?;
        self.vector_store.validate()?;
        self.cache.validate()?;
        self.llm.validate()?;
        self.ingest.validate(&self.cache)?;
        self.transcription.validate()?;
        self.trace_store.validate()?;
        self.telemetry.validate()
    }

    /// Whether the LLM calls go to the built-in simulator.
    pub fn uses_embedded_simulator(&self) -> bool {
        self.llm.base_url.is_empty() || self.catalog.base_url.is_empty()
    }

    /// The price of `model`, if the table knows it.
    pub fn price_of(&self, model: &str) -> Option<ModelPrice> {
        self.pricing.get(model).copied()
    }

    /// `server.data_dir`, a relative path resolved against the current working directory.
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

/// `Ok` when `ok`, otherwise the rule `field` breaks: how each section states its rules, next to
/// its fields.
pub(crate) fn rule(field: &'static str, ok: bool, rule: &str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Rule {
            field,
            rule: rule.to_owned(),
        })
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

    /// The specification's OTLP variables: the general endpoint gets `/v1/traces` appended for
    /// OTLP/HTTP, the `_TRACES_` endpoint is used as is, `_TRACES_` forms win, an unknown
    /// protocol is refused with the accepted values, and only "true" disables the SDK.
    #[test]
    fn otlp_variables_follow_the_specification() {
        let load =
            |pairs: &[(&str, &str)]| Settings::load_from(&Overrides::default(), &env_of(pairs));
        let http = load(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://otlp.example/api/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem"),
        ])
        .unwrap();
        assert_eq!(http.telemetry.otlp_protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(
            http.telemetry.traces_url().as_deref(),
            Some("https://otlp.example/api/v1/traces")
        );
        assert_eq!(http.telemetry.otlp_certificate, "/etc/ca.pem");
        assert!(
            http.telemetry
                .describe()
                .starts_with("OTLP HTTP to https://otlp.example")
        );
        let signal = load(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://phoenix:6006/v1/traces",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ])
        .unwrap();
        assert_eq!(
            signal.telemetry.traces_url().as_deref(),
            Some("http://phoenix:6006/v1/traces")
        );
        let grpc = load(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")]).unwrap();
        assert_eq!(
            grpc.telemetry.otlp_protocol,
            OtlpProtocol::Grpc,
            "the default"
        );
        assert_eq!(
            grpc.telemetry.traces_url().as_deref(),
            Some("http://collector:4317")
        );
        for (value, hint) in [
            ("http/json", "http/json is not supported"),
            ("udp", "grpc or http/protobuf"),
        ] {
            let err = load(&[("OTEL_EXPORTER_OTLP_PROTOCOL", value)])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && err.contains(hint),
                "{err}"
            );
        }
        let bad_url = load(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")]).unwrap_err();
        assert!(
            bad_url.to_string().contains("http://localhost:4317"),
            "{bad_url}"
        );
        let half_mtls = load(&[("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/etc/client.pem")]);
        assert!(
            half_mtls
                .unwrap_err()
                .to_string()
                .contains("set both or neither")
        );
        for (value, disabled) in [
            ("true", true),
            ("TRUE", true),
            ("false", false),
            ("1", false),
        ] {
            let s = load(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
                ("OTEL_SDK_DISABLED", value),
            ])
            .unwrap();
            assert_eq!(s.telemetry.sdk_disabled, disabled, "{value}");
            assert_eq!(s.telemetry.traces_url().is_none(), disabled, "{value}");
        }
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

    /// The README's configuration table lists every key of `default.toml` with its default, and
    /// no key that does not exist (secrets, which have no default, say `unset`).
    #[test]
    fn readme_table_matches_the_defaults() {
        let mut keys = BTreeMap::new();
        let mut section = String::new();
        for line in DEFAULTS.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = s.to_owned();
            } else if let Some((k, v)) = line.split_once('=') {
                keys.insert(
                    format!("{section}.{}", k.trim()),
                    v.trim().trim_matches('"').to_owned(),
                );
            }
        }
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("| key | env var | default | meaning |")
            .expect("README has the configuration table");
        let table = &readme[start
            ..readme[start..]
                .find("\n\n")
                .map_or(readme.len(), |e| start + e)];
        let ticked = |cell: &str| -> Vec<String> {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect()
        };
        let mut rows = BTreeMap::new();
        for line in table.lines().skip(2) {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let defaults = ticked(cells[2]);
            for (i, key) in ticked(cells[0]).into_iter().enumerate() {
                let default = defaults
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| cells[2].to_owned());
                rows.insert(
                    key,
                    if default == "\"\"" {
                        String::new()
                    } else {
                        default
                    },
                );
            }
        }
        for (key, default) in keys.iter().filter(|(k, _)| !k.starts_with("pricing.")) {
            assert_eq!(
                rows.get(key),
                Some(default),
                "README row of {key} (default.toml: {default:?})"
            );
        }
        for (key, default) in &rows {
            assert!(
                keys.contains_key(key) || default == "unset",
                "README lists {key}, which default.toml does not have"
            );
        }
    }
}
