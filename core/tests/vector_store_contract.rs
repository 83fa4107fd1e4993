//! One contract for every `VectorStore`: it runs against the edge adapter always, and against a
//! Qdrant server too when `QDRANT_URL` is set.

use std::sync::Arc;

use ragtrace_core::config::{Overrides, Settings, VectorStoreBackend, VectorStoreSettings};
use ragtrace_core::vector_store::{LegHit, Point, Query, VectorStore, VectorStoreError, sparse};
use serde_json::{Map, Value, json};
use uuid::Uuid;

const DIM: usize = 8;

fn settings(collection: &str) -> VectorStoreSettings {
    let mut s = Settings::load_from(&Overrides::default(), &Default::default())
        .unwrap()
        .vector_store;
    s.dimension = DIM;
    s.collection = collection.to_owned();
    s
}

fn unit(v: [f32; DIM]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

fn payload(source: &str, title: &str) -> Map<String, Value> {
    match json!({"source": source, "title": title, "text": title}) {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn point(id: u128, v: [f32; DIM], source: &str, title: &str) -> Point {
    Point {
        id: Uuid::from_u128(id),
        vector: unit(v),
        sparse: None,
        payload: payload(source, title),
    }
}

fn dense(vector: Vec<f32>, top_k: usize, score_threshold: Option<f32>) -> Query {
    Query {
        score_threshold,
        ..Query::dense(vector, top_k)
    }
}

async fn contract(store: Arc<dyn VectorStore>) {
    store.ensure_collection().await.unwrap();
    store
        .ensure_collection()
        .await
        .expect("ensure_collection is idempotent");
    assert_eq!(store.count().await.unwrap(), 0);
    store
        .upsert(vec![
            point(1, [1., 0., 0., 0., 0., 0., 0., 0.], "a.md", "A"),
            point(2, [0.9, 0.1, 0., 0., 0., 0., 0., 0.], "a.md", "A2"),
            point(3, [0., 1., 0., 0., 0., 0., 0., 0.], "b.md", "B"),
        ])
        .await
        .unwrap();
    assert_eq!(store.count().await.unwrap(), 3);

    // Nearest first, payload returned, top_k respected.
    let hits = store
        .search(dense(unit([1., 0., 0., 0., 0., 0., 0., 0.]), 2, None))
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].id, Uuid::from_u128(1).to_string());
    assert_eq!(hits[0].field("title"), "A");
    assert!(hits[0].score >= hits[1].score);
    assert!((hits[0].score - 1.0).abs() < 1e-4);

    // The score threshold drops weak matches.
    let hits = store
        .search(dense(unit([1., 0., 0., 0., 0., 0., 0., 0.]), 10, Some(0.5)))
        .await
        .unwrap();
    assert_eq!(hits.len(), 2, "the orthogonal point scores 0");

    // Upserting the same id replaces, never duplicates.
    store
        .upsert(vec![point(
            3,
            [0., 1., 0., 0., 0., 0., 0., 0.],
            "b.md",
            "B v2",
        )])
        .await
        .unwrap();
    assert_eq!(store.count().await.unwrap(), 3);
    let hits = store
        .search(dense(unit([0., 1., 0., 0., 0., 0., 0., 0.]), 1, None))
        .await
        .unwrap();
    assert_eq!(hits[0].field("title"), "B v2");

    // Listing returns ids with their source, all or by source, across pages.
    let mut all = store.list_points(None).await.unwrap();
    all.sort_by_key(|p| p.id);
    assert_eq!(
        all.iter()
            .map(|p| (p.id, p.source.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (Uuid::from_u128(1), "a.md"),
            (Uuid::from_u128(2), "a.md"),
            (Uuid::from_u128(3), "b.md"),
        ]
    );
    let b = store.list_points(Some("b.md")).await.unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].id, Uuid::from_u128(3));
    assert!(store.list_points(Some("none.md")).await.unwrap().is_empty());

    // Deleting by id removes exactly those points; no ids is a no-op.
    store.delete_points(vec![]).await.unwrap();
    store.delete_points(vec![Uuid::from_u128(2)]).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 2);
    store
        .upsert(vec![point(
            2,
            [0.9, 0.1, 0., 0., 0., 0., 0., 0.],
            "a.md",
            "A2",
        )])
        .await
        .unwrap();

    // Deleting by source removes exactly that document's points.
    store.delete_by_source("a.md").await.unwrap();
    assert_eq!(store.count().await.unwrap(), 1);

    // Wrong dimensions are a typed error, not a panic.
    let err = store
        .search(dense(vec![1.0; DIM + 1], 1, None))
        .await
        .unwrap_err();
    assert!(
        matches!(err, VectorStoreError::Dimension { expected: DIM, got } if got == DIM + 1)
            || matches!(err, VectorStoreError::Backend(_)),
        "{err:?}"
    );
    store.health().await.unwrap();
    store.optimize().await.unwrap();
    let hits = store
        .search(dense(unit([0., 1., 0., 0., 0., 0., 0., 0.]), 1, None))
        .await
        .unwrap();
    assert_eq!(hits.len(), 1, "searchable after optimize");
    store.delete_by_source("b.md").await.unwrap();
    hybrid(store).await;
}

