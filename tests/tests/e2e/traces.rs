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

/// POSTs `body` to `/api/traces` and returns the status and JSON answer.
async fn import(app: &TestApp, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let resp = app
        .http
        .post(format!("{}/api/traces", app.base))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// A transcription's trace, written by `ragtrace-ingest transcribe --trace-out` in a process of
/// its own, opens in the app's viewer through `POST /api/traces`: the same spans, its batches and
/// chunks under the job. Importing it twice, or a malformed document, gets a clear 4xx.
#[actix_web::test]
async fn a_transcription_trace_from_another_process_opens_in_the_viewer() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("meeting.wav");
    let trace_file = dir.path().join("job.trace.json");
    let audio = ragtrace_tests::command("ragtrace-ingest")
        .args(["gen-audio", "--minutes", "2"])
        .arg(&wav)
        .output()
        .unwrap();
    assert!(
        audio.status.success(),
        "{}",
        String::from_utf8_lossy(&audio.stderr)
    );
    let run = ragtrace_tests::command("ragtrace-ingest")
        .arg("--data-dir")
        .arg(dir.path().join("store"))
        .args([
            "transcribe",
            "--strategy",
            "bounded",
            "--batch-size",
            "2",
            "--no-index",
        ])
        .arg("--trace-out")
        .arg(&trace_file)
        .arg(&wav)
        .env("RAGTRACE__SIMULATOR__PROFILE", "scenario=instant")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("written to"), "{stderr}");
    let text = std::fs::read_to_string(&trace_file).unwrap();
    let saved: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        saved["summary"]["root"], "transcribe bounded",
        "{}",
        saved["summary"]
    );
    let names = |doc: &Value| -> Vec<String> {
        doc["spans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let saved_names = names(&saved);
    assert!(
        saved_names.iter().any(|n| n == "transcribe batch"),
        "{saved_names:?}"
    );
    assert!(
        saved_names
            .iter()
            .filter(|n| *n == "transcribe chunk")
            .count()
            >= 4,
        "{saved_names:?}"
    );
    // Every chunk nests in a batch, every batch in the job.
    let spans = saved["spans"].as_array().unwrap();
    let name_of = |id: &Value| {
        spans
            .iter()
            .find(|s| &s["span_id"] == id)
            .map(|s| s["name"].as_str().unwrap())
    };
    for s in spans {
        let expected = match s["name"].as_str().unwrap() {
            "transcribe chunk" => "transcribe batch",
            "transcribe batch" => "transcribe bounded",
            _ => continue,
        };
        assert_eq!(name_of(&s["parent_span_id"]), Some(expected), "{s}");
    }

    let app = TestApp::spawn(&[]).await;
    let (status, created) = import(&app, text.clone()).await;
    assert_eq!(status, 201, "{created}");
    let id = created["trace_id"].as_str().unwrap();
    assert_eq!(created["spans"], saved["spans"].as_array().unwrap().len());
    let (status, got) = get(&app, &format!("/api/traces/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got["summary"]["root"], "transcribe bounded");
    let mut a = names(&got);
    let mut b = saved_names.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "the viewer holds the same spans");
    assert_eq!(
        got["spans"], saved["spans"],
        "span for span, attribute for attribute"
    );

    let (status, again) = import(&app, text).await;
    assert_eq!(status, 409, "{again}");
    assert!(
        again["error"]["hint"].as_str().unwrap().contains(id),
        "{again}"
    );

    let (status, body) = import(&app, "{not json").await;
    assert_eq!(status, 400, "{body}");
    let mut broken = saved.clone();
    broken["spans"][1]["span_id"] = json!("xyz");
    let (status, body) = import(&app, broken.to_string()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "spans[1].span_id", "{body}");
    let (status, body) = import(&app, json!({"spans": []}).to_string()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "spans");
    app.stop().await;
}
