//! Indexing the shipped demo corpus (`data/docs`, compiled into the binary) into an empty store
//! at first start, so `cargo run` answers questions right away.
//!
//! This is the minimal indexing path: paragraphs merged into chunks of about
//! [`CHUNK_TOKENS`] tokens. The ingest worker (`ragtrace-ingest`) is the full pipeline.

use include_dir::{Dir, include_dir};
use ragtrace_core::llm::LlmClient;
use ragtrace_core::tokens::Tokenizer;
use ragtrace_core::vector_store::{Point, VectorStore};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// The shipped corpus.
pub static CORPUS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../data/docs");

/// Target chunk size in tokens.
pub const CHUNK_TOKENS: usize = 220;

/// Texts embedded per request.
const EMBED_BATCH: usize = 64;

/// Namespace of point ids: UUIDv5(namespace, source + chunk content) makes re-indexing upsert
/// in place instead of duplicating.
pub const POINT_NAMESPACE: Uuid = Uuid::from_u128(0x6c1f_3a57_8e0b_4f2a_9d44_2b7e_51c0_a9d3);

/// A chunk of a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Document path, e.g. `docs/it-vpn-setup.md`.
    pub source: String,
    /// Document title (its `# ` line).
    pub title: String,
    /// Position in the document.
    pub index: usize,
    /// Text.
    pub text: String,
    /// Tokens.
    pub tokens: usize,
}

impl Chunk {
    /// Deterministic point id.
    pub fn id(&self) -> Uuid {
        Uuid::new_v5(
            &POINT_NAMESPACE,
            format!("{}\n{}", self.source, self.text).as_bytes(),
        )
    }

    fn payload(&self) -> Map<String, Value> {
        let v = json!({
            "source": self.source,
            "title": self.title,
            "chunk_index": self.index,
            "text": self.text,
            "token_count": self.tokens,
        });
        match v {
            Value::Object(m) => m,
            _ => unreachable!("json! of an object literal is an object"),
        }
    }
}

/// Splits a Markdown document into chunks: paragraphs merged up to `max_tokens`, the title
/// taken from the first `# ` line.
pub fn chunk_markdown(
    source: &str,
    text: &str,
    tokenizer: &Tokenizer,
    max_tokens: usize,
) -> Vec<Chunk> {
    let title = text
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .unwrap_or(source)
        .trim()
        .to_owned();
    let mut chunks = Vec::new();
    let mut cur = String::new();
    let mut cur_tokens = 0;
    let flush = |cur: &mut String, cur_tokens: &mut usize, chunks: &mut Vec<Chunk>| {
        if !cur.trim().is_empty() {
            chunks.push(Chunk {
                source: source.to_owned(),
                title: title.clone(),
                index: chunks.len(),
                text: cur.trim().to_owned(),
                tokens: *cur_tokens,
            });
        }
        cur.clear();
        *cur_tokens = 0;
    };
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        if para.starts_with("# ") {
            continue;
        }
        let t = tokenizer.count(para);
        if cur_tokens + t > max_tokens && cur_tokens > 0 {
            flush(&mut cur, &mut cur_tokens, &mut chunks);
        }
        let para = if t > max_tokens {
            tokenizer.truncate(para, max_tokens)
        } else {
            para.to_owned()
        };
        cur.push_str(&para);
        cur.push_str("\n\n");
        cur_tokens += t.min(max_tokens);
    }
    flush(&mut cur, &mut cur_tokens, &mut chunks);
    chunks
}

/// Every chunk of the shipped corpus.
pub fn corpus_chunks(tokenizer: &Tokenizer) -> Vec<Chunk> {
    let mut files: Vec<_> = CORPUS
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort_by_key(|f| f.path().to_path_buf());
    files
        .into_iter()
        .filter_map(|f| {
            let text = f.contents_utf8()?;
            Some(chunk_markdown(
                &format!("docs/{}", f.path().display()),
                text,
                tokenizer,
                CHUNK_TOKENS,
            ))
        })
        .flatten()
        .collect()
}

/// Embeds and upserts `chunks`.
pub async fn index(
    store: &dyn VectorStore,
    llm: &LlmClient,
    chunks: &[Chunk],
) -> anyhow::Result<usize> {
    for batch in chunks.chunks(EMBED_BATCH) {
        let emb = llm
            .embed(batch.iter().map(|c| c.text.clone()).collect())
            .await?;
        let points = batch
            .iter()
            .zip(emb.vectors)
            .map(|(c, vector)| Point {
                id: c.id(),
                vector,
                payload: c.payload(),
            })
            .collect();
        store.upsert(points).await?;
    }
    Ok(chunks.len())
}

/// Indexes the demo corpus when the store is empty; returns the store's point count, or `None`
/// when the store cannot be reached (the app still starts, and `/readyz` says why).
pub async fn seed_if_empty(store: &dyn VectorStore, llm: &LlmClient) -> Option<u64> {
    use tracing::Instrument as _;
    seed(store, llm)
        .instrument(tracing::info_span!("seed demo corpus"))
        .await
}

async fn seed(store: &dyn VectorStore, llm: &LlmClient) -> Option<u64> {
    let count = match store.count().await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!("cannot count points, skipping the demo corpus: {e}");
            return None;
        }
    };
    if count > 0 {
        return Some(count);
    }
    let tokenizer = Tokenizer::by_name("o200k_base");
    let chunks = corpus_chunks(&tokenizer);
    let started = std::time::Instant::now();
    tracing::info!(
        chunks = chunks.len(),
        "indexing the demo corpus into an empty store"
    );
    match index(store, llm, &chunks).await {
        Ok(n) => {
            tracing::info!(
                chunks = n,
                seconds = started.elapsed().as_secs_f64(),
                "demo corpus indexed"
            );
            store.count().await.ok()
        }
        Err(e) => {
            tracing::warn!("cannot index the demo corpus: {e}");
            store.count().await.ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped corpus yields chunks within the size limit, with titles and stable ids.
    #[test]
    fn corpus_chunks_are_bounded_and_stable() {
        let t = Tokenizer::by_name("o200k_base");
        let chunks = corpus_chunks(&t);
        assert!(chunks.len() >= 100, "{}", chunks.len());
        assert!(
            chunks
                .iter()
                .all(|c| c.tokens <= CHUNK_TOKENS && !c.title.is_empty())
        );
        let again = corpus_chunks(&t);
        assert_eq!(
            chunks.iter().map(Chunk::id).collect::<Vec<_>>(),
            again.iter().map(Chunk::id).collect::<Vec<_>>()
        );
    }
}
