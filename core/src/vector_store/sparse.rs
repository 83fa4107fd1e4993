//! The lexical half of hybrid retrieval: BM25 sparse vectors and reciprocal-rank fusion.
//!
//! A chunk's sparse vector holds one weight per distinct term (stop words dropped, English
//! stemming), the BM25 term-frequency part. The collection stores it beside the dense vector
//! under [`SPARSE_VECTOR`], with Qdrant's `IDF` modifier, so the store multiplies each weight by
//! the term's inverse document frequency over the whole collection at query time: a rare word
//! ("coin", "CR2032") counts for more than a common one ("light"). The query's vector is 1 per
//! term. Tokenizing and hashing are qdrant-edge's own BM25 (the same pipeline as a Qdrant
//! server's `qdrant/bm25` model), so both adapters store and query the same vectors.
//!
//! The dense and the sparse leg each return their best candidates; [`fuse`] merges them by
//! distribution-based score fusion (DBSF, the default) or reciprocal rank (RRF, `k = 60`), the two
//! methods Qdrant's own query API offers. Neither needs cosine similarity and BM25 to be on one
//! scale.

use std::sync::LazyLock;

use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The sparse vector's name in the collection (the dense vector is the unnamed default).
pub const SPARSE_VECTOR: &str = "bm25";

/// RRF's constant: a hit at rank `r` of a leg adds `1 / (RRF_K + r)` (Qdrant's default too).
pub const RRF_K: f32 = 60.0;

/// The average chunk length BM25 normalises by, in terms after stop words: the order of what a
/// chunk of at most `ingest.chunk_tokens` (220) holds, where Qdrant's default (256) assumes
/// longer documents. A fork with much longer chunks should raise it.
const AVG_TERMS: f64 = 75.0;

/// A sparse vector: term ids (hashes) and their weights, ids unique.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SparseVector {
    /// Term ids (murmur3 of the stemmed term), unique.
    pub indices: Vec<u32>,
    /// One weight per id.
    pub values: Vec<f32>,
}

impl SparseVector {
    /// Whether the vector has no term (a question of stop words only).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

impl From<qdrant_edge::SparseVector> for SparseVector {
    fn from(v: qdrant_edge::SparseVector) -> Self {
        Self {
            indices: v.indices,
            values: v.values,
        }
    }
}

static BM25: LazyLock<EdgeBm25> = LazyLock::new(|| {
    let config = EdgeBm25Config {
        avg_len: ordered_float(AVG_TERMS),
        ..EdgeBm25Config::default()
    };
    EdgeBm25::new(config).expect("the BM25 defaults are valid")
});

fn ordered_float(v: f64) -> qdrant_edge::external::ordered_float::NotNan<f64> {
    qdrant_edge::external::ordered_float::NotNan::new(v).expect("a constant, not NaN")
}

/// The sparse vector stored with a chunk: its context line (title and headings) and its text,
/// as BM25 term frequencies.
pub fn document(title: &str, text: &str) -> SparseVector {
    let mut s = String::with_capacity(title.len() + 1 + text.len());
    s.push_str(title);
    s.push('\n');
    s.push_str(text);
    BM25.embed_document(&s).into()
}

/// [`document`] of a stored payload (`title`, `section`, `text`): what a point written without
/// a sparse vector gets when the collection is brought up to date.
pub fn document_of_payload(payload: &Map<String, Value>) -> SparseVector {
    let field = |k: &str| payload.get(k).and_then(Value::as_str).unwrap_or("");
    document(
        &super::context_line(field("title"), field("section")),
        field("text"),
    )
}

/// The query's sparse vector: weight 1 per distinct term of the question.
pub fn query(question: &str) -> SparseVector {
    BM25.embed_query(question).into()
}

/// How a leg found a hit: its rank there (1 = best) and its score there.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LegHit {
    /// 1-based rank in the leg's results.
    pub rank: u32,
    /// The leg's own score: cosine similarity (dense) or BM25 with IDF (sparse).
    pub score: f32,
}

