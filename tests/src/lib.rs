//! Test harness for ragtrace's end-to-end tests: the app in-process on a free port, the real
//! binaries as child processes, a real `redis-server` on a free port, and a real OTLP gRPC
//! receiver.
//!
//! Tests that need a server binary (redis-server) skip with a loud message when it is missing on
//! a developer's machine, and fail when `CI` is set: `scripts/test.sh` installs them.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ragtrace::startup::Application;
use ragtrace::state::AppState;
use ragtrace_core::config::{Overrides, Settings};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// Whether this run is CI (`CI` set to anything but `false`/empty).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

/// The path of `tool` on `PATH`, or `None` after a loud message (outside CI) or a panic (in CI).
pub fn require_tool(tool: &str, test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        skip(test, &format!("`{tool}` is not installed"));
    }
    found
}

/// Reports that `test` cannot run because `why`: loudly on a developer's machine, as a failure
/// (panic) when `CI` is set, where scripts/test.sh has installed everything.
pub fn skip(test: &str, why: &str) {
    let msg = format!(
        "\n\n!!!!! SKIPPED {test}: {why}. Run scripts/test.sh (it installs what the tests need) !!!!!\n"
    );
    if in_ci() {
        panic!("{msg} (CI is set, so a missing dependency is a failure)");
    }
    eprintln!("{msg}");
}

/// A child process killed and reaped on drop.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The directory of the workspace's built binaries (`target/debug`), from this test's path.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/debug/deps/<test> -> target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The path of a workspace binary; panics with the fix when it is not built.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.is_file(),
        "{} is not built: run `cargo build --workspace --bins` first (scripts/test.sh does)",
        p.display()
    );
    p
}

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
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// HTTP client.
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

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request sent")
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

/// A `redis-server` on a free port, killed on drop.
pub struct RedisServer {
    /// Its port.
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts one, or `None` (loudly) when redis-server is not installed outside CI.
    pub fn start(test: &str) -> Option<Self> {
        require_tool("redis-server", test)?;
        let mut s = Self {
            port: free_port(),
            child: None,
            dir: tempfile::tempdir().expect("tempdir"),
        };
        s.restart();
        Some(s)
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// (Re)starts the server on the same port and waits until it answers PING.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read as _, Write as _};
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                if s.write_all(b"PING\r\n").is_ok() {
                    let mut buf = [0u8; 7];
                    if s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n" {
                        return;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    /// Kills the server (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A span as received by [`OtlpReceiver`].
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// `service.name` of its resource.
    pub service: String,
    /// Hex trace id.
    pub trace_id: String,
    /// Hex span id.
    pub span_id: String,
    /// Hex parent span id, empty for a root.
    pub parent_span_id: String,
    /// Span name.
    pub name: String,
    /// OTLP span kind (1 internal, 2 server, 3 client).
    pub kind: i32,
    /// Attributes, stringified.
    pub attributes: std::collections::HashMap<String, String>,
    /// Event names and their attributes, stringified.
    pub events: Vec<(String, Vec<(String, String)>)>,
    /// Status message.
    pub status_message: String,
}

impl ReceivedSpan {
    /// An attribute's value, or `""`.
    pub fn attr(&self, key: &str) -> &str {
        self.attributes.get(key).map_or("", String::as_str)
    }

    /// Every string this span carries (name, attributes, events, status), for leak checks.
    pub fn all_text(&self) -> String {
        let mut s = format!("{} {} ", self.name, self.status_message);
        for (k, v) in &self.attributes {
            s.push_str(&format!("{k}={v} "));
        }
        for (n, attrs) in &self.events {
            s.push_str(n);
            for (k, v) in attrs {
                s.push_str(&format!(" {k}={v}"));
            }
        }
        s
    }
}

mod otlp {
    use super::ReceivedSpan;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
        TraceService, TraceServiceServer,
    };
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };
    use opentelemetry_proto::tonic::common::v1::KeyValue;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use std::sync::{Arc, Mutex};

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn value(kv: &KeyValue) -> String {
        match kv.value.as_ref().and_then(|a| a.value.as_ref()) {
            Some(Value::StringValue(s)) => s.clone(),
            Some(Value::BoolValue(b)) => b.to_string(),
            Some(Value::IntValue(i)) => i.to_string(),
            Some(Value::DoubleValue(d)) => d.to_string(),
            Some(other) => format!("{other:?}"),
            None => String::new(),
        }
    }

