//! The executive report and the cost simulator: `ragtrace-lab report` on the recorded case-study
//! runs (KPIs, valid self-contained HTML), `GET /report` on live windows (the counts and means
//! the trace store holds), `POST /api/simulate` and its 422s, and `ragtrace-lab simulate`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ragtrace_tests::TestApp;

use crate::lab;
use scraper::{Html, Selector};
use serde_json::{Value, json};

const RUNS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/case-studies/runs");

/// The report's duration format: `5.74 s`, `466 ms`, `3.2 ms`.
fn dur(ms: f64, seconds: &str) -> String {
    if ms >= 1000.0 {
        format!("{:.2} {seconds}", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// Parses `page` with an HTML5 parser, failing on any parse error, and checks it refers to
/// nothing outside itself.
fn parse_self_contained(page: &str) -> Html {
    let doc = Html::parse_document(page);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    let any = Selector::parse("*").unwrap();
    for el in doc.select(&any) {
        let name = el.value().name();
        assert!(
            !matches!(name, "script" | "link" | "img" | "iframe" | "object"),
            "external-capable element <{name}>"
        );
        for (attr, value) in el.value().attrs() {
            let external = value.contains("://") || value.starts_with("//");
            // The SVG namespace is an identifier, not a reference.
            let namespace = attr == "xmlns" && value == "http://www.w3.org/2000/svg";
            assert!(
                !external || namespace,
                "<{name} {attr}=\"{value}\"> refers outside the page"
            );
        }
    }
    let style = Selector::parse("style").unwrap();
    let css: String = doc.select(&style).map(|s| s.inner_html()).collect();
    assert!(!css.contains("url(") && !css.contains("@import"), "{css}");
    doc
}

/// The KPI table as (row label → [before, after, change]).
fn kpis(doc: &Html) -> Vec<(String, Vec<String>)> {
    let row = Selector::parse("#kpi tbody tr").unwrap();
    let th = Selector::parse("th").unwrap();
    let td = Selector::parse("td").unwrap();
    doc.select(&row)
        .map(|r| {
            let label = r.select(&th).next().unwrap().text().collect::<String>();
            let cells = r.select(&td).map(|c| c.text().collect()).collect();
            (label, cells)
        })
        .collect()
}

fn row<'a>(rows: &'a [(String, Vec<String>)], label: &str) -> &'a [String] {
    &rows
        .iter()
        .find(|(l, _)| l == label)
        .unwrap_or_else(|| panic!("no row {label:?} in {rows:?}"))
        .1
}

/// `ragtrace-lab report` on the recorded chatbot runs: the KPIs are the runs' figures, the page
/// is valid HTML5 with no external reference, in English and in Japanese; two cases refuse.
#[actix_web::test]
async fn the_lab_report_holds_the_runs_kpis_in_valid_self_contained_html() {
    let dir = tempfile::tempdir().unwrap();
    let (before, after) = (
        format!("{RUNS}/chatbot-before.json"),
        format!("{RUNS}/chatbot-after.json"),
    );
    let read =
        |p: &str| -> Value { serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap() };
    let (b, a) = (read(&before), read(&after));
    let out = dir.path().join("report.html");
    let run = lab(&["report", &before, &after, "-o", out.to_str().unwrap()]).await;
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let page = std::fs::read_to_string(&out).unwrap();
    let doc = parse_self_contained(&page);
    let rows = kpis(&doc);
    let mean = |r: &Value| r["latency_ms"]["mean"].as_f64().unwrap();
    assert_eq!(
        row(&rows, "Mean response time")[..2],
        [dur(mean(&b), "s"), dur(mean(&a), "s")]
    );
    assert_eq!(
        row(&rows, "Mean response time")[2],
        format!("{:.1}× faster", mean(&b) / mean(&a))
    );
    assert_eq!(
        row(&rows, "95th percentile response time")[0],
        dur(b["latency_ms"]["p95"].as_f64().unwrap(), "s")
    );
    assert_eq!(
        row(&rows, "Improvement")[2],
        format!("{:.1} %", (1.0 - mean(&a) / mean(&b)) * 100.0)
    );
    assert!(
        row(&rows, "Requests processed")[0].starts_with(&b["requests"].to_string()),
        "{rows:?}"
    );
    let headline = doc
        .select(&Selector::parse("#headline").unwrap())
        .next()
        .unwrap()
        .text()
        .collect::<String>();
    assert!(
        headline.starts_with(&format!(
            "Responses {:.1}× faster: {} → {}",
            mean(&b) / mean(&a),
            dur(mean(&b), "s"),
            dur(mean(&a), "s")
        )),
        "{headline}"
    );
    for chart in ["#latency-chart", "#stage-chart"] {
        let svg = Selector::parse(&format!("{chart} rect")).unwrap();
        assert!(doc.select(&svg).count() > 2, "{chart} has no bars");
    }

    let ja = dir.path().join("ja.html");
    let run = lab(&[
        "report",
        &before,
        &after,
        "-o",
        ja.to_str().unwrap(),
        "--lang",
        "ja",
    ])
    .await;
    assert!(run.status.success());
    let doc = parse_self_contained(&std::fs::read_to_string(&ja).unwrap());
    assert_eq!(row(&kpis(&doc), "平均応答時間")[1], dur(mean(&a), "秒"));

    let other = format!("{RUNS}/doc-search-after.json");
    let run = lab(&["report", &before, &other, "-o", out.to_str().unwrap()]).await;
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("different cases"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let run = lab(&["report", &before, &after, "--lang", "fr"]).await;
    assert!(!run.status.success());
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Asks `n` questions as `user`, and waits until their traces are in the store.
async fn ask(app: &TestApp, user: &str, n: usize) {
    for i in 0..n {
        let r = app
            .chat(json!({"question": format!("How do I reset the Lumen Hub 2? ({user} {i})"), "user_id": user}))
            .await;
        assert_eq!(r.status(), 200);
        let trace_id = r.json::<Value>().await.unwrap()["trace_id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.trace(&trace_id, &["rag.pipeline"]).await;
    }
}

/// `GET /report` on two windows of live data gives the counts and the means the trace store
/// holds for them; bad windows and languages are 422s naming the parameter.
#[actix_web::test]
async fn the_live_report_gives_the_counts_and_means_the_trace_store_holds() {
    let app = TestApp::spawn(&[("RAGTRACE__SIMULATOR__PROFILE", "scenario=instant")]).await;
    let user = format!("report-{}", uuid::Uuid::new_v4().simple());
    let t0 = now_ms();
    ask(&app, &user, 3).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mid = now_ms();
    tokio::time::sleep(Duration::from_millis(20)).await;
    ask(&app, &user, 5).await;
    let t1 = now_ms() + 1;

    let window = format!("baseline_from={t0}&baseline_to={mid}&from={mid}&to={t1}&user_id={user}");
    let r = app.get(&format!("/report?{window}")).await;
    assert_eq!(r.status(), 200);
    // A self-contained page: inline CSS, no script, never framed.
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let doc = parse_self_contained(&r.text().await.unwrap());
    let rows = kpis(&doc);
    let requests = row(&rows, "Requests processed");
    assert!(requests[0].starts_with("3 ("), "{requests:?}");
    assert!(requests[1].starts_with("5 ("), "{requests:?}");
    let app = &app;
    let summary = |from: u64, to: u64| {
        let url = format!("/api/summary?from_ms={from}&to_ms={to}&user_id={user}");
        async move { app.get(&url).await.json::<Value>().await.unwrap() }
    };
    let (sb, sa) = (summary(t0, mid).await, summary(mid, t1).await);
    assert_eq!(
        (sb["requests"].as_u64(), sa["requests"].as_u64()),
        (Some(3), Some(5))
    );
    let mean = |s: &Value| dur(s["latency_ms"]["mean"].as_f64().unwrap(), "s");
    assert_eq!(
        row(&rows, "Mean response time")[..2],
        [mean(&sb), mean(&sa)]
    );

    // Without bounds: the first and the last half of the user's requests, all of them counted.
    let doc = parse_self_contained(
        &app.get(&format!("/report?user_id={user}&lang=ja"))
            .await
            .text()
            .await
            .unwrap(),
    );
    let requests = row(&kpis(&doc), "処理リクエスト数").to_vec();
    let count = |s: &str| s.split(' ').next().unwrap().parse::<u64>().unwrap();
    assert_eq!(count(&requests[0]) + count(&requests[1]), 8, "{requests:?}");

    for (query, field) in [
        (format!("from={t1}&to={t0}&user_id={user}"), "from"),
        (format!("lang=fr&user_id={user}"), "lang"),
        ("user_id=nobody-at-all".to_owned(), "traces"),
        (
            format!("baseline_from=1&baseline_to=2&user_id={user}"),
            "baseline_from",
        ),
    ] {
        let r = app.get(&format!("/report?{query}")).await;
        assert_eq!(r.status(), 422, "{query}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
        assert!(
            body["error"]["hint"]
                .as_str()
                .is_some_and(|h| !h.is_empty())
        );
    }
}

async fn simulate(app: &TestApp, body: Value) -> (u16, Value) {
    let r = app
        .http
        .post(format!("{}/api/simulate", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// `POST /api/simulate` projects the design's mid-size company (¥300,000 → ¥160,000, paid back
/// in a month) and answers bad inputs with a 422 naming the field; the defaults come from the
/// requests the store measured, once they span a minute.
#[actix_web::test]
async fn the_simulator_api_projects_and_names_the_field_of_a_bad_input() {
    let app = TestApp::spawn(&[("RAGTRACE__SIMULATOR__PROFILE", "scenario=instant")]).await;
    let mid = json!({
        "currency": "JPY", "monthly_api_spend": 300000, "mean_response_s": 3,
        "daily_requests": 20000, "error_rate_percent": 1,
        "cache_hit_rate_percent": 100.0 * 14.0 / 30.0, "latency_reduction_percent": 0,
        "error_reduction_percent": 0, "stack_monthly_cost": 20000, "setup_hours": 12,
        "hourly_rate": 10000
    });
    let (status, out) = simulate(&app, mid.clone()).await;
    assert_eq!(status, 200, "{out}");
    assert!(
        (out["monthly_spend_after"].as_f64().unwrap() - 160_000.0).abs() < 1e-6,
        "{out}"
    );
    assert_eq!(out["api_saving_percent"].as_f64().unwrap().round(), 47.0);
    assert!(
        (out["payback_days"].as_f64().unwrap() - 30.0).abs() < 1e-6,
        "{out}"
    );
    assert_eq!(out["months"].as_array().unwrap().len(), 13);

    let bad = |field: &str, value: Value| {
        let mut body = mid.clone();
        body[field] = value;
        body
    };
    for (body, field) in [
        (bad("monthly_api_spend", json!(-1)), "monthly_api_spend"),
        (bad("mean_response_s", json!("slow")), "mean_response_s"),
        (bad("error_rate_percent", json!(150)), "error_rate_percent"),
        (bad("daily_requests", json!(0)), "daily_requests"),
        (
            bad("cache_hit_rate_percent", json!(-5)),
            "cache_hit_rate_percent",
        ),
        (bad("currency", json!("EUR")), "currency"),
    ] {
        let (status, err) = simulate(&app, body).await;
        assert_eq!(status, 422, "{field}: {err}");
        assert_eq!(err["error"]["field"], field, "{err}");
        assert!(
            err["error"]["hint"].as_str().is_some_and(|h| !h.is_empty()),
            "{err}"
        );
    }

    // Rates need a minute of requests: one request now, and the same request two minutes ago
    // (its trace, moved back in time and opened through POST /api/traces).
    let r = app
        .chat(json!({"question": "How do I reset the Lumen Hub 2?", "user_id": "sim-defaults"}))
        .await;
    let id = r.json::<Value>().await.unwrap()["trace_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut earlier = app.trace(&id, &["rag.pipeline"]).await;
    let moved = uuid::Uuid::new_v4().simple().to_string();
    earlier["trace_id"] = json!(moved);
    for span in earlier["spans"].as_array_mut().unwrap() {
        span["trace_id"] = json!(moved);
        span["start_us"] = json!(span["start_us"].as_u64().unwrap() - 120_000_000);
    }
    let imported = app
        .http
        .post(format!("{}/api/traces", app.base))
        .json(&earlier)
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), 201, "{}", imported.text().await.unwrap());
    let defaults: Value = app
        .get("/api/simulate/defaults")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        defaults["sources"]["mean_response_s"], "measured",
        "{defaults}"
    );
    assert_eq!(defaults["sources"]["setup_hours"], "default", "{defaults}");
    assert!(defaults["input"]["mean_response_s"].as_f64().unwrap() > 0.0);
    // The defaults are a valid input as they stand.
    let (status, out) = simulate(&app, defaults["input"].clone()).await;
    assert_eq!(status, 200, "{out}");
    let ja: Value = app.get("/api/i18n?lang=ja").await.json().await.unwrap();
    assert_eq!(ja["strings"]["payback"], "投資回収期間");
}

/// `ragtrace-lab simulate` prints the projection, takes its defaults from a measured pair, and
/// exits non-zero naming the flag of a bad input.
#[actix_web::test]
async fn the_simulator_cli_projects_and_refuses_bad_input() {
    let run = lab(&[
        "simulate",
        "--monthly-spend",
        "300000",
        "--currency",
        "JPY",
        "--daily-requests",
        "20000",
        "--mean-response",
        "3",
        "--error-rate",
        "1",
        "--cache-hit-rate",
        "46.6666667",
        "--latency-reduction",
        "0",
        "--error-reduction",
        "0",
        "--stack-cost",
        "20000",
        "--setup-hours",
        "12",
        "--hourly-rate",
        "10000",
    ])
    .await;
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("¥300,000 → ¥160,000 (47 % saved"),
        "{stdout}"
    );
    assert!(stdout.contains("payback              30 days"), "{stdout}");

    let run = lab(&[
        "simulate",
        "--monthly-spend",
        "1000",
        "--daily-requests",
        "5000",
        "--json",
        "--from",
        &format!("{RUNS}/chatbot-before.json"),
        &format!("{RUNS}/chatbot-after.json"),
    ])
    .await;
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert!(
        out["assumptions"]["latency_reduction_percent"]
            .as_f64()
            .unwrap()
            > 0.0,
        "{out}"
    );

    let run = lab(&[
        "simulate",
        "--monthly-spend",
        "1000",
        "--daily-requests",
        "0",
        "--mean-response",
        "2",
        "--error-rate",
        "1",
    ])
    .await;
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("--daily-requests must be above 0"),
        "{stderr}"
    );
    let run = lab(&[
        "simulate",
        "--monthly-spend",
        "abc",
        "--daily-requests",
        "1",
    ])
    .await;
    assert!(!run.status.success());
}
