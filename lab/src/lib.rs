//! # ragtrace-lab
//!
//! The case studies' runner. `ragtrace-lab run CASE --phase before|after` runs one case study
//! end to end and measures it from what ragtrace itself records (its traces and its metrics);
//! `ragtrace-lab compare BEFORE.json AFTER.json` prints the before/after table. Without
//! `--target` it starts the app in-process with the case's settings; with `--target` it drives
//! a running ragtrace (the compose stack), switching the simulator's scenario and the app's fixes
//! through their admin APIs.
//!
//! # Layout
//!
//! - [`case`]: the three cases, their phases, settings and questions.
//! - [`load`]: the load generator: closed-loop users with ramp, steady and spike stages.
//! - [`target`]: the app a run drives (in-process or remote) and what it reads back from it.
//! - [`report`]: a run's JSON report, its table, and the before/after comparison.
//! - [`decide`]: the executive report of a pair (`report`) and the cost simulator (`simulate`).
//! - [`eval`]: answer quality on a golden set (hit@k, MRR, cited, fact in the answer).
//! - [`corpus`]: the synthetic document collection of case study 2, made from the demo corpus.
//! - [`transcription`]: case study 3, through the `ragtrace-ingest` binary.
//!
//! # Depends on
//!
//! - `ragtrace-core`: the summary types the app serves (`trace_store::summary`), the report's
//!   renderer (`report`) and the simulator's formulas (`simulate`).
//! - `ragtrace`, only with the default feature `embedded-app`: to start the app in-process.
#![warn(missing_docs)]

pub mod case;
pub mod corpus;
pub mod decide;
pub mod eval;
pub mod load;
pub mod report;
pub mod target;
pub mod transcription;