/// How the two legs' results are merged: Qdrant's two fusion methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fusion {
    /// Reciprocal rank: a hit scores `1 / (RRF_K + rank)` in each leg that found it. Ranks only,
    /// so a hit both legs found somewhere beats one leg's clear favourite.
    Rrf,
    /// Distribution-based score fusion: each leg's scores are rescaled by that leg's own
    /// spread (mean ± 3 standard deviations → 0..1), then summed. A leg that is sure of one hit
    /// (a score far above its others) keeps it ahead.
    #[default]
    Dbsf,
}

impl Fusion {
    /// `rrf` or `dbsf`, as configured and as the retrieval span says.
    pub fn as_str(self) -> &'static str {
        match self {
            Fusion::Rrf => "rrf",
            Fusion::Dbsf => "dbsf",
        }
    }
}

/// Merges the two legs' results (each best first) by `fusion`. Ties go to the better
/// single-leg rank, then to the dense leg's order. Returns at most `top_k` hits, best first,
/// each with how each leg ranked and scored it.
pub fn fuse(
    fusion: Fusion,
    dense: Vec<super::Hit>,
    sparse: Vec<super::Hit>,
    top_k: usize,
) -> Vec<super::Hit> {
    let dense_scale = Scale::of(fusion, &dense);
    let sparse_scale = Scale::of(fusion, &sparse);
    let mut fused: Vec<super::Hit> = Vec::with_capacity(dense.len() + sparse.len());
    for (i, mut h) in dense.into_iter().enumerate() {
        let leg = LegHit {
            rank: i as u32 + 1,
            score: h.score,
        };
        h.dense = Some(leg);
        h.score = dense_scale.apply(leg);
        fused.push(h);
    }
    for (i, h) in sparse.into_iter().enumerate() {
        let leg = LegHit {
            rank: i as u32 + 1,
            score: h.score,
        };
        let score = sparse_scale.apply(leg);
        match fused.iter_mut().find(|f| f.id == h.id) {
            Some(f) => {
                f.score += score;
                f.sparse = Some(leg);
            }
            None => fused.push(super::Hit {
                score,
                sparse: Some(leg),
                dense: None,
                ..h
            }),
        }
    }
    let best_rank = |h: &super::Hit| {
        [h.dense, h.sparse]
            .iter()
            .flatten()
            .map(|l| l.rank)
            .min()
            .unwrap_or(u32::MAX)
    };
    // A stable sort keeps the dense order among equals.
    fused.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| best_rank(a).cmp(&best_rank(b)))
    });
    fused.truncate(top_k);
    fused
}

/// How one leg's hits turn into fused scores.
enum Scale {
    Rrf,
    /// DBSF's window: `low` = mean − 3σ, `width` = 6σ (0 when every score is the same).
    Dbsf {
        low: f32,
        width: f32,
    },
}

impl Scale {
    fn of(fusion: Fusion, hits: &[super::Hit]) -> Self {
        match fusion {
            Fusion::Rrf => Scale::Rrf,
            Fusion::Dbsf => {
                let n = hits.len().max(1) as f32;
                let mean = hits.iter().map(|h| h.score).sum::<f32>() / n;
                let var = hits.iter().map(|h| (h.score - mean).powi(2)).sum::<f32>() / n;
                let sd = var.sqrt();
                Scale::Dbsf {
                    low: mean - 3.0 * sd,
                    width: 6.0 * sd,
                }
            }
        }
    }

    fn apply(&self, leg: LegHit) -> f32 {
        match *self {
            Scale::Rrf => rrf(leg.rank),
            Scale::Dbsf { width, .. } if width <= f32::EPSILON => 0.5,
            Scale::Dbsf { low, width } => ((leg.score - low) / width).clamp(0.0, 1.0),
        }
    }
}

fn rrf(rank: u32) -> f32 {
    1.0 / (RRF_K + rank as f32)
}

