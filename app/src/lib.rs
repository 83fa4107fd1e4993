//! # ragtrace
//!
//! A retrieval-augmented chat service instrumented end to end with OpenTelemetry and
//! Prometheus. `cargo run --release` starts it on embedded defaults: an in-process Qdrant engine
//! (qdrant-edge), an in-process cache, and the built-in simulator of the LLM and product-search
//! services; the same binary talks to Qdrant, Redis and OpenAI when they are configured.
//!
//! # Layout
//!
//! - [`alloc`]: the process's allocator, mimalloc with the trace store's spans on pages of their
//!   own.
//! - [`startup`]: builds the adapters from configuration and runs the HTTP server.
//! - [`state`]: what every handler shares.
//! - [`middleware`]: the root span of each request, `traceresponse`, HTTP metrics, and the
//!   `Host` check.
//! - [`limits`]: per-client and per-user chat rates and the daily spend budget per user.
//! - [`routes`]: the route table and thin HTTP handlers (`/v1/chat`, `/v1/documents`,
//!   `/healthz`, `/readyz`, `/metrics`, the viewer's `/api/*`, the UI at `/ui/`).
//! - [`pipeline`]: the chat pipeline, which owns a chat request from question to answer.
//! - [`domain`]: request and response types; requests are parsed into types that cannot be invalid.
//! - [`upload`]: document uploads parsed the same way, whatever the body's shape.
//! - [`error`]: the API's one error type and its one mapping to HTTP.
//! - [`openapi`]: the OpenAPI description, generated from the handlers and their types.
//! - [`seed`]: indexing of the shipped demo corpus at first start.
//! - [`stats`]: rolling statistics of recent requests for the viewer's live tiles.
//!
//! # Depends on
//!
//! - `ragtrace-core`: settings, telemetry and every adapter the pipeline calls.
//! - `ragtrace-ingest`: the in-process worker behind `POST /v1/documents`, the first-start seed
//!   of the demo corpus, and the upstreams (the embedded simulator, with the default feature
//!   `embedded-sim`).
#![warn(missing_docs)]

pub mod alloc;
pub mod domain;
pub mod error;
pub mod limits;
pub mod middleware;
pub mod openapi;
pub mod pipeline;
pub mod routes;
pub mod seed;
pub mod startup;
pub mod state;
pub mod stats;
pub mod upload;
