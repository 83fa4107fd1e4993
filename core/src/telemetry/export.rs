//! OTLP export that never takes the app down: a bounded number of spans in flight, the spans
//! beyond it dropped and counted, every batch's outcome counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Span, SpanData, SpanExporter, SpanProcessor,
};

use super::TelemetryError;
use super::otlp;
use crate::config::{OtlpExporterKind, OtlpProtocol, TelemetrySettings};
use crate::semconv::metric;

/// The OTLP sink of the span pipeline and the runtime its exporter's connections live on (off
/// the application's runtimes, so a blocking flush at shutdown never waits on a runtime it is
/// blocking). With `record_all`, export keeps the sampling ratio's share of the traces.
pub(super) fn otlp_sink(
    settings: &TelemetrySettings,
    record_all: bool,
) -> Result<(Box<dyn SpanProcessor>, tokio::runtime::Runtime), TelemetryError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("otel-export")
        .enable_all()
        .build()?;
    let exporter = {
        let _enter = rt.enter();
        span_exporter(settings, rt.handle().clone())?
    };
    let in_flight = Arc::new(AtomicUsize::new(0));
    let bsp = BatchSpanProcessor::builder(CountingExporter {
        inner: exporter,
        in_flight: in_flight.clone(),
    })
    .with_batch_config(
        BatchConfigBuilder::default()
            // The gate below keeps at most max_queue_size spans in flight, so this queue never
            // overflows silently.
            .with_max_queue_size(settings.max_queue_size + 1)
            .with_scheduled_delay(Duration::from_millis(500))
            .with_max_export_batch_size(512.min(settings.max_queue_size.max(1)))
            .build(),
    )
    .build();
    let sink = BoundedExport {
        inner: bsp,
        in_flight,
        max_in_flight: settings.max_queue_size,
        export_ratio: (record_all && settings.sample_ratio < 1.0).then_some(settings.sample_ratio),
    };
    Ok((Box::new(sink), rt))
}

/// The OTLP span exporter the settings ask for: ragtrace's own ([`super::otlp`]) or
/// `opentelemetry-otlp`'s, over gRPC or HTTP/protobuf, with TLS for an `https://` URL (the given
/// certificate authority or the public web roots, and a client certificate when one is set).
/// Both send `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS` with every request.
fn span_exporter(
    settings: &TelemetrySettings,
    runtime: tokio::runtime::Handle,
) -> Result<AnyExporter, TelemetryError> {
    let url = settings.traces_url().unwrap_or_default();
    let timeout = Duration::from_millis(settings.otlp_timeout_ms);
    let tls = TlsFiles::read(settings)?;
    if settings.otlp_exporter == OtlpExporterKind::OpentelemetryOtlp {
        return upstream_exporter(settings, &url, timeout, &tls, runtime)
            .map(AnyExporter::Upstream);
    }
    let headers = otlp::headers_from_env();
    let transport = match settings.otlp_protocol {
        OtlpProtocol::Grpc => {
            let invalid = |reason: String| TelemetryError::Endpoint {
                endpoint: url.clone(),
                reason,
            };
            let mut endpoint = tonic::transport::Endpoint::from_shared(url.clone())
                .map_err(|e| invalid(e.to_string()))?
                .timeout(timeout)
                .user_agent(USER_AGENT)
                .map_err(|e| invalid(e.to_string()))?;
            if url.starts_with("https://") {
                endpoint = endpoint
                    .tls_config(tonic_tls(&tls))
                    .map_err(|e| invalid(e.to_string()))?;
            }
            // gRPC metadata are HTTP/2 headers; a `-bin` name would mark a binary value.
            let metadata = header_map(headers.into_iter().filter(|(key, _)| {
                let binary = key.to_ascii_lowercase().ends_with("-bin");
                if binary {
                    eprintln!(
                        "telemetry: OTLP header {key:?} is not a valid gRPC header; left out"
                    );
                }
                !binary
            }));
            otlp::Transport::Grpc {
                channel: endpoint.connect_lazy(),
                metadata: tonic::metadata::MetadataMap::from_headers(metadata),
            }
        }
        OtlpProtocol::HttpProtobuf => otlp::Transport::Http {
            client: reqwest_client(settings, &tls, timeout)?,
            url,
            headers: header_map(headers),
        },
    };
    Ok(AnyExporter::Builtin(otlp::OtlpExporter {
        encoder: otlp::Encoder::default(),
        transport,
        timeout,
        runtime,
    }))
}

