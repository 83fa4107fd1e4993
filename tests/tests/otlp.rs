//! Traces exported over OTLP by the real `ragtrace` binary to a real receiver started by the
//! test: the span tree of one request, W3C context from the caller, masking, sampling, OTLP/HTTP
//! and TLS chosen by the standard `OTEL_*` variables, and `OTEL_SDK_DISABLED`.

use std::collections::HashSet;

use ragtrace_tests::{OtlpReceiver, Process, ReceivedSpan, Transport};
use serde_json::json;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";
const SECRET_KEY: &str = "sk-proj-PLANTEDsecret0123456789abcdef";
const SECRET_MAIL: &str = "ana.silva@northwindlumen.example";

fn find<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no span {name:?}; got {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

fn parent_of<'a>(spans: &'a [ReceivedSpan], child: &ReceivedSpan) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|s| s.span_id == child.parent_span_id)
        .unwrap_or_else(|| panic!("parent of {:?} not exported", child.name))
}

/// One chat request is one trace, continued from the caller's `traceparent`, with the documented
/// span tree and attributes, and the planted secrets masked everywhere.
#[test]
fn chat_request_exports_one_masked_trace() {
    let receiver = OtlpReceiver::start();
    let dir = tempfile::tempdir().unwrap();
    let mut app = Process::ragtrace(
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
            ("OTEL_SERVICE_NAME", "ragtrace-test"),
        ],
    );
    let http = reqwest::blocking::Client::new();
    let resp = http
        .post(format!("{}/v1/chat", app.base))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .json(&json!({
            "question": format!("How much does a Beam bulb cost? my key is {SECRET_KEY}, mail {SECRET_MAIL}"),
            "user_id": SECRET_MAIL,
        }))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().unwrap();
    assert_eq!(
        body["trace_id"], TRACE_ID,
        "the caller's trace is continued"
    );
    let status = app.terminate();
    assert!(
        status.success(),
        "clean exit on SIGTERM: {status:?}\n{}",
        app.output.lock().unwrap().join("\n")
    );

    let spans: Vec<ReceivedSpan> = receiver
        .spans()
        .into_iter()
        .filter(|s| s.trace_id == TRACE_ID)
        .collect();
    assert!(spans.iter().all(|s| s.service == "ragtrace-test"));

    // The tree: HTTP server root under the caller's span, the pipeline under it, stages under that.
    let root = find(&spans, "POST /v1/chat");
    assert_eq!(root.parent_span_id, PARENT_ID);
    assert_eq!(root.kind, 2, "server span");
    // tracing-actix-web's HTTP attributes, as the root span builder records them.
    for (key, value) in [
        ("http.method", "POST"),
        ("http.route", "/v1/chat"),
        ("http.target", "/v1/chat"),
        ("http.flavor", "1.1"),
        ("http.scheme", "http"),
        ("http.client_ip", "127.0.0.1"),
        ("http.status_code", "200"),
    ] {
        assert_eq!(root.attr(key), value, "{key}");
    }
    assert!(root.attr("http.host").starts_with("127.0.0.1:"));
    assert_eq!(root.attr("request_id").len(), 36, "a UUID");
    let pipeline = find(&spans, "rag.pipeline");
    assert_eq!(pipeline.parent_span_id, root.span_id);
    for stage in [
        "cache.lookup",
        "embeddings sim-text-embedding-3-small",
        "retrieval",
        "execute_tool product_search",
        "prompt.build",
        "chat sim-gpt-4o-mini",
        "postprocess",
        "cache.store",
    ] {
        assert_eq!(
            parent_of(&spans, find(&spans, stage)).name,
            "rag.pipeline",
            "{stage} is a pipeline stage"
        );
    }
    let query = find(&spans, "query ragtrace_docs");
    assert_eq!(parent_of(&spans, query).name, "retrieval");
    assert_eq!(query.attr("db.system.name"), "qdrant");
    assert_eq!(query.attr("db.collection.name"), "ragtrace_docs");
    assert!(
        query
            .attr("db.response.returned_rows")
            .parse::<u32>()
            .unwrap()
            > 0
    );
    assert!(!query.attr("ragtrace.retrieval.top_score").is_empty());

    let chat = find(&spans, "chat sim-gpt-4o-mini");
    assert_eq!(chat.kind, 3, "client span");
    assert_eq!(chat.attr("gen_ai.operation.name"), "chat");
    assert_eq!(chat.attr("gen_ai.provider.name"), "openai");
    assert_eq!(chat.attr("gen_ai.request.model"), "sim-gpt-4o-mini");
    assert_eq!(chat.attr("gen_ai.response.model"), "sim-gpt-4o-mini");
    assert!(
        chat.attr("gen_ai.usage.input_tokens")
            .parse::<u32>()
            .unwrap()
            > 0
    );
    assert!(
        chat.attr("gen_ai.usage.output_tokens")
            .parse::<u32>()
            .unwrap()
            > 0
    );
    assert_eq!(chat.attr("gen_ai.response.finish_reasons"), "stop");
    assert!(
        chat.attr("gen_ai.input.messages").is_empty(),
        "prompt text is not recorded by default"
    );
    let embeddings = find(&spans, "embeddings sim-text-embedding-3-small");
    assert_eq!(embeddings.attr("gen_ai.operation.name"), "embeddings");

    // The HTTP hop to the simulator carries the trace: its server span is a child of our client span.
    let llm_http = spans
        .iter()
        .find(|s| s.name == "POST" && s.parent_span_id == chat.span_id)
        .expect("HTTP client span under the chat span");
    assert!(
        spans
            .iter()
            .any(|s| s.kind == 2 && s.parent_span_id == llm_http.span_id),
        "simulator server span joined the trace"
    );
    let tool = find(&spans, "execute_tool product_search");
    assert_eq!(tool.attr("gen_ai.tool.name"), "product_search");
    let catalog_http = spans
        .iter()
        .find(|s| s.name == "GET" && s.parent_span_id == tool.span_id)
        .expect("catalog HTTP span");
    assert_eq!(catalog_http.attr("http.response.status_code"), "200");
    assert!(
        catalog_http.attr("url.full").contains("q=REDACTED"),
        "the question is not in the URL attribute"
    );
    assert!(
        spans
            .iter()
            .any(|s| s.kind == 2 && s.parent_span_id == catalog_http.span_id),
        "catalog server span joined the trace"
    );

    // Business attributes and stage budgets.
    assert_eq!(root.attr("ragtrace.cache_hit"), "false");
    assert!(root.attr("ragtrace.cost_usd").parse::<f64>().unwrap() > 0.0);
    assert_eq!(
        find(&spans, "prompt.build").attr("ragtrace.stage.budget_ms"),
        "100"
    );
    assert_eq!(chat.attr("ragtrace.stage"), "llm");

    // Masking: the planted secrets appear nowhere in what was exported.
    for s in receiver.spans() {
        let text = s.all_text();
        assert!(
            !text.contains(SECRET_KEY),
            "{} leaks the key: {text}",
            s.name
        );
        assert!(
            !text.contains(SECRET_MAIL),
            "{} leaks the e-mail: {text}",
            s.name
        );
    }
    assert_eq!(root.attr("user.id"), "****@****");

    // And nowhere in the logs either.
    let logs = app.output.lock().unwrap().join("\n");
    assert!(!logs.contains(SECRET_KEY) && !logs.contains(SECRET_MAIL));
}

