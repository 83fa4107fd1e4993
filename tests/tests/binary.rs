//! The `ragtrace` binary's command line: the start-up banner, `--help`, and configuration errors.

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

/// The OpenAPI description is served and lists every route the app serves.
#[test]
fn openapi_describes_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = Process::ragtrace(
        dir.path(),
        &[("RAGTRACE__VECTOR_STORE__SEED_DEMO_CORPUS", "false")],
    );
    let spec: serde_json::Value = reqwest::blocking::get(format!("{}/openapi.json", app.base))
        .unwrap()
        .json()
        .unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/chat",
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/traces",
        "/api/traces/{trace_id}",
        "/api/breakdown",
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
    assert!(app.terminate().success());
    // The description is a valid OpenAPI document (when the validator is installed; CI installs it).
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/ui/openapi.json");
    let validator = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator", file])
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
