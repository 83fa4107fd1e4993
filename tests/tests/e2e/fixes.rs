//! The case studies' mechanisms and their fixes, switched on a running app: the product-search
//! cache and its parallel call (case study 1), the vector store's pool and index (case study 2).

use std::time::Duration;

use ragtrace_core::vector_store::{Point, Query};
use ragtrace_tests::{TestApp, trace_store};
use serde_json::{Value, json};

/// Product-search requests that reached the app's own simulator.
async fn catalog_calls(app: &TestApp) -> u64 {
    app.sim_requests().await["catalog"]["ok"]
        .as_u64()
        .unwrap_or(0)
}

/// With the product-search cache switched on at run time, a repeated product query reaches the
/// simulator once; the switch takes effect on the next request and is recorded on the admin
/// request's span.
#[actix_web::test]
async fn catalog_cache_switched_on_at_run_time_calls_the_api_once() {
    let app = TestApp::spawn(&[]).await;
    assert_eq!(app.fixes().await["catalog_cache"], false);
    // Off: two different questions about one product both call the API.
    for q in [
        "How much does the Halo desk lamp cost?",
        "What is the price of the Halo desk lamp",
    ] {
        assert_eq!(app.chat(json!({"question": q})).await.status(), 200);
    }
    assert_eq!(
        catalog_calls(&app).await,
        2,
        "without the cache every question calls the API"
    );

    let resp = app.set_fixes(json!({"catalog_cache": true})).await;
    assert_eq!(resp.status(), 200);
    let trace_id = resp
        .headers()
        .get("traceresponse")
        .and_then(|v| v.to_str().ok())
        .and_then(|tp| tp.split('-').nth(1))
        .expect("the admin request is traced")
        .to_owned();
    let fixes: Value = resp.json().await.unwrap();
    assert_eq!(fixes["catalog_cache"], true);

    // Three wordings, one product query ("halo desk lamp"): one miss, then two hits.
    for q in [
        "How much does a Halo desk lamp cost?",
        "What is the price of a Halo desk lamp?",
        "Halo desk lamp price?",
    ] {
        assert_eq!(app.chat(json!({"question": q})).await.status(), 200);
    }
    assert_eq!(
        catalog_calls(&app).await,
        3,
        "with the cache on, three more questions about the product call the API once"
    );

    // The change is an event of the admin request's span, so the trace list shows when it went in.
    let trace = ragtrace_tests::eventually(Duration::from_secs(5), || async {
        trace_store().get(&trace_id).ok_or(())
    })
    .await
    .expect("the admin request's trace is stored");
    let events: Vec<String> = trace
        .spans
        .iter()
        .flat_map(|s| s.events.iter().map(|e| e.name.clone()))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e.contains("fix changed: catalog_cache false -> true")),
        "{events:?}"
    );
    app.stop().await;
}

/// Bad fixes are refused with the field named, and nothing changes.
#[actix_web::test]
async fn bad_fixes_are_refused() {
    let app = TestApp::spawn(&[]).await;
    for (body, status) in [
        (json!({"vector_store_pool_size": 0}), 422),
        (json!({"vector_store_pool_size": 100000}), 422),
        (json!({"pool": 3}), 422),
        (json!({"catalog_cache": "yes"}), 422),
    ] {
        let resp = app.set_fixes(body.clone()).await;
        assert_eq!(resp.status(), status, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert!(
            err["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{err}"
        );
    }
    let fixes = app.fixes().await;
    assert_eq!(fixes["vector_store_pool_size"], 8, "{fixes}");
    app.stop().await;
}

/// Points of a synthetic collection large enough that an unindexed search takes measurable time.
fn synthetic_points(n: usize, dim: usize) -> Vec<Point> {
    (0..n)
        .map(|i| {
            // A cheap deterministic pseudo-random vector per point.
            let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let vector = (0..dim)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 2000) as f32 / 1000.0 - 1.0
                })
                .collect();
            let mut payload = serde_json::Map::new();
            payload.insert("source".into(), json!(format!("synthetic/{}.md", i / 10)));
            payload.insert("text".into(), json!(format!("synthetic passage {i}")));
            Point {
                id: uuid::Uuid::from_u128(0x00C0_FFEE_0000_0000 + i as u128),
                vector,
                sparse: None,
                payload,
            }
        })
        .collect()
}

