//! `[telemetry]`: traces, logs and their export. Every key is explained, with its default, in
//! `core/config/default.toml`.

use serde::Deserialize;

use super::{ConfigError, redact_url, rule};

/// `[telemetry]`: where spans are exported, how many traces are sampled, and how logs look.
#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    /// `service.name` of every span; tells app, ingest and simulator apart (`OTEL_SERVICE_NAME`).
    pub service_name: String,
    /// OTLP gRPC endpoint; empty = no export.
    pub otlp_endpoint: String,
    /// How long one OTLP export may take; past it the batch counts as failed and leaves the queue.
    pub otlp_timeout_ms: u64,
    /// Spans awaiting export at most: when the collector is down, the rest are dropped and counted.
    pub max_queue_size: usize,
    /// Parent-based sampling ratio of new traces.
    pub sample_ratio: f64,
    /// `tracing` filter directive for logs (`RUST_LOG` overrides it); spans are traced regardless.
    pub log_filter: String,
    /// `text` for people or `json` for log shippers; either way logs go to stderr, masked.
    pub log_format: String,
}

impl TelemetrySettings {
    /// Where traces go and how many are kept, for the start-up banner.
    pub fn describe(&self) -> String {
        let sampling = format!("sampling {:.0} %", self.sample_ratio * 100.0);
        if self.otlp_endpoint.is_empty() {
            format!("not exported (set OTEL_EXPORTER_OTLP_ENDPOINT); {sampling}")
        } else {
            format!(
                "OTLP gRPC to {} as service {}; {sampling}",
                redact_url(&self.otlp_endpoint),
                self.service_name
            )
        }
    }
}

impl TelemetrySettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        rule(
            "telemetry.sample_ratio",
            (0.0..=1.0).contains(&self.sample_ratio),
            "must be between 0.0 and 1.0",
        )?;
        rule(
            "telemetry.log_format",
            matches!(self.log_format.as_str(), "text" | "json"),
            "must be \"text\" or \"json\"",
        )
    }
}
