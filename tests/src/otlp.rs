//! A real OTLP trace receiver, over gRPC or HTTP/protobuf, plain or TLS with a self-signed
//! certificate made here, collecting the spans and request headers it is sent.

/// A span as received by [`OtlpReceiver`].
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// `service.name` of its resource.
    pub service: String,
    /// Every attribute of its resource (`service.version`, `OTEL_RESOURCE_ATTRIBUTES`' pairs).
    pub resource: std::collections::HashMap<String, String>,
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

    /// One export request's headers, lower-case names.
    pub type Headers = Vec<(String, String)>;

    /// The spans and the request headers received, shared by both transports.
    #[derive(Clone, Default)]
    pub struct Collector {
        pub spans: Arc<Mutex<Vec<ReceivedSpan>>>,
        pub headers: Arc<Mutex<Vec<Headers>>>,
        /// Only count the spans (a benchmark's sink receives millions: keeping them all
        /// would take gigabytes).
        pub count_only: bool,
        pub counted: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Collector {
        /// Records one export request: its headers and every span in it.
        pub fn record(&self, headers: Vec<(String, String)>, request: ExportTraceServiceRequest) {
            if self.count_only {
                let n: usize = request
                    .resource_spans
                    .iter()
                    .flat_map(|rs| &rs.scope_spans)
                    .map(|ss| ss.spans.len())
                    .sum();
                self.counted
                    .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                return;
            }
            self.headers.lock().expect("collector lock").push(headers);
            let mut out = self.spans.lock().expect("collector lock");
            for rs in request.resource_spans {
                let resource: std::collections::HashMap<String, String> = rs
                    .resource
                    .as_ref()
                    .map(|r| {
                        r.attributes
                            .iter()
                            .map(|kv| (kv.key.clone(), value(kv)))
                            .collect()
                    })
                    .unwrap_or_default();
                let service = resource.get("service.name").cloned().unwrap_or_default();
                for ss in rs.scope_spans {
                    for s in ss.spans {
                        out.push(ReceivedSpan {
                            service: service.clone(),
                            resource: resource.clone(),
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
        }
    }

    #[tonic::async_trait]
    impl TraceService for Collector {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            let headers = request
                .metadata()
                .iter()
                .filter_map(|kv| match kv {
                    tonic::metadata::KeyAndValueRef::Ascii(k, v) => {
                        Some((k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                    }
                    tonic::metadata::KeyAndValueRef::Binary(..) => None,
                })
                .collect();
            self.record(headers, request.into_inner());
            Ok(tonic::Response::new(ExportTraceServiceResponse {
                partial_success: None,
            }))
        }
    }

    pub fn server(c: Collector) -> TraceServiceServer<Collector> {
        TraceServiceServer::new(c)
    }
}

/// The OTLP transport a receiver speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// OTLP/gRPC (`OTEL_EXPORTER_OTLP_PROTOCOL=grpc`).
    Grpc,
    /// OTLP/HTTP with protobuf bodies on `POST /v1/traces` (`http/protobuf`).
    Http,
}

/// A real OTLP trace receiver on a free port, collecting what it is sent.
pub struct OtlpReceiver {
    /// `http://127.0.0.1:PORT` (or `https://` with TLS), ready for
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`; an HTTP receiver serves `/v1/traces` under it.
    pub endpoint: String,
    /// With TLS: the PEM file of the receiver's self-signed certificate, for
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE`.
    pub certificate: Option<std::path::PathBuf>,
    collector: collector::Collector,
    _dir: Option<tempfile::TempDir>,
    _runtime: tokio::runtime::Runtime,
}

impl OtlpReceiver {
    /// Starts a plain gRPC one on a free port, on its own runtime (so it serves whatever runtime
    /// the test uses).
    pub fn start() -> Self {
        Self::start_on(0)
    }

    /// Starts a plain gRPC one on `port` (0 = a free port).
    pub fn start_on(port: u16) -> Self {
        Self::serve(Transport::Grpc, false, port, false)
    }

    /// A gRPC receiver on `port` that only counts the spans it is sent ([`Self::span_count`]):
    /// what a benchmark's sink needs, in constant memory.
    pub fn counting_on(port: u16) -> Self {
        Self::serve(Transport::Grpc, false, port, true)
    }

    /// How many spans were received: counted, or kept.
    pub fn span_count(&self) -> usize {
        self.collector
            .counted
            .load(std::sync::atomic::Ordering::Relaxed)
            + self.collector.spans.lock().expect("lock").len()
    }

    /// Starts one on a free port speaking `transport`, behind TLS with a certificate for
    /// 127.0.0.1 that it signs itself when `tls` is set.
    pub fn start_with(transport: Transport, tls: bool) -> Self {
        Self::serve(transport, tls, 0, false)
    }

    fn serve(transport: Transport, tls: bool, port: u16, count_only: bool) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("receiver runtime");
        let collector = collector::Collector {
            count_only,
            ..Default::default()
        };
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (identity, dir, certificate) = if tls {
            let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
                .expect("self-signed certificate");
            let dir = tempfile::tempdir().expect("certificate dir");
            let path = dir.path().join("receiver.pem");
            std::fs::write(&path, cert.cert.pem()).expect("write certificate");
            (Some(cert), Some(dir), Some(path))
        } else {
            (None, None, None)
        };
        match transport {
            Transport::Grpc => {
                if tls {
                    // Two rustls backends are linked in; tonic's server takes the process's.
                    let _ =
                        tokio_rustls::rustls::crypto::ring::default_provider().install_default();
                }
                let mut server = tonic::transport::Server::builder();
                if let Some(id) = &identity {
                    server = server
                        .tls_config(tonic::transport::ServerTlsConfig::new().identity(
                            tonic::transport::Identity::from_pem(
                                id.cert.pem(),
                                id.signing_key.serialize_pem(),
                            ),
                        ))
                        .expect("receiver TLS");
                }
                let service = collector::server(collector.clone());
                rt.spawn(async move {
                    server
                        .add_service(service)
                        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                        .await
                        .expect("OTLP receiver serves");
                });
            }
            Transport::Http => {
                let acceptor = identity.map(|id| http_receiver::acceptor(&id));
                rt.spawn(http_receiver::serve(listener, acceptor, collector.clone()));
            }
        }
        let scheme = if tls { "https" } else { "http" };
        Self {
            endpoint: format!("{scheme}://{addr}"),
            certificate,
            collector,
            _dir: dir,
            _runtime: rt,
        }
    }

    /// Everything received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.collector.spans.lock().expect("lock").clone()
    }

    /// The headers of every export request received so far (lower-case names).
    pub fn headers(&self) -> Vec<Vec<(String, String)>> {
        self.collector.headers.lock().expect("lock").clone()
    }
}

/// OTLP/HTTP: `POST /v1/traces` with an `application/x-protobuf` body, answered as the
/// specification says (a protobuf `ExportTraceServiceResponse`; 415 for another body type).
mod http_receiver {
    use std::convert::Infallible;
    use std::sync::Arc;

    use http_body_util::{BodyExt as _, Full};
    use hyper::body::{Bytes, Incoming};
    use hyper::{Method, Request, Response, StatusCode};
    use hyper_util::rt::TokioIo;
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };
    use prost::Message as _;
    use tokio_rustls::TlsAcceptor;
    use tokio_rustls::rustls;

    use super::collector::Collector;

    /// A TLS acceptor presenting `id`'s certificate.
    pub fn acceptor(id: &rcgen::CertifiedKey<rcgen::KeyPair>) -> TlsAcceptor {
        let key = rustls::pki_types::PrivatePkcs8KeyDer::from(id.signing_key.serialize_der());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![id.cert.der().clone()], key.into())
        .expect("receiver certificate");
        TlsAcceptor::from(Arc::new(config))
    }

    pub async fn serve(
        listener: tokio::net::TcpListener,
        tls: Option<TlsAcceptor>,
        collector: Collector,
    ) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (tls, collector) = (tls.clone(), collector.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| handle(req, collector.clone()));
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    Some(acceptor) => {
                        // A client that does not trust the certificate ends here.
                        if let Ok(stream) = acceptor.accept(stream).await {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                    None => {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            });
        }
    }

    async fn handle(
        req: Request<Incoming>,
        collector: Collector,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let reply = |status: StatusCode, body: Vec<u8>| {
            Response::builder()
                .status(status)
                .header("content-type", "application/x-protobuf")
                .body(Full::new(Bytes::from(body)))
                .expect("response")
        };
        if req.method() != Method::POST || req.uri().path() != "/v1/traces" {
            return Ok(reply(StatusCode::NOT_FOUND, Vec::new()));
        }
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let protobuf = headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "application/x-protobuf");
        if !protobuf {
            return Ok(reply(StatusCode::UNSUPPORTED_MEDIA_TYPE, Vec::new()));
        }
        let Ok(body) = req.into_body().collect().await else {
            return Ok(reply(StatusCode::BAD_REQUEST, Vec::new()));
        };
        match ExportTraceServiceRequest::decode(body.to_bytes()) {
            Ok(request) => {
                collector.record(headers, request);
                let ok = ExportTraceServiceResponse {
                    partial_success: None,
                };
                Ok(reply(StatusCode::OK, ok.encode_to_vec()))
            }
            Err(_) => Ok(reply(StatusCode::BAD_REQUEST, Vec::new())),
        }
    }
}
