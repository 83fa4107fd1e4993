//! `ragtrace`: the chat API. See the crate docs and README for what it does.

use std::path::PathBuf;

use clap::Parser;
use ragtrace::startup::Application;
use ragtrace_core::config::{Overrides, Settings};

/// Retrieval-augmented chat service, traced end to end. With no configuration it runs fully
/// embedded: in-process vector store, cache and simulated LLM.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Address to listen on (HOST:PORT; port 0 picks a free port).
    #[arg(long)]
    addr: Option<String>,
    /// Directory for embedded state (the edge vector store).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Optional TOML file layered over the compiled-in defaults.
    #[arg(long, env = "RAGTRACE_CONFIG")]
    config: Option<PathBuf>,
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(&Overrides {
        file: cli.config,
        addr: cli.addr,
        data_dir: cli.data_dir,
    })?;
    let _telemetry = ragtrace_core::telemetry::init(&settings.telemetry, Vec::new())?;
    let app = Application::build(settings).await?;
    app.print_banner();
    app.run_until_stopped().await?;
    Ok(())
}
