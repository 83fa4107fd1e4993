//! `otlp-sink`: a real OTLP gRPC trace receiver that counts what it is sent, for benchmarks of
//! the export path without a collector. Keeps no span, so its memory stays flat whatever it is
//! sent. Prints the span count when stopped (Ctrl-C / SIGTERM).
//!
//! Usage: `otlp-sink [PORT]` (default 4317).

use std::time::Duration;

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .map(|p| p.parse().expect("PORT must be a number"))
        .unwrap_or(4317);
    let receiver = ragtrace_tests::OtlpReceiver::counting_on(port);
    eprintln!("otlp-sink: receiving OTLP gRPC on {}", receiver.endpoint);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    println!("{}", receiver.span_count());
}