/// The OTLP headers as HTTP headers; a name or value HTTP refuses is left out, with a message.
fn header_map(headers: impl IntoIterator<Item = (String, String)>) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (key, value) in headers {
        match (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            (Ok(key), Ok(value)) => {
                map.append(key, value);
            }
            _ => eprintln!("telemetry: OTLP header {key:?} is not a valid HTTP header; left out"),
        }
    }
    map
}

/// Sent as `user-agent` by the built-in exporter.
const USER_AGENT: &str = concat!("ragtrace/", env!("CARGO_PKG_VERSION"));

/// The exporter that `telemetry.otlp_exporter` chose.
#[derive(Debug)]
enum AnyExporter {
    Builtin(otlp::OtlpExporter),
    Upstream(opentelemetry_otlp::SpanExporter),
}

impl SpanExporter for AnyExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        match self {
            Self::Builtin(e) => e.export(batch).await,
            Self::Upstream(e) => e.export(batch).await,
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        match self {
            Self::Builtin(e) => e.shutdown_with_timeout(timeout),
            Self::Upstream(e) => e.shutdown_with_timeout(timeout),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        match self {
            Self::Builtin(e) => e.force_flush(),
            Self::Upstream(e) => e.force_flush(),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        match self {
            Self::Builtin(e) => e.set_resource(resource),
            Self::Upstream(e) => e.set_resource(resource),
        }
    }
}

/// tonic's TLS settings for the certificate authority and client identity given.
fn tonic_tls(tls: &TlsFiles) -> tonic::transport::ClientTlsConfig {
    let mut config = tonic::transport::ClientTlsConfig::new();
    config = match &tls.ca {
        Some(pem) => config.ca_certificate(tonic::transport::Certificate::from_pem(pem)),
        None => config.with_webpki_roots(),
    };
    if let Some((cert, key)) = &tls.identity {
        config = config.identity(tonic::transport::Identity::from_pem(cert, key));
    }
    config
}

/// The HTTP client of OTLP/HTTP export, trusting the given authority and presenting the client
/// certificate when one is set.
fn reqwest_client(
    settings: &TelemetrySettings,
    tls: &TlsFiles,
    timeout: Duration,
) -> Result<reqwest::Client, TelemetryError> {
    let mut client = reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(USER_AGENT);
    if let Some(pem) = &tls.ca {
        let roots = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| certificate_error(&settings.otlp_certificate, e))?;
        client = client.tls_certs_only(roots);
    }
    if let Some((cert, key)) = &tls.identity {
        let identity = reqwest::Identity::from_pem(&[cert.as_slice(), key].concat())
            .map_err(|e| certificate_error(&settings.otlp_client_certificate, e))?;
        client = client.identity(identity);
    }
    client
        .build()
        .map_err(|e| certificate_error(&settings.otlp_certificate, e))
}

/// `opentelemetry-otlp`'s exporter (`telemetry.otlp_exporter = "opentelemetry-otlp"`), which
/// reads `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS` itself.
fn upstream_exporter(
    settings: &TelemetrySettings,
    url: &str,
    timeout: Duration,
    tls: &TlsFiles,
    runtime: tokio::runtime::Handle,
) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
    use opentelemetry_otlp::{WithHttpConfig as _, WithTonicConfig as _};

    let built = match settings.otlp_protocol {
        OtlpProtocol::Grpc => {
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(url)
                .with_timeout(timeout);
            if url.starts_with("https://") {
                builder = builder.with_tls_config(tonic_tls(tls));
            }
            builder.build()
        }
        OtlpProtocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(url)
            .with_timeout(timeout)
            .with_http_client(OnRuntime {
                client: reqwest_client(settings, tls, timeout)?,
                runtime,
            })
            .build(),
    };
    built.map_err(|source| TelemetryError::Exporter {
        endpoint: url.to_owned(),
        source,
    })
}

