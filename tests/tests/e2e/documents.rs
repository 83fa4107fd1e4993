//! `POST /v1/documents` → queue → worker, in-process and across a real Redis stream between two
//! processes, with the upload's trace continued by the worker.

use std::process::{Command, Stdio};
use std::time::Duration;

use ragtrace_tests::{
    Killed, OtlpReceiver, Process, RedisServer, TestApp, command, eventually, free_port, wait_job,
};
use serde_json::{Value, json};

/// Embedded: an uploaded document is ingested by the in-process worker and answers questions;
/// the worker's spans join the upload's trace.
#[actix_web::test]
async fn uploaded_document_is_ingested_and_searchable() {
    let app = TestApp::spawn(&[]).await;
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/v1/documents", app.base))
        .json(&json!({
            "name": "parking.md",
            "text": "# Parking policy\n\nVisitors park in bay Q7 behind the Lisbon office. Bay Q7 must be booked through the reception desk one day ahead."
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let created: Value = resp.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["status"], "queued");
    assert_eq!(created["source"], "uploads/parking.md");
    let done = wait_job(&http, &app.base, &id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert!(done["upserted"].as_u64().unwrap() >= 1);

    // The same trace holds the upload and the worker's processing.
    let trace_id = created["trace_id"].as_str().unwrap();
    let store = ragtrace_tests::trace_store();
    let names = eventually(Duration::from_secs(10), || async {
        let names: Vec<String> = store
            .get(trace_id)
            .map(|t| t.spans.iter().map(|s| s.name.clone()).collect())
            .unwrap_or_default();
        if names.iter().any(|n| n == "process ragtrace.ingest") {
            Ok(names)
        } else {
            Err(names)
        }
    })
    .await
    .unwrap_or_else(|names| names);
    for want in [
        "send ragtrace.ingest",
        "process ragtrace.ingest",
        "ingest batch",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }

    // Now the chat finds it.
    let answer: Value = app
        .chat(json!({"question": "Where do visitors park and how is bay Q7 booked?"}))
        .await
        .json()
        .await
        .unwrap();
    let sources = answer["sources"].to_string();
    assert!(sources.contains("uploads/parking.md"), "{answer}");

    // Re-uploading the same content changes nothing.
    let again: Value = http
        .post(format!("{}/v1/documents", app.base))
        .json(&json!({"name": "parking.md", "text": "# Parking policy\n\nVisitors park in bay Q7 behind the Lisbon office. Bay Q7 must be booked through the reception desk one day ahead."}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let done = wait_job(&http, &app.base, again["id"].as_str().unwrap()).await;
    assert_eq!(done["upserted"], 0, "{done}");
    app.stop().await;
}

/// Bad uploads get a 4xx with a JSON body naming the problem.
#[actix_web::test]
async fn bad_uploads_are_rejected_with_reasons() {
    let app = TestApp::spawn(&[("RAGTRACE__INGEST__MAX_FILE_BYTES", "2000")]).await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/documents", app.base);
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (http.post(&url).json(&json!({"name": "a.md"})), 422, "text"),
        (
            http.post(&url)
                .json(&json!({"name": "a.md", "text": "   "})),
            422,
            "content",
        ),
        (
            http.post(&url).json(&json!({"name": "", "text": "x"})),
            422,
            "name",
        ),
        (
            http.post(&url)
                .json(&json!({"name": "a.docx", "text": "x"})),
            415,
            "",
        ),
        (
            http.post(&url)
                .json(&json!({"name": "a.pdf", "content_base64": "aGVsbG8="})),
            422,
            "content",
        ),
        (
            http.post(&url)
                .json(&json!({"name": "a.md", "content_base64": "***"})),
            422,
            "content_base64",
        ),
        (http.post(&url).json(&json!({"text": "x"})), 422, ""),
        (
            http.post(format!("{url}?name=a.txt"))
                .header("content-type", "text/plain")
                .body(vec![b'a', 0xff, 0xfe]),
            422,
            "content",
        ),
        (
            http.post(&url)
                .header("content-type", "text/plain")
                .body("no name"),
            422,
            "name",
        ),
        (
            http.post(format!("{url}?name=a.md"))
                .header("content-type", "text/markdown")
                .body("x".repeat(5000)),
            413,
            "",
        ),
        (http.get(format!("{url}/not-a-uuid")), 422, "id"),
        (
            http.get(format!("{url}/6f1c1f9e-2a57-4c1e-9d44-2b7e51c0a9d3")),
            404,
            "",
        ),
        (http.delete(&url), 405, ""),
    ];
    for (i, (req, status, field)) in cases.into_iter().enumerate() {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "case {i}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["error"]["message"].is_string(), "case {i}: {body}");
        if !field.is_empty() {
            assert_eq!(body["error"]["field"], field, "case {i}: {body}");
        }
        if status == 413 {
            let hint = body["error"]["hint"].as_str().unwrap_or_default();
            assert!(hint.contains("ingest.max_file_bytes"), "case {i}: {body}");
            assert!(
                !hint.contains("question"),
                "an upload is not a question: {body}"
            );
        }
    }
    // A multipart upload works like curl -F file=@notes.md.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"# Notes\n\nThe canteen closes at 15:00.".to_vec())
            .file_name("notes.md"),
    );
    let resp = http.post(&url).multipart(form).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["source"], "uploads/notes.md");
    // A corrupt PDF passes the cheap checks and fails in the worker, with its cause.
    let resp = http
        .post(format!("{url}?name=broken.pdf"))
        .header("content-type", "application/pdf")
        .body("%PDF-1.4 not really")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let v: Value = resp.json().await.unwrap();
    let done = wait_job(&http, &app.base, v["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["cause"], "corrupt_pdf", "{done}");
    app.stop().await;
}

/// Across processes: the app (queue = redis) puts the job on a real Redis stream, a separate
/// `ragtrace-ingest worker` takes it; both export to one OTLP receiver, and the worker's consumer
/// span is a child of the app's producer span, in the caller's trace.
#[test]
fn redis_stream_hop_carries_the_trace_context() {
    let Some(redis) = RedisServer::start("redis_stream_hop_carries_the_trace_context") else {
        return;
    };
    let otlp = OtlpReceiver::start();
    let url = redis.url();
    let app_dir = tempfile::tempdir().unwrap();
    let worker_dir = tempfile::tempdir().unwrap();
    let common = [
        ("REDIS_URL", url.as_str()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.endpoint.as_str()),
        ("RAGTRACE__INGEST__QUEUE", "redis"),
        ("RAGTRACE__INGEST__STREAM", "test:ingest"),
    ];
    let mut app = Process::ragtrace(app_dir.path(), &common);
    let metrics_port = free_port();
    let mut worker = Killed(
        command("ragtrace-ingest")
            .args(["--data-dir"])
            .arg(worker_dir.path())
            .args([
                "worker",
                "--metrics-addr",
                &format!("127.0.0.1:{metrics_port}"),
            ])
            .envs(common)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::blocking::Client::new();
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let resp = http
        .post(format!("{}/v1/documents?name=hop.md", app.base))
        .header("content-type", "text/markdown")
        .header(
            "traceparent",
            format!("00-{caller_trace}-00f067aa0ba902b7-01"),
        )
        .body("# Across the queue\n\nThe night shift hands over at 22:00 in room 3.02.")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 202);
    let v: Value = resp.json().unwrap();
    assert_eq!(v["trace_id"], caller_trace);
    let done = wait_done_blocking(&app.base, v["id"].as_str().unwrap());
    assert_eq!(done["status"], "done", "{done}");
    assert!(done["upserted"].as_u64().unwrap() >= 1);

    // The worker's /metrics counts the job.
    let metrics = http
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(
        ragtrace_tests::metric_value(&metrics, r#"ragtrace_ingest_jobs_total{outcome="done"}"#),
        1.0
    );
    assert!(
        ragtrace_tests::metric_value(&metrics, "ragtrace_ingest_process_resident_memory_bytes")
            > 0.0
    );

    // Both processes flush on SIGTERM; then the spans are all at the receiver.
    assert!(app.terminate().success());
    let _ = Command::new("kill")
        .args(["-TERM", &worker.0.id().to_string()])
        .status();
    let status = worker.0.wait().unwrap();
    assert!(
        status.success(),
        "worker exits cleanly on SIGTERM: {status}"
    );
    let spans = otlp.spans();
    let producer = spans
        .iter()
        .find(|s| s.name == "send ragtrace.ingest")
        .expect("producer span from the app");
    let consumer = spans
        .iter()
        .find(|s| s.name == "process ragtrace.ingest")
        .expect("consumer span from the worker");
    assert_eq!(producer.service, "ragtrace");
    assert_eq!(consumer.service, "ragtrace-ingest");
    assert_eq!(producer.trace_id, caller_trace);
    assert_eq!(consumer.trace_id, caller_trace, "one trace across the hop");
    assert_eq!(consumer.parent_span_id, producer.span_id);
    assert!(
        spans.iter().any(|s| s.service == "ragtrace-ingest"
            && s.name == "ingest batch"
            && s.trace_id == caller_trace),
        "the worker's batches are in the trace"
    );
}

/// [`wait_job`] for a test that runs outside an async runtime.
fn wait_done_blocking(base: &str, id: &str) -> Value {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(wait_job(&reqwest::Client::new(), base, id))
}
