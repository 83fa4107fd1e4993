//! Speech to text: one audio file per request, with timestamped segments.

use std::time::Instant;

use tracing::Instrument as _;

use super::{LlmClient, LlmError, Operation, Usage};

/// A transcript of one audio file.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// The whole transcript as one string, as the provider sent it; ingest uses `segments`.
    pub text: String,
    /// Length of the audio, seconds.
    pub duration_secs: f64,
    /// Timestamped segments, seconds from the start of the file.
    pub segments: Vec<TranscriptSegment>,
}

/// A timestamped piece of a transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptSegment {
    /// Start, seconds from the start of the file sent, not of the recording; add the chunk offset.
    pub start: f64,
    /// End, seconds from the start of the file sent; ingest places segments by `start` only.
    pub end: f64,
    /// What was said, as recognised; it may carry surrounding spaces (ingest trims it).
    pub text: String,
}

impl LlmClient {
    /// Transcribes one audio file (WAV bytes) with timestamps (`verbose_json`, segment
    /// granularity). One GenAI span; retries like every other call.
    pub async fn transcribe(
        &self,
        filename: &str,
        audio: bytes::Bytes,
    ) -> Result<Transcript, LlmError> {
        use async_openai::types::audio::{
            AudioInput, AudioResponseFormat, CreateTranscriptionRequestArgs, TimestampGranularity,
        };
        let model = self.settings.transcription_model.clone();
        let span = self.genai_span(Operation::Transcription, &model, false);
        let started = Instant::now();
        let result = async {
            let req = CreateTranscriptionRequestArgs::default()
                .file(AudioInput::from_bytes(filename.to_owned(), audio))
                .model(model.clone())
                .response_format(AudioResponseFormat::VerboseJson)
                .timestamp_granularities(vec![TimestampGranularity::Segment])
                .build()
                .map_err(|e| LlmError::Protocol(e.to_string()))?;
            self.with_retries(&span, || {
                let (client, req) = (self.client.clone(), req.clone());
                async move {
                    client
                        .audio()
                        .transcription()
                        .create_verbose_json(req)
                        .await
                }
            })
            .await
        }
        .instrument(span.clone())
        .await;
        match result {
            Ok(resp) => {
                // Billed by the minute of audio; the price table is per million tokens, so
                // transcription cost is left out of the spend figures.
                self.record_success(
                    &span,
                    Operation::Transcription,
                    &model,
                    Usage::default(),
                    0.0,
                    started,
                );
                Ok(Transcript {
                    text: resp.text,
                    duration_secs: f64::from(resp.duration),
                    segments: resp
                        .segments
                        .unwrap_or_default()
                        .into_iter()
                        .map(|s| TranscriptSegment {
                            start: f64::from(s.start),
                            end: f64::from(s.end),
                            text: s.text,
                        })
                        .collect(),
                })
            }
            Err(e) => {
                self.record_failure(&span, Operation::Transcription, &model, &e, started);
                Err(e)
            }
        }
    }
}
