//! The compose stack's configuration, checked by the real tools that run here (no Docker engine):
//! promtool and amtool on the Prometheus and Alertmanager files, and a real Prometheus scraping a
//! running app, against which every dashboard query and every rule must evaluate with data.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ragtrace_tests::{TestApp, free_port, require_tool};
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

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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

/// Metrics that come from components not built yet; their panels are expected to be empty
/// until then. Each entry names what will provide it.
const PENDING: &[(&str, &str)] = &[("ragtrace_ingest_", "the ingest worker (ragtrace-ingest)")];

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
    let config = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
         rule_files: [\"{}/prometheus/rules/*.yml\"]\n\
         scrape_configs:\n  - job_name: app\n    static_configs: [{{targets: [\"{target}\"]}}]\n",
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
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = query(&http, &base, "count_over_time(up{job=\"app\"}[1m]) >= 8").await;
        if v["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not scrape the app: {v}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let mut failures = Vec::new();
    for (dash, expr) in dashboard_exprs() {
        if let Some((_, who)) = PENDING.iter().find(|(m, _)| expr.contains(m)) {
            eprintln!("pending until {who}: {dash}: {expr}");
            continue;
        }
        let v = query(&http, &base, &expr).await;
        if v["status"] != "success" {
            failures.push(format!("{dash}: {expr}: {}", v["error"]));
        } else if v["data"]["result"].as_array().is_none_or(Vec::is_empty) {
            failures.push(format!("{dash}: no data: {expr}"));
        }
    }

    // Rules: every one evaluated without error; every recording rule produced data.
    let rules: Value = http
        .get(format!("{base}/api/v1/rules"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let groups = rules["data"]["groups"].as_array().expect("rule groups");
    assert!(!groups.is_empty());
    let mut alerts = 0;
    for rule in groups.iter().flat_map(|g| g["rules"].as_array().unwrap()) {
        let name = rule["name"].as_str().unwrap();
        let recording = rule["type"] == "recording";
        let has_data = if rule["health"] == "unknown" {
            // A group with a long interval (the 30-day spend) may not have run yet: evaluate its
            // expression directly instead of waiting a minute.
            let v = query(&http, &base, rule["query"].as_str().unwrap()).await;
            if v["status"] != "success" {
                failures.push(format!("rule {name}: {}", v["error"]));
            }
            v["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        } else {
            if rule["health"] != "ok" {
                failures.push(format!(
                    "rule {name}: health {} {}",
                    rule["health"], rule["lastError"]
                ));
            }
            let v = query(&http, &base, name).await;
            v["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        };
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
