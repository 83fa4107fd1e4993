//! # ragtrace-ingest
//!
//! How knowledge gets into ragtrace: documents (Markdown, text, HTML, PDF) and meeting audio,
//! chunked by tokens, embedded in bounded batches and upserted with deterministic ids into the
//! collection the chat API searches. Safe to run twice, to kill half-way and to feed bad files.
//!
//! # Layout
//!
//! - [`extract`]: bytes → normalised text, per format, with typed failures.
//! - [`chunk`]: text → token-bounded, overlapping chunks with stable ids and payloads.
//! - [`pipeline`]: chunks → embeddings (batched by items and tokens) → upserts, idempotently.
//! - [`files`]: which files a run covers and what they are called.
//! - [`run`]: one CLI run and its summary.
//! - [`worker`]: takes ingest jobs from `POST /v1/documents` off the queue (`ragtrace_core::queue`,
//!   in-process or a Redis stream) and ingests each in the upload's trace.
//! - [`upstreams`]: the LLM provider, or the embedded simulator in its place (feature
//!   `embedded-sim`); shared with the app.
//! - [`setup`]: the pipeline and the app's document queue, built from configuration.
//! - [`audio`] and [`transcribe`]: case study 3, meeting recordings and their transcription.
//!
//! # Depends on
//!
//! - `ragtrace-core`: the vector store, the job queue and the LLM client it writes through.
//! - `ragtrace-sim`, only with the default feature `embedded-sim`: [`upstreams`] starts it
//!   in-process when no LLM provider is configured (for this binary and for the app).
#![warn(missing_docs)]

pub mod audio;
pub mod chunk;
pub mod extract;
pub mod files;
pub mod pipeline;
pub mod run;
pub mod setup;
pub mod transcribe;
pub mod upstreams;
pub mod worker;
