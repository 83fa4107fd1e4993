//! Building and running the application: adapters from configuration, the embedded simulator
//! when no provider is configured, the demo corpus on first start, and the HTTP server.
//!
//! [`Application::build`] binds the configured address (port 0 picks a free one) and returns the
//! real port, so tests run exactly the code the binary runs.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, Error, HttpMessage as _, HttpServer, web};
use anyhow::Context as _;
use ragtrace_core::config::{CacheBackend, QueueBackend, Settings, VectorStoreBackend, redact_url};
use ragtrace_core::llm::LlmClient;
use ragtrace_core::semconv::metric;
use ragtrace_core::telemetry::traceparent_of;
use ragtrace_core::tokens::Tokenizer;
use ragtrace_core::trace_store::TraceStore;
use ragtrace_ingest::queue::{JobQueue, MemoryQueue, RedisQueue};
use ragtrace_sim::RunningSim;
use secrecy::ExposeSecret as _;
use secrecy::SecretString;
use std::sync::Arc;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpan, RootSpanBuilder, TracingLogger};

use crate::pipeline::Pipeline;
use crate::routes;

/// Shared state of the handlers.
#[derive(Debug)]
pub struct AppState {
    /// The chat pipeline and its adapters.
    pub pipeline: Pipeline,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// HTTP client for readiness checks.
    pub http: reqwest::Client,
    /// LLM base URL (for readiness).
    pub llm_base_url: String,
    /// LLM API key (for readiness).
    pub llm_api_key: Option<SecretString>,
    /// Recent traces, when the in-process store is on.
    pub traces: Option<Arc<TraceStore>>,
    /// Rolling statistics of recent chat requests, for the viewer's tiles.
    pub recent: crate::stats::RecentRequests,
    /// Jaeger UI base URL for trace links.
    pub jaeger_url: Option<String>,
    /// Document uploads and their jobs.
    pub documents: routes::documents::Documents,
}

