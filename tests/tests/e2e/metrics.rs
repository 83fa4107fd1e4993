//! `/metrics` carries every documented metric, with its type, after one request.

use ragtrace_core::semconv::metric;
use ragtrace_tests::TestApp;
use serde_json::json;

/// After one product question, every metric in `semconv::metric::ALL` is exposed with its
/// Prometheus type, histograms have explicit buckets, and the docs table lists each one.
#[actix_web::test]
async fn every_documented_metric_is_exposed_after_one_request() {
    let app = TestApp::spawn(&[]).await;
    let resp = app
        .chat(json!({"question": "Which motion sensors do you sell and what do they cost?"}))
        .await;
    assert_eq!(resp.status(), 200);
    let text = app.get("/metrics").await.text().await.unwrap();
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/telemetry.md"))
            .expect("docs/telemetry.md exists");
    // The app runs the embedded ingest worker, so it exposes the ingest metrics too.
    for (name, kind) in metric::ALL.into_iter().chain(metric::INGEST_ALL) {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}")),
            "{name} is not exposed as a {kind}"
        );
        if kind == "histogram" {
            assert!(
                text.contains(&format!("{name}_bucket{{")),
                "{name} has buckets"
            );
        }
        assert!(
            docs.contains(&format!("`{name}`")),
            "docs/telemetry.md documents {name}"
        );
    }
    // Every stage of a product question was timed.
    for stage in ragtrace_core::semconv::Stage::ALL {
        let series = format!(
            "{}_count{{stage=\"{}\"}}",
            metric::STAGE_DURATION,
            stage.as_str()
        );
        let line = text
            .lines()
            .find(|l| l.starts_with(&series))
            .unwrap_or_else(|| panic!("{series} missing"));
        let n: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(n >= 1.0, "{line}");
    }
    assert!(text.contains(r#"http_route="/v1/chat""#));
    app.stop().await;
}
