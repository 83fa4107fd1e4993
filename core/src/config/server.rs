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
}
