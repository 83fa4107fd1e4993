//! `[telemetry]`: traces, logs and their export. Every key is explained, with its default, in
//! `core/config/default.toml`.

use serde::Deserialize;

use super::{ConfigError, redact_url, rule};

/// `[telemetry]`: where spans are exported, how many traces are sampled, and how logs look.
#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    /// `service.name` of every span; tells app, ingest and simulator apart (`OTEL_SERVICE_NAME`).
    pub service_name: String,
    /// OTLP endpoint: a gRPC endpoint, or the base URL of an OTLP/HTTP receiver (`/v1/traces`
    /// is appended); empty = no export unless `otlp_traces_endpoint` is set.
    pub otlp_endpoint: String,
    /// The full URL that traces go to, used as is; wins over `otlp_endpoint`.
    pub otlp_traces_endpoint: String,
    /// How spans travel: gRPC or protobuf over HTTP.
    pub otlp_protocol: OtlpProtocol,
    /// Which exporter encodes and sends them: ragtrace's own (one pass from the spans) or the
    /// `opentelemetry-otlp` crate's.
    pub otlp_exporter: OtlpExporterKind,
    /// PEM file of the certificate authority to trust for an `https://` endpoint; empty = the
    /// public web roots.
    pub otlp_certificate: String,
    /// PEM client certificate for mutual TLS (with `otlp_client_key`).
    pub otlp_client_certificate: String,
    /// PEM private key of `otlp_client_certificate`.
    pub otlp_client_key: String,
    /// No tracing at all: no span is recorded, exported or kept (`OTEL_SDK_DISABLED`).
    pub sdk_disabled: bool,
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
    /// Text lines also show the fields of the spans they were logged in (every span's fields
    /// are then formatted when it is made, whether a line is written or not).
    pub log_span_fields: bool,
}

/// The OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum OtlpProtocol {
    /// OTLP over gRPC (port 4317 by convention).
    #[serde(rename = "grpc")]
    Grpc,
    /// OTLP as protobuf over HTTP POST (port 4318 by convention): what SaaS backends, Langfuse
    /// and Phoenix take.
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

/// The OTLP span exporter (`telemetry.otlp_exporter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum OtlpExporterKind {
    /// ragtrace's exporter: writes each batch's protobuf straight from the spans.
    #[serde(rename = "builtin")]
    Builtin,
    /// The `opentelemetry-otlp` crate's exporter, which copies each batch before encoding it.
    #[serde(rename = "opentelemetry-otlp")]
    OpentelemetryOtlp,
}

impl OtlpProtocol {
    /// Parses the specification's names; `http/json` is named as unsupported.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim() {
            "grpc" => Ok(Self::Grpc),
            "http/protobuf" => Ok(Self::HttpProtobuf),
            "http/json" => Err("http/json is not supported: use http/protobuf or grpc".to_owned()),
            other => Err(format!(
                "unknown OTLP protocol {other:?}: use grpc or http/protobuf"
            )),
        }
    }

    /// The specification's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::HttpProtobuf => "http/protobuf",
        }
    }
}

impl TelemetrySettings {
    /// Where spans are sent, or `None` when nothing is exported: `otlp_traces_endpoint` as is,
    /// otherwise `otlp_endpoint` (with `/v1/traces` appended for OTLP/HTTP, as the
    /// specification says for the signal-less variable).
    pub fn traces_url(&self) -> Option<String> {
        if self.sdk_disabled {
            return None;
        }
        let signal = self.otlp_traces_endpoint.trim();
        if !signal.is_empty() {
            return Some(signal.to_owned());
        }
        let base = self.otlp_endpoint.trim();
        if base.is_empty() {
            return None;
        }
        Some(match self.otlp_protocol {
            OtlpProtocol::Grpc => base.to_owned(),
            OtlpProtocol::HttpProtobuf => format!("{}/v1/traces", base.trim_end_matches('/')),
        })
    }

    /// Where traces go and how many are kept, for the start-up banner.
    pub fn describe(&self) -> String {
        if self.sdk_disabled {
            return "off (OTEL_SDK_DISABLED): no span is recorded or exported".to_owned();
        }
        let sampling = format!("sampling {:.0} %", self.sample_ratio * 100.0);
        match self.traces_url() {
            None => format!("not exported (set OTEL_EXPORTER_OTLP_ENDPOINT); {sampling}"),
            Some(url) => format!(
                "OTLP {} to {} as service {}; {sampling}",
                match self.otlp_protocol {
                    OtlpProtocol::Grpc => "gRPC",
                    OtlpProtocol::HttpProtobuf => "HTTP",
                },
                redact_url(&url),
                self.service_name
            ),
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
            "telemetry.otlp_client_key",
            self.otlp_client_certificate.is_empty() == self.otlp_client_key.is_empty(),
            "a client certificate and its key come together: set both or neither",
        )?;
        if let Some(url) = self.traces_url() {
            rule(
                "telemetry.otlp_endpoint",
                url.starts_with("http://") || url.starts_with("https://"),
                "must be an http:// or https:// URL, such as http://localhost:4317 (gRPC) or \
                 http://localhost:4318 (http/protobuf)",
            )?;
        }
        rule(
            "telemetry.log_format",
            matches!(self.log_format.as_str(), "text" | "json"),
            "must be \"text\" or \"json\"",
        )
    }
}