/// New traces are sampled at OTEL_TRACES_SAMPLER_ARG; a sampled caller's trace is always kept.
#[test]
fn sampling_follows_the_ratio_and_the_parent() {
    let receiver = OtlpReceiver::start();
    let dir = tempfile::tempdir().unwrap();
    let mut app = Process::ragtrace(
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ],
    );
    let http = reqwest::blocking::Client::new();
    let n = 400;
    // Unknown routes are cheap and traced; probes and scrapes are not traced at all.
    for _ in 0..n {
        let status = http
            .get(format!("{}/sample-me", app.base))
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 404);
    }
    for _ in 0..20 {
        http.get(format!("{}/healthz", app.base)).send().unwrap();
    }
    let parent = "0af7651916cd43dd8448eb211c80319c";
    http.get(format!("{}/sample-me", app.base))
        .header("traceparent", format!("00-{parent}-b7ad6b7169203331-01"))
        .send()
        .unwrap();
    assert!(app.terminate().success());

    let spans = receiver.spans();
    assert!(
        !spans.iter().any(|s| s.name.contains("/healthz")),
        "probes are not traced"
    );
    let traced: HashSet<&str> = spans
        .iter()
        .filter(|s| s.kind == 2)
        .map(|s| s.trace_id.as_str())
        .collect();
    assert!(
        traced.contains(parent),
        "a sampled parent is always followed"
    );
    let sampled = traced.len() - 1;
    // Binomial(400, 0.25): mean 100, sd 8.7; ±5 sd.
    assert!((57..=143).contains(&sampled), "sampled {sampled} of {n}");
}

