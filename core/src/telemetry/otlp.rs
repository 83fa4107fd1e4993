//! OTLP trace export that writes each span's protobuf once, straight from the SDK's `SpanData`.
//!
//! `opentelemetry-otlp` 0.32 deep-copies a batch twice before it encodes it (once for a retry it
//! does not make, once more while grouping the spans by scope; upstream issue
//! open-telemetry/opentelemetry-rust#3368), then converts every attribute into an owned
//! `opentelemetry-proto` struct (a new `String` per key and per value), then has prost measure
//! and write those structs. [`Encoder`] writes the same `ExportTraceServiceRequest` bytes from
//! the spans as they are, in one pass: tested byte for byte against the upstream conversion and
//! prost's encoding. [`OtlpExporter`] sends them over gRPC (tonic) or HTTP (reqwest), with the
//! same endpoint, TLS, timeout and `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS` handling; the upstream
//! exporter stays one setting away (`telemetry.otlp_exporter = "opentelemetry-otlp"`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut as _, Bytes};
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// Wire types of the protobuf encoding.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// Span flags: the parent's remoteness is known (bit 8) and is remote (bit 9), over the W3C
/// trace flags (OTLP's `SpanFlags`).
const CONTEXT_HAS_IS_REMOTE: u32 = 0x100;
const CONTEXT_IS_REMOTE: u32 = 0x200;

/// gRPC method of the OTLP trace service.
const GRPC_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Writes `ExportTraceServiceRequest` messages for one resource.
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    /// The `Resource` message's body, encoded once.
    resource: Vec<u8>,
    /// The resource's schema URL (`ResourceSpans.schema_url`).
    schema_url: String,
}

impl Encoder {
    /// An encoder for spans of `resource`.
    pub fn new(resource: &Resource) -> Self {
        let mut body = Vec::new();
        for (key, value) in resource.iter() {
            message(&mut body, 1, |out| key_value(out, key.as_str(), value));
        }
        Self {
            resource: body,
            schema_url: resource.schema_url().unwrap_or_default().to_owned(),
        }
    }

    /// Appends the request for `spans` to `out`: one `ResourceSpans`, with one `ScopeSpans` per
    /// instrumentation scope in the order the scopes first appear.
    pub fn encode(&self, spans: &[SpanData], out: &mut Vec<u8>) {
        // Almost every batch has one scope; the search stays linear and allocation-free then.
        let mut scopes: Vec<(&InstrumentationScope, Vec<&SpanData>)> = Vec::new();
        for span in spans {
            let scope = &span.instrumentation_scope;
            match scopes.iter_mut().find(|(s, _)| *s == scope) {
                Some((_, members)) => members.push(span),
                None => scopes.push((scope, vec![span])),
            }
        }
        message(out, 1, |out| {
            message(out, 1, |out| out.extend_from_slice(&self.resource));
            for (scope, members) in &scopes {
                message(out, 2, |out| scope_spans(out, scope, members));
            }
            string(out, 3, &self.schema_url);
        });
    }
}

fn scope_spans(out: &mut Vec<u8>, scope: &InstrumentationScope, spans: &[&SpanData]) {
    message(out, 1, |out| {
        string(out, 1, scope.name());
        string(out, 2, scope.version().unwrap_or_default());
        for kv in scope.attributes() {
            message(out, 3, |out| attribute(out, kv));
        }
    });
    for span in spans {
        message(out, 2, |out| span_message(out, span));
    }
    string(out, 3, scope.schema_url().unwrap_or_default());
}

