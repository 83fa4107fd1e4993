//! The simulator's fault modes produce the documented errors within the deadline: bounded
//! retries, then a JSON 502/504, never a hung request.

use std::time::{Duration, Instant};

use ragtrace_tests::{TestApp, parse_sse};
use serde_json::{Value, json};

/// Fast retries and short timeouts so the drills run in seconds.
const FAST: &[(&str, &str)] = &[
    ("RAGTRACE__LLM__TIMEOUT_MS", "400"),
    ("RAGTRACE__LLM__BACKOFF_BASE_MS", "10"),
    ("RAGTRACE__LLM__BACKOFF_MAX_MS", "50"),
    ("RAGTRACE__CHAT__DEADLINE_MS", "5000"),
];

async fn app_with(profile: &str) -> TestApp {
    let mut env = FAST.to_vec();
    env.push(("RAGTRACE__SIMULATOR__PROFILE", profile));
    TestApp::spawn(&env).await
}

async fn ask(app: &TestApp, q: &str) -> (u16, Value, Duration) {
    let started = Instant::now();
    let resp = app.chat(json!({"question": q})).await;
    let status = resp.status().as_u16();
    (
        status,
        resp.json().await.expect("JSON body"),
        started.elapsed(),
    )
}

/// Requests the app's own simulator served to `endpoint` with `outcome`: counted at that
/// simulator, so other tests' simulators in this process do not disturb the count.
fn sim_requests(counts: &Value, endpoint: &str, outcome: &str) -> f64 {
    counts[endpoint][outcome].as_f64().unwrap_or(0.0)
}

/// An LLM that always answers 500 is tried exactly three times, then the client gets a 502.
#[actix_web::test]
async fn server_errors_are_retried_three_times_then_502() {
    let app = app_with("scenario=instant,chat.error_rate=1.0").await;
    let before = app.sim_requests().await;
    let (status, body, _) = ask(&app, "How do I reset the Lumen Hub 2?").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["type"], "llm_upstream");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("after 3 attempts"),
        "{body}"
    );
    let after = app.sim_requests().await;
    assert_eq!(
        sim_requests(&after, "chat", "error") - sim_requests(&before, "chat", "error"),
        3.0,
        "exactly max_attempts calls reached the provider"
    );
    app.stop().await;
}

/// A provider that rate-limits every call ends in a 502 naming the rate limit, with Retry-After.
#[actix_web::test]
async fn rate_limits_end_in_502_with_retry_after() {
    let app = app_with("scenario=instant,chat.rate_limit_rate=1.0,chat.retry_after_secs=0").await;
    let started = Instant::now();
    let resp = app
        .chat(json!({"question": "How do I reset the Lumen Hub 2?"}))
        .await;
    assert_eq!(resp.status(), 502);
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "llm_rate_limited", "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
    app.stop().await;
}

/// A hanging provider costs at most the configured timeouts: a 504, not a hung request.
#[actix_web::test]
async fn hangs_end_in_504_within_the_deadline() {
    let app = app_with("scenario=instant,chat.hang_rate=1.0").await;
    let (status, body, elapsed) = ask(&app, "How do I reset the Lumen Hub 2?").await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error"]["type"], "llm_timeout");
    assert!(
        elapsed < Duration::from_millis(5000),
        "answered within the deadline: {elapsed:?}"
    );
    app.stop().await;
}

/// A slow provider past the whole-request deadline gets a 504 `deadline` error.
#[actix_web::test]
async fn the_request_deadline_bounds_slow_providers() {
    let mut env = FAST.to_vec();
    env.retain(|(k, _)| *k != "RAGTRACE__CHAT__DEADLINE_MS" && *k != "RAGTRACE__LLM__TIMEOUT_MS");
    env.extend([
        ("RAGTRACE__CHAT__DEADLINE_MS", "800"),
        ("RAGTRACE__LLM__TIMEOUT_MS", "10000"),
        (
            "RAGTRACE__SIMULATOR__PROFILE",
            "scenario=instant,chat.latency_ms=5000",
        ),
    ]);
    let app = TestApp::spawn(&env).await;
    let (status, body, elapsed) = ask(&app, "How do I reset the Lumen Hub 2?").await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error"]["type"], "deadline");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    app.stop().await;
}

/// A streamed answer whose provider fails before the first token gets the plain JSON error.
#[actix_web::test]
async fn streamed_failures_before_the_first_token_are_json_errors() {
    let app = app_with("scenario=instant,chat.error_rate=1.0").await;
    let resp = app
        .chat(json!({"question": "How do I reset the Lumen Hub 2?", "stream": true}))
        .await;
    assert_eq!(resp.status(), 502);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "llm_upstream");
    app.stop().await;
}

