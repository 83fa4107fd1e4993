//! `ragtrace-lab` against a running app: a small run writes a report of the documented schema,
//! measured from the app's own traces and metrics; bad arguments and mismatched reports get clear
//! errors and a non-zero exit.

use ragtrace_tests::TestApp;

use crate::lab;
use serde_json::Value;

/// A small chatbot run in the instant scenario writes a JSON report that matches
/// docs/case-studies/report.schema.json, counts exactly the requests it made, and records the
/// fixes it switched on through the admin API.
#[actix_web::test]
async fn a_small_run_writes_a_report_of_the_documented_schema() {
    let app = TestApp::spawn(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("after.json");
    let run = lab(&[
        "run",
        "chatbot",
        "--phase",
        "after",
        "--requests",
        "6",
        "--users",
        "2",
        "--scenario",
        "instant",
        "--target",
        &app.base,
        "--out",
        out.to_str().unwrap(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("chatbot / after: 6 requests"), "{stdout}");

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(report["requests"], 6, "{report}");
    assert_eq!(
        report["traces"], 6,
        "every request's trace is in the summary: {report}"
    );
    assert_eq!(report["errors"], 0);
    assert!(report["latency_ms"]["p50"].as_f64().unwrap() > 0.0);
    assert_eq!(
        report["settings"]["in_force"]["catalog_cache"], true,
        "{report}"
    );
    assert_eq!(
        report["settings"]["in_force"]["parallel_product_search"],
        true
    );
    assert_eq!(
        app.fixes().await["catalog_cache"],
        true,
        "the fix is on in the app"
    );
    let stages: Vec<&str> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert!(
        stages.contains(&"llm") && stages.contains(&"retrieval"),
        "{stages:?}"
    );

    // The documented schema, checked by a JSON Schema validator (the jsonschema package that
    // scripts/test.sh installs).
    let schema = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/case-studies/report.schema.json"
    );
    let check = tokio::process::Command::new("python3")
        .args([
            "-c",
            "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))",
            schema,
            out.to_str().unwrap(),
        ])
        .output()
        .await
        .expect("python3 runs");
    assert!(
        check.status.success(),
        "the report matches the schema: {}",
        String::from_utf8_lossy(&check.stderr)
    );

    // Compared with itself: same case, so a table and exit 0.
    let same = lab(&["compare", out.to_str().unwrap(), out.to_str().unwrap()]).await;
    assert!(same.status.success());
    assert!(String::from_utf8_lossy(&same.stdout).contains("1.0× faster"));
    app.stop().await;
}

/// Bad arguments exit 2 with the reason; reports of two cases, or a file that is no report,
/// exit 1 and say why.
#[actix_web::test]
async fn bad_arguments_and_mismatched_reports_fail_clearly() {
    for (args, needle) in [
        (
            vec!["run", "recipes", "--phase", "before"],
            "invalid value 'recipes'",
        ),
        (
            vec!["run", "chatbot", "--phase", "later"],
            "invalid value 'later'",
        ),
        (
            vec!["run", "chatbot", "--phase", "before", "--requests", "0"],
            "--requests",
        ),
        (vec!["compare", "only-one.json"], "AFTER"),
    ] {
        let out = lab(&args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }

    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, case: &str| {
        let path = dir.path().join(name);
        let report = serde_json::json!({
            "schema": 1, "case": case, "phase": "before", "started_at": "2026-12-02T10:00:00Z",
            "seconds": 1.0, "requests": 1, "errors": 0, "error_rate": 0.0,
            "latency_ms": {"mean": 1.0, "p50": 1.0, "p95": 1.0, "p99": 1.0, "max": 1.0},
            "histogram": [], "traces": 1, "stages": [], "slowest_stage": null, "overlapped": [],
            "cache_hit_rate": 0.0, "catalog_cache_hit_rate": null,
            "cost_usd_per_1k_requests": 0.0, "settings": {}
        });
        std::fs::write(&path, report.to_string()).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (a, b) = (write("a.json", "chatbot"), write("b.json", "doc-search"));
    let out = lab(&["compare", &a, &b]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("chatbot run") && err.contains("doc-search run"),
        "{err}"
    );

    let missing = lab(&["compare", &a, "/nonexistent/report.json"]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("cannot read /nonexistent/report.json")
    );
}

/// `ragtrace-lab eval` against a running app: every golden question is asked, scored from the
/// app's answer and its trace (a product question's trace holds the catalog call), and written
/// as JSON; a golden file that is not one fails naming its line.
#[actix_web::test]
async fn eval_scores_a_golden_set_from_the_answers_and_their_traces() {
    let app = TestApp::spawn(&[("RAGTRACE__SIMULATOR__PROFILE", "scenario=instant")]).await;
    let dir = tempfile::tempdir().unwrap();
    let golden = dir.path().join("golden.jsonl");
    std::fs::write(
        &golden,
        concat!(
            r#"{"id": "leave", "kind": "doc", "question": "How many weeks of paid parental leave does a birth parent get?", "sources": ["hr-parental-leave.md"], "facts": ["weeks"]}"#,
            "\n",
            r#"{"id": "bulb", "kind": "product", "question": "How much does a Beam White A60 bulb cost?", "sources": ["NL-0001"], "facts": ["12.99"]}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("eval.json");
    let run = lab(&[
        "eval",
        "--golden",
        golden.to_str().unwrap(),
        "--target",
        &app.base,
        "--out",
        out.to_str().unwrap(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("answer quality: 2 questions"), "{stdout}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(report["overall"]["questions"], 2, "{report}");
    let q = report["questions"].as_array().unwrap();
    assert_eq!(q[0]["id"], "leave");
    assert_eq!(
        q[0]["rank"], 1,
        "the parental-leave page comes first: {report}"
    );
    assert_eq!(q[0]["catalog_called"], false, "{report}");
    assert_eq!(
        q[1]["catalog_called"], true,
        "a buying question calls the catalog: {report}"
    );
    for s in q {
        let trace = app
            .trace(s["trace_id"].as_str().unwrap(), &["rag.pipeline"])
            .await;
        assert!(trace["spans"].as_array().is_some_and(|s| !s.is_empty()));
    }

    std::fs::write(&golden, "{\"id\": \"x\", \"kind\": \"recipe\"}\n").unwrap();
    let run = lab(&[
        "eval",
        "--golden",
        golden.to_str().unwrap(),
        "--target",
        &app.base,
    ])
    .await;
    assert_eq!(run.status.code(), Some(1));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("golden.jsonl:1: not a golden question"),
        "{err}"
    );
    app.stop().await;
}

/// Against an app that requires `server.api_key`, the lab sends the key it finds in the same
/// variable (`RAGTRACE__SERVER__API_KEY`), and without it reports the app's `unauthorized`.
#[actix_web::test]
async fn the_lab_sends_the_api_key_it_is_given() {
    const KEY: &str = "lab-key-0123456789";
    let app = TestApp::spawn(&[("RAGTRACE__SERVER__API_KEY", KEY)]).await;
    let dir = tempfile::tempdir().unwrap();
    let golden = dir.path().join("golden.jsonl");
    std::fs::write(
        &golden,
        r#"{"id": "leave", "kind": "doc", "question": "How many weeks of paid parental leave does a birth parent get?", "sources": ["hr-parental-leave.md"], "facts": ["weeks"]}"#,
    )
    .unwrap();
    let args = [
        "eval",
        "--golden",
        golden.to_str().unwrap(),
        "--target",
        &app.base,
    ];
    let without = crate::lab(&args).await;
    assert!(!without.status.success());
    let stderr = String::from_utf8_lossy(&without.stderr);
    assert!(stderr.contains("unauthorized"), "{stderr}");
    let with = crate::lab_with(&args, &[("RAGTRACE__SERVER__API_KEY", KEY)]).await;
    assert!(
        with.status.success(),
        "{}{}",
        String::from_utf8_lossy(&with.stdout),
        String::from_utf8_lossy(&with.stderr)
    );
    app.stop().await;
}
