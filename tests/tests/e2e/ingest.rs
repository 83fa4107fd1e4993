//! `ragtrace-ingest` end to end: the real binary on real files, the store read back afterwards.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use ragtrace_tests::{Killed, bin, command};
use serde_json::Value;
use uuid::Uuid;

const DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/docs");

fn ingest_cmd(data_dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = command("ragtrace-ingest");
    cmd.arg("--data-dir").arg(data_dir).env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs the binary with `--json` and returns its exit code and summary (the last stdout line).
fn run(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, Value, Output) {
    let out = ingest_cmd(data_dir, env)
        .arg("--json")
        .args(args)
        .output()
        .expect("ragtrace-ingest runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_else(|| {
        panic!(
            "no summary; stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let summary: Value = serde_json::from_str(last).expect("last line is the JSON summary");
    (out.status.code().unwrap_or(-1), summary, out)
}

/// The ids in the embedded store under `data_dir`, with their sources.
async fn points(data_dir: &Path) -> BTreeSet<(Uuid, String)> {
    ragtrace_tests::stored_points(data_dir).await
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// A re-run upserts nothing; an edited document replaces its chunks; `--prune` drops a deleted
/// document's chunks; and the result is exactly the point set of one clean run over the final
/// files.
#[actix_web::test]
async fn rerun_is_idempotent_and_changes_replace_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    copy_dir(Path::new(DOCS), &docs);
    let store = tmp.path().join("store");

    let (code, first, _) = run(&store, &[docs.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{first}");
    assert!(first["documents"].as_u64().unwrap() >= 48, "{first}");
    assert!(first["chunks"].as_u64().unwrap() >= 100, "{first}");
    assert_eq!(first["upserted"], first["chunks"]);
    assert_eq!(first["failed"], 0);

    let (code, second, _) = run(&store, &[docs.to_str().unwrap()], &[]);
    assert_eq!(code, 0);
    assert_eq!(second["upserted"], 0, "a re-run writes nothing: {second}");
    assert_eq!(second["skipped"], first["chunks"]);
    assert_eq!(second["deleted"], 0);

    // Edit one document (a paragraph replaced), delete another.
    let vpn = docs.join("it-vpn-setup.md");
    let text = std::fs::read_to_string(&vpn).unwrap();
    let edited = text.replacen(
        "\n\n",
        "\n\nAs of this quarter the VPN gateway is vpn2.nwl.internal and the old gateway is retired.\n\n",
        1,
    );
    std::fs::write(&vpn, edited).unwrap();
    std::fs::remove_file(docs.join("hr-sick-leave.md")).unwrap();
    let before = points(&store).await;
    let sick: Vec<_> = before
        .iter()
        .filter(|(_, s)| s == "docs/hr-sick-leave.md")
        .collect();
    assert!(!sick.is_empty());

    // Without --prune the deleted document's points stay (nothing is removed unasked).
    let (_, third, _) = run(&store, &[docs.to_str().unwrap()], &[]);
    assert!(third["upserted"].as_u64().unwrap() >= 1, "{third}");
    assert!(
        third["deleted"].as_u64().unwrap() >= 1,
        "the edited document's old chunks go: {third}"
    );
    assert!(
        points(&store)
            .await
            .iter()
            .any(|(_, s)| s == "docs/hr-sick-leave.md")
    );
    let (_, fourth, _) = run(&store, &[docs.to_str().unwrap(), "--prune"], &[]);
    assert_eq!(fourth["upserted"], 0);
    assert_eq!(fourth["deleted"].as_u64().unwrap(), sick.len() as u64);

    // The same set as one clean run over the final files.
    let clean = tmp.path().join("clean");
    let (code, _, _) = run(&clean, &[docs.to_str().unwrap()], &[]);
    assert_eq!(code, 0);
    assert_eq!(points(&store).await, points(&clean).await);
}

/// The corpus pointed at three ways (its root, its `docs` folder, and each file on its own)
/// gives one copy of each chunk: a document's name does not depend on how the command was
/// pointed at it, and it is the name the app's seed gives it.
#[actix_web::test]
async fn the_corpus_pointed_three_ways_is_indexed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    let docs = root.join("docs");
    copy_dir(Path::new(DOCS), &docs);
    let store = tmp.path().join("store");
    let env = [("RAGTRACE__INGEST__CORPUS_ROOT", root.to_str().unwrap())];

    let (code, first, _) = run(&store, &[root.to_str().unwrap()], &env);
    assert_eq!(code, 0, "{first}");
    let once = points(&store).await;
    assert!(
        once.iter().all(|(_, s)| s.starts_with("docs/")),
        "named relative to the root: {:?}",
        once.iter().find(|(_, s)| !s.starts_with("docs/"))
    );
    let (_, second, _) = run(&store, &[docs.to_str().unwrap()], &env);
    assert_eq!(second["upserted"], 0, "{second}");
    let files: Vec<String> = std::fs::read_dir(&docs)
        .unwrap()
        .map(|e| e.unwrap().path().to_str().unwrap().to_owned())
        .collect();
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let (_, third, _) = run(&store, &args, &env);
    assert_eq!(third["upserted"], 0, "{third}");
    assert_eq!(points(&store).await, once, "one copy of each chunk");
    // The app's seed names the shipped corpus the same way.
    let seeded: BTreeSet<String> = ragtrace::seed::corpus_documents()
        .iter()
        .map(|d| d.source.clone())
        .collect();
    let ingested: BTreeSet<String> = once.into_iter().map(|(_, s)| s).collect();
    assert_eq!(ingested, seeded);
}

/// A run killed half-way (SIGKILL, no chance to clean up) followed by a re-run ends with exactly
/// the points of one clean run: nothing lost, nothing duplicated.
#[actix_web::test]
async fn killed_mid_run_then_rerun_gives_the_clean_point_set() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    // Small batches, slow embeddings: the run takes seconds, so a kill lands mid-way.
    let slow = [
        ("RAGTRACE__INGEST__BATCH_MAX_ITEMS", "4"),
        ("RAGTRACE__SIMULATOR__PROFILE", "embeddings.latency_ms=60"),
        ("RUST_LOG", "info"),
    ];
    let mut child = Killed(
        ingest_cmd(&store, &slow)
            .arg(DOCS)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Wait until some batches are durable (the progress log says so), then kill.
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("chunks embedded and stored") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("progress before the kill");
    child.0.kill().unwrap();
    let status = child.0.wait().unwrap();
    assert!(!status.success(), "killed, not finished");
    let partial = points(&store).await;
    assert!(
        !partial.is_empty(),
        "some batches were durable before the kill"
    );

    let (code, rerun, _) = run(&store, &[DOCS], &[]);
    assert_eq!(code, 0, "{rerun}");
    assert!(
        rerun["skipped"].as_u64().unwrap() >= partial.len() as u64,
        "what was stored is not written again: {rerun}"
    );
    let clean = tmp.path().join("clean");
    run(&clean, &[DOCS], &[]);
    let (got, want) = (points(&store).await, points(&clean).await);
    assert!(partial.len() < want.len(), "the kill came before the end");
    assert_eq!(got, want);
}

/// Bad files are reported one by one (which file, why), the good ones are still ingested, and
/// the exit status says something failed.
#[actix_web::test]
async fn bad_files_are_reported_and_the_rest_ingested() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("inbox");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("empty.md"), "").unwrap();
    std::fs::write(dir.join("latin1.txt"), b"caf\xe9 au lait").unwrap();
    std::fs::write(dir.join("broken.pdf"), b"%PDF-1.7\nthis is not a real PDF").unwrap();
    std::fs::write(dir.join("huge.md"), "# Huge\n\n".repeat(200)).unwrap();
    std::fs::write(
        dir.join("good.md"),
        "# Good\n\nThe badge office opens at 8:30.",
    )
    .unwrap();
    std::fs::write(
        dir.join("page.html"),
        "<html><head><title>Parking</title></head><body><p>Bay 12 is for visitors.</p></body></html>",
    )
    .unwrap();
    let store = tmp.path().join("store");
    let missing = tmp.path().join("missing.md");
    let (code, summary, out) = run(
        &store,
        &[dir.to_str().unwrap(), missing.to_str().unwrap()],
        &[("RAGTRACE__INGEST__MAX_FILE_BYTES", "1000")],
    );
    assert_eq!(code, 1, "a failed file makes the exit status non-zero");
    assert_eq!(summary["documents"], 2, "{summary}");
    assert_eq!(summary["failed"], 5, "{summary}");
    let causes: BTreeSet<(String, String)> = summary["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let source = f["source"].as_str().unwrap();
            let name = source.rsplit('/').next().unwrap().to_owned();
            (name, f["cause"].as_str().unwrap().to_owned())
        })
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("empty.md", "empty"),
        ("latin1.txt", "invalid_utf8"),
        ("broken.pdf", "corrupt_pdf"),
        ("huge.md", "too_large"),
        ("missing.md", "unreadable"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(causes, want);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("inbox/latin1.txt"), "{stderr}");
    let sources: BTreeSet<String> = points(&store).await.into_iter().map(|(_, s)| s).collect();
    assert_eq!(
        sources,
        ["inbox/good.md", "inbox/page.html"]
            .into_iter()
            .map(str::to_owned)
            .collect()
    );
}

/// Usage errors exit 2 with a message; nothing to do is an error, not a silent success.
#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ingest_cmd(tmp.path(), &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to ingest"));
    let out = ingest_cmd(tmp.path(), &[("RAGTRACE__INGEST__CHUNK_TOKENS", "5")])
        .arg(DOCS)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ingest.chunk_tokens"));
    let out = Command::new(bin("ragtrace-ingest"))
        .args(["gen-audio", "--minutes", "0"])
        .arg(tmp.path().join("x.wav"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--minutes"));
    // Lingering only means something when /metrics is served.
    let out = Command::new(bin("ragtrace-ingest"))
        .args(["transcribe", "--metrics-linger", "5"])
        .arg(tmp.path().join("x.wav"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--metrics-addr"));
    let out = ingest_cmd(tmp.path(), &[])
        .args(["transcribe", "--batch-size", "0"])
        .arg(tmp.path().join("x.wav"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--batch-size") && err.contains("1 to 4096"),
        "{err}"
    );
    let out = ingest_cmd(tmp.path(), &[])
        .args(["transcribe", "--no-index"])
        .arg(tmp.path().join("missing.wav"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.wav") && err.contains("WAV"), "{err}");
}

/// The shipped PDFs and an HTML page come out as text with their titles.
#[test]
fn pdf_and_html_extraction() {
    use ragtrace_ingest::extract::{Format, extract};
    let path = Path::new(DOCS).join("sec-supplier-code-of-conduct.pdf");
    let bytes = std::fs::read(&path).unwrap();
    let doc = extract("docs/sec-supplier-code-of-conduct.pdf", &bytes, Format::Pdf).unwrap();
    assert_eq!(doc.title, "Supplier Code of Conduct");
    assert!(
        doc.text.contains("Supplier Code of Conduct"),
        "{}",
        doc.text
    );
    assert!(
        doc.text.split_whitespace().count() > 300,
        "the whole document: {}",
        doc.text.len()
    );
    let mut pdfs = 0;
    for e in std::fs::read_dir(DOCS).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "pdf") {
            let d = extract("x.pdf", &std::fs::read(&p).unwrap(), Format::Pdf).unwrap();
            assert!(
                !d.title.is_empty() && d.text.len() > 1000,
                "{}",
                p.display()
            );
            pdfs += 1;
        }
    }
    assert!(pdfs >= 5);
    let html = extract(
        "docs/faq.html",
        b"<html><head><title>FAQ</title></head><body><h2>Printing</h2><p>Use <a href='https://print.nwl.internal'>the portal</a>.</p><table><tr><td>Floor 2</td><td>Room 2.14</td></tr></table></body></html>",
        Format::Html,
    )
    .unwrap();
    assert_eq!(html.title, "FAQ");
    for want in ["Printing", "the portal", "Room 2.14"] {
        assert!(html.text.contains(want), "{want}: {}", html.text);
    }
}
