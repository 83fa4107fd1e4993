//! Building and running the application. [`Application::build`] reads like a table of
//! contents: the metrics recorder, the upstreams (the embedded simulator stands in for any that
//! is not configured), each adapter built from its settings, the demo corpus, the document
//! queue, the shared state, and the HTTP server.
//!
//! It binds the configured address (port 0 picks a free one) and returns the real port, so
//! tests run exactly the code the binary runs.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use ragtrace_core::config::Settings;
use ragtrace_core::trace_store::TraceStore;
use ragtrace_ingest::upstreams::Upstreams;
use tokio_util::sync::CancellationToken;
use tracing_actix_web::TracingLogger;

use crate::middleware::{
    RagRootSpan, allowed_host, connection_cap, http_metrics, require_key, traceresponse,
};
use crate::pipeline::Pipeline;
use crate::state::AppState;

/// A built, not yet running application.
pub struct Application {
    port: u16,
    host: String,
    server: Server,
    upstreams: Upstreams,
    banner: Vec<(&'static str, String)>,
    state: web::Data<AppState>,
    // Cancelled when the server stops: the in-process ingest worker ends with it.
    shutdown: CancellationToken,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Builds every adapter and binds the listener.
    pub async fn build(
        settings: Settings,
        traces: Option<Arc<TraceStore>>,
    ) -> anyhow::Result<Self> {
        ragtrace_core::metrics::install(&settings.llm);
        let upstreams = Upstreams::for_app(&settings)?;

        let store = settings
            .vector_store
            .build(&settings.data_dir())
            .await
            .context("cannot open the vector store")?;
        let cache = settings
            .cache
            .build()
            .context("cannot configure the cache")?;
        let llm = settings.llm.build(
            &upstreams.llm,
            &settings.pricing,
            settings.chat.record_content,
            settings.vector_store.dimension,
        )?;
        let catalog = settings.catalog.build(&upstreams.catalog, cache.clone())?;
        let ingestor = ragtrace_ingest::setup::ingestor(&settings, store.clone(), llm.clone());
        let points =
            crate::seed::prepare_store(&ingestor, settings.vector_store.seed_demo_corpus).await;
        let shutdown = CancellationToken::new();
        let queue =
            ragtrace_ingest::setup::app_queue(&settings, ingestor, shutdown.child_token()).await?;

        let pipeline = Pipeline::new(store, cache, llm, catalog, &settings);
        let mut state = AppState::new(&settings, pipeline, queue, traces);
        state.measuring.simulated_upstreams |= upstreams.simulated();
        let state = web::Data::new(state);

        let listener = TcpListener::bind(&settings.server.addr).with_context(|| {
            format!(
                "cannot listen on {} (is another ragtrace running? use --addr)",
                settings.server.addr
            )
        })?;
        let local = listener.local_addr()?;
        let banner = banner(&state, &upstreams, &settings, points, local);
        let server = serve(listener, state.clone())?;
        Ok(Self {
            port: local.port(),
            host: local.ip().to_string(),
            server,
            upstreams,
            banner,
            state,
            shutdown,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the app uses for each concern: (concern, what each adapter says about itself).
    pub fn banner(&self) -> &[(&'static str, String)] {
        &self.banner
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
        for (concern, what) in &self.banner {
            println!("  {concern:<15} {what}");
        }
        println!(
            "try:  curl -s {base}/v1/chat -H 'content-type: application/json' -d '{{\"question\":\"How do I reset the Lumen Hub 2?\"}}'"
        );
    }

    /// Serves until stopped (Ctrl-C or SIGTERM), then stops the worker and the simulator.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let _stop_worker = self.shutdown.drop_guard();
        let result = self.server.await;
        self.upstreams.stop(true).await;
        result
    }
}

/// What the app uses for each concern, as each adapter describes itself.
fn banner(
    state: &AppState,
    upstreams: &Upstreams,
    settings: &Settings,
    points: Option<u64>,
    local: SocketAddr,
) -> Vec<(&'static str, String)> {
    let p = &state.pipeline;
    let points = points.map(|n| format!(", {n} points")).unwrap_or_default();
    vec![
        ("vector store", format!("{}{points}", p.store.describe())),
        ("cache", p.cache.describe()),
        ("LLM", upstreams.describe_llm(p.llm.describe())),
        (
            "product search",
            upstreams.describe_catalog(p.catalog.describe()),
        ),
        ("traces", settings.telemetry.describe()),
        ("ingest", state.documents.queue.describe()),
        ("metrics", format!("http://{local}/metrics")),
        (
            "trace viewer",
            format!("http://{local}/ui/ (API: /api/traces, /openapi.json)"),
        ),
    ]
}

/// The HTTP server over `state`: middleware outermost first, then the route table.
fn serve(listener: TcpListener, state: web::Data<AppState>) -> std::io::Result<Server> {
    let connections = std::sync::Arc::new(crate::limits::Connections::default());
    let cap = state.max_connections_per_client;
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(connection_cap))
            .wrap(from_fn(require_key))
            .wrap(from_fn(allowed_host))
            .wrap(from_fn(http_metrics))
            .wrap(from_fn(traceresponse))
            .wrap(TracingLogger::<RagRootSpan>::new())
            .configure(crate::routes::configure)
    });
    // With a cap, each connection counts against its client's while it is open
    // (`connection_cap`); without one (the default), connections are not counted at all.
    if cap > 0 {
        server = server.on_connect(move |conn, data| {
            if let Some(sock) = conn.downcast_ref::<actix_web::rt::net::TcpStream>()
                && let Ok(peer) = sock.peer_addr()
            {
                data.insert(connections.open(peer.ip(), cap));
            }
        });
    }
    Ok(server
        .shutdown_timeout(5)
        // The binary handles SIGINT/SIGTERM itself (see main.rs), registered before the banner is
        // printed, so a signal can never arrive before anyone listens for it.
        .disable_signals()
        .listen(listener)?
        .run())
}
