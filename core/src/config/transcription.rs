//! `[transcription]`: meeting transcription (case study 3). Every key is explained, with its default, in
//! `core/config/default.toml`.

use serde::Deserialize;

use super::{ConfigError, rule};

/// How `transcribe` handles a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TranscribeStrategy {
    /// Decode everything, cut every chunk up front, send them all at once (the reported failure).
    Naive,
    /// Stream the file and keep at most `batch_size` chunks in flight.
    Bounded,
}

impl TranscribeStrategy {
    /// The strategy's name in config, span names and the `ragtrace.transcribe.strategy` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Naive => "naive",
            Self::Bounded => "bounded",
        }
    }
}

/// `[transcription]`: how a recording is cut into chunks and how many of them are sent at once.
#[derive(Debug, Clone, Deserialize)]
pub struct TranscriptionSettings {
    /// Strategy when `transcribe` gets no `--strategy`; `naive` reproduces case study 3's failure.
    pub strategy: TranscribeStrategy,
    /// Chunks in flight at most (bounded strategy).
    pub batch_size: usize,
    /// Length of one audio chunk, seconds.
    pub chunk_seconds: u32,
    /// Audio shared by consecutive chunks, seconds.
    pub overlap_seconds: u32,
}

impl TranscriptionSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        rule(
            "transcription.batch_size",
            (1..=256).contains(&self.batch_size),
            "must be 1..=256",
        )?;
        rule(
            "transcription.chunk_seconds",
            (5..=600).contains(&self.chunk_seconds),
            "must be 5..=600",
        )?;
        rule(
            "transcription.overlap_seconds",
            self.overlap_seconds < self.chunk_seconds,
            "must be smaller than transcription.chunk_seconds",
        )
    }
}
