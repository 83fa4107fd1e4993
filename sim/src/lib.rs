//! # ragtrace-sim
//!
//! An honest simulator of the external services ragtrace calls, in the spirit of the
//! OpenTelemetry demo's mock LLM and HotROD's simulated services:
//!
//! - an OpenAI-compatible API: `POST /v1/chat/completions` (plain and SSE streaming, with usage
//!   when `stream_options.include_usage` is set), `POST /v1/embeddings` (deterministic lexical
//!   vectors), `GET /v1/models`, `POST /v1/audio/transcriptions` (multipart, 25 MB limit,
//!   latency per minute of audio, a concurrency limit; transcripts of `ragtrace-ingest
//!   gen-audio` recordings come from the script hidden in them);
//! - a product catalog API: `GET /catalog/search?q=&limit=` over `data/catalog/products.json`;
//! - an admin API to change each endpoint's latency and fault profile at run time:
//!   `GET /admin/profiles`, `PUT /admin/profiles/{endpoint}`, `GET /admin/scenarios`,
//!   `POST /admin/scenarios/{name}`.
//!
//! Answers are extractive (sentences of the context passages sent in the prompt, with citation
//! markers), embeddings are hashed word and character n-grams, and every model name starts with
//! `sim-`. Nothing pretends to be a neural model. It runs standalone (`ragtrace-sim`) or inside
//! the `ragtrace` app in embedded mode ([`start`]).
//!
//! # Layout
//!
//! - [`profile`]: latency and fault profiles, scenarios.
//! - [`embeddings`]: the deterministic embedding function.
//! - [`answer`]: extractive answers with citations.
//! - [`catalog`]: the product catalog and its search.
//! - [`fault`]: how an endpoint behaves under its profile (latency, faults, concurrency limit).
//! - [`error`]: the one error type, written out in OpenAI's shape.
//! - [`routes`]: the HTTP handlers.
//!
//! # Depends on
//!
//! `ragtrace-core` only, for the catalog's wire types, the token counter, the meeting script and
//! the metric names: the simulator is the fake world and knows nothing of the app that calls it.
#![warn(missing_docs)]

pub mod answer;
pub mod catalog;
pub mod embeddings;
pub mod error;
pub mod fault;
pub mod profile;
pub mod routes;

use std::net::{SocketAddr, TcpListener};
use std::sync::RwLock;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};

use crate::catalog::Catalog;
use crate::profile::Profiles;

/// What the simulator starts with.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Profiles to start with (a scenario plus overrides); the admin API can change them later.
    pub profiles: Profiles,
    /// Default embedding dimension (a request's `dimensions` overrides it).
    pub embedding_dim: usize,
    /// Serve `GET /metrics` (standalone only: in-process, the app serves the shared registry).
    pub serve_metrics: bool,
    /// Actix worker threads (at least one): 2 when embedded in the app, 4 standalone.
    pub workers: usize,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            profiles: Profiles::default(),
            embedding_dim: 384,
            serve_metrics: false,
            workers: 2,
        }
    }
}

/// Shared state of the handlers.
#[derive(Debug)]
pub struct SimState {
    /// Current profiles (the admin API writes them).
    pub profiles: RwLock<Profiles>,
    /// The products `GET /catalog/search` searches: the shipped `products.json`.
    pub catalog: Catalog,
    /// Embedding length for requests that send no `dimensions` ([`SimOptions::embedding_dim`]).
    pub embedding_dim: usize,
    /// Tokenizer for usage counts.
    pub tokenizer: ragtrace_core::tokens::Tokenizer,
    /// What this simulator has served, by endpoint and outcome (`GET /admin/requests`).
    pub requests: std::sync::Mutex<fault::RequestCounts>,
    /// Transcriptions being served (the audio endpoint's concurrency limit).
    pub audio_slots: fault::Slots,
}

impl SimState {
    /// State from options, with the shipped catalog.
    pub fn new(options: &SimOptions) -> Self {
        Self {
            profiles: RwLock::new(options.profiles.clone()),
            catalog: Catalog::shipped(),
            embedding_dim: options.embedding_dim,
            tokenizer: ragtrace_core::tokens::Tokenizer::by_name("o200k_base"),
            requests: std::sync::Mutex::default(),
            audio_slots: fault::Slots::default(),
        }
    }
}

/// A started simulator: the address to point clients at, and the handle that stops it.
#[derive(Debug)]
pub struct RunningSim {
    /// The bound address; with port 0 it holds the port the OS actually picked.
    pub addr: SocketAddr,
    /// Stops the server. Nothing else will: the simulator ignores signals (`disable_signals`).
    pub handle: ServerHandle,
}

impl RunningSim {
    /// Base URL of the OpenAI-compatible API (`http://addr/v1`).
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Base URL of the catalog API (`http://addr/catalog`).
    pub fn catalog_base_url(&self) -> String {
        format!("http://{}/catalog", self.addr)
    }
}

/// Starts the simulator on `listener` and returns once it accepts connections; the server runs
/// on the current actix/tokio runtime until stopped through [`RunningSim::handle`].
pub fn start(listener: TcpListener, options: SimOptions) -> std::io::Result<RunningSim> {
    let addr = listener.local_addr()?;
    let state = web::Data::new(SimState::new(&options));
    let serve_metrics = options.serve_metrics;
    let server = HttpServer::new(move || {
        App::new()
            .wrap(tracing_actix_web::TracingLogger::default())
            .configure(routes::configure(state.clone(), serve_metrics))
    })
    .workers(options.workers.max(1))
    // A hanging request must not hold up shutdown for its whole hang.
    .shutdown_timeout(1)
    // Whoever starts the simulator stops it: the app after its own server, the standalone
    // binary on SIGINT/SIGTERM.
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Ok(RunningSim { addr, handle })
}

/// Starts a simulator on a free loopback port with the default profiles and `profile` (a
/// profile string such as `scenario=instant`) applied over them: how the app and
/// `ragtrace-ingest` stand in for an unconfigured provider. Must run inside an actix system.
pub fn start_embedded(profile: &str, embedding_dim: usize) -> anyhow::Result<RunningSim> {
    use anyhow::Context as _;
    let mut profiles = Profiles::default();
    profiles
        .apply_str(profile)
        .map_err(|e| anyhow::anyhow!("invalid simulator.profile: {e}"))?;
    let listener =
        TcpListener::bind("127.0.0.1:0").context("cannot bind the embedded simulator")?;
    Ok(start(
        listener,
        SimOptions {
            profiles,
            embedding_dim,
            serve_metrics: false,
            workers: 2,
        },
    )?)
}