/// Marks each hit of a single leg with its rank and score there (no fusion: the score stays the
/// leg's own).
pub fn mark_leg(hits: &mut [super::Hit], sparse: bool) {
    for (i, h) in hits.iter_mut().enumerate() {
        let leg = Some(LegHit {
            rank: i as u32 + 1,
            score: h.score,
        });
        if sparse {
            h.sparse = leg;
        } else {
            h.dense = leg;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector_store::Hit;

    fn hit(id: &str, score: f32) -> Hit {
        Hit {
            id: id.to_owned(),
            score,
            payload: Map::new(),
            dense: None,
            sparse: None,
        }
    }

    #[test]
    fn rare_terms_and_stems_make_the_vector() {
        let q = query("How do I replace the coin cell of the dimmer remote?");
        let d = document("Dimmer remote", "Replacing the coin cells: open the back.");
        // "how", "do", "i", "the", "of" are stop words; "replace"/"replacing" and "cell"/"cells"
        // stem to one term each, so the question and the passage share them.
        assert_eq!(q.indices.len(), 5, "{q:?}");
        let shared = q.indices.iter().filter(|i| d.indices.contains(i)).count();
        assert_eq!(shared, 5, "query {q:?} document {d:?}");
        assert!(q.values.iter().all(|v| *v == 1.0));
        assert!(query("the of and").is_empty());
    }

    #[test]
    fn a_term_repeated_weighs_more_but_saturates() {
        let once = document("", "firmware");
        let thrice = document("", "firmware firmware firmware");
        assert_eq!(once.indices, thrice.indices);
        assert!(thrice.values[0] > once.values[0]);
        assert!(thrice.values[0] < 3.0 * once.values[0], "BM25 saturates");
    }

    /// Dense and sparse disagree: the passage both legs rank well beats each leg's own favourite,
    /// and a hit only one leg found still comes back.
    #[test]
    fn fusion_prefers_what_both_legs_found() {
        let dense = vec![hit("a", 0.9), hit("b", 0.8), hit("c", 0.7)];
        let sparse = vec![hit("d", 12.0), hit("b", 9.0), hit("e", 3.0)];
        let fused = fuse(Fusion::Rrf, dense, sparse, 4);
        let ids: Vec<&str> = fused.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["b", "a", "d", "c"]);
        let b = &fused[0];
        assert_eq!(
            b.dense,
            Some(LegHit {
                rank: 2,
                score: 0.8
            })
        );
        assert_eq!(
            b.sparse,
            Some(LegHit {
                rank: 2,
                score: 9.0
            })
        );
        assert!((b.score - 2.0 / 62.0).abs() < 1e-6);
        assert_eq!(fused[2].dense, None, "d came from the sparse leg only");
        // Equal fused scores: the better single-leg rank, then the dense order.
        let fused = fuse(Fusion::Rrf, vec![hit("x", 0.5)], vec![hit("y", 4.0)], 2);
        assert_eq!(fused[0].id, "x");
    }

    /// Where the sparse leg is sure (one score far above the rest) and the dense leg is not,
    /// DBSF keeps the sparse favourite first; RRF puts the hit both legs found somewhere first.
    #[test]
    fn dbsf_keeps_a_confident_legs_favourite() {
        let dense = || vec![hit("a", 0.9), hit("b", 0.8), hit("x", 0.7), hit("c", 0.3)];
        let sparse = || vec![hit("s", 14.0), hit("c", 3.1), hit("e", 3.0), hit("f", 2.9)];
        let rrf = fuse(Fusion::Rrf, dense(), sparse(), 3);
        assert_eq!(rrf[0].id, "c", "{rrf:#?}");
        let dbsf = fuse(Fusion::Dbsf, dense(), sparse(), 3);
        assert_eq!(dbsf[0].id, "s", "{dbsf:#?}");
        assert!(dbsf.iter().all(|h| (0.0..=2.0).contains(&h.score)));
        // One hit, no spread: it scores the middle of the window.
        let one = fuse(Fusion::Dbsf, vec![hit("x", 0.7)], vec![], 1);
        assert_eq!(one[0].score, 0.5);
    }

    #[test]
    fn a_single_leg_keeps_its_scores() {
        let mut hits = vec![hit("a", 7.0), hit("b", 3.0)];
        mark_leg(&mut hits, true);
        assert_eq!(
            hits[1].sparse,
            Some(LegHit {
                rank: 2,
                score: 3.0
            })
        );
        assert_eq!(hits[1].score, 3.0);
        assert_eq!(hits[1].dense, None);
    }
}
