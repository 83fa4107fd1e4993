//! Chunking by tokens with overlap (text-splitter, sized by the same tiktoken encoding the chat
//! pipeline counts with), deterministic point ids, and the payload every point carries.

use ragtrace_core::tokens::Tokenizer;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use text_splitter::{ChunkConfig, ChunkSizer, MarkdownSplitter, TextSplitter};
use uuid::Uuid;

use crate::extract::{Document, Format, hex};

/// Namespace of point ids: UUIDv5(namespace, source + chunk content) makes re-ingesting upsert
/// in place instead of duplicating.
pub const POINT_NAMESPACE: Uuid = Uuid::from_u128(0x6c1f_3a57_8e0b_4f2a_9d44_2b7e_51c0_a9d3);

/// One chunk of a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// The document's source: part of the point id, and how a re-run finds the document's points.
    pub source: String,
    /// The document's title, repeated on every chunk so a citation can name the document.
    pub title: String,
    /// The Markdown headings in force where the chunk starts (its own first heading included),
    /// outermost first, joined by " › "; empty for other formats and before the first heading.
    pub section: String,
    /// Position in the document.
    pub index: usize,
    /// The chunk's text: what is embedded, stored in the payload and quoted in prompts.
    pub text: String,
    /// Token count of `text`, at most the chunker's limit; sizes the embedding batches, and the
    /// chat service reads it from the payload instead of counting the passage on every request.
    pub tokens: usize,
    /// Token count of [`Chunk::embedding_text`] (the context line and the text): what the
    /// embedding batches are sized by.
    pub embedding_tokens: usize,
    /// The encoding `tokens` was counted with (`o200k_base` or `cl100k_base`): a service
    /// configured with another one counts the passage itself.
    pub encoding: &'static str,
    /// SHA-256 of the document's text.
    pub document_hash: String,
}

impl Chunk {
    /// Deterministic point id: the same source and content give the same id on every run.
    pub fn id(&self) -> Uuid {
        Uuid::new_v5(
            &POINT_NAMESPACE,
            format!("{}\n{}", self.source, self.text).as_bytes(),
        )
    }

    /// Where the chunk sits: the document's title and the headings above it
    /// ("Service Desk › Tech Bar"). A chunk cut from the middle of a section no longer says what
    /// it is about; embedded with this line in front, its vectors do (a contextual chunk
    /// header). Prompts quote the text alone.
    pub fn context(&self) -> String {
        ragtrace_core::vector_store::context_line(&self.title, &self.section)
    }

    /// What is embedded: [`Chunk::context`], a blank line, the text.
    pub fn embedding_text(&self) -> String {
        format!("{}\n\n{}", self.context(), self.text)
    }

    /// The point's payload: `source`, `title`, `section`, `chunk_index`, `text`, `token_count`,
    /// `token_encoding`, `hash` (of the chunk), `document_hash`.
    pub fn payload(&self) -> Map<String, Value> {
        let v = json!({
            "source": self.source,
            "title": self.title,
            "section": self.section,
            "chunk_index": self.index,
            "text": self.text,
            "token_count": self.tokens,
            "token_encoding": self.encoding,
            "hash": hex(&Sha256::digest(self.text.as_bytes())),
            "document_hash": self.document_hash,
        });
        match v {
            Value::Object(m) => m,
            _ => unreachable!("json! of an object literal is an object"),
        }
    }
}

/// The Markdown headings of `text` (ATX: `#` to `######`, outside code fences), as (byte offset
/// of the line, level, heading text).
fn headings(text: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let mut fenced = false;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let l = line.trim_end();
        if l.trim_start().starts_with("```") || l.trim_start().starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let level = l.bytes().take_while(|&b| b == b'#').count();
        if (1..=6).contains(&level) && l[level..].starts_with(' ') {
            let heading = l[level..].trim().trim_end_matches('#').trim();
            if !heading.is_empty() {
                out.push((start, level, heading));
            }
        }
    }
    out
}

/// The heading path in force at byte `at` of a document with `headings`: each level's latest
/// heading at or before `at`, outermost first (a chunk that opens with a heading is in its
/// section).
fn section_at(headings: &[(usize, usize, &str)], at: usize) -> String {
    let mut path: Vec<(usize, &str)> = Vec::new();
    for &(_, level, heading) in headings.iter().take_while(|(o, _, _)| *o <= at) {
        while path.last().is_some_and(|&(l, _)| l >= level) {
            path.pop();
        }
        path.push((level, heading));
    }
    path.iter().map(|(_, h)| *h).collect::<Vec<_>>().join(" › ")
}

/// text-splitter sizes chunks with our tokenizer (its own tiktoken feature would pull in a
/// second copy of the BPE tables).
#[derive(Debug, Clone, Copy)]
struct TokenSizer(Tokenizer);

impl ChunkSizer for TokenSizer {
    fn size(&self, chunk: &str) -> usize {
        self.0.count(chunk)
    }
}

