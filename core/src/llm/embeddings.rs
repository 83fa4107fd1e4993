//! Embeddings: one request per batch (the caller batches), vectors in input order.

use std::time::Instant;

use async_openai::types::embeddings::CreateEmbeddingRequestArgs;
use tracing::Instrument as _;

use super::{LlmClient, LlmError, Operation, Usage};
use crate::semconv::attr;

/// Embeddings of a batch of texts.
#[derive(Debug, Clone)]
pub struct Embeddings {
    /// One vector per input, in input order.
    pub vectors: Vec<Vec<f32>>,
    /// Input tokens the provider billed for the whole batch, the basis of `cost_usd`.
    pub input_tokens: u32,
    /// Estimated cost in USD from the price table; 0 when the model is not in it.
    pub cost_usd: f64,
}

impl LlmClient {
    /// Embeds `inputs` (one request; the caller batches).
    pub async fn embed(&self, inputs: Vec<String>) -> Result<Embeddings, LlmError> {
        let model = self.settings.embedding_model.clone();
        let span = self.genai_span(Operation::Embeddings, &model, false);
        let started = Instant::now();
        let n = inputs.len();
        let result = async {
            let mut req = CreateEmbeddingRequestArgs::default();
            req.model(model.clone()).input(inputs);
            if let Some(d) = self.dimensions {
                req.dimensions(d);
            }
            let req = req.build().map_err(|e| LlmError::Protocol(e.to_string()))?;
            let resp = self
                .with_retries(&span, || {
                    let (client, req) = (self.client.clone(), req.clone());
                    // Boxed, as in `chat`: the HTTP client's future is large.
                    Box::pin(async move { client.embeddings().create(req).await })
                })
                .await?;
            if resp.data.len() != n {
                return Err(LlmError::Protocol(format!(
                    "asked for {n} embeddings, got {}",
                    resp.data.len()
                )));
            }
            let mut data = resp.data;
            data.sort_by_key(|e| e.index);
            Ok((
                data.into_iter().map(|e| e.embedding).collect::<Vec<_>>(),
                resp.usage.prompt_tokens,
                resp.model,
            ))
        }
        .instrument(span.clone())
        .await;
        match result {
            Ok((vectors, input_tokens, resp_model)) => {
                let usage = Usage {
                    input_tokens,
                    output_tokens: 0,
                };
                let cost = self.cost(&model, usage);
                span.record(attr::GEN_AI_RESPONSE_MODEL, resp_model.as_str());
                if let Some(v) = vectors.first() {
                    span.record(attr::GEN_AI_EMBEDDINGS_DIMENSION_COUNT, v.len() as i64);
                }
                self.record_success(&span, Operation::Embeddings, &model, usage, cost, started);
                Ok(Embeddings {
                    vectors,
                    input_tokens,
                    cost_usd: cost,
                })
            }
            Err(e) => {
                self.record_failure(&span, Operation::Embeddings, &model, &e, started);
                Err(e)
            }
        }
    }
}
