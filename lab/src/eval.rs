//! Answer quality, measured like latency and cost: `ragtrace-lab eval` asks a golden set of
//! questions (each with the sources and the fact a right answer holds) and scores each answer:
//! the rank of the first expected source among those retrieved (hit@1/3/5, MRR), whether an
//! expected source is cited, whether the expected fact is in the answer, and whether the product
//! catalog was called (a policy question must not call it).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of the eval report's shape.
pub const SCHEMA: u32 = 1;

/// What kind of question: about the documents, about the products, or a policy question that
/// uses shopping words (and must not call the catalog).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Answered from the documents.
    Doc,
    /// Answered from the product catalog.
    Product,
    /// A policy question in shopping words.
    Policy,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Doc => "doc",
            Kind::Product => "product",
            Kind::Policy => "policy",
        }
    }
}

/// One question of the golden set (a line of `data/golden.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Golden {
    /// Unique id.
    pub id: String,
    /// Its kind.
    pub kind: Kind,
    /// The question, as a user would ask it.
    pub question: String,
    /// What a right answer is drawn from: document file names (`hr-parental-leave.md`) or
    /// product ids (`NL-0001`).
    pub sources: Vec<String>,
    /// Alternatives of the fact a right answer holds (any one, case-insensitive).
    pub facts: Vec<String>,
    /// A note for the reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Reads a golden set: one JSON object per line; blank lines and `//` lines are skipped.
pub fn read_golden(path: &Path) -> anyhow::Result<Vec<Golden>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut set = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let g: Golden = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a golden question", path.display(), n + 1))?;
        anyhow::ensure!(
            !g.sources.is_empty() && !g.facts.is_empty(),
            "{}:{}: {} needs at least one source and one fact",
            path.display(),
            n + 1,
            g.id
        );
        set.push(g);
    }
    anyhow::ensure!(!set.is_empty(), "{} holds no questions", path.display());
    Ok(set)
}

/// How one answer scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// The question's id.
    pub id: String,
    /// Its kind.
    pub kind: Kind,
    /// The question.
    pub question: String,
    /// 1-based rank of the first expected source among the answer's sources of its kind
    /// (products for a product question, passages otherwise); `None` if absent.
    pub rank: Option<usize>,
    /// Whether an expected source is cited in the answer.
    pub cited_correct: bool,
    /// Whether one of the expected facts is in the answer.
    pub fact_in_answer: bool,
    /// Whether the request called the product catalog.
    pub catalog_called: bool,
    /// How the app retrieved (`dense`, `sparse`, `hybrid`), from the trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval: Option<String>,
    /// The expected source's rank among the passages as the app's retrieval span recorded it
    /// (0: absent); the same as `rank` for a document question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traced_rank: Option<u64>,
    /// The answer, for the failures' listing.
    pub answer: String,
    /// The request's trace, to open it in the viewer.
    pub trace_id: String,
}

/// Whether `source` (a chat response's source object) is `expected` (a file name or a product
/// id).
fn is_expected(source: &Value, expected: &str) -> bool {
    let id = source["id"].as_str().unwrap_or_default();
    let path = source["source"].as_str().unwrap_or_default();
    id == expected || ragtrace_core::vector_store::is_source(path, expected)
}

/// What the eval reads from a request's trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceFacts {
    /// Whether the request called the product catalog (its `execute_tool` span).
    pub catalog_called: bool,
    /// `ragtrace.retrieval.mode` of its retrieval span.
    pub retrieval: Option<String>,
    /// `ragtrace.eval.expected_rank` of its retrieval span (0: not among the passages).
    pub expected_rank: Option<u64>,
}

/// Scores the chat response `resp` to `g`, with what its trace says.
pub fn score(g: &Golden, resp: &Value, facts: &TraceFacts) -> Scored {
    let sources = resp["sources"].as_array().cloned().unwrap_or_default();
    // A product question's rank is among the products given to the model, a document
    // question's among the passages: the prompt lists passages first, then products.
    let of_kind: Vec<&Value> = sources
        .iter()
        .filter(|s| (s["source"] == "catalog") == (g.kind == Kind::Product))
        .collect();
    let rank = of_kind
        .iter()
        .position(|s| g.sources.iter().any(|e| is_expected(s, e)))
        .map(|i| i + 1);
    let cited_correct = sources
        .iter()
        .any(|s| s["cited"].as_bool() == Some(true) && g.sources.iter().any(|e| is_expected(s, e)));
    let answer = resp["answer"].as_str().unwrap_or_default().to_owned();
    let lower = answer.to_lowercase();
    Scored {
        id: g.id.clone(),
        kind: g.kind,
        question: g.question.clone(),
        rank,
        cited_correct,
        fact_in_answer: g.facts.iter().any(|f| lower.contains(&f.to_lowercase())),
        catalog_called: facts.catalog_called,
        retrieval: facts.retrieval.clone(),
        traced_rank: facts.expected_rank,
        answer,
        trace_id: resp["trace_id"].as_str().unwrap_or_default().to_owned(),
    }
}