/// A collector that is down costs no request: answers keep coming and the process exits cleanly.
#[test]
fn a_dead_collector_costs_no_request() {
    let port = ragtrace_tests::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let mut app = Process::ragtrace(
        dir.path(),
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())],
    );
    let http = reqwest::blocking::Client::new();
    for i in 0..5 {
        let resp = http
            .post(format!("{}/v1/chat", app.base))
            .json(&json!({"question": format!("How do I set up the VPN? ({i})")}))
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    assert!(app.terminate().success());
}

/// With `chat.record_content` on, prompt and completion text are recorded, still masked.
#[test]
fn content_is_recorded_only_when_switched_on_and_masked() {
    let receiver = OtlpReceiver::start();
    let dir = tempfile::tempdir().unwrap();
    let mut app = Process::ragtrace(
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
            ("RAGTRACE__CHAT__RECORD_CONTENT", "true"),
        ],
    );
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/v1/chat", app.base))
        .json(&json!({"question": format!("How do I reset the Lumen Hub 2? key {SECRET_KEY}")}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(app.terminate().success());
    let spans = receiver.spans();
    let chat = find(&spans, "chat sim-gpt-4o-mini");
    let input = chat.attr("gen_ai.input.messages");
    assert!(input.contains("How do I reset the Lumen Hub 2?"), "{input}");
    assert!(
        input.contains("key ****") && !input.contains(SECRET_KEY),
        "{input}"
    );
    assert!(chat.attr("gen_ai.output.messages").contains("assistant"));
}

/// The in-process store keeps what the sampler keeps; with `trace_store.keep_all` it keeps every
/// trace while export stays sampled.
#[test]
fn the_store_keeps_every_trace_only_when_asked() {
    for keep_all in [false, true] {
        let receiver = OtlpReceiver::start();
        let dir = tempfile::tempdir().unwrap();
        let keep = keep_all.to_string();
        let mut app = Process::ragtrace(
            dir.path(),
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.0"),
                ("RAGTRACE__TRACE_STORE__KEEP_ALL", keep.as_str()),
            ],
        );
        let http = reqwest::blocking::Client::new();
        for i in 0..3 {
            let resp = http
                .post(format!("{}/v1/chat", app.base))
                .json(&json!({"question": format!("How do I set up the VPN? ({i})")}))
                .send()
                .unwrap();
            assert_eq!(resp.status(), 200);
        }
        let listed: serde_json::Value = http
            .get(format!("{}/api/traces?operation=POST%20/v1/chat", app.base))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert!(app.terminate().success());
        let stored = listed["total"].as_u64().unwrap();
        if keep_all {
            assert_eq!(stored, 3, "every trace is kept: {listed}");
        } else {
            assert_eq!(stored, 0, "nothing sampled, nothing stored: {listed}");
        }
        assert!(receiver.spans().is_empty(), "export stays sampled at 0 %");
    }
}

/// `trace_store.keep = "slow_and_failed"` at 0 % sampling: the healthy, fast requests are
/// counted and not kept, every failed one is kept whole, and OTLP export stays at 0 %.
#[test]
fn the_store_keeps_failed_traces_under_the_tail_policy() {
    let receiver = OtlpReceiver::start();
    // A healthy simulator, then one whose every chat call fails.
    for (profile, question) in [
        ("scenario=instant", "How do I set up the VPN?"),
        (
            "scenario=instant,chat.error_rate=1.0",
            "How do I reset the Lumen Hub 2?",
        ),
    ] {
        let failing = profile.contains("error_rate");
        let dir = tempfile::tempdir().unwrap();
        let mut app = Process::ragtrace(
            dir.path(),
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.0"),
                ("RAGTRACE__TRACE_STORE__KEEP", "slow_and_failed"),
                ("RAGTRACE__SIMULATOR__PROFILE", profile),
            ],
        );
        let http = reqwest::blocking::Client::new();
        for i in 0..3 {
            let status = http
                .post(format!("{}/v1/chat", app.base))
                .json(&json!({ "question": format!("{question} ({i})") }))
                .send()
                .unwrap()
                .status();
            assert_eq!(status.is_server_error(), failing, "{profile}: {status}");
        }
        let listed: serde_json::Value = http
            .get(format!("{}/api/traces?operation=POST%20/v1/chat", app.base))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert!(app.terminate().success());
        if failing {
            assert_eq!(listed["total"], 3, "every failed trace is kept: {listed}");
            for t in listed["traces"].as_array().unwrap() {
                assert_eq!(t["error"], true, "{t}");
            }
        } else {
            assert_eq!(
                listed["total"], 0,
                "fast healthy traces are not kept: {listed}"
            );
            assert!(
                listed["store"]["not_kept"].as_u64().unwrap() >= 3,
                "{listed}"
            );
        }
    }
    assert!(receiver.spans().is_empty(), "export stays sampled at 0 %");
}