    #[derive(Clone, Default)]
    pub struct Collector(pub Arc<Mutex<Vec<ReceivedSpan>>>);

    #[tonic::async_trait]
    impl TraceService for Collector {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            let mut out = self.0.lock().expect("collector lock");
            for rs in request.into_inner().resource_spans {
                let service = rs
                    .resource
                    .as_ref()
                    .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
                    .map(value)
                    .unwrap_or_default();
                for ss in rs.scope_spans {
                    for s in ss.spans {
                        out.push(ReceivedSpan {
                            service: service.clone(),
                            trace_id: hex(&s.trace_id),
                            span_id: hex(&s.span_id),
                            parent_span_id: hex(&s.parent_span_id),
                            name: s.name.clone(),
                            kind: s.kind,
                            attributes: s
                                .attributes
                                .iter()
                                .map(|kv| (kv.key.clone(), value(kv)))
                                .collect(),
                            events: s
                                .events
                                .iter()
                                .map(|e| {
                                    (
                                        e.name.clone(),
                                        e.attributes
                                            .iter()
                                            .map(|kv| (kv.key.clone(), value(kv)))
                                            .collect(),
                                    )
                                })
                                .collect(),
                            status_message: s.status.map(|st| st.message).unwrap_or_default(),
                        });
                    }
                }
            }
            Ok(tonic::Response::new(ExportTraceServiceResponse {
                partial_success: None,
            }))
        }
    }

    pub fn server(c: Collector) -> TraceServiceServer<Collector> {
        TraceServiceServer::new(c)
    }
}

/// A real OTLP gRPC trace receiver on a free port, collecting what it is sent.
pub struct OtlpReceiver {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    _runtime: tokio::runtime::Runtime,
}

impl OtlpReceiver {
    /// Starts one on a free port, on its own runtime (so it serves whatever runtime the test
    /// uses).
    pub fn start() -> Self {
        Self::start_on(0)
    }

    /// Starts one on `port` (0 = a free port).
    pub fn start_on(port: u16) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("receiver runtime");
        let collector = otlp::Collector::default();
        let spans = collector.0.clone();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        rt.spawn(async move {
            tonic::transport::Server::builder()
                .add_service(otlp::server(collector))
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
                .expect("OTLP receiver serves");
        });
        Self {
            endpoint: format!("http://{addr}"),
            spans,
            _runtime: rt,
        }
    }

    /// Everything received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().expect("lock").clone()
    }
}

/// The command of workspace binary `name` in the test environment: the simulator answering
/// instantly, and no OTLP endpoint, Qdrant, Redis or OpenAI settings leaking in from the shell
/// (a test sets the ones it wants after this).
pub fn command(name: &str) -> Command {
    let mut cmd = Command::new(bin(name));
    cmd.env("RAGTRACE__SIMULATOR__PROFILE", "scenario=instant")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("QDRANT_URL")
        .env_remove("REDIS_URL")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL");
    cmd
}

/// A workspace binary running as a child process; SIGTERM then wait on drop.
pub struct Process {
    child: Child,
    /// Base URL parsed from its banner (`listening on http://...`).
    pub base: String,
    /// Lines it printed on stdout and stderr.
    pub output: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// Starts `ragtrace --addr 127.0.0.1:0 --data-dir DIR` with `env`, and waits for its banner.
    pub fn ragtrace(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut cmd = command("ragtrace");
        cmd.args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn ragtrace");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for (stream, tx) in [
            (Box::new(stdout) as Box<dyn std::io::Read + Send>, Some(tx)),
            (Box::new(stderr), None),
        ] {
            let out = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(tx) = &tx
                        && let Some(url) = line
                            .split("listening on ")
                            .nth(1)
                            .filter(|_| line.starts_with("ragtrace "))
                    {
                        let _ = tx.send(url.trim().to_owned());
                    }
                    out.lock().expect("lock").push(line);
                }
            });
        }
        let base = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| {
                panic!(
                    "ragtrace did not print its banner; output:\n{}",
                    output.lock().expect("lock").join("\n")
                )
            });
        Self {
            child,
            base,
            output,
        }
    }

    /// Sends SIGTERM and waits for a clean exit (spans are flushed on the way out).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("process did not exit within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
