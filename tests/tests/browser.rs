//! The built-in UI in a real browser: Debian's Chromium, headless, driven over WebDriver
//! (chromedriver + fantoccini). Asks a question on the chat page, sees the answer stream in,
//! follows the trace link, and finds the waterfall with the LLM span and the bottleneck summary;
//! switches a scenario and the fixes on the Scenarios page and sees them in force in the app;
//! compares two real lab reports on the Compare page and builds their report; changes the Cost
//! simulator's inputs and sees the payback follow; renders an executive report.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use ragtrace_tests::{Killed, TestApp, bin, bin_dir, eventually, free_port, require_tool};

/// A headless Chromium session over chromedriver; both end when it is dropped.
struct Browser {
    client: Client,
    _driver: Killed,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a session, or skips `test` (loudly; fails in CI) without them.
    async fn start(test: &str) -> Option<Self> {
        let (Some(chromium), Some(chromedriver)) = (
            require_tool("chromium", test),
            require_tool("chromedriver", test),
        ) else {
            return None;
        };
        let port = free_port();
        let driver = Killed(
            Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--window-size=1600,1100", format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let webdriver = format!("http://127.0.0.1:{port}");
        let client = eventually(Duration::from_secs(30), || async {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&webdriver)
                .await
        })
        .await
        .unwrap_or_else(|e| panic!("cannot start a WebDriver session: {e}"));
        Some(Self {
            client,
            _driver: driver,
            _profile: profile,
        })
    }

    /// Waits (30 s at most) for the element `css` selects.
    async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.unwrap();
    }

    /// Saves a screenshot of the page as `target/debug/screenshots/{name}.png`.
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG was taken");
        let dir = bin_dir().join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }
}

