//! The binaries from the outside: the start-up banner, `--help`, configuration errors, the trace
//! API's cap, the OpenAPI description, crash safety of uploads, and the process metrics.

use std::process::Command;

use ragtrace_tests::{Process, bin, free_port};

/// The banner names the backend of every concern and never prints a secret.
#[test]
fn banner_names_each_backend_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let dead = free_port();
    let redis = format!("redis://:hunter2-secret@127.0.0.1:{dead}/0");
    let llm = format!("http://127.0.0.1:{dead}/v1");
    let mut app = Process::ragtrace(
        dir.path(),
        &[
            ("REDIS_URL", redis.as_str()),
            ("OPENAI_API_KEY", "sk-proj-bannerSECRETbannerSECRET42"),
            ("OPENAI_BASE_URL", llm.as_str()),
            ("RAGTRACE__VECTOR_STORE__SEED_DEMO_CORPUS", "false"),
        ],
    );
    let status = app.terminate();
    let out = app.output.lock().unwrap().join("\n");
    assert!(status.success(), "{status:?}\n{out}");
    for concern in [
        "vector store",
        "cache",
        "LLM",
        "product search",
        "traces",
        "metrics",
    ] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(concern)),
            "no banner line for {concern}:\n{out}"
        );
    }
    assert!(out.contains("Redis at redis://:****@127.0.0.1"), "{out}");
    assert!(out.contains("API key set"), "{out}");
    assert!(
        !out.contains("hunter2-secret") && !out.contains("bannerSECRET"),
        "a secret was printed:\n{out}"
    );
}

/// `--help` documents the flags.
#[test]
fn help_lists_the_flags() {
    let out = Command::new(bin("ragtrace"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--addr", "--data-dir", "--config"] {
        assert!(text.contains(flag), "{text}");
    }
}

/// A bad configuration value stops the binary with a message naming the key, and exit status 1.
#[test]
fn bad_configuration_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin("ragtrace"))
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RAGTRACE__CHAT__TOP_K", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("chat.top_k") && err.contains("1..=100"),
        "{err}"
    );

    let out = Command::new(bin("ragtrace"))
        .args(["--addr", "not-an-address"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("RAGTRACE__VECTOR_STORE__SEED_DEMO_CORPUS", "false")
        .env("RAGTRACE__SIMULATOR__PROFILE", "scenario=instant")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on not-an-address"));
}

/// At the trace cap the oldest traces are evicted, and the API reports the cap and evictions.
#[test]
fn trace_api_evicts_at_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = Process::ragtrace(dir.path(), &[("RAGTRACE__TRACE_STORE__MAX_TRACES", "3")]);
    let http = reqwest::blocking::Client::new();
    let mut ids = Vec::new();
    for i in 0..5 {
        let v: serde_json::Value = http
            .post(format!("{}/v1/chat", app.base))
            .json(&serde_json::json!({"question": format!("How do I set up the VPN? ({i})")}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        ids.push(v["trace_id"].as_str().unwrap().to_owned());
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let listed: serde_json::Value = http
        .get(format!("{}/api/traces", app.base))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed["total"], 3, "{listed}");
    assert_eq!(listed["store"]["max_traces"], 3);
    assert!(
        listed["store"]["evicted"].as_u64().unwrap() >= 2,
        "{listed}"
    );
    let kept: Vec<&str> = listed["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        kept,
        [ids[4].as_str(), ids[3].as_str(), ids[2].as_str()],
        "the newest three remain"
    );
    let gone = http
        .get(format!("{}/api/traces/{}", app.base, ids[0]))
        .send()
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert!(app.terminate().success());
}

/// The OpenAPI description, generated from the code, is served and lists every route the app
/// serves; it is a valid OpenAPI document; the interactive page that shows it is served with
/// its vendored Swagger UI.
#[test]
fn openapi_describes_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = Process::ragtrace(
        dir.path(),
        &[("RAGTRACE__VECTOR_STORE__SEED_DEMO_CORPUS", "false")],
    );
    let raw = reqwest::blocking::get(format!("{}/openapi.json", app.base))
        .unwrap()
        .text()
        .unwrap();
    let spec: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/chat",
        "/v1/documents",
        "/v1/documents/{id}",
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/traces",
        "/api/traces/{trace_id}",
        "/api/breakdown",
        "/api/summary",
        "/api/stats",
        "/api/ui-config",
        "/report",
        "/api/report",
        "/api/simulate",
        "/api/simulate/defaults",
        "/api/i18n",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} is described");
    }
    let ui = reqwest::blocking::get(format!("{}/", app.base)).unwrap();
    assert_eq!(ui.status(), 200, "/ redirects to the UI page");
    assert!(ui.text().unwrap().contains("<html"));
    // The interactive page and every file it loads are served, from the binary.
    let page = reqwest::blocking::get(format!("{}/ui/api.html", app.base))
        .unwrap()
        .text()
        .unwrap();
    let assets: Vec<&str> = page
        .split(['"', '\''])
        .filter(|s| s.starts_with("/ui/") && (s.ends_with(".js") || s.ends_with(".css")))
        .collect();
    assert!(
        assets.iter().any(|a| a.ends_with("swagger-ui-bundle.js")),
        "{page}"
    );
    for asset in assets {
        let resp = reqwest::blocking::get(format!("{}{asset}", app.base)).unwrap();
        assert_eq!(resp.status(), 200, "{asset} is served");
    }
    assert!(app.terminate().success());
    // The description is a valid OpenAPI document (when the validator is installed; CI installs it).
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &raw).unwrap();
    let validator = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output();
    match validator {
        Ok(out) if out.status.success() => {}
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("No module named") => {
            ragtrace_tests::skip(
                "the OpenAPI validation",
                "openapi-spec-validator is missing",
            );
        }
        Ok(out) => panic!(
            "invalid OpenAPI document:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("cannot run python3: {e}"),
    }
}

