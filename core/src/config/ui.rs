//! `[ui]`: the built-in web UI. Every key is explained, with its default, in
//! `core/config/default.toml`.

use serde::Deserialize;

/// Built-in web UI settings.
#[derive(Debug, Clone, Deserialize)]
pub struct UiSettings {
    /// Base URL of a Jaeger UI to link traces to; empty = none.
    pub jaeger_url: String,
}
