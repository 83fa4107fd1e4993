//! `ragtrace-sim`: the upstream simulator as a standalone service.

use std::net::TcpListener;

use anyhow::Context as _;
use clap::Parser;
use ragtrace_core::config::{Overrides, Settings};
use ragtrace_sim::profile::{Profiles, Scenario};
use ragtrace_sim::{SimOptions, start};

/// Simulator of the services ragtrace calls: an OpenAI-compatible API and a product catalog API,
/// with latency, error, rate-limit and hang profiles changeable at run time.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090", env = "RAGTRACE_SIM_ADDR")]
    addr: String,
    /// Starting scenario: healthy, instant, slow-catalog, rate-limited, llm-errors, llm-hang.
    #[arg(long, default_value = "healthy", env = "RAGTRACE_SIM_SCENARIO")]
    scenario: String,
    /// Profile overrides applied after the scenario, e.g.
    /// `catalog.latency_ms=6000,chat.error_rate=0.1`.
    #[arg(long, default_value = "", env = "RAGTRACE_SIM_PROFILE")]
    profile: String,
    /// Embedding length for requests that send no `dimensions`.
    #[arg(long, default_value_t = 384, env = "RAGTRACE_SIM_EMBEDDING_DIM")]
    embedding_dim: usize,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut settings = Settings::load(&Overrides::default())?;
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        settings.telemetry.service_name = "ragtrace-sim".into();
    }
    let telemetry = ragtrace_core::telemetry::init(&settings.telemetry, Vec::new(), false)?;
    let _ = ragtrace_core::metrics::handle();
    let result = actix_web::rt::System::new().block_on(serve(cli));
    // Flushes spans outside the server's runtime, after it has stopped.
    drop(telemetry);
    result
}

async fn serve(cli: Cli) -> anyhow::Result<()> {
    let scenario = Scenario::parse(&cli.scenario).with_context(|| {
        format!(
            "unknown scenario {:?}; one of {}",
            cli.scenario,
            Scenario::names()
        )
    })?;
    let mut profiles: Profiles = scenario.profiles();
    profiles
        .apply_str(&cli.profile)
        .map_err(|e| anyhow::anyhow!("invalid --profile: {e}"))?;
    // Signals first, so none can arrive before anyone listens for it.
    let mut signals = ragtrace_core::signals::StopSignals::register()?;
    let listener =
        TcpListener::bind(&cli.addr).with_context(|| format!("cannot listen on {}", cli.addr))?;
    let sim = start(
        listener,
        SimOptions {
            profiles,
            embedding_dim: cli.embedding_dim,
            serve_metrics: true,
            workers: 4,
        },
    )?;
    tracing::info!(addr = %sim.addr, scenario = scenario.as_str(), "ragtrace-sim listening: OpenAI-compatible API at {}, catalog at {}", sim.openai_base_url(), sim.catalog_base_url());
    signals.recv().await;
    tracing::info!("shutting down");
    sim.handle.stop(true).await;
    Ok(())
}
