//! The chat API end to end against the embedded stack (edge store, in-process cache, simulator).

use ragtrace_tests::{TestApp, get_json, parse_sse};
use serde_json::{Value, json};

/// A plain chat answers with sources, usage, cost and a trace id that matches `traceresponse`.
#[actix_web::test]
async fn plain_chat_answers_with_sources_usage_and_trace() {
    let app = TestApp::spawn(&[]).await;
    let resp = app
        .chat(json!({"question": "How many weeks of paid parental leave does a birth parent get?", "user_id": "u-42"}))
        .await;
    assert_eq!(resp.status(), 200);
    let traceresponse = resp
        .headers()
        .get("traceresponse")
        .expect("traceresponse header")
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = resp.json().await.unwrap();
    let answer = body["answer"].as_str().unwrap();
    assert!(answer.contains("20 weeks"), "{answer}");
    assert!(
        answer.contains("[1]") || answer.contains("[2]"),
        "cites a source: {answer}"
    );
    let sources = body["sources"].as_array().unwrap();
    assert!(!sources.is_empty());
    assert!(
        sources
            .iter()
            .any(|s| s["source"] == "docs/hr-parental-leave.md" && s["cited"] == true),
        "{sources:?}"
    );
    assert!(body["usage"]["input_tokens"].as_u64().unwrap() > 50);
    assert!(body["usage"]["output_tokens"].as_u64().unwrap() > 0);
    assert!(body["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(body["cache_hit"], false);
    assert!(body["model"].as_str().unwrap().starts_with("sim-"));
    let trace_id = body["trace_id"].as_str().unwrap();
    assert_eq!(trace_id.len(), 32);
    assert_eq!(traceresponse.split('-').nth(1), Some(trace_id));
    app.stop().await;
}

/// The same question, differently cased and punctuated, is answered from the cache at no cost.
#[actix_web::test]
async fn repeated_question_is_a_cache_hit() {
    let app = TestApp::spawn(&[]).await;
    let first: Value = app
        .chat(json!({"question": "How do I reset a Beam bulb?"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["cache_hit"], false);
    let resp = app
        .chat(json!({"question": "how do i reset a beam bulb"}))
        .await;
    assert_eq!(resp.headers()["content-type"], "application/json");
    let traceresponse = resp.headers()["traceresponse"].to_str().unwrap().to_owned();
    let second: Value = resp.json().await.unwrap();
    assert_eq!(second["cache_hit"], true);
    assert_eq!(second["answer"], first["answer"]);
    assert_eq!(second["sources"], first["sources"]);
    assert_eq!(second["model"], first["model"]);
    assert_eq!(second["cost_usd"], 0.0);
    assert_eq!(
        second["usage"],
        json!({"input_tokens": 0, "output_tokens": 0, "embedding_tokens": 0})
    );
    assert_ne!(
        second["trace_id"], first["trace_id"],
        "each request has its own trace"
    );
    assert_eq!(
        traceresponse.split('-').nth(1),
        second["trace_id"].as_str(),
        "the cached answer carries this request's trace id"
    );
    // The body is a whole `ChatResponse`, nothing more.
    let _: ragtrace::domain::ChatResponse = serde_json::from_value(second.clone()).unwrap();
    let fields = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(fields(&second), fields(&first));
    app.stop().await;
}

/// A streamed chat sends sources, deltas that add up to the answer, then the whole response.
#[actix_web::test]
async fn streamed_chat_sends_sources_deltas_and_done() {
    let app = TestApp::spawn(&[]).await;
    let resp = app
        .chat(json!({"question": "How much does a Beam bulb cost?", "stream": true}))
        .await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = parse_sse(&resp.text().await.unwrap());
    assert_eq!(events.first().map(|e| e.0.as_str()), Some("sources"));
    let deltas: String = events
        .iter()
        .filter(|e| e.0 == "delta")
        .map(|e| e.1["text"].as_str().unwrap())
        .collect();
    assert!(
        events.iter().filter(|e| e.0 == "delta").count() > 1,
        "streamed in pieces"
    );
    let (last, done) = events.last().unwrap();
    assert_eq!(last, "done");
    assert_eq!(
        deltas.split_whitespace().collect::<Vec<_>>().join(" "),
        done["answer"]
    );
    assert!(
        done["usage"]["output_tokens"].as_u64().unwrap() > 0,
        "usage from include_usage"
    );
    // A product question calls the product-search tool: products are among the sources.
    assert!(
        done["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["source"] == "catalog"),
        "{done}"
    );

    // Streaming a cached answer also works.
    let again = parse_sse(
        &app.chat(json!({"question": "How much does a Beam bulb cost?", "stream": true}))
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(again.last().unwrap().1["cache_hit"], true);
    app.stop().await;
}

/// Bad input gets a 4xx with a JSON body naming the field and the rule.
#[actix_web::test]
async fn bad_input_gets_clear_json_errors() {
    let app = TestApp::spawn(&[]).await;
    let long = format!(r#"{{"question": "{}"}}"#, "a".repeat(2001));
    let long: &'static [u8] = Box::leak(long.into_bytes().into_boxed_slice());
    let huge = format!(r#"{{"question": "{}"}}"#, "a".repeat(70_000));
    let huge: &'static [u8] = Box::leak(huge.into_bytes().into_boxed_slice());
    let cases: &[(&'static [u8], u16, Option<&str>)] = &[
        (b"{not json", 400, None),
        (b"", 400, None),
        (br#"{"question": 42}"#, 422, Some("question")),
        (br#"{"question": ""}"#, 422, Some("question")),
        (
            br#"{"question": "ok", "stream": "yes"}"#,
            422,
            Some("stream"),
        ),
        (br#"{"question": "ok", "extra": 1}"#, 422, Some("extra")),
        (long, 422, Some("question")),
        (huge, 413, None),
        (br#"{"question": "ok"} trailing"#, 400, None),
    ];
    for (body, status, field) in cases {
        let resp = app.chat_raw(body).await;
        assert_eq!(
            resp.status().as_u16(),
            *status,
            "body {:?}",
            String::from_utf8_lossy(&body[..body.len().min(40)])
        );
        let json: Value = resp.json().await.expect("JSON error body");
        let err = &json["error"];
        assert!(
            err["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{json}"
        );
        assert_eq!(err["field"].as_str(), *field, "{json}");
        if *status == 413 {
            assert!(
                err["hint"]
                    .as_str()
                    .is_some_and(|h| h.contains("shorter question")),
                "{json}"
            );
        }
    }
    // Invalid requests are "rejected", not errors of the service: they do not burn the SLO.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let value = |series: &str| ragtrace_tests::metric_value(&metrics, series);
    assert!(
        value(r#"ragtrace_chat_requests_total{outcome="rejected",cache_hit="false"}"#)
            >= cases.len() as f64
    );
    let resp = app.get("/v1/nope").await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "not_found"
    );
    let resp = app.get("/v1/chat").await;
    assert_eq!(resp.status(), 405);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "method_not_allowed"
    );
    app.stop().await;
}

/// `/healthz` is alive and `/readyz` reports every dependency.
#[actix_web::test]
async fn health_and_readiness() {
    let app = TestApp::spawn(&[]).await;
    let h: Value = app.get("/healthz").await.json().await.unwrap();
    assert_eq!(h["status"], "ok");
    let resp = app.get("/readyz").await;
    assert_eq!(resp.status(), 200);
    let r: Value = resp.json().await.unwrap();
    assert_eq!(r["status"], "ready");
    for check in ["vector_store", "cache", "llm"] {
        assert_eq!(r["checks"][check]["status"], "ok", "{r}");
    }
    assert!(
        r["checks"]["vector_store"]["detail"]["points"]
            .as_u64()
            .unwrap()
            >= 100,
        "demo corpus indexed: {r}"
    );
    app.stop().await;
}

/// With the product-search cache on, a differently worded question about the same product is
/// served from the cache (case study 1's fix), while the answer cache still misses.
#[actix_web::test]
async fn product_search_results_are_cached_across_wordings() {
    let app = TestApp::spawn(&[("RAGTRACE__CATALOG__CACHE_ENABLED", "true")]).await;
    let hits = |m: &str| {
        ragtrace_tests::metric_value(
            m,
            r#"ragtrace_cache_requests_total{cache="catalog",result="hit"}"#,
        )
    };
    let first: Value = app
        .chat(json!({"question": "How much does a Beam bulb cost?"}))
        .await
        .json()
        .await
        .unwrap();
    let before = hits(&app.get("/metrics").await.text().await.unwrap());
    let second: Value = app
        .chat(json!({"question": "What is the price of the Beam bulb"}))
        .await
        .json()
        .await
        .unwrap();
    let after = hits(&app.get("/metrics").await.text().await.unwrap());
    assert_eq!(
        second["cache_hit"], false,
        "a different question: the answer cache misses"
    );
    assert_eq!(
        after - before,
        1.0,
        "the product search was served from its cache"
    );
    let products = |v: &Value| -> Vec<String> {
        v["sources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["source"] == "catalog")
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(products(&first), products(&second));
    app.stop().await;
}

/// The README's "Try it" examples reproduce: each question, asked of the embedded defaults,
/// answers with the text the README shows (up to its `…`) and cites what it shows cited.
#[actix_web::test]
async fn the_readmes_example_answer_reproduces() {
    let readme = include_str!("../../../README.md");
    let try_it = &readme[readme.find("## Try it").expect("README has Try it")..];
    let between = |s: &str, start: &str, end: &str| -> String {
        let i = s.find(start).expect(start) + start.len();
        s[i..i + s[i..].find(end).expect(end)].to_owned()
    };
    let app = TestApp::spawn(&[("RAGTRACE__SIMULATOR__PROFILE", "scenario=instant")]).await;
    // Asks `question` and checks the answer starts with what the README shows (up to its `…`).
    let answers_as_shown = |question: String, shown: String| {
        let app = &app;
        async move {
            let resp: Value = app
                .chat(json!({"question": question, "user_id": "readme"}))
                .await
                .json()
                .await
                .unwrap();
            let answer = resp["answer"].as_str().unwrap();
            let prefix = shown.trim_end_matches('…').trim_end();
            assert!(
                answer.starts_with(prefix),
                "README shows {prefix:?} for {question:?}; the demo answers {answer:?}"
            );
            resp
        }
    };

    let question = between(try_it, "\"question\": \"", "\"");
    let shown = between(try_it, "\"answer\": \"", "\"");
    let cited = between(try_it, "{\"marker\": \"P1\", \"id\": \"", "\"");
    let resp = answers_as_shown(question, shown).await;
    let sources = resp["sources"].as_array().unwrap();
    assert!(
        sources
            .iter()
            .any(|s| s["id"] == cited.as_str() && s["cited"] == true),
        "{cited} is cited: {sources:?}"
    );

    // The streaming example: its question answers with the steps its `done` event shows, from
    // the document its `sources` event shows first.
    let at = try_it
        .find("\"stream\": true}'")
        .expect("a streaming example");
    let stream = &try_it[try_it[..at].rfind('\n').unwrap_or(0)..];
    let request = between(&stream[..1 + stream[1..].find('\n').unwrap()], "-d '", "'");
    let request: Value = serde_json::from_str(&request).unwrap();
    let shown = between(stream, "data: {\"answer\":\"", "\"");
    let first_source = between(stream, "\"source\":\"", "\"");
    let question = request["question"].as_str().unwrap().to_owned();
    let resp = answers_as_shown(question, shown).await;
    assert_eq!(resp["sources"][0]["source"], first_source.as_str());
    assert_eq!(resp["sources"][0]["cited"], true, "{resp}");
    app.stop().await;
}

/// A golden-set run names the expected sources in a header: the retrieval span records where
/// the first of them ranked (beside which legs found each passage), the summary of that user's
/// requests gives the quality beside the time, and a malformed header is refused with a 422.
#[actix_web::test]
async fn a_golden_set_run_grades_its_requests_on_the_trace() {
    let app = TestApp::spawn(&[("RAGTRACE__SIMULATOR__PROFILE", "scenario=instant")]).await;
    let ask = |question: &'static str, expect: &'static str| {
        app.http
            .post(format!("{}/v1/chat", app.base))
            .header("x-ragtrace-expect-sources", expect)
            .json(&json!({"question": question, "user_id": "golden"}))
            .send()
    };
    let found: Value = ask(
        "How do I reset the Lumen Hub 2?",
        "hr-sick-leave.md, product-lumen-hub-2-troubleshooting.md",
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    // Another question: the same one again would be answered from the answer cache, which
    // retrieves nothing.
    let missed: Value = ask(
        "How do I factory reset the Lumen Hub 2?",
        "hr-sick-leave.md",
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let retrieval = |trace: &Value| -> serde_json::Map<String, Value> {
        trace["spans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "retrieval")
            .unwrap()["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|kv| (kv[0].as_str().unwrap().to_owned(), kv[1].clone()))
            .collect()
    };
    let trace = app
        .trace(found["trace_id"].as_str().unwrap(), &["retrieval"])
        .await;
    let attrs = retrieval(&trace);
    assert_eq!(attrs["ragtrace.retrieval.mode"], "hybrid");
    assert_eq!(attrs["ragtrace.retrieval.fusion"], "dbsf");
    let hits: Vec<Value> =
        serde_json::from_str(attrs["ragtrace.retrieval.hits"].as_str().unwrap()).unwrap();
    assert_eq!(hits.len(), 5);
    // The rank recorded is where the first expected source is among the hits (1-based).
    let rank = hits
        .iter()
        .position(|h| {
            let s = h["source"].as_str().unwrap();
            s.ends_with("hr-sick-leave.md") || s.ends_with("product-lumen-hub-2-troubleshooting.md")
        })
        .expect("an expected source was found")
        + 1;
    assert!(rank <= 3, "{attrs:?}");
    assert_eq!(
        attrs["ragtrace.eval.expected_rank"], rank as u64,
        "{attrs:?}"
    );
    assert_eq!(
        hits[0]["source"],
        "docs/product-lumen-hub-2-troubleshooting.md"
    );
    assert!(
        hits.iter()
            .all(|h| h["dense"].is_array() || h["sparse"].is_array()),
        "each passage names the leg that found it: {hits:?}"
    );
    let trace = app
        .trace(missed["trace_id"].as_str().unwrap(), &["retrieval"])
        .await;
    assert_eq!(retrieval(&trace)["ragtrace.eval.expected_rank"], 0);

    let summary = get_json(
        &app.http,
        format!("{}/api/summary?user_id=golden", app.base),
    )
    .await;
    assert_eq!(summary["quality"]["graded"], 2, "{summary}");
    assert_eq!(summary["quality"]["hit_at_1"], 0.5);
    assert_eq!(summary["quality"]["mrr"], 0.5);
    let others = get_json(
        &app.http,
        format!("{}/api/summary?user_id=nobody", app.base),
    )
    .await;
    assert!(others["quality"].is_null(), "{others}");

    let too_many = vec!["a.md"; 17].join(",");
    let resp = app
        .http
        .post(format!("{}/v1/chat", app.base))
        .header("x-ragtrace-expect-sources", too_many)
        .json(&json!({"question": "How do I reset the Lumen Hub 2?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body.to_string().contains("x-ragtrace-expect-sources"),
        "{body}"
    );
    app.stop().await;
}
