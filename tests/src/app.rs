//! The app in-process on a free port ([`TestApp`], with one verb per endpoint), and the helpers
//! that read its answers.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ragtrace::startup::Application;
use ragtrace::state::AppState;
use ragtrace_core::config::{Overrides, Settings};

/// Settings for a test app: compiled-in defaults, a temporary data dir, port 0, and an instant
/// simulator. `env` holds extra `RAGTRACE__...`/ecosystem variables.
pub fn test_settings(data_dir: &Path, env: &[(&str, &str)]) -> Settings {
    let mut vars: std::collections::BTreeMap<String, String> = [
        ("RAGTRACE__SIMULATOR__PROFILE", "scenario=instant"),
        ("RAGTRACE__SERVER__ADDR", "127.0.0.1:0"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, v) in env {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::load_from(
        &Overrides {
            data_dir: Some(data_dir.to_path_buf()),
            ..Overrides::default()
        },
        &vars,
    )
    .expect("test settings are valid")
}

/// The app running in-process on a free port.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`, the prefix of every request URL (no trailing slash).
    pub base: String,
    /// The client every helper sends with; its 60 s timeout makes a hung request fail the test.
    pub http: reqwest::Client,
    /// Shared state, to reach the adapters.
    pub state: actix_web::web::Data<AppState>,
    handle: actix_web::dev::ServerHandle,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    // Declared last: dropped after the state, so the edge store flushes into an existing dir.
    _dir: Option<tempfile::TempDir>,
}

/// Installs the tracing pipeline once per test process (no export), so requests get trace ids
/// exactly as in the binary.
pub fn init_telemetry() {
    static GUARD: std::sync::OnceLock<std::sync::Mutex<ragtrace_core::telemetry::TelemetryGuard>> =
        std::sync::OnceLock::new();
    GUARD.get_or_init(|| {
        let mut s = test_settings(Path::new("/nonexistent"), &[]).telemetry;
        s.log_filter = "warn".into();
        std::sync::Mutex::new(
            ragtrace_core::telemetry::init(
                &s,
                ragtrace_core::trace_store::sinks(Some(&trace_store())),
                false,
            )
            .expect("telemetry"),
        )
    });
}

/// The test process's trace store (one per process, like the tracer provider).
pub fn trace_store() -> Arc<ragtrace_core::trace_store::TraceStore> {
    static STORE: std::sync::OnceLock<Arc<ragtrace_core::trace_store::TraceStore>> =
        std::sync::OnceLock::new();
    STORE
        .get_or_init(|| Arc::new(ragtrace_core::trace_store::TraceStore::new(5000, 256 << 20)))
        .clone()
}

impl TestApp {
    /// Starts the app with [`test_settings`] in a fresh temporary data dir.
    pub async fn spawn(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = test_settings(dir.path(), env);
        let mut app = Self::spawn_with(settings).await;
        app._dir = Some(dir);
        app
    }

    /// Starts the app with `settings`.
    pub async fn spawn_with(settings: Settings) -> Self {
        init_telemetry();
        let app = Application::build(settings, Some(trace_store()))
            .await
            .expect("app builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        let handle = app.handle();
        let task = Some(actix_web::rt::spawn(app.run_until_stopped()));
        Self {
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            state,
            handle,
            task,
            _dir: None,
        }
    }

    /// Cache settings pointing at `url` (for a second, direct client in tests).
    pub fn state_settings_cache(&self, url: &str) -> ragtrace_core::config::CacheSettings {
        let dir = std::env::temp_dir();
        let mut s = test_settings(&dir, &[("REDIS_URL", url)]).cache;
        s.pool_size = 1;
        s
    }

    /// `POST /v1/chat` with a JSON body.
    pub async fn chat(&self, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/chat", self.base))
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /v1/chat` with a raw body.
    pub async fn chat_raw(&self, body: &'static [u8]) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/chat", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    /// `GET {base}{path}`, for endpoints without a verb of their own; `path` starts with `/`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /v1/documents` with a JSON body (`{"name", "text" | "content_base64"}`).
    pub async fn upload_document(&self, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/documents", self.base))
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    /// Polls `GET /v1/documents/{id}` until the job is done or failed (60 s at most).
    pub async fn wait_job(&self, id: &str) -> serde_json::Value {
        wait_job(&self.http, &self.base, id).await
    }

    /// `GET /api/traces/{id}` as JSON, once the trace has spans named each of `spans` (10 s at
    /// most; then whatever the store has, so the caller's assertion shows it).
    pub async fn trace(&self, id: &str, spans: &[&str]) -> serde_json::Value {
        let url = format!("{}/api/traces/{id}", self.base);
        let has_all = |t: &serde_json::Value| {
            spans.iter().all(|want| {
                t["spans"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["name"] == *want))
            })
        };
        crate::eventually(Duration::from_secs(10), || async {
            let t = get_json(&self.http, &url).await;
            if has_all(&t) { Ok(t) } else { Err(t) }
        })
        .await
        .unwrap_or_else(|t| t)
    }

    /// `GET /api/breakdown` with `query` (e.g. `"limit=10"`), as JSON.
    pub async fn breakdown(&self, query: &str) -> serde_json::Value {
        get_json(&self.http, format!("{}/api/breakdown?{query}", self.base)).await
    }

    /// What the app's embedded simulator has served, by endpoint and outcome
    /// (`GET /admin/requests` of that simulator).
    pub async fn sim_requests(&self) -> serde_json::Value {
        self.sim_get("/admin/requests").await
    }

    /// `GET {path}` of the app's embedded simulator, as JSON.
    pub async fn sim_get(&self, path: &str) -> serde_json::Value {
        let llm = self.state.pipeline.llm.base_url();
        let sim = llm.trim_end_matches('/').trim_end_matches("/v1");
        get_json(&self.http, format!("{sim}{path}")).await
    }

    /// `GET /admin/fixes`: the fixes in force.
    pub async fn fixes(&self) -> serde_json::Value {
        get_json(&self.http, format!("{}/admin/fixes", self.base)).await
    }

    /// `PUT /admin/fixes` with `patch`.
    pub async fn set_fixes(&self, patch: serde_json::Value) -> reqwest::Response {
        self.http
            .put(format!("{}/admin/fixes", self.base))
            .json(&patch)
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /admin/index`: builds the vector store's index.
    pub async fn build_index(&self) -> reqwest::Response {
        self.http
            .post(format!("{}/admin/index", self.base))
            .send()
            .await
            .expect("request sent")
    }

    /// `GET /metrics`, the Prometheus text.
    pub async fn metrics(&self) -> String {
        self.get("/metrics")
            .await
            .text()
            .await
            .expect("metrics body")
    }

    /// Stops the server and waits until it has released the data dir.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Not stopped (a failed assertion): the server and its edge store are dropped later,
        // with the runtime. Keep the data dir so the store can still flush into it.
        if self.task.is_some()
            && let Some(dir) = self._dir.take()
        {
            let _ = dir.keep();
        }
    }
}

/// GETs `url` and parses the answer as JSON.
pub async fn get_json(http: &reqwest::Client, url: impl AsRef<str>) -> serde_json::Value {
    let url = url.as_ref();
    http.get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

/// Polls `GET {base}/v1/documents/{id}` until the job is done or failed (60 s at most).
pub async fn wait_job(http: &reqwest::Client, base: &str, id: &str) -> serde_json::Value {
    let url = format!("{base}/v1/documents/{id}");
    crate::eventually(Duration::from_secs(60), || async {
        let s = get_json(http, &url).await;
        if s["status"] == "done" || s["status"] == "failed" {
            Ok(s)
        } else {
            Err(s)
        }
    })
    .await
    .unwrap_or_else(|s| panic!("job not finished: {s}"))
}

/// The value of one series (exact name and labels, as Prometheus renders them) in a `/metrics`
/// text, or 0 when the series is absent.
pub fn metric_value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Parses a server-sent events body into (event, data) pairs.
pub fn parse_sse(body: &str) -> Vec<(String, serde_json::Value)> {
    body.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .filter_map(|block| {
            let mut event = "message".to_owned();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            serde_json::from_str(&data).ok().map(|v| (event, v))
        })
        .collect()
}

/// The ids and sources of every point in the embedded store under `data_dir` (no app may have
/// it open: the edge shard is opened from disk).
pub async fn stored_points(data_dir: &Path) -> std::collections::BTreeSet<(uuid::Uuid, String)> {
    let settings = test_settings(data_dir, &[]);
    let store = settings
        .vector_store
        .build(&settings.data_dir())
        .await
        .expect("store opens");
    store
        .list_points(None)
        .await
        .expect("list")
        .into_iter()
        .map(|p| (p.id, p.source))
        .collect()
}