/// Splits documents into chunks of at most `max_tokens` tokens, neighbours sharing up to
/// `overlap` tokens, at the highest-level boundary that fits: Markdown sections, paragraphs,
/// sentences, words.
#[derive(Debug, Clone)]
pub struct Chunker {
    tokenizer: Tokenizer,
    max_tokens: usize,
    overlap: usize,
}

impl Chunker {
    /// A chunker; `overlap` must be smaller than `max_tokens` (configuration checks it).
    pub fn new(tokenizer: Tokenizer, max_tokens: usize, overlap: usize) -> Self {
        Self {
            tokenizer,
            max_tokens,
            overlap: overlap.min(max_tokens.saturating_sub(1)),
        }
    }

    /// The most tokens a chunk may have (`ingest.chunk_tokens` when built from settings).
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// The chunks of `doc`, in order. A chunk whose text repeats an earlier one of the same
    /// document is dropped (its id would collide).
    pub fn chunks(&self, doc: &Document) -> Vec<Chunk> {
        let config = ChunkConfig::new(self.max_tokens)
            .with_overlap(self.overlap)
            .expect("overlap < max_tokens")
            .with_sizer(TokenSizer(self.tokenizer));
        let (pieces, headings): (Vec<(usize, &str)>, _) = match doc.format {
            Format::Markdown => (
                MarkdownSplitter::new(config)
                    .chunk_indices(&doc.text)
                    .collect(),
                headings(&doc.text),
            ),
            _ => (
                TextSplitter::new(config).chunk_indices(&doc.text).collect(),
                Vec::new(),
            ),
        };
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(pieces.len());
        for (offset, piece) in pieces {
            let text = piece.trim();
            if text.is_empty() || !seen.insert(text) {
                continue;
            }
            // text-splitter keeps chunks within the limit; a single token sequence that cannot
            // be split (a very long "word") is cut here so the limit always holds.
            let mut tokens = self.tokenizer.count(text);
            let text = if tokens > self.max_tokens {
                let cut = self.tokenizer.truncate(text, self.max_tokens);
                tokens = self.tokenizer.count(&cut);
                cut
            } else {
                text.to_owned()
            };
            let mut chunk = Chunk {
                source: doc.source.clone(),
                title: doc.title.clone(),
                section: section_at(&headings, offset + piece.len() - piece.trim_start().len()),
                index: out.len(),
                text,
                tokens,
                embedding_tokens: 0,
                encoding: self.tokenizer.name(),
                document_hash: doc.hash.clone(),
            };
            chunk.embedding_tokens = self.tokenizer.count(&chunk.embedding_text());
            out.push(chunk);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::extract;

    fn long_doc(paragraphs: usize) -> Document {
        let mut md = String::from("# Expenses\n\n");
        for i in 0..paragraphs {
            md.push_str(&format!(
                "## Rule {i}\n\nClaim {i} must be filed within {} days with a receipt. \
                 Hotel limits in Lisbon are {} euros per night. Meals are reimbursed up to {} \
                 euros when travelling for more than four hours.\n\n",
                10 + i,
                120 + i,
                30 + i
            ));
        }
        extract("docs/expenses.md", md.as_bytes(), Format::Markdown).unwrap()
    }

    /// No chunk exceeds the limit, nothing of the text is lost, and every
    /// chunk carries its position, token count and document hash.
    #[test]
    fn chunks_respect_the_token_limit() {
        let t = Tokenizer::by_name("o200k_base");
        let doc = long_doc(40);
        let max = 120;
        let chunker = Chunker::new(t, max, 20);
        let chunks = chunker.chunks(&doc);
        assert!(chunks.len() > 10, "{}", chunks.len());
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.index, i);
            assert!(c.tokens <= max, "chunk {i} has {} tokens", c.tokens);
            assert_eq!(c.tokens, t.count(&c.text));
            assert_eq!(c.document_hash, doc.hash);
            assert_eq!(c.title, "Expenses");
        }
        // Every sentence of the document is in some chunk.
        for sentence in doc.text.split(". ") {
            let probe: String = sentence.trim().chars().take(40).collect();
            assert!(
                chunks.iter().any(|c| c.text.contains(probe.trim())),
                "lost: {probe}"
            );
        }
        // Without overlap, no chunk repeats the start of the next.
        let plain = Chunker::new(t, max, 0).chunks(&doc);
        let repeated = plain
            .windows(2)
            .filter(|w| {
                let head: String = w[1].text.chars().take(40).collect();
                w[0].text.contains(&head)
            })
            .count();
        assert_eq!(repeated, 0);
    }

