//! `ragtrace`: the chat API. See the crate docs and README for what it does.

use std::path::PathBuf;

use std::sync::Arc;

use clap::Parser;
use ragtrace::startup::Application;
use ragtrace_core::config::{Overrides, Settings};
use ragtrace_core::trace_store::TraceStore;

/// mimalloc, with the trace store's spans on pages of their own (`ragtrace::alloc`).
#[global_allocator]
static ALLOCATOR: ragtrace::alloc::Allocator = ragtrace::alloc::Allocator;

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

fn main() -> anyhow::Result<()> {
    // The trace store's byte cap counts its allocations as mimalloc's blocks, not as asked.
    ragtrace_core::trace_store::count_allocations_as(ragtrace_core::trace_store::mimalloc_block);
    let cli = Cli::parse();
    let settings = Settings::load(&Overrides {
        file: cli.config,
        addr: cli.addr,
        data_dir: cli.data_dir,
    })?;
    let traces = settings.trace_store.build(settings.telemetry.sample_ratio);
    let telemetry = ragtrace_core::telemetry::init(
        &settings.telemetry,
        ragtrace_core::trace_store::sinks(traces.as_ref()),
        settings.trace_store.records_all(),
    )?;
    let result = actix_web::rt::System::new().block_on(serve(settings, traces));
    // Flushes spans outside the server's runtime, after it has stopped.
    drop(telemetry);
    result
}

async fn serve(settings: Settings, traces: Option<Arc<TraceStore>>) -> anyhow::Result<()> {
    let app = Application::build(settings, traces).await?;
    // Signals are registered before the banner says we are up, so none can be missed.
    let handle = app.handle();
    let mut signals = ragtrace_core::signals::StopSignals::register()?;
    actix_web::rt::spawn(async move {
        signals.recv().await;
        tracing::info!("shutting down: finishing requests in flight");
        handle.stop(true).await;
    });
    app.print_banner();
    app.run_until_stopped().await?;
    Ok(())
}