/// What the app uses for each concern: printed at start, never a secret.
#[derive(Debug, Clone)]
pub struct Backends {
    /// One line per concern: (concern, description).
    pub lines: Vec<(&'static str, String)>,
}

/// A built, not yet running application.
pub struct Application {
    port: u16,
    host: String,
    server: Server,
    sim: Option<RunningSim>,
    backends: Backends,
    state: web::Data<AppState>,
    worker_stop: Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// The root span of every request: tracing-actix-web's HTTP server span, plus the business
/// attributes the handlers record.
pub struct RagRootSpan;

/// Probes, scrapes and the trace viewer's own API are not traced: a Prometheus scrape every few
/// seconds, or a viewer polling for traces, would bury the requests worth looking at. They are
/// still counted in the HTTP metrics.
pub const UNTRACED_PATHS: [&str; 4] = ["/", "/metrics", "/healthz", "/readyz"];

/// Path prefixes that are not traced (see [`UNTRACED_PATHS`]).
pub const UNTRACED_PREFIXES: [&str; 3] = ["/api/", "/ui/", "/openapi.json"];

impl RootSpanBuilder for RagRootSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        let path = request.path();
        if UNTRACED_PATHS.contains(&path) || UNTRACED_PREFIXES.iter().any(|p| path.starts_with(p)) {
            return tracing::Span::none();
        }
        tracing_actix_web::root_span!(
            request,
            user.id = tracing::field::Empty,
            session.id = tracing::field::Empty,
            ragtrace.cache_hit = tracing::field::Empty,
            ragtrace.cost_usd = tracing::field::Empty,
            error.type = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Adds the W3C `traceresponse` header, so a caller can find its request's trace.
async fn traceresponse(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let root = req.extensions().get::<RootSpan>().cloned();
    let mut res = next.call(req).await?;
    if let Some(tp) = root.and_then(|r| traceparent_of(&r))
        && let Ok(v) = HeaderValue::from_str(&tp)
    {
        res.headers_mut()
            .insert(HeaderName::from_static("traceresponse"), v);
    }
    Ok(res)
}

/// Records `http_server_request_duration_seconds` by route pattern, method and status.
async fn http_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    metrics::histogram!(
        metric::HTTP_SERVER_DURATION,
        "http_route" => route,
        "http_request_method" => method,
        "http_response_status_code" => status.to_string(),
    )
    .record(started.elapsed().as_secs_f64());
    res
}

impl Application {
    /// Builds every adapter and binds the listener.
    pub async fn build(
        settings: Settings,
        traces: Option<Arc<TraceStore>>,
    ) -> anyhow::Result<Self> {
        let _ = ragtrace_core::metrics::handle();
        ragtrace_core::metrics::register_series(
            &settings.llm.chat_model,
            &settings.llm.embedding_model,
        );
        ragtrace_core::metrics::register_ingest_series();
        let mut lines = Vec::new();

        // The built-in simulator stands in for whatever provider is not configured.
        let sim = if settings.uses_embedded_simulator() {
            Some(ragtrace_sim::start_embedded(
                &settings.simulator.profile,
                settings.vector_store.dimension,
            )?)
        } else {
            None
        };
        let llm_base_url = ragtrace_sim::configured_or(
            &settings.llm.base_url,
            sim.as_ref(),
            RunningSim::openai_base_url,
        );
        let catalog_base_url = ragtrace_sim::configured_or(
            &settings.catalog.base_url,
            sim.as_ref(),
            RunningSim::catalog_base_url,
        );

        let data_dir = settings.data_dir();
        let store = settings
            .vector_store
            .build(&data_dir)
            .await
            .context("cannot open the vector store")?;
        // A Qdrant server that is down at start is not fatal: requests get a 503 until it is
        // back, and the app recovers without a restart.
        if let Err(e) = store.ensure_collection().await {
            tracing::warn!(
                "vector store not ready yet ({e}); chat requests will answer 503 until it is"
            );
        }
        let cache = settings
            .cache
            .build()
            .context("cannot configure the cache")?;
        let llm = LlmClient::new(
            &settings.llm,
            &llm_base_url,
            settings.pricing.clone(),
            settings.chat.record_content,
        )?
        .with_dimensions(settings.vector_store.dimension);
        let catalog = ragtrace_core::catalog::CatalogClient::new(
            &settings.catalog,
            &catalog_base_url,
            cache.clone(),
        )?;

        let pipeline = Pipeline {
            store: store.clone(),
            cache: cache.clone(),
            llm: llm.clone(),
            catalog,
            tokenizer: Tokenizer::by_name(&settings.llm.tokenizer),
            chat: settings.chat.clone(),
        };

        let ingestor = ragtrace_ingest::pipeline::Ingestor::new(
            store.clone(),
            llm.clone(),
            ragtrace_ingest::setup::chunker(&settings),
            ragtrace_ingest::setup::limits(&settings),
        );
        let points = if settings.vector_store.seed_demo_corpus {
            crate::seed::seed_if_empty(&ingestor).await
        } else {
            store.count().await.ok()
        };
        if let Some(n) = points {
            metrics::gauge!(metric::VECTOR_STORE_POINTS).set(n as f64);
        }

        lines.push((
            "vector store",
            format!(
                "{} at {} (collection {}{}, pool {})",
                match settings.vector_store.backend {
                    VectorStoreBackend::Edge => "qdrant-edge, in-process",
                    VectorStoreBackend::Qdrant => "Qdrant server",
                },
                store.location(),
                store.collection(),
                points.map(|n| format!(", {n} points")).unwrap_or_default(),
                settings.vector_store.pool_size,
            ),
        ));
        lines.push((
            "cache",
            match settings.cache.backend {
                CacheBackend::Memory => cache.location(),
                CacheBackend::Redis => format!(
                    "Redis at {} (pool {})",
                    cache.location(),
                    settings.cache.pool_size
                ),
            },
        ));
        let sim_or = |configured: &str, url: &str| {
            if configured.is_empty() {
                format!("built-in simulator at {url}")
            } else {
                redact_url(url)
            }
        };
        lines.push((
            "LLM",
            format!(
                "{} (chat {}, embeddings {}{})",
                sim_or(&settings.llm.base_url, &llm_base_url),
                settings.llm.chat_model,
                settings.llm.embedding_model,
                if settings.llm.api_key.is_some() {
                    ", API key set"
                } else {
                    ""
                },
            ),
        ));
        lines.push((
            "product search",
            format!(
                "{} (result cache {})",
                sim_or(&settings.catalog.base_url, &catalog_base_url),
                if settings.catalog.cache_enabled {
                    "on"
                } else {
                    "off"
                },
            ),
        ));
        lines.push((
            "traces",
            if settings.telemetry.otlp_endpoint.is_empty() {
                format!(
                    "not exported (set OTEL_EXPORTER_OTLP_ENDPOINT); sampling {:.0} %",
                    settings.telemetry.sample_ratio * 100.0
                )
            } else {
                format!(
                    "OTLP gRPC to {} as service {}; sampling {:.0} %",
                    redact_url(&settings.telemetry.otlp_endpoint),
                    settings.telemetry.service_name,
                    settings.telemetry.sample_ratio * 100.0
                )
            },
        ));

        // Uploads go to a queue: in-process (a worker task here) or a Redis stream (consumed by
        // `ragtrace-ingest worker`).
        let (queue, worker_stop): (Arc<dyn JobQueue>, _) = match settings.ingest.queue {
            QueueBackend::Memory => {
                let queue: Arc<dyn JobQueue> =
                    Arc::new(MemoryQueue::new(settings.ingest.queue_capacity));
                let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
                actix_web::rt::spawn(ragtrace_ingest::worker::run_loop(
                    queue.clone(),
                    ingestor.clone(),
                    stop.clone(),
                ));
                lines.push((
                    "ingest",
                    "in-process queue and worker (POST /v1/documents)".to_owned(),
                ));
                (queue, Some(stop))
            }
            QueueBackend::Redis => {
                let url = settings.cache.url.expose_secret().to_owned();
                let queue = RedisQueue::new(
                    &url,
                    &settings.ingest.stream,
                    &settings.ingest.group,
                    "app",
                    settings.ingest.job_ttl_secs,
                )
                .context("cannot configure the ingest queue")?;
                if let Err(e) = queue.ensure_group().await {
                    tracing::warn!("ingest queue not ready yet: {e}");
                }
                lines.push((
                    "ingest",
                    format!(
                        "Redis stream {} at {} for `ragtrace-ingest worker` (POST /v1/documents)",
                        settings.ingest.stream,
                        redact_url(&url)
                    ),
                ));
                (Arc::new(queue) as Arc<dyn JobQueue>, None)
            }
        };

        let state = web::Data::new(AppState {
            pipeline,
            max_body_bytes: settings.server.max_body_bytes,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .context("cannot build the HTTP client")?,
            llm_base_url,
            llm_api_key: settings.llm.api_key.clone(),
            traces,
            recent: crate::stats::RecentRequests::default(),
            jaeger_url: Some(settings.ui.jaeger_url.trim_end_matches('/').to_owned())
                .filter(|u| !u.is_empty()),
            documents: routes::documents::Documents {
                queue,
                max_bytes: usize::try_from(settings.ingest.max_file_bytes).unwrap_or(usize::MAX),
            },
        });

        let listener = TcpListener::bind(&settings.server.addr).with_context(|| {
            format!(
                "cannot listen on {} (is another ragtrace running? use --addr)",
                settings.server.addr
            )
        })?;
        let local = listener.local_addr()?;
        lines.push(("metrics", format!("http://{local}/metrics")));
        lines.push((
            "trace viewer",
            format!("http://{local}/ui/ (API: /api/traces, /openapi.json)"),
        ));
        let server_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(server_state.clone())
                .wrap(from_fn(http_metrics))
                .wrap(from_fn(traceresponse))
                .wrap(TracingLogger::<RagRootSpan>::new())
                .service(
                    web::resource("/v1/chat")
                        .route(web::post().to(routes::chat::chat))
                        .default_service(web::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/v1/documents")
                        .route(web::post().to(routes::documents::create))
                        .default_service(web::to(routes::method_not_allowed)),
                )
                .service(
                    web::resource("/v1/documents/{id}")
                        .route(web::get().to(routes::documents::status))
                        .default_service(web::to(routes::method_not_allowed)),
                )
                .service(web::resource("/healthz").route(web::get().to(routes::health::healthz)))
                .service(web::resource("/readyz").route(web::get().to(routes::health::readyz)))
                .service(web::resource("/metrics").route(web::get().to(routes::metrics)))
                .service(web::resource("/api/traces").route(web::get().to(routes::traces::list)))
                .service(
                    web::resource("/api/traces/{trace_id}")
                        .route(web::get().to(routes::traces::get)),
                )
                .service(
                    web::resource("/api/breakdown").route(web::get().to(routes::traces::breakdown)),
                )
                .service(web::resource("/").route(web::get().to(routes::ui::root)))
                .service(web::resource("/ui/{path:.*}").route(web::get().to(routes::ui::asset)))
                .service(web::resource("/openapi.json").route(web::get().to(routes::ui::openapi)))
                .service(web::resource("/api/stats").route(web::get().to(routes::traces::stats)))
                .service(
                    web::resource("/api/ui-config").route(web::get().to(routes::traces::ui_config)),
                )
                .default_service(web::to(routes::not_found))
        })
        .shutdown_timeout(5)
        // The binary handles SIGINT/SIGTERM itself (see main.rs), registered before the banner
        // is printed, so a signal can never arrive before anyone listens for it.
        .disable_signals()
        .listen(listener)?
        .run();

        Ok(Self {
            port: local.port(),
            host: local.ip().to_string(),
            server,
            sim,
            backends: Backends { lines },
            state,
            worker_stop,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the app uses for each concern.
    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// The shared state (tests use it to reach the adapters).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// A handle that stops the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Prints where the app listens and what it uses, on stdout.
    pub fn print_banner(&self) {
        let base = format!("http://{}:{}", self.host, self.port);
        println!("ragtrace {} listening on {base}", env!("CARGO_PKG_VERSION"));
        for (concern, what) in &self.backends.lines {
            println!("  {concern:<15} {what}");
        }
        println!(
            "try:  curl -s {base}/v1/chat -H 'content-type: application/json' -d '{{\"question\":\"How do I reset the Lumen Hub 2?\"}}'"
        );
    }

    /// Serves until stopped (Ctrl-C or SIGTERM), then stops the simulator.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Some(stop) = &self.worker_stop {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(sim) = self.sim {
            sim.handle.stop(true).await;
        }
        result
    }
}
