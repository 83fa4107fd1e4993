//! What the sparse leg of hybrid retrieval costs per question: encoding the question's terms,
//! the fusion, and a dense, a sparse and a hybrid search on the same edge collection (the demo
//! corpus's paragraphs, and the same repeated to 20,000 points like case study 2's collection).
//!
//!   cargo bench -p ragtrace-core --bench retrieval
//!
//! The search figures include the store's blocking-pool hop and its connection limit, as the
//! app pays them; the dense vectors are random unit vectors (the simulator is not in the loop),
//! so only the store's work is measured.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ragtrace_core::config::{Overrides, Settings};
use ragtrace_core::vector_store::{Fusion, Hit, Point, Query, VectorStore, sparse};
use serde_json::json;

const DIM: usize = 384;
const QUESTION: &str = "How do I replace the coin cell battery of the dimmer switch?";

/// The demo corpus's paragraphs as (title, text).
fn paragraphs() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/docs");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("data/docs") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let title = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("# ")
            .to_owned();
        for p in text.split("\n\n").filter(|p| p.len() > 80) {
            out.push((title.clone(), p.to_owned()));
        }
    }
    out
}

/// A unit vector from a seed (xorshift), standing in for an embedding.
fn vector(seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v: Vec<f32> = (0..DIM)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 2000) as f32 / 1000.0 - 1.0
        })
        .collect();
    let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.into_iter().map(|a| a / n).collect()
}

fn store(
    rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    points: usize,
) -> Arc<dyn VectorStore> {
    let mut s = Settings::load_from(&Overrides::default(), &Default::default())
        .expect("defaults")
        .vector_store;
    s.dimension = DIM;
    s.collection = format!("bench{points}");
    let store = rt.block_on(s.build(dir)).expect("store");
    let paras = paragraphs();
    let all: Vec<Point> = (0..points)
        .map(|i| {
            let (title, text) = &paras[i % paras.len()];
            let payload = json!({"source": format!("bench/{i}.md"), "title": title, "text": text});
            Point {
                id: uuid::Uuid::from_u128(i as u128 + 1),
                vector: vector(i as u64),
                sparse: Some(sparse::document(title, text)),
                payload: payload.as_object().expect("object").clone(),
            }
        })
        .collect();
    for batch in all.chunks(1000) {
        rt.block_on(store.upsert(batch.to_vec())).expect("upsert");
    }
    rt.block_on(store.optimize()).expect("index");
    store
}

fn hits(n: usize) -> Vec<Hit> {
    (0..n)
        .map(|i| Hit {
            id: format!("h{i}"),
            score: 1.0 / (i as f32 + 1.0),
            payload: Default::default(),
            dense: None,
            sparse: None,
        })
        .collect()
}

fn encoding(c: &mut Criterion) {
    c.bench_function("sparse::query (question terms)", |b| {
        b.iter(|| sparse::query(black_box(QUESTION)))
    });
    let paras = paragraphs();
    let (title, text) = &paras[0];
    c.bench_function("sparse::document (one chunk, at ingest)", |b| {
        b.iter(|| sparse::document(black_box(title), black_box(text)))
    });
    for fusion in [Fusion::Dbsf, Fusion::Rrf] {
        c.bench_function(
            &format!("fuse {} (2 × 20 candidates)", fusion.as_str()),
            |b| b.iter(|| sparse::fuse(fusion, hits(20), hits(20), 5)),
        );
    }
}

fn search(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("search");
    for points in [paragraphs().len(), 20_000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(&rt, dir.path(), points);
        let q = vector(7);
        let terms = sparse::query(QUESTION);
        let legs = [
            ("dense", Some(q.clone()), None),
            ("sparse", None, Some(terms.clone())),
            ("hybrid", Some(q.clone()), Some(terms.clone())),
        ];
        for (name, dense, sparse) in legs {
            let query = Query {
                dense,
                sparse,
                top_k: 5,
                score_threshold: None,
                candidates: 20,
                fusion: Fusion::Dbsf,
            };
            group.bench_with_input(BenchmarkId::new(name, points), &query, |b, query| {
                b.iter(|| rt.block_on(store.search(query.clone())).expect("search"))
            });
        }
        drop(store);
    }
    group.finish();
}

criterion_group!(benches, encoding, search);
criterion_main!(benches);