/// The scores of a set of answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Questions.
    pub questions: usize,
    /// Share with an expected source first.
    pub hit_at_1: f64,
    /// Share with one in the first three.
    pub hit_at_3: f64,
    /// Share with one in the first five.
    pub hit_at_5: f64,
    /// Mean reciprocal rank of the first expected source (0 when absent).
    pub mrr: f64,
    /// Share whose answer cites an expected source.
    pub cited_correct: f64,
    /// Share whose answer holds the expected fact.
    pub fact_in_answer: f64,
    /// Requests that called the product catalog.
    pub catalog_calls: usize,
}

impl Metrics {
    /// The metrics of `scored`.
    pub fn of<'a>(scored: impl IntoIterator<Item = &'a Scored>) -> Self {
        let all: Vec<&Scored> = scored.into_iter().collect();
        let n = all.len();
        if n == 0 {
            return Self::default();
        }
        let share =
            |f: &dyn Fn(&Scored) -> bool| all.iter().filter(|s| f(s)).count() as f64 / n as f64;
        let hit = |k: usize| share(&|s: &Scored| s.rank.is_some_and(|r| r <= k));
        Self {
            questions: n,
            hit_at_1: hit(1),
            hit_at_3: hit(3),
            hit_at_5: hit(5),
            mrr: all
                .iter()
                .map(|s| s.rank.map_or(0.0, |r| 1.0 / r as f64))
                .sum::<f64>()
                / n as f64,
            cited_correct: share(&|s: &Scored| s.cited_correct),
            fact_in_answer: share(&|s: &Scored| s.fact_in_answer),
            catalog_calls: all.iter().filter(|s| s.catalog_called).count(),
        }
    }
}

/// What `ragtrace-lab eval --out` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// [`SCHEMA`].
    pub schema: u32,
    /// When the run started, RFC 3339.
    pub started_at: String,
    /// The golden set's path.
    pub golden: String,
    /// What was asked: `in-process` or the target URL.
    pub target: String,
    /// The `user_id` the run asked as: the app's breakdown and summary filtered by it show the
    /// run's quality beside its time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// How the app retrieved (`dense`, `sparse`, `hybrid`), as its traces say; `mixed` if the
    /// questions disagree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval: Option<String>,
    /// Over every question.
    pub overall: Metrics,
    /// By kind.
    pub by_kind: BTreeMap<Kind, Metrics>,
    /// Every question's score.
    pub questions: Vec<Scored>,
}

impl EvalReport {
    /// The report of `scored`.
    pub fn new(started_at: String, golden: String, target: String, scored: Vec<Scored>) -> Self {
        let mut by_kind: BTreeMap<Kind, Vec<&Scored>> = BTreeMap::new();
        for s in &scored {
            by_kind.entry(s.kind).or_default().push(s);
        }
        let mut modes: Vec<&str> = scored
            .iter()
            .filter_map(|s| s.retrieval.as_deref())
            .collect();
        modes.dedup();
        let retrieval = match modes.as_slice() {
            [] => None,
            [one] => Some((*one).to_owned()),
            _ => Some("mixed".to_owned()),
        };
        Self {
            schema: SCHEMA,
            started_at,
            golden,
            target,
            user_id: None,
            retrieval,
            overall: Metrics::of(&scored),
            by_kind: by_kind
                .into_iter()
                .map(|(k, v)| (k, Metrics::of(v)))
                .collect(),
            questions: scored,
        }
    }

