//! Embeddings: one request per batch (the caller batches), vectors in input order.
//!
//! Vectors are asked for as base64 (`encoding_format: "base64"`, what OpenAI's own SDKs send by
//! default): little-endian `f32`s, a third smaller on the wire than JSON numbers and decoded
//! without parsing a float per dimension. A server that ignores the parameter and answers with
//! a list of floats is read just as well.

use std::fmt;
use std::time::Instant;

use async_openai::types::embeddings::{CreateEmbeddingRequestArgs, EncodingFormat};
use base64::Engine as _;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
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
            req.model(model.clone())
                .input(inputs)
                .encoding_format(EncodingFormat::Base64);
            if let Some(d) = self.dimensions {
                req.dimensions(d);
            }
            let req = req.build().map_err(|e| LlmError::Protocol(e.to_string()))?;
            let resp = self
                .with_retries(&span, || {
                    let (client, req) = (self.client.clone(), req.clone());
                    // Boxed, as in `chat`: the HTTP client's future is large.
                    Box::pin(async move {
                        client
                            .embeddings()
                            .create_byot::<_, EmbeddingResponse>(req)
                            .await
                    })
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
                data.into_iter().map(|e| e.embedding.0).collect::<Vec<_>>(),
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
                tracing::record_all!(
                    span,
                    { attr::GEN_AI_RESPONSE_MODEL } = resp_model.as_str(),
                    { attr::GEN_AI_EMBEDDINGS_DIMENSION_COUNT } =
                        vectors.first().map(|v| v.len() as i64),
                );
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

/// The body of `POST /embeddings`, as much of it as is read.
#[derive(Debug, Deserialize)]
struct EmbeddingResponse {
    model: String,
    data: Vec<EmbeddingItem>,
    usage: EmbeddingUsage,
}

#[derive(Debug, Deserialize)]
struct EmbeddingItem {
    index: u32,
    embedding: Vector,
}

#[derive(Debug, Deserialize)]
struct EmbeddingUsage {
    prompt_tokens: u32,
}

/// One embedding, sent either as base64 of little-endian `f32`s or as a list of numbers.
#[derive(Debug, PartialEq)]
struct Vector(Vec<f32>);

impl<'de> Deserialize<'de> for Vector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = Vector;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64 string of little-endian f32s or a list of numbers")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Vector, E> {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .map_err(|e| E::custom(format!("embedding is not valid base64: {e}")))?;
                if bytes.len() % 4 != 0 {
                    return Err(E::custom(format!(
                        "embedding has {} bytes, not a whole number of f32s",
                        bytes.len()
                    )));
                }
                Ok(Vector(
                    bytes
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                ))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vector, A::Error> {
                let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(x) = seq.next_element::<f32>()? {
                    v.push(x);
                }
                Ok(Vector(v))
            }
        }
        deserializer.deserialize_any(Either)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same vector read from base64 (what is asked for) and from a list of numbers (what a
    /// server that ignores `encoding_format` sends); bad base64 is an error, not a panic.
    #[test]
    fn reads_base64_and_float_embeddings() {
        let v = [0.25f32, -1.5, 3.0e-7, 1.0];
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        let from_b64: Vector = serde_json::from_str(&format!("\"{b64}\"")).unwrap();
        let from_list: Vector = serde_json::from_str("[0.25, -1.5, 3e-7, 1]").unwrap();
        assert_eq!(from_b64, Vector(v.to_vec()));
        assert_eq!(from_list, Vector(v.to_vec()));
        let err = serde_json::from_str::<Vector>("\"not base64!\"").unwrap_err();
        assert!(err.to_string().contains("not valid base64"), "{err}");
        let err = serde_json::from_str::<Vector>("\"AAAA\"").unwrap_err();
        assert!(err.to_string().contains("whole number of f32s"), "{err}");
    }
}