/// The spans `receiver` got of the trace `trace_id`.
fn spans_of(receiver: &OtlpReceiver, trace_id: &str) -> Vec<ReceivedSpan> {
    receiver
        .spans()
        .into_iter()
        .filter(|s| s.trace_id == trace_id)
        .collect()
}

/// Asks one question of an app started with `env`, stops it (which flushes its spans) and
/// returns the answer's trace id, or `None` when it is empty.
fn one_traced_chat(env: &[(&str, &str)]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut app = Process::ragtrace(dir.path(), env);
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/v1/chat", app.base))
        .json(&json!({"question": "How do I reset the Lumen Hub 2?"}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().unwrap();
    let status = app.terminate();
    assert!(
        status.success(),
        "clean exit: {status:?}\n{}",
        app.output.lock().unwrap().join("\n")
    );
    body["trace_id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf` sends protobuf over HTTP to `/v1/traces` under
/// the endpoint, with `OTEL_EXPORTER_OTLP_HEADERS` on every request and
/// `OTEL_RESOURCE_ATTRIBUTES` on the resource: what an OTLP/HTTP-only backend needs.
#[test]
fn http_protobuf_export_reaches_a_real_otlp_http_receiver() {
    let receiver = OtlpReceiver::start_with(Transport::Http, false);
    let trace_id = one_traced_chat(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20workshop-token,x-team=lumen",
        ),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=workshop,service.namespace=ragtrace",
        ),
    ])
    .expect("a traced answer");
    let spans = spans_of(&receiver, &trace_id);
    let pipeline = find(&spans, "rag.pipeline");
    find(&spans, "POST /v1/chat");
    assert_eq!(pipeline.service, "ragtrace");
    assert_eq!(pipeline.resource["deployment.environment.name"], "workshop");
    assert_eq!(pipeline.resource["service.namespace"], "ragtrace");
    let headers = receiver.headers();
    assert!(!headers.is_empty());
    for request in &headers {
        let has = |k: &str, v: &str| request.iter().any(|(hk, hv)| hk == k && hv == v);
        assert!(has("authorization", "Bearer workshop-token"), "{request:?}");
        assert!(has("x-team", "lumen"), "{request:?}");
    }
}

/// Both exporters (`telemetry.otlp_exporter`: the built-in one and `opentelemetry-otlp`'s), over
/// both transports, deliver the same spans with the same attributes and resource, and send
/// `OTEL_EXPORTER_OTLP_HEADERS` with every request.
#[test]
fn both_exporters_deliver_the_same_spans_and_headers_over_both_transports() {
    // Per run: each span's name and kind with its sorted attribute keys.
    type Shape = Vec<(String, Vec<String>)>;
    let mut seen: Vec<(String, Shape)> = Vec::new();
    for exporter in ["builtin", "opentelemetry-otlp"] {
        for (transport, protocol) in [
            (Transport::Grpc, "grpc"),
            (Transport::Http, "http/protobuf"),
        ] {
            let run = format!("{exporter} over {protocol}");
            let receiver = OtlpReceiver::start_with(transport, false);
            let trace_id = one_traced_chat(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                ("RAGTRACE__TELEMETRY__OTLP_EXPORTER", exporter),
                ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=k%2F1,x-team=lumen"),
                (
                    "OTEL_RESOURCE_ATTRIBUTES",
                    "deployment.environment.name=workshop",
                ),
            ])
            .expect("a traced answer");
            let spans = spans_of(&receiver, &trace_id);
            assert!(spans.len() >= 8, "{run}: {} spans", spans.len());
            for span in &spans {
                assert_eq!(span.service, "ragtrace", "{run}");
                assert_eq!(
                    span.resource["deployment.environment.name"], "workshop",
                    "{run}"
                );
            }
            let headers = receiver.headers();
            assert!(!headers.is_empty(), "{run}");
            for request in &headers {
                let has = |k: &str, v: &str| request.iter().any(|(hk, hv)| hk == k && hv == v);
                assert!(has("x-api-key", "k/1"), "{run}: {request:?}");
                assert!(has("x-team", "lumen"), "{run}: {request:?}");
                // The exporter that sent it: the built-in one names ragtrace.
                let agent = request
                    .iter()
                    .find(|(k, _)| k == "user-agent")
                    .map(|(_, v)| v);
                assert_eq!(
                    agent.is_some_and(|a| a.starts_with("ragtrace/")),
                    exporter == "builtin",
                    "{run}: user-agent {agent:?}"
                );
            }
            // Ids, times and measured values differ from run to run; the span tree and the
            // attribute keys do not.
            let mut shape: Shape = spans
                .iter()
                .map(|s| {
                    let mut keys: Vec<String> = s.attributes.keys().cloned().collect();
                    keys.sort();
                    (format!("{} (kind {})", s.name, s.kind), keys)
                })
                .collect();
            shape.sort();
            seen.push((run, shape));
        }
    }
    let (first, expected) = &seen[0];
    for (run, shape) in &seen[1..] {
        assert_eq!(shape, expected, "{run} against {first}");
    }
}