    /// A long run of sentences is cut with overlap: neighbours share text; without overlap
    /// they do not. (Whole Markdown sections that fit are not repeated.)
    #[test]
    fn long_paragraphs_are_cut_with_overlap() {
        let t = Tokenizer::by_name("o200k_base");
        let text: String = (0..60)
            .map(|i| {
                format!(
                    "Sentence number {i} says the badge office opens at {} o'clock. ",
                    7 + i % 5
                )
            })
            .collect();
        let doc = extract("notes.txt", text.as_bytes(), Format::Text).unwrap();
        let shared = |chunks: &[Chunk]| {
            chunks
                .windows(2)
                .filter(|w| {
                    let head: String = w[1].text.chars().take(30).collect();
                    w[0].text.contains(&head)
                })
                .count()
        };
        let with = Chunker::new(t, 80, 20).chunks(&doc);
        assert!(with.len() > 5);
        assert!(with.iter().all(|c| c.tokens <= 80));
        assert!(
            shared(&with) >= with.len() / 2,
            "neighbours overlap: {:#?}",
            with.iter().take(3).map(|c| &c.text).collect::<Vec<_>>()
        );
        let without = Chunker::new(t, 80, 0).chunks(&doc);
        assert_eq!(shared(&without), 0);
    }

    /// Ids depend on source and content only, so they are stable across runs and differ
    /// between documents.
    #[test]
    fn ids_are_deterministic() {
        let t = Tokenizer::by_name("o200k_base");
        let chunker = Chunker::new(t, 100, 10);
        let a = chunker.chunks(&long_doc(10));
        let b = chunker.chunks(&long_doc(10));
        assert_eq!(
            a.iter().map(Chunk::id).collect::<Vec<_>>(),
            b.iter().map(Chunk::id).collect::<Vec<_>>()
        );
        let mut other = long_doc(10);
        other.source = "docs/other.md".into();
        let c = chunker.chunks(&other);
        assert_ne!(a[0].id(), c[0].id());
        let p = a[0].payload();
        for key in [
            "source",
            "title",
            "section",
            "chunk_index",
            "text",
            "token_count",
            "token_encoding",
            "hash",
            "document_hash",
        ] {
            assert!(p.contains_key(key), "{key}");
        }
        assert_eq!(p["token_count"], a[0].tokens);
        assert_eq!(p["token_encoding"], "o200k_base");
    }

    /// One unbreakable run of text longer than the limit is cut to the limit.
    #[test]
    fn unsplittable_text_is_cut() {
        let t = Tokenizer::by_name("o200k_base");
        let blob = "x".repeat(5000);
        let doc = extract("a.txt", blob.as_bytes(), Format::Text).unwrap();
        let chunks = Chunker::new(t, 50, 5).chunks(&doc);
        assert!(chunks.iter().all(|c| c.tokens <= 50));
    }

    /// A chunk cut from the middle of a section carries the headings above it, so what is
    /// embedded says what the chunk is about; a code fence's `#` lines are not headings, and a
    /// heading closes the sections at its level and below.
    #[test]
    fn chunks_carry_the_headings_above_them() {
        let t = Tokenizer::by_name("o200k_base");
        let mut md = String::from("# Service Desk\n\nHow to get IT help.\n\n## Tech Bar\n\n");
        for i in 0..30 {
            md.push_str(&format!(
                "The Tech Bar swaps broken peripheral number {i} while you wait at the counter. "
            ));
        }
        md.push_str("\n\n### Opening hours\n\nOpen 08:30 to 17:00 on weekdays.\n\n```sh\n# not a heading\n```\n\n## Phone\n\nCall extension 4357.\n");
        let doc = extract("docs/it-service-desk.md", md.as_bytes(), Format::Markdown).unwrap();
        let chunks = Chunker::new(t, 60, 0).chunks(&doc);
        let find = |probe: &str| {
            chunks
                .iter()
                .find(|c| c.text.contains(probe))
                .unwrap_or_else(|| panic!("no chunk holds {probe:?}: {chunks:#?}"))
        };
        assert_eq!(find("How to get IT help").section, "Service Desk");
        assert_eq!(find("How to get IT help").context(), "Service Desk");
        let middle = find("peripheral number 20");
        assert!(!middle.text.contains("## Tech Bar"), "{middle:#?}");
        assert_eq!(middle.section, "Service Desk › Tech Bar");
        assert_eq!(middle.context(), "Service Desk › Tech Bar");
        assert!(
            middle
                .embedding_text()
                .starts_with("Service Desk › Tech Bar\n\nThe Tech Bar")
        );
        assert_eq!(middle.embedding_tokens, t.count(&middle.embedding_text()));
        assert!(middle.embedding_tokens > middle.tokens);
        // A chunk that opens with a heading is in that heading's section.
        for c in &chunks {
            if let Some(h) = c.text.lines().next().filter(|l| l.starts_with('#')) {
                let h = h.trim_start_matches('#').trim();
                assert!(c.section.ends_with(h), "{c:#?}");
            }
        }
        assert_eq!(headings(&md).len(), 4, "the fenced line is not a heading");
        assert_eq!(
            section_at(&headings(&md), md.len()),
            "Service Desk › Phone",
            "a level-2 heading closes the level-2 and level-3 sections before it"
        );
        assert_eq!(
            find("not a heading").payload()["section"],
            find("not a heading").section.as_str()
        );
    }
}