/// The PEM files named by the TLS settings, read once at start.
struct TlsFiles {
    ca: Option<Vec<u8>>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl TlsFiles {
    fn read(settings: &TelemetrySettings) -> Result<Self, TelemetryError> {
        let read = |path: &str| -> Result<Option<Vec<u8>>, TelemetryError> {
            if path.trim().is_empty() {
                return Ok(None);
            }
            std::fs::read(path)
                .map(Some)
                .map_err(|e| TelemetryError::Certificate {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })
        };
        let ca = read(&settings.otlp_certificate)?;
        let identity = match (
            read(&settings.otlp_client_certificate)?,
            read(&settings.otlp_client_key)?,
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            _ => None,
        };
        Ok(Self { ca, identity })
    }
}

/// A certificate or key at `path` that reqwest refused.
fn certificate_error(path: &str, e: reqwest::Error) -> TelemetryError {
    TelemetryError::Certificate {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// OTLP/HTTP export over the workspace's async reqwest client. The SDK's batch processor
/// exports from its own thread, outside any Tokio runtime, so each request runs on the export
/// runtime and only its result is awaited.
#[derive(Debug)]
struct OnRuntime {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OnRuntime {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        let request = reqwest::Request::try_from(request)?;
        self.runtime
            .spawn(async move {
                let response = client.execute(request).await?.error_for_status()?;
                let mut out = http::Response::builder()
                    .status(response.status())
                    .version(response.version());
                if let Some(headers) = out.headers_mut() {
                    *headers = response.headers().clone();
                }
                let body = response.bytes().await?;
                Ok::<_, opentelemetry_http::HttpError>(out.body(body)?)
            })
            .await?
    }
}

/// Keeps at most `max_in_flight` spans between `on_end` and the end of their export, and counts
/// the spans it drops beyond that (the SDK's own queue drops silently).
#[derive(Debug)]
pub(super) struct BoundedExport<P> {
    pub(super) inner: P,
    pub(super) in_flight: Arc<AtomicUsize>,
    pub(super) max_in_flight: usize,
    // When every trace is recorded (for the in-process store), export keeps this share of them,
    // chosen by trace id exactly as the SDK's TraceIdRatioBased sampler would.
    pub(super) export_ratio: Option<f64>,
}

/// The SDK's trace-id ratio decision: the low 63 bits of the trace id against the ratio.
pub fn trace_id_sampled(trace_id: opentelemetry::trace::TraceId, ratio: f64) -> bool {
    let bound = (ratio.clamp(0.0, 1.0) * (1u64 << 63) as f64) as u64;
    let bytes = trace_id.to_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..]);
    (u64::from_be_bytes(low) >> 1) < bound
}

impl<P: SpanProcessor> SpanProcessor for BoundedExport<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if let Some(ratio) = self.export_ratio
            && !trace_id_sampled(span.span_context.trace_id(), ratio)
        {
            return;
        }
        let admitted = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_in_flight).then_some(n + 1)
            })
            .is_ok();
        if admitted {
            self.inner.on_end(span);
        } else {
            crate::metrics::counter(&metric::SPANS_EXPORTED_TOTAL, ["dropped"]).increment(1);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Counts exported and failed spans and releases their slots in [`BoundedExport`].
#[derive(Debug)]
pub(super) struct CountingExporter<E> {
    pub(super) inner: E,
    pub(super) in_flight: Arc<AtomicUsize>,
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        let result = self.inner.export(batch).await;
        let outcome = if result.is_ok() { "exported" } else { "failed" };
        crate::metrics::counter(&metric::SPANS_EXPORTED_TOTAL, [outcome]).increment(n as u64);
        self.in_flight.fetch_sub(n, Ordering::AcqRel);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
