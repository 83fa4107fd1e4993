//! Case study 3 in the runner: a generated meeting transcribed by the real `ragtrace-ingest`
//! binary (`gen-audio`, then `transcribe --json`), naive before and bounded after. The job runs
//! in a process of its own, so its peak memory is its own.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::case::Phase;

/// The `ragtrace-ingest` binary next to this one (`target/<profile>/`).
pub fn ingest_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this binary's path")?;
    let dir = exe.parent().context("this binary has no directory")?;
    let candidates = [dir.join("ragtrace-ingest"), dir.join("../ragtrace-ingest")];
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .with_context(|| {
            format!(
                "ragtrace-ingest is not built next to {}: run `cargo build --release -p ragtrace-ingest`",
                exe.display()
            )
        })
}

/// A generated meeting of `minutes` under `dir`, made once and reused.
pub fn meeting(ingest: &Path, dir: &Path, minutes: u32) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let wav = dir.join(format!("meeting-{minutes}min.wav"));
    if !wav.is_file() {
        let status = Command::new(ingest)
            .args(["gen-audio", "--minutes", &minutes.to_string()])
            .arg(&wav)
            .status()
            .context("cannot run ragtrace-ingest gen-audio")?;
        if !status.success() {
            bail!("ragtrace-ingest gen-audio failed: {status}");
        }
    }
    Ok(wav)
}

/// Transcribes `wav` with the phase's strategy (naive before, bounded batches after), writes the
/// job's trace to `trace_out`, and returns the job's JSON report.
pub fn transcribe(
    ingest: &Path,
    data_dir: &Path,
    wav: &Path,
    phase: Phase,
    trace_out: &Path,
) -> anyhow::Result<Value> {
    let strategy = match phase {
        Phase::Before => "naive",
        Phase::After => "bounded",
    };
    let out = Command::new(ingest)
        .args(["--data-dir"])
        .arg(data_dir)
        .args(["transcribe", "--strategy", strategy, "--json", "--no-index"])
        .arg("--trace-out")
        .arg(trace_out)
        .arg(wav)
        // The simulator's default audio profile: a concurrency limit with a queue, then 429.
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("QDRANT_URL")
        .env("RAGTRACE__TELEMETRY__LOG_FILTER", "error")
        .output()
        .context("cannot run ragtrace-ingest transcribe")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| {
            format!(
                "ragtrace-ingest transcribe printed no report (exit {}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    Ok(serde_json::from_str(last)?)
}
