//! The real binaries as child processes, and what a test needs to find and run them: free
//! ports, the built binaries, and the skip-or-fail rule for missing tools.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

    /// Kills it with SIGKILL (no chance to clean up, like a crash or the OOM killer) and waits.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for a clean exit (spans are flushed on the way out).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let exited = crate::eventually_blocking(Duration::from_secs(30), || {
            self.child.try_wait().ok().flatten().ok_or(())
        });
        exited.unwrap_or_else(|()| {
            let _ = self.child.kill();
            panic!("process did not exit within 30 s of SIGTERM")
        })
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