/// With a pool of 1, concurrent searches queue: a caller waits about as long as another one's
/// search takes, and the wait is on the query span and in the pool metrics. A resize at run
/// time changes the size the next caller sees.
#[actix_web::test]
async fn a_pool_of_one_makes_concurrent_searches_queue() {
    let app = TestApp::spawn(&[("RAGTRACE__VECTOR_STORE__POOL_TIMEOUT_MS", "60000")]).await;
    // No clone of the store outlives the app: the edge shard flushes into its data dir on drop.
    app.state
        .pipeline
        .store
        .upsert(synthetic_points(6000, 384))
        .await
        .unwrap();
    let resp = app.set_fixes(json!({"vector_store_pool_size": 1})).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.fixes().await["vector_store_pool_size"], 1);
    let waited_before = ragtrace_tests::metric_value(
        &app.metrics().await,
        r#"ragtrace_pool_wait_duration_seconds_sum{pool="vector_store"}"#,
    );

    let asks = (0..6).map(|i| {
        let app = &app;
        async move {
            let q = format!("Which office policy covers case {i} of the pool test?");
            let body: Value = app
                .chat(json!({"question": q, "user_id": "pool-test"}))
                .await
                .json()
                .await
                .unwrap();
            body["trace_id"].as_str().unwrap().to_owned()
        }
    });
    let trace_ids = futures::future::join_all(asks).await;
    let mut waits = Vec::new();
    let mut searches = Vec::new();
    for id in &trace_ids {
        let trace = ragtrace_tests::eventually(Duration::from_secs(5), || async {
            trace_store()
                .get(id)
                .filter(|t| t.spans.iter().any(|s| s.name == "query ragtrace_docs"))
                .ok_or(())
        })
        .await
        .expect("trace with its query span");
        let query = trace
            .spans
            .iter()
            .find(|s| s.name == "query ragtrace_docs")
            .unwrap();
        let wait = query
            .attr("ragtrace.pool.wait_seconds")
            .map(|v| v.as_text().parse::<f64>().unwrap())
            .expect("the query span carries its pool wait");
        waits.push(wait);
        searches.push(query.duration_us as f64 / 1e6 - wait);
    }
    let longest_wait = waits.iter().copied().fold(0.0, f64::max);
    let shortest_search = searches.iter().copied().fold(f64::MAX, f64::min);
    assert!(
        longest_wait >= shortest_search * 0.9,
        "with one connection, some caller waits at least one other search: waits {waits:?}, searches {searches:?}"
    );
    let waited_after = ragtrace_tests::metric_value(
        &app.metrics().await,
        r#"ragtrace_pool_wait_duration_seconds_sum{pool="vector_store"}"#,
    );
    assert!(
        waited_after - waited_before >= longest_wait * 0.9,
        "the waits are in ragtrace_pool_wait_duration_seconds: {waited_before} -> {waited_after}"
    );
    app.stop().await;
}

/// Before the index build no vector is indexed; after `POST /admin/index` every one is, in the
/// request's trace, and searches still return the same top hits.
#[actix_web::test]
async fn the_index_build_indexes_every_vector_and_keeps_the_top_hits() {
    let app = TestApp::spawn(&[]).await;
    let p = &app.state.pipeline;
    let questions = [
        "How do I reset the Lumen Hub 2?",
        "How many weeks of parental leave do I get?",
        "How long are print jobs kept?",
        "What does the Beam bulb cost?",
    ];
    let vectors = p
        .llm
        .embed(questions.iter().map(|q| (*q).to_owned()).collect())
        .await
        .unwrap()
        .vectors;
    let top = |hits: Vec<ragtrace_core::vector_store::Hit>| hits.first().map(|h| h.id.clone());
    let mut before = Vec::new();
    for v in &vectors {
        before.push(top(p
            .store
            .search(Query::dense(v.clone(), 3))
            .await
            .unwrap()));
    }
    let status = app.fixes().await["vector_index"].clone();
    assert_eq!(status["indexed_vectors"], 0, "{status}");
    assert!(status["points"].as_u64().unwrap() >= 100, "{status}");

    let resp = app.build_index().await;
    assert_eq!(resp.status(), 200);
    let trace_id = resp
        .headers()
        .get("traceresponse")
        .and_then(|v| v.to_str().ok())
        .and_then(|tp| tp.split('-').nth(1))
        .unwrap()
        .to_owned();
    let built: Value = resp.json().await.unwrap();
    assert_eq!(built["before"]["indexed_vectors"], 0, "{built}");
    assert_eq!(
        built["after"]["indexed_vectors"], built["after"]["points"],
        "every vector is indexed: {built}"
    );
    let mut after = Vec::new();
    for v in &vectors {
        after.push(top(p
            .store
            .search(Query::dense(v.clone(), 3))
            .await
            .unwrap()));
    }
    assert_eq!(before, after, "the index finds the same best passage");
    let trace = app.trace(&trace_id, &["optimize ragtrace_docs"]).await;
    let names: Vec<&str> = trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(names.contains(&"optimize ragtrace_docs"), "{names:?}");
    app.stop().await;
}

/// With the parallel product search switched on, a buying question's product search and vector
/// search overlap in time; switched off, the product search starts after the vector search.
#[actix_web::test]
async fn the_product_search_runs_beside_the_vector_search_when_parallel() {
    let app = TestApp::spawn(&[(
        "RAGTRACE__SIMULATOR__PROFILE",
        "scenario=instant,catalog.latency_ms=300,embeddings.latency_ms=100",
    )])
    .await;
    let starts = |trace: &Value, name: &str| -> (u64, u64) {
        let s = trace["spans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {trace}"));
        let start = s["start_us"].as_u64().unwrap();
        (start, start + s["duration_us"].as_u64().unwrap())
    };
    for (parallel, question) in [
        (true, "How much does the Orbit smart plug cost?"),
        (false, "What is the price of the Orbit smart plug mini?"),
    ] {
        let resp = app
            .set_fixes(json!({"parallel_product_search": parallel}))
            .await;
        assert_eq!(resp.status(), 200);
        let body: Value = app
            .chat(json!({"question": question}))
            .await
            .json()
            .await
            .unwrap();
        let id = body["trace_id"].as_str().unwrap();
        let trace = app
            .trace(
                id,
                &["execute_tool product_search", "retrieval", "cache.store"],
            )
            .await;
        let (tool_start, _) = starts(&trace, "execute_tool product_search");
        let (_, retrieval_end) = starts(&trace, "retrieval");
        let overlapped = trace["critical_path"]["overlapped"]
            .as_array()
            .unwrap()
            .clone();
        if parallel {
            assert!(tool_start < retrieval_end, "overlap when parallel: {trace}");
            assert!(
                overlapped.contains(&json!(["embeddings", "external_api"])),
                "the critical path names the overlap: {overlapped:?}"
            );
        } else {
            assert!(tool_start >= retrieval_end, "in sequence when not: {trace}");
            assert!(overlapped.is_empty(), "{overlapped:?}");
        }
    }
    app.stop().await;
}