/// An `https://` endpoint is served over TLS by either transport: trusted with
/// `OTEL_EXPORTER_OTLP_CERTIFICATE` (the receiver's self-signed certificate, made by the test),
/// refused without it (nothing arrives: the certificate really is checked).
#[test]
fn https_endpoints_export_over_tls_and_check_the_certificate() {
    for (transport, protocol) in [
        (Transport::Grpc, "grpc"),
        (Transport::Http, "http/protobuf"),
    ] {
        let receiver = OtlpReceiver::start_with(transport, true);
        assert!(receiver.endpoint.starts_with("https://"));
        let cert = receiver.certificate.clone().unwrap();
        let cert = cert.to_str().unwrap();
        let base = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ];
        let untrusted = one_traced_chat(&base).expect("a traced answer");
        assert!(
            receiver.spans().is_empty(),
            "{protocol}: an untrusted certificate must refuse export"
        );
        let mut env = base.to_vec();
        env.push(("OTEL_EXPORTER_OTLP_CERTIFICATE", cert));
        let trusted = one_traced_chat(&env).expect("a traced answer");
        let spans = receiver.spans();
        assert!(
            spans.iter().all(|s| s.trace_id != untrusted),
            "{protocol}: nothing of the refused run"
        );
        let mine: Vec<ReceivedSpan> = spans
            .into_iter()
            .filter(|s| s.trace_id == trusted)
            .collect();
        find(&mine, "rag.pipeline");
    }
}

/// `OTEL_SDK_DISABLED=true` turns tracing off: no span is exported, none is kept by the trace
/// viewer (even with `keep_all`), the answer carries no trace id, and chat still works.
#[test]
fn otel_sdk_disabled_records_and_exports_nothing() {
    let receiver = OtlpReceiver::start();
    let dir = tempfile::tempdir().unwrap();
    let mut app = Process::ragtrace(
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
            ("OTEL_SDK_DISABLED", "TRUE"),
            ("RAGTRACE__TRACE_STORE__KEEP_ALL", "true"),
        ],
    );
    let http = reqwest::blocking::Client::new();
    let body: serde_json::Value = http
        .post(format!("{}/v1/chat", app.base))
        .json(&json!({"question": "How do I set up the VPN?"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        body["answer"].as_str().is_some_and(|a| !a.is_empty()),
        "{body}"
    );
    assert_eq!(body["trace_id"], "", "no trace id: {body}");
    let listed: serde_json::Value = http
        .get(format!("{}/api/traces", app.base))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(app.terminate().success());
    assert_eq!(listed["total"], 0, "nothing stored: {listed}");
    assert!(receiver.spans().is_empty(), "nothing exported");
}
