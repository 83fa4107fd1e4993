//! The end-to-end tests that run the app, the simulator or the ingest pipeline in-process, as
//! one test binary with a module per area: one link of the workspace instead of ten. The suites
//! that drive an outside tool (a browser, Prometheus and Alertmanager, the binaries themselves
//! with an OTLP receiver) stay binaries of their own.

mod chat;
mod documents;
mod faults;
mod fixes;
mod hostile;
mod ingest;
mod lab;
mod layout;
mod metrics;
mod openai_sdk;
mod redis_cache;
mod report;
mod sim;
mod traces;
mod transcribe;
mod ui;

/// Runs `ragtrace-lab` with `args` (no stdin) and returns what it did.
async fn lab(args: &[&str]) -> std::process::Output {
    lab_with(args, &[]).await
}

/// [`lab`] with the environment variables `env` set.
async fn lab_with(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    tokio::process::Command::new(ragtrace_tests::bin("ragtrace-lab"))
        .args(args)
        .env_remove("RAGTRACE__SERVER__API_KEY")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("ragtrace-lab runs")
}