/// The sources and point ids of the uploads in the embedded store under `data_dir` (the app
/// must be stopped: the edge shard is opened from disk).
fn upload_points(data_dir: &std::path::Path) -> std::collections::BTreeSet<(String, String)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(ragtrace_tests::stored_points(data_dir))
        .into_iter()
        .filter(|(_, source)| source.starts_with("uploads/"))
        .map(|(id, source)| (source, id.to_string()))
        .collect()
}

/// The status of job `id` once it is `done` or `failed` (60 s at most).
fn finished_job(http: &reqwest::blocking::Client, base: &str, id: &str) -> serde_json::Value {
    ragtrace_tests::eventually_blocking(std::time::Duration::from_secs(60), || {
        let v: serde_json::Value = http
            .get(format!("{base}/v1/documents/{id}"))
            .send()
            .map_err(|e| e.to_string())?
            .json()
            .map_err(|e| e.to_string())?;
        if v["status"] == "done" || v["status"] == "failed" {
            Ok(v)
        } else {
            Err(v.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("job {id} did not finish: {e}"))
}

/// Uploads `n` small documents at once and returns the ids and sources answered 202.
fn upload_burst(base: &str, n: usize) -> Vec<(String, String)> {
    let http = reqwest::blocking::Client::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let http = http.clone();
                s.spawn(move || {
                    let resp = http
                        .post(format!("{base}/v1/documents?name=burst-{i}.md"))
                        .header("content-type", "text/markdown")
                        .body(format!(
                            "# Shift note {i}\n\nThe night shift of line {i} hands over at 0{}:00 in room {i}.02.\n",
                            i % 10
                        ))
                        .send()
                        .ok()?;
                    if resp.status() != 202 {
                        return None;
                    }
                    let v: serde_json::Value = resp.json().ok()?;
                    Some((v["id"].as_str()?.to_owned(), v["source"].as_str()?.to_owned()))
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .collect()
    })
}

/// `kill -9` during a burst of uploads loses none that were answered 202: after a restart on
/// the same data dir, every accepted id reaches `done`, and the uploads' point set is exactly
/// that of a clean run.
#[test]
fn accepted_uploads_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    // The worker embeds slowly, so jobs are still waiting when the process dies.
    let slow = [
        (
            "RAGTRACE__SIMULATOR__PROFILE",
            "scenario=instant,embeddings.latency_ms=400",
        ),
        ("RAGTRACE__VECTOR_STORE__SEED_DEMO_CORPUS", "false"),
    ];
    let mut app = Process::ragtrace(dir.path(), &slow);
    let accepted = upload_burst(&app.base, 24);
    app.kill();
    assert!(
        accepted.len() >= 20,
        "most of the burst was accepted: {}",
        accepted.len()
    );

    let fast = [("RAGTRACE__VECTOR_STORE__SEED_DEMO_CORPUS", "false")];
    let mut app = Process::ragtrace(dir.path(), &fast);
    let http = reqwest::blocking::Client::new();
    for (id, _) in &accepted {
        let status = finished_job(&http, &app.base, id);
        assert_eq!(status["status"], "done", "{status}");
    }
    let resumed = app
        .output
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("resuming"));
    assert!(app.terminate().success());
    assert!(resumed, "the restart said it resumed the accepted uploads");

    // The same uploads into a fresh app, never killed.
    let clean = tempfile::tempdir().unwrap();
    let mut app = Process::ragtrace(clean.path(), &fast);
    let all = upload_burst(&app.base, 24);
    assert_eq!(all.len(), 24);
    for (id, _) in &all {
        let status = finished_job(&http, &app.base, id);
        assert_eq!(status["status"], "done", "{status}");
    }
    assert!(app.terminate().success());
    let crashed = upload_points(dir.path());
    let clean = upload_points(clean.path());
    let of = |set: &std::collections::BTreeSet<(String, String)>, sources: &[&str]| {
        set.iter()
            .filter(|(s, _)| sources.contains(&s.as_str()))
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
    };
    let sources: Vec<&str> = accepted.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(
        of(&crashed, &sources),
        of(&clean, &sources),
        "every accepted upload has exactly the clean run's points"
    );
    assert!(
        crashed.is_subset(&clean),
        "nothing duplicated or half-written"
    );
}

/// Schemathesis fuzzes every operation of the served OpenAPI description (the upload routes
/// included) against the real binary, with a bounded budget and a fixed seed: no answer is a
/// 5xx, and every answer matches its documented schema.
#[test]
fn openapi_fuzzing_finds_no_5xx_and_no_schema_violation() {
    let venv = std::env::var("RAGTRACE_SCHEMATHESIS_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/ragtrace/schemathesis-venv")
        });
    let st = venv.join("bin/schemathesis");
    if !st.is_file() {
        ragtrace_tests::skip(
            "openapi_fuzzing_finds_no_5xx_and_no_schema_violation",
            "schemathesis is not installed",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut app = Process::ragtrace(dir.path(), &[]);
    let out = Command::new(st)
        .args(["run", &format!("{}/openapi.json", app.base)])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        // One worker: with two, Hypothesis' lambda descriptions call `ast.parse` from two
        // threads, which CPython 3.11 does not survive ("SystemError: AST constructor
        // recursion depth mismatch", a crash of the fuzzer, not a finding about the app).
        .args([
            "--max-examples",
            "20",
            "--workers",
            "1",
            "--seed",
            "20261203",
        ])
        .arg("--no-color")
        .output()
        .expect("schemathesis runs");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Every described operation was reached: the app's own request metric has a series for its
    // route and method (the uploads among them, accepted at least once).
    let spec: serde_json::Value = reqwest::blocking::get(format!("{}/openapi.json", app.base))
        .unwrap()
        .json()
        .unwrap();
    let metrics = reqwest::blocking::get(format!("{}/metrics", app.base))
        .unwrap()
        .text()
        .unwrap();
    let log = app.output.lock().unwrap().join("\n");
    assert!(
        app.terminate().success(),
        "the app survived the fuzzing:\n{log}"
    );
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}"
    );
    for (path, item) in spec["paths"].as_object().unwrap() {
        // The route label is actix's pattern: `{path:.*}` for the UI's assets.
        let route = if path == "/ui/{path}" {
            "/ui/{path:.*}"
        } else {
            path
        };
        for method in item.as_object().unwrap().keys() {
            let series = format!(
                "http_server_request_duration_seconds_count{{http_route=\"{route}\",http_request_method=\"{}\"",
                method.to_uppercase()
            );
            assert!(
                metrics.lines().any(|l| l.starts_with(&series)),
                "{} {path} was never requested:\n{report}",
                method.to_uppercase()
            );
        }
    }
    assert!(
        metrics.lines().any(|l| l.starts_with(
            "http_server_request_duration_seconds_count{http_route=\"/v1/documents\",http_request_method=\"POST\",http_response_status_code=\"202\"}"
        )),
        "an upload was accepted:\n{report}"
    );
    assert!(!log.contains("panicked"), "{log}");
}

