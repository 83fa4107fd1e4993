//! The prompt build of one chat request: five retrieved passages whose token counts were stored
//! at ingest, and the question, headers and products counted here.
//!
//!   cargo bench -p ragtrace --bench prompt
//!
//! Figures and what they mean: docs/benchmarks.md ("Micro-benchmarks").

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ragtrace::pipeline::prompt;
use ragtrace_core::tokens::Tokenizer;
use ragtrace_core::vector_store::Hit;
use serde_json::json;

/// A passage of the demo corpus's size (one chunk: about 200 tokens).
const PASSAGE: &str = "To reset the Lumen Hub 2 to factory settings, hold the reset button on the back \
for ten seconds until the status ring blinks amber, then release it. The hub restarts, forgets its \
Wi-Fi network and its paired devices, and keeps its firmware. Pair it again from the Lumen app: \
choose Add device, scan the code on the hub's base, and follow the steps. If the ring stays red, \
unplug the hub for thirty seconds and try again. A reset does not remove the hub from your account; \
remove it in the app's settings before you give it away. Devices paired with the hub keep their \
schedules only when you restore a backup made before the reset. Backups are made every night when \
the hub is online and kept for thirty days; restore one from Settings, Hub, Backups.";

fn hits(tokenizer: Tokenizer, stored: bool) -> Vec<Hit> {
    (0..5)
        .map(|i| {
            let mut payload = json!({
                "title": format!("Lumen Hub 2: reset and pairing ({i})"),
                "source": format!("docs/products/lumen-hub-2-{i}.md"),
                "text": PASSAGE,
            });
            if stored {
                payload["token_count"] = json!(tokenizer.count(PASSAGE));
                payload["token_encoding"] = json!(tokenizer.name());
            }
            Hit {
                id: format!("00000000-0000-0000-0000-00000000000{i}"),
                score: 0.9 - i as f32 * 0.05,
                payload: payload.as_object().cloned().unwrap_or_default(),
                dense: None,
                sparse: None,
            }
        })
        .collect()
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("prompt");
    let tokenizer = Tokenizer::by_name("o200k_base");
    for (label, stored) in [
        ("counts stored at ingest", true),
        ("counted per request", false),
    ] {
        let hits = hits(tokenizer, stored);
        g.bench_function(format!("build, 5 passages, {label}"), |b| {
            b.iter(|| {
                prompt::build(
                    tokenizer,
                    black_box(2000),
                    black_box("How do I reset the Lumen Hub 2?"),
                    black_box(&hits),
                    &[],
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, build);
criterion_main!(benches);