    /// The table `eval` prints: the metrics by kind, then the worst failures (no expected source
    /// in the first five, or no fact; a policy question that called the catalog).
    pub fn table(&self, worst: usize) -> String {
        let pct = |x: f64| format!("{:5.1} %", x * 100.0);
        let mut out = format!(
            "answer quality: {} questions ({}, {} retrieval)\n  {:<8} {:>4}  {:>7}  {:>7}  {:>7}  {:>5}  {:>7}  {:>7}  {:>7}\n",
            self.overall.questions,
            self.golden,
            self.retrieval.as_deref().unwrap_or("unknown"),
            "kind",
            "n",
            "hit@1",
            "hit@3",
            "hit@5",
            "MRR",
            "cited",
            "fact",
            "catalog"
        );
        let rows = self
            .by_kind
            .iter()
            .map(|(k, m)| (k.as_str(), m))
            .chain(std::iter::once(("all", &self.overall)));
        for (name, m) in rows {
            let _ = writeln!(
                out,
                "  {:<8} {:>4}  {}  {}  {}  {:>5.2}  {}  {}  {:>7}",
                name,
                m.questions,
                pct(m.hit_at_1),
                pct(m.hit_at_3),
                pct(m.hit_at_5),
                m.mrr,
                pct(m.cited_correct),
                pct(m.fact_in_answer),
                m.catalog_calls
            );
        }
        let failures: Vec<&Scored> = self
            .questions
            .iter()
            .filter(|s| {
                s.rank.is_none_or(|r| r > 5)
                    || !s.fact_in_answer
                    || (s.kind == Kind::Policy && s.catalog_called)
            })
            .collect();
        if !failures.is_empty() {
            let _ = writeln!(
                out,
                "worst failures ({} of {}; open a trace at /ui/#/traces/ID):",
                failures.len().min(worst),
                failures.len()
            );
            // No source at all first, then no fact.
            let mut sorted = failures;
            sorted.sort_by_key(|s| (s.rank.is_some(), s.fact_in_answer));
            for s in sorted.into_iter().take(worst) {
                let answer: String = s.answer.chars().take(90).collect();
                let _ = writeln!(
                    out,
                    "  {} [{}] rank {} fact {}{}: {:?}\n      → {answer:?} ({})",
                    s.id,
                    s.kind.as_str(),
                    s.rank.map_or_else(|| "–".to_owned(), |r| r.to_string()),
                    if s.fact_in_answer { "yes" } else { "no" },
                    if s.kind == Kind::Policy && s.catalog_called {
                        ", called the catalog"
                    } else {
                        ""
                    },
                    s.question,
                    s.trace_id
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn golden(id: &str, kind: Kind, sources: &[&str], facts: &[&str]) -> Golden {
        Golden {
            id: id.to_owned(),
            kind,
            question: format!("question {id}"),
            sources: sources.iter().map(|s| (*s).to_owned()).collect(),
            facts: facts.iter().map(|s| (*s).to_owned()).collect(),
            note: None,
        }
    }

    fn source(id: &str, path: &str, cited: bool) -> Value {
        json!({"marker": "1", "id": id, "title": "t", "source": path, "score": 0.5, "cited": cited})
    }

    /// A tiny fixed golden set, scored by hand: ranks 1, 3, absent and a product at 2.
    #[test]
    fn metrics_on_a_tiny_fixed_golden_set() {
        let set = [
            golden("a", Kind::Doc, &["hr-parental-leave.md"], &["16 weeks"]),
            golden("b", Kind::Doc, &["it-vpn-setup.md"], &["WireGuard"]),
            golden("c", Kind::Policy, &["hr-learning-budget.md"], &["€1,000"]),
            golden("d", Kind::Product, &["NL-0001"], &["12.99"]),
        ];
        let answers = [
            json!({"answer": "Birth parents get 16 Weeks of paid leave [1].", "trace_id": "t1",
                   "sources": [source("p1", "docs/hr-parental-leave.md", true)]}),
            json!({"answer": "Install the client.", "trace_id": "t2",
                   "sources": [source("p2", "docs/it-wifi.md", false), source("p3", "docs/it-mfa-enrolment.md", false),
                               source("p4", "docs/it-vpn-setup.md", false)]}),
            json!({"answer": "A baby monitor costs 49.99.", "trace_id": "t3",
                   "sources": [source("NL-0200", "catalog", true)]}),
            json!({"answer": "The Beam White A60 costs $12.99 [P2].", "trace_id": "t4",
                   "sources": [source("NL-0002", "catalog", false), source("NL-0001", "catalog", true)]}),
        ];
        let scored: Vec<Scored> = set
            .iter()
            .zip(&answers)
            .map(|(g, a)| {
                let facts = TraceFacts {
                    catalog_called: g.kind != Kind::Doc,
                    ..TraceFacts::default()
                };
                score(g, a, &facts)
            })
            .collect();
        assert_eq!(
            scored.iter().map(|s| s.rank).collect::<Vec<_>>(),
            [Some(1), Some(3), None, Some(2)]
        );
        let m = Metrics::of(&scored);
        assert_eq!(m.questions, 4);
        assert_eq!(m.hit_at_1, 0.25);
        assert_eq!(m.hit_at_3, 0.75);
        assert_eq!(m.hit_at_5, 0.75);
        assert!((m.mrr - (1.0 + 1.0 / 3.0 + 0.0 + 0.5) / 4.0).abs() < 1e-12);
        assert_eq!(m.cited_correct, 0.5);
        assert_eq!(m.fact_in_answer, 0.5);
        assert_eq!(m.catalog_calls, 2);
        let report = EvalReport::new("t".into(), "g".into(), "x".into(), scored);
        assert_eq!(report.by_kind[&Kind::Doc].hit_at_1, 0.5);
        let table = report.table(10);
        assert!(
            table.contains("c [policy] rank – fact no, called the catalog"),
            "{table}"
        );
        assert!(
            !table.contains("  a [doc]"),
            "a right answer is no failure: {table}"
        );
    }

    #[test]
    fn the_shipped_golden_set_reads() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/golden.jsonl"));
        let set = read_golden(path).unwrap();
        assert!(set.len() >= 60, "{} questions", set.len());
        let mut ids: Vec<&str> = set.iter().map(|g| g.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), set.len(), "ids are unique");
    }
}