/// A provider that stalls mid-stream ends the stream with an `error` event within the deadline.
#[actix_web::test]
async fn mid_stream_stalls_end_with_an_error_event() {
    let mut env = FAST.to_vec();
    env.retain(|(k, _)| *k != "RAGTRACE__CHAT__DEADLINE_MS");
    env.extend([
        ("RAGTRACE__CHAT__DEADLINE_MS", "1500"),
        // 60 s spread over the pieces: the first token comes, the rest do not in time.
        (
            "RAGTRACE__SIMULATOR__PROFILE",
            "scenario=instant,chat.latency_ms=60000",
        ),
        ("RAGTRACE__LLM__TIMEOUT_MS", "30000"),
    ]);
    let app = TestApp::spawn(&env).await;
    let started = Instant::now();
    let resp = app
        .chat(json!({"question": "How do I reset the Lumen Hub 2?", "stream": true}))
        .await;
    // The time to first token (a quarter of 60 s) is past the deadline: a plain 504.
    if resp.status() == 504 {
        let body: Value = resp.json().await.unwrap();
        assert!(
            matches!(
                body["error"]["type"].as_str(),
                Some("deadline" | "llm_timeout")
            ),
            "{body}"
        );
    } else {
        assert_eq!(resp.status(), 200);
        let events = parse_sse(&resp.text().await.unwrap());
        assert_eq!(events.last().unwrap().0, "error");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    app.stop().await;
}

/// An unreachable Qdrant server gets a 503 with a clear error and Retry-After, not a crash.
#[actix_web::test]
async fn unreachable_vector_store_is_a_503() {
    let port = ragtrace_tests::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let app = TestApp::spawn(&[
        ("QDRANT_URL", url.as_str()),
        ("RAGTRACE__VECTOR_STORE__TIMEOUT_MS", "500"),
        ("RAGTRACE__VECTOR_STORE__CONNECT_TIMEOUT_MS", "300"),
    ])
    .await;
    let resp = app
        .chat(json!({"question": "How do I reset the Lumen Hub 2?"}))
        .await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "vector_store", "{body}");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(
        ready["checks"]["vector_store"]["status"], "error",
        "{ready}"
    );
    app.stop().await;
}

/// A provider that quotes the caller's key in its error text: the 502 says the status and the
/// attempts, never the provider's words; the words reach the span, masked.
#[actix_web::test]
async fn a_providers_error_text_never_reaches_the_caller() {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    const PLANTED: &str = "sk-proj-PLANTEDkey0123456789abcdef";
    // The stand-in provider: chat completions fail with the key in the message; everything else
    // (embeddings, models) is the simulator's.
    let sim = ragtrace_sim::start(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        ragtrace_sim::SimOptions {
            profiles: ragtrace_sim::profile::Profiles::instant(),
            ..ragtrace_sim::SimOptions::default()
        },
    )
    .unwrap();
    let upstream = sim.openai_base_url();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let upstream = upstream.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let upstream = upstream.clone();
            async move {
                let path = req.path().trim_start_matches("/v1");
                if path == "/chat/completions" {
                    return HttpResponse::InternalServerError().json(json!({"error": {
                        "message": format!("internal error handling key {PLANTED} for this org"),
                        "type": "server_error"}}));
                }
                let resp = reqwest::Client::new()
                    .request(
                        reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap(),
                        format!("{upstream}{path}"),
                    )
                    .header("content-type", "application/json")
                    .body(body.to_vec())
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                    .content_type("application/json")
                    .body(resp.bytes().await.unwrap())
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let provider = actix_web::rt::spawn(server);
    let base = format!("http://127.0.0.1:{port}/v1");
    let mut env = FAST.to_vec();
    env.push(("OPENAI_BASE_URL", base.as_str()));
    let app = TestApp::spawn(&env).await;
    let resp = app
        .chat(json!({"question": "How do I reset the Lumen Hub 2?"}))
        .await;
    assert_eq!(resp.status(), 502);
    let trace_id = resp.headers()["traceresponse"].to_str().unwrap()[3..35].to_owned();
    let text = resp.text().await.unwrap();
    assert!(
        !text.contains("PLANTED"),
        "the key reached the caller: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["type"], "llm_upstream", "{body}");
    assert_eq!(
        body["error"]["message"],
        "the LLM provider failed with HTTP 500 after 3 attempts"
    );
    // The provider's message is on the trace, masked.
    let trace = app.trace(&trace_id, &["POST /v1/chat"]).await.to_string();
    assert!(
        trace.contains("internal error handling key **** for this org"),
        "the provider's words are on the trace, masked: {trace}"
    );
    assert!(!trace.contains("PLANTED"), "{trace}");
    app.stop().await;
    provider.abort();
}
