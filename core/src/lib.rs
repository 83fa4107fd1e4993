//! # ragtrace-core
//!
//! Everything the ragtrace binaries share: configuration, telemetry, and one adapter per external
//! dependency, each behind a trait with an embedded default.
//!
//! # Layout
//!
//! - [`config`]: compiled-in defaults, an optional file, `RAGTRACE__...` and the ecosystem's own
//!   environment variables, validated into [`config::Settings`].
//! - [`semconv`]: every span name, attribute key and metric name, in one place.
//! - [`stage`]: the stage timer, the one place a chat pipeline stage is measured.
//! - [`telemetry`]: the tracing subscriber, OTLP export, masking of secrets and e-mail addresses,
//!   and W3C propagation helpers.
//! - [`metrics`]: the Prometheus recorder and the helpers that record into it.
//! - [`pool`]: a measured connection limit (the queue of case study 2).
//! - [`vector_store`]: the [`vector_store::VectorStore`] trait, on qdrant-edge and on a Qdrant server.
//! - [`cache`]: the [`cache::Cache`] trait, in-process LRU and Redis.
//! - [`queue`]: the [`queue::JobQueue`] of ingest jobs, in-process and a Redis stream, with the
//!   producer and consumer spans of the queue hop.
//! - [`llm`]: chat and embeddings over async-openai, with retries, spans and metrics.
//! - [`catalog`]: the external product-search API client.
//! - [`tokens`]: token counting (OpenAI's encodings, by bpe-openai).
//! - [`signals`]: the stop signals the binaries wait for (SIGINT/SIGTERM, Ctrl-C elsewhere).
//! - [`trace_store`]: the bounded in-process store of recent traces and the time breakdown.
//! - [`meeting`]: the scripted meeting hidden in generated recordings (case study 3), shared by
//!   the generator and the simulator's transcriber.
//! - [`simulate`]: the cost simulator's formulas (savings, payback, ROI).
//! - [`report`]: the executive report, one self-contained HTML page from two measured windows.
//!
//! # Depends on
//!
//! No other ragtrace crate: every other crate depends on this one, so the names, the settings
//! and the adapters have one definition.
#![warn(missing_docs)]

pub mod cache;
pub mod catalog;
pub mod config;
pub mod llm;
pub mod meeting;
pub mod metrics;
pub mod pool;
pub mod queue;
pub mod report;
pub mod semconv;
pub mod signals;
pub mod simulate;
pub mod stage;
pub mod telemetry;
pub mod tokens;
pub mod trace_store;
pub mod vector_store;
