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
//! - [`queue`] and [`worker`]: ingest jobs from `POST /v1/documents`, in-process or over a Redis
//!   stream, with the trace context carried across the hop.
//! - [`audio`] and [`transcribe`]: case study 3, meeting recordings and their transcription.
#![warn(missing_docs)]

pub mod audio;
pub mod chunk;
pub mod extract;
pub mod files;
pub mod pipeline;
pub mod queue;
pub mod run;
pub mod setup;
pub mod transcribe;
pub mod worker;
