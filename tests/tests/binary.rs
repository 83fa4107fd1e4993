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
