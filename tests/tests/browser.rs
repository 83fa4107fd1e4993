//! The built-in UI in a real browser: Debian's Chromium, headless, driven over WebDriver
//! (chromedriver + fantoccini). Asks a question on the chat page, sees the answer stream in,
//! follows the trace link, and finds the waterfall with the LLM span and the bottleneck summary.

use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use ragtrace_tests::{Killed, TestApp, bin_dir, eventually, free_port, require_tool};

/// Chat → streamed answer → trace link → waterfall with the LLM span and the bottleneck.
#[actix_web::test]
async fn chat_page_streams_and_links_to_the_waterfall() {
    let test = "chat_page_streams_and_links_to_the_waterfall";
    let (Some(chromium), Some(chromedriver)) = (
        require_tool("chromium", test),
        require_tool("chromedriver", test),
    ) else {
        return;
    };
    // A chat that takes about a second, so the answer visibly streams in.
    let app = TestApp::spawn(&[(
        "RAGTRACE__SIMULATOR__PROFILE",
        "scenario=instant,chat.latency_ms=1200",
    )])
    .await;
    let port = free_port();
    let _driver = Killed(
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

    let png = client.screenshot().await.unwrap();
    let dir = bin_dir().join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("chat-trace-waterfall.png");
    std::fs::write(&path, &png).unwrap();
    eprintln!("screenshot: {}", path.display());
    assert!(png.starts_with(b"\x89PNG"), "a PNG was saved");
    client.close().await.unwrap();
    app.stop().await;
}
