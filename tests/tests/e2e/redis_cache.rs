//! The Redis cache against a real `redis-server` started on a free port, including the server
//! being killed mid-run and coming back.

use std::time::Duration;

use ragtrace_core::cache::Cache as _;
use ragtrace_tests::{RedisServer, TestApp};
use serde_json::{Value, json};

fn errors(metrics: &str, kind: &str) -> f64 {
    let series = format!(r#"ragtrace_errors_total{{type="{kind}"}}"#);
    ragtrace_tests::metric_value(metrics, &series)
}

/// Answers are cached in Redis; when Redis dies answers go on without it (counted, and visible
/// in readiness), and the cache works again once Redis is back, without a restart.
#[actix_web::test]
async fn redis_cache_survives_the_server_dying() {
    let Some(mut redis) = RedisServer::start("redis_cache_survives_the_server_dying") else {
        return;
    };
    let url = redis.url();
    let app = TestApp::spawn(&[
        ("REDIS_URL", url.as_str()),
        ("RAGTRACE__CACHE__WAIT_TIMEOUT_MS", "300"),
        ("RAGTRACE__CACHE__CREATE_TIMEOUT_MS", "300"),
        ("RAGTRACE__CACHE__COMMAND_TIMEOUT_MS", "300"),
    ])
    .await;
    assert_eq!(app.state.pipeline.cache.backend(), "redis");

    let q = json!({"question": "How do I enrol in MFA?"});
    let first: Value = app.chat(q.clone()).await.json().await.unwrap();
    assert_eq!(first["cache_hit"], false);
    let second: Value = app.chat(q.clone()).await.json().await.unwrap();
    assert_eq!(second["cache_hit"], true, "second ask is served from Redis");

    // The entry really is in Redis: read it back through a separate client.
    let direct =
        ragtrace_core::cache::redis::RedisCache::new(&app.state_settings_cache(&url)).unwrap();
    let key = ragtrace_core::cache::answer_key("how do i enrol in mfa", "sim-gpt-4o-mini");
    let stored = direct
        .get(&key)
        .await
        .unwrap()
        .expect("answer stored in Redis");
    assert!(stored.contains("\"answer\""));

    // Kill Redis mid-run.
    redis.kill();
    let before = app.get("/metrics").await.text().await.unwrap();
    let resp = app
        .chat(json!({"question": "What is the hotel limit in Rotterdam?"}))
        .await;
    assert_eq!(resp.status(), 200, "answers continue without the cache");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["cache_hit"], false);
    assert!(!body["answer"].as_str().unwrap().is_empty());
    let after = app.get("/metrics").await.text().await.unwrap();
    assert!(
        errors(&after, "cache") >= errors(&before, "cache") + 1.0,
        "cache failure is counted"
    );
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["checks"]["cache"]["status"], "error");

    // Redis comes back (empty): the cache is used again without restarting the app.
    redis.restart();
    let recovered = ragtrace_tests::eventually(Duration::from_secs(5), || async {
        let status = app.get("/readyz").await.status();
        if status == 200 { Ok(()) } else { Err(status) }
    })
    .await;
    assert!(recovered.is_ok(), "readiness recovers once Redis is back");
    let q2 = json!({"question": "How long are print jobs kept?"});
    let a: Value = app.chat(q2.clone()).await.json().await.unwrap();
    let b: Value = app.chat(q2).await.json().await.unwrap();
    assert_eq!(a["cache_hit"], false);
    assert_eq!(b["cache_hit"], true);
    app.stop().await;
}