/// Every binary's `/metrics` carries the standard process series (from the metrics-process
/// library): CPU seconds, resident memory, open and maximum file descriptors, threads.
#[test]
fn every_binary_serves_the_standard_process_metrics() {
    use ragtrace_tests::{Killed, command, eventually_blocking, metric_value};
    use std::time::Duration;

    let http = reqwest::blocking::Client::new();
    let scrape = |url: &str| -> String {
        eventually_blocking(Duration::from_secs(60), || {
            http.get(url)
                .send()
                .ok()
                .filter(|r| r.status().is_success())
                .and_then(|r| r.text().ok())
                .ok_or(())
        })
        .unwrap_or_else(|()| panic!("no /metrics at {url}"))
    };
    let check = |who: &str, text: &str| {
        for series in [
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_threads",
            "process_start_time_seconds",
        ] {
            assert!(metric_value(text, series) > 0.0, "{who}: {series}\n{text}");
        }
        assert!(
            text.contains("# TYPE process_cpu_seconds_total counter"),
            "{who}"
        );
    };

    let dir = tempfile::tempdir().unwrap();
    let mut app = Process::ragtrace(dir.path(), &[]);
    check("ragtrace", &scrape(&format!("{}/metrics", app.base)));
    assert!(app.terminate().success());

    let sim_port = free_port();
    let _sim = Killed(
        command("ragtrace-sim")
            .args([
                "--addr",
                &format!("127.0.0.1:{sim_port}"),
                "--scenario",
                "instant",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    check(
        "ragtrace-sim",
        &scrape(&format!("http://127.0.0.1:{sim_port}/metrics")),
    );

    let audio = dir.path().join("meeting.wav");
    let made = command("ragtrace-ingest")
        .args(["gen-audio", "--minutes", "0.5"])
        .arg(&audio)
        .output()
        .unwrap();
    assert!(made.status.success(), "gen-audio: {made:?}");
    let ingest_port = free_port();
    let _transcribe = Killed(
        command("ragtrace-ingest")
            .env("RAGTRACE__SIMULATOR__PROFILE", "scenario=instant")
            .arg("--data-dir")
            .arg(dir.path().join("ingest-data"))
            .args(["transcribe", "--no-index", "--metrics-linger", "60"])
            .arg("--metrics-addr")
            .arg(format!("127.0.0.1:{ingest_port}"))
            .arg(&audio)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    check(
        "ragtrace-ingest",
        &scrape(&format!("http://127.0.0.1:{ingest_port}/metrics")),
    );
}