fn span_message(out: &mut Vec<u8>, span: &SpanData) {
    let context = &span.span_context;
    bytes_field(out, 1, &context.trace_id().to_bytes());
    bytes_field(out, 2, &context.span_id().to_bytes());
    trace_state(out, 3, context.trace_state());
    if span.parent_span_id != SpanId::INVALID {
        bytes_field(out, 4, &span.parent_span_id.to_bytes());
    }
    string(out, 5, &span.name);
    uint(out, 6, kind(&span.span_kind));
    fixed64(out, 7, nanos(span.start_time));
    fixed64(out, 8, nanos(span.end_time));
    for kv in &span.attributes {
        message(out, 9, |out| attribute(out, kv));
    }
    uint(out, 10, span.dropped_attributes_count.into());
    for event in span.events.iter() {
        message(out, 11, |out| {
            fixed64(out, 1, nanos(event.timestamp));
            string(out, 2, &event.name);
            for kv in &event.attributes {
                message(out, 3, |out| attribute(out, kv));
            }
            uint(out, 4, event.dropped_attributes_count.into());
        });
    }
    uint(out, 12, span.events.dropped_count.into());
    for link in span.links.iter() {
        message(out, 13, |out| {
            let context = &link.span_context;
            bytes_field(out, 1, &context.trace_id().to_bytes());
            bytes_field(out, 2, &context.span_id().to_bytes());
            trace_state(out, 3, context.trace_state());
            for kv in &link.attributes {
                message(out, 4, |out| attribute(out, kv));
            }
            uint(out, 5, link.dropped_attributes_count.into());
            fixed32(
                out,
                6,
                flags(context.is_remote(), context.trace_flags().to_u8().into()),
            );
        });
    }
    uint(out, 14, span.links.dropped_count.into());
    // The upstream conversion always sets a status, so it is always written (possibly empty).
    message(out, 15, |out| {
        let (code, description) = match &span.status {
            Status::Unset => (0, ""),
            Status::Ok => (1, ""),
            Status::Error { description } => (2, description.as_ref()),
        };
        string(out, 2, description);
        uint(out, 3, code);
    });
    // Field 16 is declared after field 4 in the .proto file, but fields go out in number order.
    fixed32(
        out,
        16,
        flags(
            span.parent_span_is_remote,
            context.trace_flags().to_u8().into(),
        ),
    );
}

fn flags(parent_is_remote: bool, trace_flags: u32) -> u32 {
    trace_flags
        | CONTEXT_HAS_IS_REMOTE
        | if parent_is_remote {
            CONTEXT_IS_REMOTE
        } else {
            0
        }
}

fn kind(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos() as u64
}

fn trace_state(out: &mut Vec<u8>, field: u32, state: &opentelemetry::trace::TraceState) {
    // The header is built (allocated) only when there is a state to write.
    if *state != opentelemetry::trace::TraceState::NONE {
        string(out, field, &state.header());
    }
}

fn attribute(out: &mut Vec<u8>, kv: &KeyValue) {
    key_value(out, kv.key.as_str(), &kv.value);
}

fn key_value(out: &mut Vec<u8>, key: &str, value: &Value) {
    string(out, 1, key);
    message(out, 2, |out| any_value(out, value));
}

/// An `AnyValue`'s body: the oneof is written even when it holds its type's default.
fn any_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(s) => string_always(out, 1, s.as_str()),
        Value::Bool(b) => {
            tag(out, 2, VARINT);
            varint(out, u64::from(*b));
        }
        Value::I64(i) => {
            tag(out, 3, VARINT);
            varint(out, *i as u64);
        }
        Value::F64(f) => {
            tag(out, 4, FIXED64);
            out.put_u64_le(f.to_bits());
        }
        Value::Array(array) => message(out, 5, |out| match array {
            Array::Bool(values) => elements(out, values, |v| Value::Bool(*v)),
            Array::I64(values) => elements(out, values, |v| Value::I64(*v)),
            Array::F64(values) => elements(out, values, |v| Value::F64(*v)),
            Array::String(values) => {
                for v in values {
                    message(out, 1, |out| string_always(out, 1, StringValue::as_str(v)));
                }
            }
            // A kind of array added to the API after this was written: its text.
            other => message(out, 1, |out| string_always(out, 1, &other.to_string())),
        }),
        // A kind of value added to the API after this was written: its text.
        other => string_always(out, 1, &other.as_str()),
    }
}

