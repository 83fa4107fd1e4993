//! `[server]`: where the HTTP API listens and what it accepts. Every key is explained, with its default, in
//! `core/config/default.toml`.

use std::path::PathBuf;

use serde::Deserialize;

/// `[server]`: where the HTTP API listens, where embedded state lives, how big a body may be.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    /// `HOST:PORT` to listen on; port 0 picks a free port (tests use this).
    pub addr: String,
    /// Directory for embedded state.
    pub data_dir: PathBuf,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// When set, every route but the probes, `/metrics` and the UI's static files requires it:
    /// `Authorization: Bearer <key>`, or the cookie the UI gets from `POST /api/session`.
    #[serde(default)]
    pub api_key: Option<secrecy::SecretString>,
    /// Connections one client address may have open at once; requests on the ones beyond get
    /// 429 and the connection is closed. 0 = no cap.
    pub max_connections_per_client: usize,
    /// How long a request body may take to arrive, whole; a slower one gets 408 and the
    /// connection is closed.
    pub body_timeout_ms: u64,
    /// Web origins besides the app's own whose pages may call the API (`https://host:port`),
    /// comma-separated; empty = none.
    pub allowed_origins: String,
    /// Host names besides IP addresses and `localhost` that requests may name in `Host`,
    /// comma-separated; `*` = any.
    pub allowed_hosts: String,
}

impl ServerSettings {
    /// [`Self::allowed_hosts`] as a list, lower-cased.
    pub fn allowed_hosts(&self) -> Vec<String> {
        self.allowed_hosts
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect()
    }

    /// [`Self::allowed_origins`] as a list, each without a trailing slash.
    pub fn allowed_origins(&self) -> Vec<String> {
        self.allowed_origins
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect()
    }
}