fn text_point(id: u128, v: [f32; DIM], text: &str) -> Point {
    Point {
        sparse: Some(sparse::document("", text)),
        ..point(id, v, &format!("{id}.md"), text)
    }
}

/// Dense and sparse disagree on a hand-made collection: each leg alone prefers its own point,
/// the fusion puts first the one both legs found, and keeps each leg's favourite after it.
async fn hybrid(store: Arc<dyn VectorStore>) {
    let points = vec![
        // Nearest to the query vector, but no query word.
        text_point(11, [1., 0., 0., 0., 0., 0., 0., 0.], "garden hose fittings"),
        // Close to the query vector, and one mention of the words.
        text_point(
            12,
            [0.9, 0.44, 0., 0., 0., 0., 0., 0.],
            "replace the coin cell once a year",
        ),
        // Far from the query vector, but all about the words.
        text_point(
            13,
            [0., 0., 1., 0., 0., 0., 0., 0.],
            "coin cell: the coin cell is a CR2032 coin cell",
        ),
        // Far and unrelated: the IDF of "coin" and "cell" is over four points.
        text_point(14, [0., 0., 0., 1., 0., 0., 0., 0.], "dimmer switch wiring"),
    ];
    store.upsert(points.clone()).await.unwrap();
    // Re-ingesting the same points changes nothing: same ids, same vectors.
    store.upsert(points).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 4);
    let id = |n: u128| Uuid::from_u128(n).to_string();
    let q = Query {
        dense: Some(unit([1., 0., 0., 0., 0., 0., 0., 0.])),
        sparse: Some(sparse::query("How do I change the coin cell?")),
        top_k: 3,
        score_threshold: Some(0.5),
        candidates: 10,
        fusion: sparse::Fusion::Rrf,
    };
    let dense_only = store
        .search(Query {
            sparse: None,
            ..q.clone()
        })
        .await
        .unwrap();
    assert_eq!(dense_only[0].id, id(11));
    assert_eq!(dense_only[0].sparse, None);
    assert_eq!(dense_only[0].dense.map(|l| l.rank), Some(1));
    let sparse_only = store
        .search(Query {
            dense: None,
            ..q.clone()
        })
        .await
        .unwrap();
    let ids: Vec<String> = sparse_only.iter().map(|h| h.id.clone()).collect();
    assert_eq!(ids, [id(13), id(12)], "the sparse vectors were stored");
    assert!(sparse_only[0].score > sparse_only[1].score);

    let fused = store.search(q).await.unwrap();
    let ids: Vec<String> = fused.iter().map(|h| h.id.clone()).collect();
    assert_eq!(ids, [id(12), id(11), id(13)], "{fused:#?}");
    assert_eq!(
        fused[0].field("text"),
        "replace the coin cell once a year",
        "fused hits carry their payload"
    );
    assert_eq!(fused[0].dense.map(|l| l.rank), Some(2));
    assert_eq!(fused[0].sparse.map(|l| l.rank), Some(2));
    assert!((fused[0].score - 2.0 / (sparse::RRF_K + 2.0)).abs() < 1e-6);
    assert!(matches!(fused[2].sparse, Some(LegHit { rank: 1, .. })));
    assert_eq!(fused[2].dense, None, "below the dense threshold");
}

/// The edge adapter meets the contract.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_store_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = settings("contract").build(dir.path()).await.unwrap();
    assert_eq!(store.backend(), "edge");
    contract(store.clone()).await;
    drop(store);
}

/// The edge adapter keeps its points across a reopen (durable after upsert).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_store_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = settings("persist").build(dir.path()).await.unwrap();
        store
            .upsert(vec![point(
                7,
                [0., 0., 1., 0., 0., 0., 0., 0.],
                "c.md",
                "C",
            )])
            .await
            .unwrap();
    }
    let store = settings("persist").build(dir.path()).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 1);
    let hits = store
        .search(dense(unit([0., 0., 1., 0., 0., 0., 0., 0.]), 1, None))
        .await
        .unwrap();
    assert_eq!(hits[0].field("title"), "C");
}

