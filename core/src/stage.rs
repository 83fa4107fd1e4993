//! The stage timer: the one place where a stage of the chat pipeline is measured.
//!
//! A stage is measured three ways at once, so a single trace and the aggregate always agree:
//! its span (carrying `ragtrace.stage` and the stage's budget), its duration in
//! `ragtrace_stage_duration_seconds{stage}`, and its failure on the span. A [`StageTimer`] does
//! all three; only the chat pipeline uses it.
//!
//! Most stages are work of the pipeline's own (prompt build, the cache lookup) and get a span of
//! their own ([`StageTimer::own`]). A stage that *is* one adapter call (the LLM call, the
//! embeddings) is measured by the adapter's client span instead of a second span around it
//! ([`StageTimer::adapter`]): the timer puts the stage into the task's context, like the trace
//! context, and the adapter's span constructor reads it with [`Stage::current`]. The adapter
//! never decides which stage it serves.

use std::future::Future;
use std::time::Instant;

use tracing::Instrument as _;

use crate::semconv::{Stage, attr};

tokio::task_local! {
    // The stage whose work the current task is doing, set by `StageTimer::run`.
    static CURRENT: Stage;
}

impl Stage {
    /// The stage whose work the current task is doing, if a [`StageTimer`] runs it.
    pub fn current() -> Option<Stage> {
        CURRENT.try_with(|s| *s).ok()
    }
}

/// Measures one stage from its creation to its drop (so a stage cut short by the request's
/// deadline is still measured).
#[derive(Debug)]
pub struct StageTimer {
    stage: Stage,
    span: tracing::Span,
    started: Instant,
}

impl StageTimer {
    /// A stage that is work of the caller's own, measured by a new span named `name`.
    pub fn own(stage: Stage, name: &'static str) -> Self {
        Self {
            stage,
            span: stage_span(stage, name),
            started: Instant::now(),
        }
    }

    /// A stage that is one adapter call, measured by the span the adapter makes for it.
    pub fn adapter(stage: Stage) -> Self {
        Self {
            stage,
            span: tracing::Span::none(),
            started: Instant::now(),
        }
    }

    /// The stage's own span (a disabled span for [`StageTimer::adapter`]), to record what the
    /// stage found.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Runs `fut` as this stage: inside its span, with the stage in the task's context.
    pub async fn run<F: Future>(&self, fut: F) -> F::Output {
        if self.span.is_none() {
            CURRENT.scope(self.stage, fut).await
        } else {
            CURRENT
                .scope(self.stage, fut.instrument(self.span.clone()))
                .await
        }
    }

    /// Runs `f` as this stage, inside its span.
    pub fn run_sync<T>(&self, f: impl FnOnce(&tracing::Span) -> T) -> T {
        let _entered = self.span.enter();
        f(&self.span)
    }

    /// Marks the stage failed with `kind` (its `error.type`) and `description`.
    pub fn fail(&self, kind: &str, description: &str) {
        crate::telemetry::mark_failed(&self.span, kind, description);
    }
}

impl Drop for StageTimer {
    fn drop(&mut self) {
        crate::metrics::record_stage(self.stage, self.started.elapsed().as_secs_f64());
    }
}

/// The span of a stage of the caller's own. It declares every field any stage records, since
/// `tracing` only keeps the fields a span declared when it was made.
fn stage_span(stage: Stage, name: &'static str) -> tracing::Span {
    tracing::info_span!(
        "stage",
        { attr::OTEL_NAME } = name,
        { attr::OTEL_KIND } = "internal",
        { attr::STAGE } = stage.as_str(),
        { attr::STAGE_BUDGET_MS } = stage.budget_ms() as i64,
        { attr::GEN_AI_OPERATION_NAME } = tracing::field::Empty,
        { attr::GEN_AI_DATA_SOURCE_ID } = tracing::field::Empty,
        { attr::GEN_AI_RETRIEVAL_TOP_K } = tracing::field::Empty,
        { attr::GEN_AI_TOOL_NAME } = tracing::field::Empty,
        { attr::GEN_AI_TOOL_TYPE } = tracing::field::Empty,
        { attr::CACHE_BACKEND } = tracing::field::Empty,
        { attr::CACHE_NAME } = tracing::field::Empty,
        { attr::CACHE_HIT } = tracing::field::Empty,
        { attr::RETRIEVAL_SCORE_THRESHOLD } = tracing::field::Empty,
        { attr::RETRIEVAL_TOP_SCORE } = tracing::field::Empty,
        { attr::RETRIEVAL_MODE } = tracing::field::Empty,
        { attr::RETRIEVAL_FUSION } = tracing::field::Empty,
        { attr::RETRIEVAL_SPARSE_TERMS } = tracing::field::Empty,
        { attr::RETRIEVAL_DENSE_HITS } = tracing::field::Empty,
        { attr::RETRIEVAL_SPARSE_HITS } = tracing::field::Empty,
        { attr::RETRIEVAL_HITS } = tracing::field::Empty,
        { attr::RETRIEVAL_EXPECTED_RANK } = tracing::field::Empty,
        { attr::DB_RESPONSE_RETURNED_ROWS } = tracing::field::Empty,
        { attr::TOOL_RESULTS } = tracing::field::Empty,
        { attr::PROMPT_TOKENS } = tracing::field::Empty,
        { attr::PROMPT_PASSAGES_KEPT } = tracing::field::Empty,
        { attr::PROMPT_PASSAGES_DROPPED } = tracing::field::Empty,
        { attr::CITATIONS } = tracing::field::Empty,
        { attr::ERROR_TYPE } = tracing::field::Empty,
        { attr::OTEL_STATUS_CODE } = tracing::field::Empty,
        { attr::OTEL_STATUS_DESCRIPTION } = tracing::field::Empty,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stage is in the task's context while a timer runs it, and only then.
    #[tokio::test]
    async fn the_stage_is_context_while_it_runs() {
        assert_eq!(Stage::current(), None);
        let timer = StageTimer::adapter(Stage::Llm);
        let inside = timer.run(async { Stage::current() }).await;
        assert_eq!(inside, Some(Stage::Llm));
        assert_eq!(Stage::current(), None);
    }
}