/// Chat → streamed answer → trace link → waterfall with the LLM span and the bottleneck.
#[actix_web::test]
async fn chat_page_streams_and_links_to_the_waterfall() {
    let Some(browser) = Browser::start("chat_page_streams_and_links_to_the_waterfall").await else {
        return;
    };
    // A chat that takes about a second, so the answer visibly streams in.
    let app = TestApp::spawn(&[(
        "RAGTRACE__SIMULATOR__PROFILE",
        "scenario=instant,chat.latency_ms=1200",
    )])
    .await;
    let client = &browser.client;
    client.goto(&format!("{}/", app.base)).await.unwrap();
    let question = client
        .wait()
        .for_element(Locator::Id("question"))
        .await
        .unwrap();
    question
        .send_keys("How many weeks of paid parental leave does a birth parent get?")
        .await
        .unwrap();
    client
        .find(Locator::Id("ask"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The answer streams in: some text while the request is still running, then all of it.
    let answer = client
        .wait()
        .for_element(Locator::Id("answer"))
        .await
        .unwrap();
    let partial = eventually(Duration::from_secs(30), || async {
        let text = answer.text().await.unwrap();
        if text.trim().is_empty() {
            Err(text)
        } else {
            Ok(text)
        }
    })
    .await
    .unwrap_or_else(|text| text);
    assert!(!partial.trim().is_empty(), "the answer started streaming");
    let link = client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#trace-link[href]"))
        .await
        .unwrap();
    let full = answer.text().await.unwrap();
    assert!(full.contains("20 weeks"), "{full}");
    assert!(full.len() >= partial.len());

    link.click().await.unwrap();
    let llm_row = client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(
            "[data-testid=span-row][data-span-name='chat sim-gpt-4o-mini']",
        ))
        .await
        .expect("the waterfall shows the LLM span");
    assert!(
        llm_row
            .text()
            .await
            .unwrap()
            .contains("chat sim-gpt-4o-mini")
    );
    let rows = client
        .find_all(Locator::Css("[data-testid=span-row]"))
        .await
        .unwrap();
    assert!(
        rows.len() >= 8,
        "the whole span tree is drawn: {}",
        rows.len()
    );
    let bottleneck = client
        .find(Locator::Id("bottleneck"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        bottleneck.contains("LLM call") && bottleneck.contains("over budget"),
        "{bottleneck}"
    );

    browser.screenshot("chat-trace-waterfall").await;
    app.stop().await;
}

/// Runs `ragtrace-lab run chatbot --phase PHASE` against `base` in the instant scenario, writing
/// its report to `out`.
async fn lab_run(base: &str, phase: &str, out: &Path) {
    let run = tokio::process::Command::new(bin("ragtrace-lab"))
        .args([
            "run",
            "chatbot",
            "--phase",
            phase,
            "--requests",
            "6",
            "--users",
            "2",
        ])
        .args(["--scenario", "instant", "--target", base, "--out"])
        .arg(out)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("ragtrace-lab runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Scenarios page: a scenario pressed is the simulator's, a fix switched or resized is the app's;
/// Compare page: two real lab reports, read from files, side by side with the headline.
#[actix_web::test]
async fn scenarios_switch_the_app_and_compare_reads_two_reports() {
    let Some(browser) =
        Browser::start("scenarios_switch_the_app_and_compare_reads_two_reports").await
    else {
        return;
    };
    let app = TestApp::spawn(&[]).await;
    let client = &browser.client;

    client
        .goto(&format!("{}/ui/#/scenarios", app.base))
        .await
        .unwrap();
    // The fixes in force are read from the app at once (the catalog cache is off by default).
    browser
        .wait_for("#fixes-in-force[data-catalog-cache=false][data-parallel=true]")
        .await;

    browser.click("#scenario-slow-catalog").await;
    browser
        .wait_for("#scenario-current[data-scenario=slow-catalog]")
        .await;
    let sim = app.sim_get("/admin/profiles").await;
    assert!(
        sim["catalog"]["latency_ms"].as_u64().unwrap() >= 5000,
        "the simulator runs slow-catalog: {sim}"
    );
    browser.click("#scenario-instant").await;
    browser
        .wait_for("#scenario-current[data-scenario=instant]")
        .await;
    assert_eq!(
        app.sim_get("/admin/profiles").await["catalog"]["latency_ms"],
        0
    );

    browser.click("#fix-catalog-cache").await;
    browser
        .wait_for("#fixes-in-force[data-catalog-cache=true]")
        .await;
    assert_eq!(
        app.fixes().await["catalog_cache"],
        true,
        "switched on in the app"
    );
    browser.click("#fix-parallel").await;
    browser.wait_for("#fix-parallel[aria-checked=false]").await;
    assert_eq!(app.fixes().await["parallel_product_search"], false);

    let pool = browser.wait_for("#fix-pool-size").await;
    pool.clear().await.unwrap();
    pool.send_keys("3").await.unwrap();
    browser.click("#fix-pool-apply").await;
    browser
        .wait_for("#fixes-in-force[data-pool-size='3']")
        .await;
    assert_eq!(app.fixes().await["vector_store_pool_size"], 3);
    // A size the API refuses: its error is shown and nothing changes.
    pool.clear().await.unwrap();
    pool.send_keys("0").await.unwrap();
    browser.click("#fix-pool-apply").await;
    let error = browser.wait_for("#fixes-error .error-box").await;
    assert!(
        error
            .text()
            .await
            .unwrap()
            .contains("vector_store_pool_size"),
        "{}",
        error.text().await.unwrap()
    );
    assert_eq!(app.fixes().await["vector_store_pool_size"], 3);
    browser.screenshot("scenarios").await;

    // Two real lab runs, then the Compare page reads their reports.
    let dir = tempfile::tempdir().unwrap();
    let (before, after) = (
        dir.path().join("before.json"),
        dir.path().join("after.json"),
    );
    lab_run(&app.base, "before", &before).await;
    lab_run(&app.base, "after", &after).await;
    client
        .goto(&format!("{}/ui/#/compare", app.base))
        .await
        .unwrap();
    browser
        .wait_for("#compare-headline[data-state=waiting]")
        .await;
    for (side, path) in [("before", &before), ("after", &after)] {
        browser
            .wait_for(&format!("#compare-{side}-file"))
            .await
            .send_keys(path.to_str().unwrap())
            .await
            .unwrap();
    }
    let headline = browser.wait_for("#compare-headline[data-state=ok]").await;
    let text = headline.text().await.unwrap();
    assert!(
        text.contains("Mean response") && text.contains('→') && text.contains("error rate"),
        "the headline says the change in the case study's words: {text}"
    );
    let direction = headline
        .attr("data-direction")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        ["faster", "slower", "same"].contains(&direction.as_str()),
        "the headline has a verdict: {direction:?}"
    );
    let table = browser
        .wait_for("#compare-table")
        .await
        .text()
        .await
        .unwrap();
    assert!(table.contains("p95") && table.contains("Before"), "{table}");
    assert!(
        client
            .find_all(Locator::Css("#compare-stages [data-stage]"))
            .await
            .unwrap()
            .len()
            >= 3,
        "the stages are drawn side by side"
    );
    browser.screenshot("compare").await;

    // The Report button sends both reports to POST /api/report and offers the page it returns.
    browser.click("#compare-report").await;
    let open = browser.wait_for("#compare-report-open").await;
    assert!(
        open.attr("href")
            .await
            .unwrap()
            .is_some_and(|h| h.starts_with("blob:")),
        "the report opens from the page the app returned"
    );
    app.stop().await;
}

/// The payback the Simulator page shows, in days, once its one-off cost tile reads `one_off`.
async fn settled_payback(browser: &Browser, one_off: &str) -> f64 {
    eventually(Duration::from_secs(20), || async {
        let tile = browser.wait_for("#sim-one-off").await.text().await.unwrap();
        let days = browser
            .wait_for("#sim-payback[data-days]")
            .await
            .attr("data-days")
            .await
            .unwrap()
            .unwrap_or_default();
        match days.parse::<f64>() {
            Ok(d) if tile.contains(one_off) && d > 0.0 => Ok(d),
            _ => Err(format!("{tile:?}, payback {days:?}")),
        }
    })
    .await
    .unwrap_or_else(|e| panic!("no payback for a one-off cost of {one_off}: {e}"))
}

/// Simulator page: the form starts from the app's defaults; changing an input updates the
/// payback (twice the setup hours, twice the payback); a non-numeric input gets an inline
/// message naming what is wrong. Then the executive report, as `ragtrace-lab report` writes it,
/// renders in the browser.
#[actix_web::test]
async fn simulator_updates_the_payback_and_the_report_renders() {
    let Some(browser) =
        Browser::start("simulator_updates_the_payback_and_the_report_renders").await
    else {
        return;
    };
    let app = TestApp::spawn(&[("RAGTRACE__SIMULATOR__PROFILE", "scenario=instant")]).await;
    let client = &browser.client;
    client
        .goto(&format!("{}/ui/#/simulator", app.base))
        .await
        .unwrap();
    let set = |id: &'static str, value: &'static str| {
        let browser = &browser;
        async move {
            let input = browser.wait_for(&format!("#sim-{id}")).await;
            input.clear().await.unwrap();
            input.send_keys(value).await.unwrap();
        }
    };
    // A bill the cache halves: the benefit is well above the stack's running cost.
    set("monthly_api_spend", "10000").await;
    set("cache_hit_rate_percent", "50").await;
    // 30 h at the default $100 an hour, set last: once the one-off tile says $3,000, the
    // payback beside it comes from every input above.
    set("setup_hours", "30").await;
    let first = settled_payback(&browser, "$3,000").await;
    set("setup_hours", "60").await;
    let second = settled_payback(&browser, "$6,000").await;
    assert!(
        (second - 2.0 * first).abs() < 1e-6 * second,
        "payback {first} days → {second}: twice the hours, twice the payback"
    );
    assert!(second > first);
    assert!(
        client
            .find_all(Locator::Css("#sim-chart .sim-line-saving"))
            .await
            .unwrap()
            .len()
            == 1,
        "the cumulative chart is drawn"
    );
    browser.screenshot("simulator").await;

    set("daily_requests", "abc").await;
    let error = browser
        .wait_for("#sim-daily_requests[aria-invalid=true]")
        .await;
    assert!(error.is_displayed().await.unwrap());
    let message = browser
        .wait_for("#sim-daily_requests-error")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !message.trim().is_empty(),
        "an inline message says what is wrong"
    );

    // The report of the recorded chatbot runs, opened from the file ragtrace-lab wrote.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.html");
    let runs = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/case-studies/runs");
    let run = tokio::process::Command::new(bin("ragtrace-lab"))
        .arg("report")
        .arg(format!("{runs}/chatbot-before.json"))
        .arg(format!("{runs}/chatbot-after.json"))
        .arg("-o")
        .arg(&out)
        .output()
        .await
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    client
        .goto(&format!("file://{}", out.display()))
        .await
        .unwrap();
    let headline = browser.wait_for("#headline").await.text().await.unwrap();
    assert!(headline.starts_with("Responses "), "{headline}");
    browser.wait_for("#latency-chart").await;
    let width = client
        .execute(
            "return document.getElementById('latency-chart').getBoundingClientRect().width",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap_or(0.0);
    assert!(width > 300.0, "the chart is laid out: {width} px");
    browser.screenshot("report").await;

    // Printed, it is A4 (595 × 842 pt, as Chromium writes it) and two pages at most.
    let chromium = require_tool(
        "chromium",
        "simulator_updates_the_payback_and_the_report_renders",
    )
    .expect("chromium, as the browser above");
    let pdf = dir.path().join("report.pdf");
    let printed = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg("--no-pdf-header-footer")
        .arg(format!("file://{}", out.display()))
        .output()
        .await
        .unwrap();
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    let pdf = std::fs::read(&pdf).unwrap();
    let text = String::from_utf8_lossy(&pdf);
    let pages = text.matches("/Type /Page").count() - text.matches("/Type /Pages").count();
    let boxes: Vec<&str> = text
        .match_indices("/MediaBox [")
        .map(|(i, _)| text[i + 11..].split(']').next().unwrap())
        .collect();
    assert!((1..=2).contains(&pages), "{pages} pages");
    for b in &boxes {
        let v: Vec<f64> = b.split_whitespace().map(|x| x.parse().unwrap()).collect();
        assert!(
            (v[2] - 595.0).abs() < 1.0 && (v[3] - 842.0).abs() < 1.0,
            "an A4 page: {b}"
        );
    }
    assert!(!boxes.is_empty());
    app.stop().await;
}
