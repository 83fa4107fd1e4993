//! A real `redis-server` on a free port.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, require_tool};

/// A `redis-server` on a free port, killed on drop.
pub struct RedisServer {
    /// The port it listens on; kept across [`RedisServer::restart`] so clients can reconnect.
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

    /// `redis://127.0.0.1:PORT/0`, for `REDIS_URL` or the cache and queue settings.
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
        let port = self.port;
        crate::eventually_blocking(Duration::from_secs(10), || {
            use std::io::{Read as _, Write as _};
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|_| ())?;
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
            let mut buf = [0u8; 7];
            s.write_all(b"PING\r\n").map_err(|_| ())?;
            s.read_exact(&mut buf).map_err(|_| ())?;
            (&buf == b"+PONG\r\n").then_some(()).ok_or(())
        })
        .unwrap_or_else(|()| panic!("redis-server did not start on port {port}"));
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