/// A shard written before hybrid retrieval (dense vector only) gets the sparse vector on open,
/// and every stored point gets its sparse vector from its payload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_shard_without_sparse_vectors_is_brought_up_to_date() {
    use qdrant_edge::{
        DEFAULT_VECTOR_NAME, Distance, EdgeConfig, EdgeShard, EdgeVectorParams, Payload, PointId,
        PointInsertOperations, PointOperations, PointStructPersisted, UpdateOperation,
        VectorStructPersisted,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qdrant-edge").join("old");
    std::fs::create_dir_all(&path).unwrap();
    {
        let config = EdgeConfig::builder()
            .vector(
                DEFAULT_VECTOR_NAME,
                EdgeVectorParams::builder(DIM, Distance::Cosine).build(),
            )
            .build();
        let shard = EdgeShard::load(&path, Some(config)).unwrap();
        let old = PointStructPersisted {
            id: PointId::Uuid(Uuid::from_u128(21)),
            vector: VectorStructPersisted::Single(unit([1., 0., 0., 0., 0., 0., 0., 0.])),
            payload: Some(Payload(
                json!({"source": "old.md", "title": "Remote", "text": "Swap the coin cell."})
                    .as_object()
                    .unwrap()
                    .clone(),
            )),
        };
        shard
            .update(UpdateOperation::PointOperation(
                PointOperations::UpsertPoints(PointInsertOperations::PointsList(vec![old])),
            ))
            .unwrap();
        shard.flush();
    }
    let store = settings("old").build(dir.path()).await.unwrap();
    let hits = store
        .search(Query {
            sparse: Some(sparse::query("coin cell")),
            top_k: 1,
            ..Query::default()
        })
        .await
        .unwrap();
    assert_eq!(hits.len(), 1, "the old point got its sparse vector");
    assert_eq!(hits[0].field("title"), "Remote");
    drop(store);
    // Reopening finds nothing left to do and keeps both vectors.
    let store = settings("old").build(dir.path()).await.unwrap();
    let hits = store
        .search(dense(unit([1., 0., 0., 0., 0., 0., 0., 0.]), 1, None))
        .await
        .unwrap();
    assert_eq!(hits[0].field("source"), "old.md");
}

/// A shard of another dimension is refused with what to do, not opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_shard_of_another_dimension_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(settings("dim").build(dir.path()).await.unwrap());
    let mut other = settings("dim");
    other.dimension = DIM * 2;
    let err = other.build(dir.path()).await.unwrap_err().to_string();
    assert!(
        err.contains("8-dimension") && err.contains("vector_store.dimension"),
        "{err}"
    );
}

/// A Qdrant server meets the same contract (only when QDRANT_URL is set).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qdrant_server_meets_the_contract() {
    let Ok(url) = std::env::var("QDRANT_URL") else {
        eprintln!(
            "\n!!!!! SKIPPED qdrant_server_meets_the_contract: set QDRANT_URL to a Qdrant gRPC endpoint (e.g. http://localhost:6334) to run it !!!!!\n"
        );
        return;
    };
    let mut s = settings(&format!("ragtrace_contract_{}", Uuid::new_v4().simple()));
    s.backend = VectorStoreBackend::Qdrant;
    s.url = url;
    let store = s.build(std::path::Path::new("/nonexistent")).await.unwrap();
    contract(store).await;
}

/// Listing pages through the whole collection: more points than one page holds all come back,
/// each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_store_lists_more_than_one_page() {
    let dir = tempfile::tempdir().unwrap();
    let store = settings("pages").build(dir.path()).await.unwrap();
    let n = 2500u128;
    let points: Vec<Point> = (1..=n)
        .map(|i| {
            let mut v = [0.1; DIM];
            v[(i % DIM as u128) as usize] = 1.0;
            point(i, v, if i % 2 == 0 { "even.md" } else { "odd.md" }, "t")
        })
        .collect();
    store.upsert(points).await.unwrap();
    let all = store.list_points(None).await.unwrap();
    let ids: std::collections::BTreeSet<Uuid> = all.iter().map(|p| p.id).collect();
    assert_eq!(all.len(), n as usize);
    assert_eq!(ids.len(), n as usize, "no point listed twice");
    let even = store.list_points(Some("even.md")).await.unwrap();
    assert_eq!(even.len(), (n / 2) as usize);
    assert!(even.iter().all(|p| p.source == "even.md"));
}
