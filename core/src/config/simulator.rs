//! `[simulator]`: the embedded simulator's fault profile. Every key is explained, with its default, in
//! `core/config/default.toml`.

use serde::Deserialize;

/// Settings of the embedded simulator.
#[derive(Debug, Clone, Deserialize)]
pub struct SimulatorSettings {
    /// Fault profile, e.g. `catalog.latency_ms=6000,chat.error_rate=0.1` (see the simulator docs).
    pub profile: String,
}
