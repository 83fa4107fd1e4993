//! What every handler shares: the chat pipeline, the document queue, the trace store and the
//! live statistics. Built once by [`crate::startup::Application::build`].

use std::sync::Arc;

use std::collections::BTreeMap;

use ragtrace_core::config::{ModelPrice, Settings};
use ragtrace_core::queue::JobQueue;
use ragtrace_core::trace_store::TraceStore;

use crate::pipeline::Pipeline;
use crate::stats::RecentRequests;

/// Shared state of the handlers.
#[derive(Debug)]
pub struct AppState {
    /// The chat pipeline and the adapters it runs on (readiness checks the same adapters).
    pub pipeline: Arc<Pipeline>,
    /// Largest chat request body; a question is small, so anything bigger is a mistake.
    pub max_body_bytes: usize,
    /// The API key every non-probe route requires, when set (`server.api_key`).
    pub api_key: Option<secrecy::SecretString>,
    /// Connections one client may have open (`server.max_connections_per_client`; 0 = no cap).
    pub max_connections_per_client: usize,
    /// Chats per client address (`chat.client_rate_per_minute`).
    pub client_rate: crate::limits::RateLimiter,
    /// Chats per user (`chat.user_rate_per_minute`).
    pub user_rate: crate::limits::RateLimiter,
    /// Spend per user and day (`chat.user_daily_budget_usd`).
    pub budget: crate::limits::Budget,
    /// How long a request body may take to arrive (`server.body_timeout_ms`).
    pub body_timeout: std::time::Duration,
    /// Recent traces for the viewer, when the in-process store is on.
    pub traces: Option<Arc<TraceStore>>,
    /// Rolling statistics of recent chat requests. Kept apart from the traces because the
    /// tiles must count every request, whatever the sampling.
    pub recent: RecentRequests,
    /// Jaeger UI base URL, so the viewer can link a trace to the same trace in Jaeger.
    pub jaeger_url: Option<String>,
    /// Document uploads and their jobs.
    pub documents: Documents,
    /// Whether the admin API serves callers other than loopback (`admin.allow_remote`).
    pub admin_allow_remote: bool,
    /// Web origins besides the app's own allowed to send state-changing requests
    /// (`server.allowed_origins`).
    pub allowed_origins: Vec<String>,
    /// Host names besides IP addresses and `localhost` that requests may name
    /// (`server.allowed_hosts`).
    pub allowed_hosts: Vec<String>,
    /// What the report and the cost simulator say about how the data was measured.
    pub measuring: Measuring,
}

/// How the app's data is measured and priced: the report's "how this was measured" box and the
/// cost simulator's defaults.
#[derive(Debug, Clone)]
pub struct Measuring {
    /// USD per million tokens, by model (`[pricing]`).
    pub pricing: BTreeMap<String, ModelPrice>,
    /// The chat model.
    pub chat_model: String,
    /// Parent-based sampling ratio of new traces.
    pub sample_ratio: f64,
    /// Whether the external services' latency comes from the simulator (the embedded one, or
    /// the simulator's `sim-` models in the compose stack).
    pub simulated_upstreams: bool,
}

impl AppState {
    /// The state over `pipeline` and the document `queue`, with `traces` for the viewer.
    pub fn new(
        settings: &Settings,
        pipeline: Pipeline,
        queue: Arc<dyn JobQueue>,
        traces: Option<Arc<TraceStore>>,
    ) -> Self {
        Self {
            pipeline: Arc::new(pipeline),
            max_body_bytes: settings.server.max_body_bytes,
            body_timeout: std::time::Duration::from_millis(settings.server.body_timeout_ms),
            api_key: settings.server.api_key.clone(),
            max_connections_per_client: settings.server.max_connections_per_client,
            client_rate: crate::limits::RateLimiter::new(settings.chat.client_rate_per_minute),
            user_rate: crate::limits::RateLimiter::new(settings.chat.user_rate_per_minute),
            budget: crate::limits::Budget::new(settings.chat.user_daily_budget_usd),
            traces,
            recent: RecentRequests::default(),
            jaeger_url: Some(settings.ui.jaeger_url.trim_end_matches('/').to_owned())
                .filter(|u| !u.is_empty()),
            documents: Documents {
                queue,
                max_bytes: usize::try_from(settings.ingest.max_file_bytes).unwrap_or(usize::MAX),
            },
            admin_allow_remote: settings.admin.allow_remote,
            allowed_origins: settings.server.allowed_origins(),
            allowed_hosts: settings.server.allowed_hosts(),
            measuring: Measuring {
                pricing: settings.pricing.clone(),
                chat_model: settings.llm.chat_model.clone(),
                sample_ratio: settings.telemetry.sample_ratio,
                simulated_upstreams: settings.llm.chat_model.starts_with("sim-"),
            },
        }
    }
}

/// The ingest side of the app: where uploads are queued, and how large they may be.
#[derive(Debug, Clone)]
pub struct Documents {
    /// Where jobs go: an in-process queue (the app runs the worker) or a Redis stream.
    pub queue: Arc<dyn JobQueue>,
    /// Largest document accepted, before any decoding.
    pub max_bytes: usize,
}