fn elements<T>(out: &mut Vec<u8>, values: &[T], value: impl Fn(&T) -> Value) {
    for v in values {
        message(out, 1, |out| any_value(out, &value(v)));
    }
}

fn tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, u64::from(field << 3 | u32::from(wire)));
}

fn varint(out: &mut Vec<u8>, v: u64) {
    let (bytes, n) = varint_bytes(v);
    out.extend_from_slice(&bytes[..n]);
}

/// `v` as a varint, on the stack: its bytes and how many of them there are (at most 10).
fn varint_bytes(mut v: u64) -> ([u8; 10], usize) {
    let (mut bytes, mut n) = ([0u8; 10], 0);
    while v >= 0x80 {
        bytes[n] = v as u8 | 0x80;
        v >>= 7;
        n += 1;
    }
    bytes[n] = v as u8;
    (bytes, n + 1)
}

/// A scalar field, left out at zero (proto3).
fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        tag(out, field, VARINT);
        varint(out, v);
    }
}

fn fixed32(out: &mut Vec<u8>, field: u32, v: u32) {
    if v != 0 {
        tag(out, field, FIXED32);
        out.put_u32_le(v);
    }
}

fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        tag(out, field, FIXED64);
        out.put_u64_le(v);
    }
}

/// A string or bytes field, left out when empty (proto3).
fn bytes_field(out: &mut Vec<u8>, field: u32, v: &[u8]) {
    if !v.is_empty() {
        tag(out, field, LEN);
        varint(out, v.len() as u64);
        out.extend_from_slice(v);
    }
}

fn string(out: &mut Vec<u8>, field: u32, v: &str) {
    bytes_field(out, field, v.as_bytes());
}

/// A string field of a oneof: written even when empty.
fn string_always(out: &mut Vec<u8>, field: u32, v: &str) {
    tag(out, field, LEN);
    varint(out, v.len() as u64);
    out.extend_from_slice(v.as_bytes());
}

/// A nested message: its body is written in place after a one-byte length, which grows (and
/// moves the body) only for a body of 128 bytes or more.
fn message(out: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    tag(out, field, LEN);
    let at = out.len();
    out.push(0);
    body(out);
    let len = out.len() - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
        return;
    }
    let (prefix, n) = varint_bytes(len as u64);
    let end = out.len();
    out.resize(end + n - 1, 0);
    out.copy_within(at + 1..end, at + n);
    out[at..at + n].copy_from_slice(&prefix[..n]);
}

/// Where [`OtlpExporter`] sends its requests.
pub(super) enum Transport {
    /// OTLP/gRPC: the trace service's `Export` method, with these metadata on every call.
    Grpc {
        channel: tonic::transport::Channel,
        metadata: tonic::metadata::MetadataMap,
    },
    /// OTLP/HTTP with protobuf bodies, POSTed to `url` with these headers.
    Http {
        client: reqwest::Client,
        url: String,
        headers: http::HeaderMap,
    },
}

/// The span exporter behind `telemetry.otlp_exporter = "builtin"`: encodes each batch with
/// [`Encoder`] and sends it on the export runtime.
pub(super) struct OtlpExporter {
    pub(super) encoder: Encoder,
    pub(super) transport: Transport,
    pub(super) timeout: Duration,
    pub(super) runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transport = match self.transport {
            Transport::Grpc { .. } => "grpc",
            Transport::Http { .. } => "http/protobuf",
        };
        f.debug_struct("OtlpExporter")
            .field("transport", &transport)
            .finish_non_exhaustive()
    }
}

