//! `[admin]`: who may switch the case studies' fixes on a running app. Every key is explained,
//! with its default, in `core/config/default.toml`.

use serde::Deserialize;

/// Admin API settings.
#[derive(Debug, Clone, Deserialize)]
pub struct AdminSettings {
    /// Whether callers other than loopback may use the admin API. Off by default: a page in a
    /// browser on another host must not be able to reconfigure the app.
    pub allow_remote: bool,
}
