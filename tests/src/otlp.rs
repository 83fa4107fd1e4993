//! A real OTLP gRPC trace receiver, collecting the spans it is sent.

use std::sync::{Arc, Mutex};

/// A span as received by [`OtlpReceiver`].
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// `service.name` of its resource.
    pub service: String,
    /// Lower-case hex trace id, comparable with the `trace_id` of a chat response.
    pub trace_id: String,
    /// Lower-case hex span id, to match against the `parent_span_id` of children.
    pub span_id: String,
    /// Hex parent span id, empty for a root.
    pub parent_span_id: String,
    /// Span name as exported (e.g. `POST` for an HTTP client span).
    pub name: String,
    /// OTLP span kind (1 internal, 2 server, 3 client).
    pub kind: i32,
    /// Attribute values as strings (bools `true`/`false`, numbers in decimal), easy to assert on.
    pub attributes: std::collections::HashMap<String, String>,
    /// Event names and their attributes, stringified.
    pub events: Vec<(String, Vec<(String, String)>)>,
    /// The span status's message (empty when unset), e.g. the error of a failed stage.
    pub status_message: String,
}

impl ReceivedSpan {
    /// An attribute's value, or `""`.
    pub fn attr(&self, key: &str) -> &str {
        self.attributes.get(key).map_or("", String::as_str)
    }

    /// Every string this span carries (name, attributes, events, status), for leak checks.
    pub fn all_text(&self) -> String {
        let mut s = format!("{} {} ", self.name, self.status_message);
        for (k, v) in &self.attributes {
            s.push_str(&format!("{k}={v} "));
        }
        for (n, attrs) in &self.events {
            s.push_str(n);
            for (k, v) in attrs {
                s.push_str(&format!(" {k}={v}"));
            }
        }
        s
    }
}

mod collector {
    use super::ReceivedSpan;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
        TraceService, TraceServiceServer,
    };
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };
    use opentelemetry_proto::tonic::common::v1::KeyValue;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use std::sync::{Arc, Mutex};

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn value(kv: &KeyValue) -> String {
        match kv.value.as_ref().and_then(|a| a.value.as_ref()) {
            Some(Value::StringValue(s)) => s.clone(),
            Some(Value::BoolValue(b)) => b.to_string(),
            Some(Value::IntValue(i)) => i.to_string(),
            Some(Value::DoubleValue(d)) => d.to_string(),
            Some(other) => format!("{other:?}"),
            None => String::new(),
        }
    }

    #[derive(Clone, Default)]
    pub struct Collector(pub Arc<Mutex<Vec<ReceivedSpan>>>);

    #[tonic::async_trait]
    impl TraceService for Collector {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            let mut out = self.0.lock().expect("collector lock");
            for rs in request.into_inner().resource_spans {
                let service = rs
                    .resource
                    .as_ref()
                    .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
                    .map(value)
                    .unwrap_or_default();
                for ss in rs.scope_spans {
                    for s in ss.spans {
                        out.push(ReceivedSpan {
                            service: service.clone(),
                            trace_id: hex(&s.trace_id),
                            span_id: hex(&s.span_id),
                            parent_span_id: hex(&s.parent_span_id),
                            name: s.name.clone(),
                            kind: s.kind,
                            attributes: s
                                .attributes
                                .iter()
                                .map(|kv| (kv.key.clone(), value(kv)))
                                .collect(),
                            events: s
                                .events
                                .iter()
                                .map(|e| {
                                    (
                                        e.name.clone(),
                                        e.attributes
                                            .iter()
                                            .map(|kv| (kv.key.clone(), value(kv)))
                                            .collect(),
                                    )
                                })
                                .collect(),
                            status_message: s.status.map(|st| st.message).unwrap_or_default(),
                        });
                    }
                }
            }
            Ok(tonic::Response::new(ExportTraceServiceResponse {
                partial_success: None,
            }))
        }
    }

    pub fn server(c: Collector) -> TraceServiceServer<Collector> {
        TraceServiceServer::new(c)
    }
}

/// A real OTLP gRPC trace receiver on a free port, collecting what it is sent.
pub struct OtlpReceiver {
    /// `http://127.0.0.1:PORT`, ready for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub endpoint: String,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    _runtime: tokio::runtime::Runtime,
}

impl OtlpReceiver {
    /// Starts one on a free port, on its own runtime (so it serves whatever runtime the test
    /// uses).
    pub fn start() -> Self {
        Self::start_on(0)
    }

    /// Starts one on `port` (0 = a free port).
    pub fn start_on(port: u16) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("receiver runtime");
        let collector = collector::Collector::default();
        let spans = collector.0.clone();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        rt.spawn(async move {
            tonic::transport::Server::builder()
                .add_service(collector::server(collector))
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
                .expect("OTLP receiver serves");
        });
        Self {
            endpoint: format!("http://{addr}"),
            spans,
            _runtime: rt,
        }
    }

    /// Everything received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().expect("lock").clone()
    }
}