impl SpanExporter for OtlpExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut body = Vec::with_capacity(batch.len() * 512);
        self.encoder.encode(&batch, &mut body);
        drop(batch);
        let body = Bytes::from(body);
        let timeout = self.timeout;
        let sent = match &self.transport {
            Transport::Grpc { channel, metadata } => {
                let mut grpc = tonic::client::Grpc::new(channel.clone());
                let mut request = tonic::Request::new(body);
                *request.metadata_mut() = metadata.clone();
                request.set_timeout(timeout);
                self.runtime.spawn(async move {
                    grpc.ready()
                        .await
                        .map_err(|e| format!("the OTLP gRPC endpoint is not ready: {e}"))?;
                    let path = http::uri::PathAndQuery::from_static(GRPC_PATH);
                    let response = grpc
                        .unary(request, path, RawCodec)
                        .await
                        .map_err(|status| format!("OTLP gRPC export failed: {status}"))?;
                    Ok::<_, String>(response.into_inner().partial_success.and_then(rejected))
                })
            }
            Transport::Http {
                client,
                url,
                headers,
            } => {
                let request = client
                    .post(url.as_str())
                    .headers(headers.clone())
                    .header(http::header::CONTENT_TYPE, "application/x-protobuf")
                    .timeout(timeout)
                    .body(body);
                self.runtime.spawn(async move {
                    let response = request
                        .send()
                        .await
                        .map_err(|e| format!("OTLP/HTTP export failed: {e}"))?;
                    let status = response.status();
                    let body = response.bytes().await.unwrap_or_default();
                    if !status.is_success() {
                        let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
                        return Err(format!("OTLP/HTTP export failed: HTTP {status}: {text}"));
                    }
                    Ok(partial_success(&body))
                })
            }
        };
        match sent.await {
            Ok(Ok(rejected)) => {
                if let Some((spans, message)) = rejected {
                    tracing::warn!(
                        target: "opentelemetry_otlp",
                        rejected_spans = spans,
                        error_message = %message,
                        "the OTLP receiver rejected part of an export"
                    );
                }
                Ok(())
            }
            Ok(Err(message)) => Err(OTelSdkError::InternalFailure(message)),
            Err(join) => Err(OTelSdkError::InternalFailure(format!(
                "the OTLP export task failed: {join}"
            ))),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.encoder = Encoder::new(resource);
    }
}

/// The rejected spans and message of an OTLP/HTTP response's protobuf body, when it reports a
/// partial success.
fn partial_success(body: &[u8]) -> Option<(i64, String)> {
    use prost::Message as _;
    ExportTraceServiceResponse::decode(body)
        .ok()?
        .partial_success
        .and_then(rejected)
}

/// A partial success that says something: spans rejected, or a message.
fn rejected(p: ExportTracePartialSuccess) -> Option<(i64, String)> {
    (p.rejected_spans > 0 || !p.error_message.is_empty())
        .then_some((p.rejected_spans, p.error_message))
}

/// A gRPC codec that sends an already encoded request and decodes the service's response.
#[derive(Debug, Clone, Copy)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = tonic_prost::ProstDecoder<Self::Decode>;

    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstDecoder::new(tonic::codec::BufferSettings::default())
    }
}

/// Writes the request's bytes as they are.
#[derive(Debug, Clone, Copy)]
struct RawEncoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

/// `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, or else `OTEL_EXPORTER_OTLP_HEADERS`: `key=value` pairs
/// separated by commas, values URL-decoded, pairs with an empty key or value left out (as
/// `opentelemetry-otlp` reads them).
pub(super) fn headers_from_env() -> Vec<(String, String)> {
    let raw = std::env::var("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_HEADERS"))
        .unwrap_or_default();
    parse_headers(&raw)
}

/// The `key=value,…` list of the OTLP headers variables.
pub(super) fn parse_headers(raw: &str) -> Vec<(String, String)> {
    raw.split_terminator(',')
        .map(str::trim)
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            let (key, value) = (key.trim(), value.trim());
            let value = url_decode(value).unwrap_or_else(|| value.to_owned());
            (!key.is_empty() && !value.is_empty()).then(|| (key.to_owned(), value))
        })
        .collect()
}

