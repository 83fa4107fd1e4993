//! The trace API over the in-process store: filters, pagination, one trace's spans, the
//! breakdown, and bad queries.

use ragtrace_tests::TestApp;
use serde_json::{Value, json};

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let resp = app.get(path).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// Chats show up in the store with their business attributes; the filters and pages work.
#[actix_web::test]
async fn traces_are_listed_filtered_and_paged() {
    let app = TestApp::spawn(&[]).await;
    let mut ids = Vec::new();
    for (i, q) in [
        "How do I reset the Lumen Hub 2?",
        "How much does a Beam bulb cost?",
        "How do I reset the Lumen Hub 2?",
    ]
    .iter()
    .enumerate()
    {
        let user = if i == 1 {
            "trace-test-bob"
        } else {
            "trace-test-alice"
        };
        let body: Value = app
            .chat(json!({"question": q, "user_id": user}))
            .await
            .json()
            .await
            .unwrap();
        ids.push(body["trace_id"].as_str().unwrap().to_owned());
    }

    let (status, alice) = get(&app, "/api/traces?user_id=trace-test-alice").await;
    assert_eq!(status, 200);
    assert_eq!(alice["total"], 2);
    let listed: Vec<&str> = alice["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[2].as_str(), ids[0].as_str()], "newest first");
    let first = &alice["traces"][0];
    assert_eq!(first["root"], "POST /v1/chat");
    assert_eq!(
        first["cache_hit"], true,
        "the repeated question was a cache hit"
    );
    assert_eq!(
        first["cost_usd"], 0.0,
        "the root's cost: nothing was spent on a cache hit"
    );
    assert!(first["span_count"].as_u64().unwrap() >= 3);
    assert!(alice["store"]["max_traces"].as_u64().unwrap() > 0);

    let (_, hits) = get(&app, "/api/traces?user_id=trace-test-alice&cache_hit=false").await;
    assert_eq!(hits["total"], 1);
    let (_, tool) = get(
        &app,
        "/api/traces?operation=execute_tool%20product_search&user_id=trace-test-bob",
    )
    .await;
    assert_eq!(tool["traces"][0]["trace_id"], ids[1].as_str());
    let (_, page) = get(
        &app,
        "/api/traces?user_id=trace-test-alice&limit=1&offset=1",
    )
    .await;
    assert_eq!(page["traces"].as_array().unwrap().len(), 1);
    assert_eq!(page["traces"][0]["trace_id"], ids[0].as_str());
    let (_, none) = get(
        &app,
        "/api/traces?user_id=trace-test-alice&min_duration_ms=600000",
    )
    .await;
    assert_eq!(none["total"], 0);
    let (_, ok) = get(&app, "/api/traces?user_id=trace-test-alice&error=false").await;
    assert_eq!(ok["total"], 2);
    app.stop().await;
}

/// One trace comes back whole: every span with ids, parent, timing, status and attributes.
#[actix_web::test]
async fn a_trace_has_every_span() {
    let app = TestApp::spawn(&[]).await;
    let body: Value = app
        .chat(json!({"question": "How much does a Beam bulb cost?", "user_id": "trace-test-carol@example.com"}))
        .await
        .json()
        .await
        .unwrap();
    let id = body["trace_id"].as_str().unwrap();
    let (status, trace) = get(&app, &format!("/api/traces/{id}")).await;
    assert_eq!(status, 200);
    let spans = trace["spans"].as_array().unwrap();
    let find = |name: &str| {
        spans
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {trace}"))
    };
    let root = find("POST /v1/chat");
    let chat = find("chat sim-gpt-4o-mini");
    assert_eq!(root["kind"], "server");
    assert_eq!(chat["kind"], "client");
    assert!(chat["duration_us"].as_u64().unwrap() > 0);
    let attrs: serde_json::Map<String, Value> = chat["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| (kv[0].as_str().unwrap().to_owned(), kv[1].clone()))
        .collect();
    assert_eq!(attrs["gen_ai.operation.name"], "chat");
    assert!(attrs["gen_ai.usage.output_tokens"].as_i64().unwrap() > 0);
    assert!(spans.iter().all(|s| s["trace_id"] == id));
    assert!(
        spans
            .iter()
            .filter(|s| s["parent_span_id"] != "")
            .all(|s| spans.iter().any(|p| p["span_id"] == s["parent_span_id"])),
        "every parent is in the trace"
    );
    assert_eq!(
        trace["summary"]["user_id"], "****@****",
        "masked before the store sees it"
    );
    assert!(!trace.to_string().contains("carol@example.com"));
    app.stop().await;
}

/// The breakdown covers every stage a product question runs, and the shares add up to one.
#[actix_web::test]
async fn breakdown_covers_the_stages() {
    let app = TestApp::spawn(&[]).await;
    for i in 0..3 {
        app.chat(json!({"question": format!("Which motion sensors do you sell? ({i})"), "user_id": "breakdown-test"}))
            .await;
    }
    let (status, b) = get(&app, "/api/breakdown?user_id=breakdown-test").await;
    assert_eq!(status, 200);
    assert_eq!(b["traces"], 3);
    let stages: Vec<&str> = b["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    for s in [
        "cache",
        "embeddings",
        "retrieval",
        "external_api",
        "prompt",
        "llm",
        "postprocess",
    ] {
        assert!(stages.contains(&s), "{s} in {b}");
    }
    let share: f64 = b["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["share"].as_f64().unwrap())
        .sum();
    assert!((share - 1.0).abs() < 1e-6, "{b}");
    assert!(b["slowest_stage"].is_string());
    app.stop().await;
}

/// Bad queries get 4xx JSON errors that say what is wrong.
#[actix_web::test]
async fn bad_trace_queries_are_rejected() {
    let app = TestApp::spawn(&[]).await;
    for (path, status) in [
        ("/api/traces?limit=0", 422),
        ("/api/traces?limit=abc", 422),
        ("/api/traces?colour=red", 422),
        ("/api/traces?min_duration_ms=10&max_duration_ms=5", 422),
        ("/api/traces/not-a-trace-id", 422),
        ("/api/traces/0123456789abcdef0123456789abcdef", 404),
        ("/api/breakdown?limit=0", 422),
    ] {
        let (got, body) = get(&app, path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{path}: {body}"
        );
    }
    app.stop().await;
}

/// The live tiles count every chat request; the UI config carries the Jaeger link when set.
#[actix_web::test]
async fn live_stats_and_ui_config() {
    let app = TestApp::spawn(&[("RAGTRACE__UI__JAEGER_URL", "http://localhost:16686/")]).await;
    let (_, before) = get(&app, "/api/stats").await;
    assert_eq!(before["window_seconds"], 60);
    for q in ["How do I reset a Beam bulb?", "How do I reset a Beam bulb?"] {
        assert_eq!(app.chat(json!({"question": q})).await.status(), 200);
    }
    assert_eq!(app.chat_raw(b"{bad").await.status(), 400);
    let (status, s) = get(&app, "/api/stats").await;
    assert_eq!(status, 200);
    assert!(
        s["requests_per_second"].as_f64().unwrap() >= 2.0 / 60.0,
        "{s}"
    );
    assert!(s["p95_ms"].as_f64().unwrap() > 0.0);
    assert!(
        s["cache_hit_rate"].as_f64().unwrap() > 0.0,
        "one of the two was a hit: {s}"
    );
    assert!(s["spend_usd"].as_f64().unwrap() > 0.0);
    let (_, cfg) = get(&app, "/api/ui-config").await;
    assert_eq!(cfg["jaeger_url"], "http://localhost:16686");
    app.stop().await;
}

/// A streamed answer's LLM span lasts until the last token, not until the stream opened.
#[actix_web::test]
async fn streamed_llm_span_covers_the_whole_stream() {
    let app = TestApp::spawn(&[(
        "RAGTRACE__SIMULATOR__PROFILE",
        "scenario=instant,chat.latency_ms=800",
    )])
    .await;
    let body = app
        .chat(json!({"question": "How do I reset a Beam bulb?", "stream": true, "user_id": "stream-span-test"}))
        .await
        .text()
        .await
        .unwrap();
    let done = ragtrace_tests::parse_sse(&body).pop().unwrap().1;
    let id = done["trace_id"].as_str().unwrap().to_owned();
    let complete = ragtrace_tests::eventually(std::time::Duration::from_secs(5), || async {
        let (_, trace) = get(&app, &format!("/api/traces/{id}")).await;
        if trace["summary"]["complete"] == true {
            Ok(trace)
        } else {
            Err(())
        }
    })
    .await;
    let chat_us = complete.map_or(0, |trace| {
        trace["spans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "chat sim-gpt-4o-mini")
            .map_or(0, |c| c["duration_us"].as_u64().unwrap())
    });
    // The simulator spreads 800 ms over the stream; a quarter of it comes before the first token.
    assert!(chat_us >= 600_000, "LLM span lasted {chat_us} µs");
    app.stop().await;
}
