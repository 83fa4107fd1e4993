//! The official OpenAI Python SDK talks to the simulator: chat (plain and streamed with usage),
//! base64 embeddings, models, and a typed rate-limit error.

use std::net::TcpListener;

use ragtrace_sim::SimOptions;
use ragtrace_sim::profile::Profiles;
use serde_json::Value;

/// The Python SDK gets well-formed answers and errors from the simulator.
#[actix_web::test]
async fn official_python_sdk_talks_to_the_simulator() {
    if ragtrace_tests::require_tool("python3", "official_python_sdk_talks_to_the_simulator")
        .is_none()
    {
        return;
    }
    let has_sdk = std::process::Command::new("python3")
        .args(["-c", "import openai"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_sdk {
        ragtrace_tests::skip(
            "official_python_sdk_talks_to_the_simulator",
            "the `openai` Python package is missing",
        );
        return;
    }
    let sim = ragtrace_sim::start(
        TcpListener::bind("127.0.0.1:0").unwrap(),
        SimOptions {
            profiles: Profiles::instant(),
            ..SimOptions::default()
        },
    )
    .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/sdk/openai_python.py");
    let run = |mode: &'static str| {
        let base = sim.openai_base_url();
        async move {
            let out = tokio::process::Command::new("python3")
                .arg(script)
                .arg(base)
                .arg(mode)
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "SDK script failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice::<Value>(&out.stdout).unwrap()
        }
    };
    let v = run("").await;
    assert_eq!(v["chat"]["model"], "sim-gpt-4o-mini");
    let text = v["chat"]["text"].as_str().unwrap();
    assert!(text.contains("20 weeks") && text.ends_with("[1]."), "{v}");
    assert_eq!(v["chat"]["finish_reason"], "stop");
    assert_eq!(v["stream"]["text"], v["chat"]["text"]);
    assert!(v["stream"]["completion_tokens"].as_u64().unwrap() > 0);
    assert_eq!(v["embeddings"]["count"], 2);
    assert_eq!(v["embeddings"]["dim"], 32);
    assert!(
        (v["embeddings"]["norm"].as_f64().unwrap() - 1.0).abs() < 1e-3,
        "unit vectors survive base64: {v}"
    );
    assert!(
        v["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "sim-gpt-4o-mini")
    );

    // A 429 from the simulator is the SDK's typed RateLimitError, with Retry-After.
    let put = reqwest::Client::new()
        .put(format!("http://{}/admin/profiles/chat", sim.addr))
        .json(&serde_json::json!({"rate_limit_rate": 1.0, "retry_after_secs": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let v = run("ratelimit").await;
    assert_eq!(v["error"]["status"], 429, "{v}");
    assert_eq!(v["error"]["retry_after"], "3");
    sim.handle.stop(true).await;
}