/// Percent-decoding; `None` when a `%` is not followed by two hex digits or the bytes are not
/// UTF-8.
fn url_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use opentelemetry::trace::{Event, Link, SpanContext, TraceFlags, TraceId, TraceState};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use prost::Message as _;

    use super::*;

    fn span(n: u64, scope: &InstrumentationScope) -> SpanData {
        let trace_id =
            TraceId::from(0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c_u128 + u128::from(n));
        let start = UNIX_EPOCH + Duration::from_nanos(1_764_000_000_123_456_789 + n);
        let mut events = SpanEvents::default();
        events.events.push(Event::new(
            "exception",
            start + Duration::from_micros(5),
            vec![
                KeyValue::new("exception.message", "the LLM provider failed"),
                KeyValue::new("attempt", 2_i64),
            ],
            1,
        ));
        let mut links = SpanLinks::default();
        links.links.push(Link::new(
            SpanContext::new(
                TraceId::from(7_u128),
                SpanId::from(9_u64),
                TraceFlags::SAMPLED,
                true,
                TraceState::from_key_value([("vendor", "x")]).unwrap(),
            ),
            vec![KeyValue::new("link.reason", "batch")],
            0,
        ));
        let long = "ä passage ".repeat(40 + n as usize);
        SpanData {
            span_context: SpanContext::new(
                trace_id,
                SpanId::from(0x1000 + n),
                if n.is_multiple_of(2) {
                    TraceFlags::SAMPLED
                } else {
                    TraceFlags::default()
                },
                false,
                if n == 1 {
                    TraceState::from_key_value([("rojo", "00f067aa0ba902b7")]).unwrap()
                } else {
                    TraceState::NONE
                },
            ),
            parent_span_id: if n == 0 {
                SpanId::INVALID
            } else {
                SpanId::from(0x1000)
            },
            parent_span_is_remote: n == 2,
            span_kind: [SpanKind::Server, SpanKind::Internal, SpanKind::Client][n as usize % 3]
                .clone(),
            name: Cow::Owned(format!("stage {n}")),
            start_time: start,
            end_time: start + Duration::from_millis(3 + n),
            attributes: vec![
                KeyValue::new("gen_ai.request.model", "sim-gpt-4o-mini"),
                KeyValue::new("ragtrace.cache_hit", n == 1),
                KeyValue::new("gen_ai.usage.input_tokens", 1234_i64 * n as i64 - 99),
                KeyValue::new("ragtrace.cost_usd", 0.000_123 * n as f64),
                KeyValue::new("empty", ""),
                KeyValue::new("gen_ai.input.messages", long),
                KeyValue::new(
                    "gen_ai.response.finish_reasons",
                    Value::Array(Array::String(vec!["stop".into(), "".into()])),
                ),
                KeyValue::new("ints", Value::Array(Array::I64(vec![-1, 0, 1 << 40]))),
                KeyValue::new("bools", Value::Array(Array::Bool(vec![true, false]))),
                KeyValue::new("floats", Value::Array(Array::F64(vec![0.5, -0.0]))),
            ],
            dropped_attributes_count: n as u32,
            events: if n == 1 {
                events
            } else {
                SpanEvents::default()
            },
            links: if n == 2 { links } else { SpanLinks::default() },
            status: match n % 3 {
                0 => Status::Unset,
                1 => Status::error("upstream returned HTTP 500"),
                _ => Status::Ok,
            },
            instrumentation_scope: scope.clone(),
        }
    }

    fn resource() -> Resource {
        Resource::builder_empty()
            .with_service_name("ragtrace-test")
            .with_attribute(KeyValue::new("service.version", "0.1.0"))
            .with_attribute(KeyValue::new("host.cpus", 2_i64))
            .with_schema_url([], "https://opentelemetry.io/schemas/1.30.0")
            .build()
    }

    /// What `opentelemetry-otlp` sends for the same batch: the upstream conversion, prost-encoded.
    fn upstream(spans: &[SpanData], resource: &Resource) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(
                spans.to_vec(),
                &ResourceAttributesWithSchema::from(resource),
            ),
        }
    }

    #[test]
    fn the_request_is_byte_for_byte_what_the_upstream_exporter_sends() {
        let scope = InstrumentationScope::builder("ragtrace")
            .with_version("0.1.0")
            .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
            .with_attributes([KeyValue::new("scope.attr", "x")])
            .build();
        let spans: Vec<SpanData> = (0..6).map(|n| span(n, &scope)).collect();
        let resource = resource();
        let mut ours = Vec::new();
        Encoder::new(&resource).encode(&spans, &mut ours);
        let theirs = upstream(&spans, &resource).encode_to_vec();
        assert_eq!(
            ExportTraceServiceRequest::decode(ours.as_slice()).unwrap(),
            upstream(&spans, &resource)
        );
        let first = ours.iter().zip(&theirs).position(|(a, b)| a != b);
        assert!(
            ours == theirs,
            "the encodings differ from byte {first:?}: {:?} against {:?}",
            &ours[first.unwrap_or(0).saturating_sub(8)..][..24],
            &theirs[first.unwrap_or(0).saturating_sub(8)..][..24]
        );
        // And it reads back as the request it stands for.
        assert_eq!(
            ExportTraceServiceRequest::decode(ours.as_slice()).unwrap(),
            upstream(&spans, &resource)
        );
    }

    #[test]
    fn spans_of_several_scopes_are_grouped_by_scope() {
        let a = InstrumentationScope::builder("ragtrace").build();
        let b = InstrumentationScope::builder("ragtrace-ingest")
            .with_version("2")
            .build();
        let spans = vec![
            span(0, &a),
            span(1, &b),
            span(2, &a),
            span(3, &b),
            span(4, &a),
        ];
        let resource = resource();
        let mut ours = Vec::new();
        Encoder::new(&resource).encode(&spans, &mut ours);
        let mut decoded = ExportTraceServiceRequest::decode(ours.as_slice()).unwrap();
        let mut expected = upstream(&spans, &resource);
        // Upstream orders the scopes by a hash map's iteration; ours by first appearance.
        for request in [&mut decoded, &mut expected] {
            request.resource_spans[0].scope_spans.sort_by(|x, y| {
                x.scope
                    .as_ref()
                    .unwrap()
                    .name
                    .cmp(&y.scope.as_ref().unwrap().name)
            });
        }
        assert_eq!(decoded, expected);
        assert_eq!(decoded.resource_spans[0].scope_spans.len(), 2);
        assert_eq!(decoded.resource_spans[0].scope_spans[0].spans.len(), 3);
    }

    #[test]
    fn an_empty_batch_is_a_request_with_the_resource_only() {
        let resource = resource();
        let mut ours = Vec::new();
        Encoder::new(&resource).encode(&[], &mut ours);
        let decoded = ExportTraceServiceRequest::decode(ours.as_slice()).unwrap();
        assert_eq!(decoded.resource_spans.len(), 1);
        assert!(decoded.resource_spans[0].scope_spans.is_empty());
        assert_eq!(
            decoded.resource_spans[0]
                .resource
                .as_ref()
                .unwrap()
                .attributes
                .len(),
            resource.len()
        );
    }

    #[test]
    fn message_lengths_of_every_size_are_written_minimally() {
        for len in [0, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            let mut out = vec![0xAA];
            message(&mut out, 3, |out| out.resize(out.len() + len, 7));
            let mut expected = vec![0xAA, 3 << 3 | LEN];
            varint(&mut expected, len as u64);
            expected.resize(expected.len() + len, 7);
            assert_eq!(out, expected, "length {len}");
        }
    }

    #[test]
    fn headers_are_read_as_opentelemetry_otlp_reads_them() {
        assert_eq!(
            parse_headers("authorization=Bearer%20xyz, x-team = lumen ,empty=,=v,novalue,k=v%XX"),
            vec![
                ("authorization".to_owned(), "Bearer xyz".to_owned()),
                ("x-team".to_owned(), "lumen".to_owned()),
                ("k".to_owned(), "v%XX".to_owned()),
            ]
        );
        assert_eq!(url_decode("%C3%B6%C3%A0"), Some("öà".to_owned()));
        assert_eq!(url_decode("v%2"), None);
    }
}
