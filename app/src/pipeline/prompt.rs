//! The two pure steps of the pipeline: building the prompt from what was retrieved, and
//! post-processing the model's answer. No I/O and no telemetry here; the pipeline measures them.

use std::sync::LazyLock;

use ragtrace_core::catalog::ScoredProduct;
use ragtrace_core::llm::Prompt;
use ragtrace_core::tokens::Tokenizer;
use ragtrace_core::vector_store::Hit;
use regex::Regex;

use crate::domain::Source;

/// Instructions given to the model with every question.
pub const SYSTEM_PROMPT: &str = "You are the Northwind Lumen assistant. Answer the question using only the \
context passages and products below. Cite every statement with the marker of its passage, like [1] or [P1]. \
If the context does not contain the answer, say that you could not find it. Be concise.";

/// Passages truncated to fewer tokens than this are dropped instead: a fragment misleads more
/// than it helps.
const MIN_PASSAGE_TOKENS: usize = 40;

static CITATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[([A-Za-z]?\d{1,3})\]").expect("citation regex compiles"));

/// A prompt and what the pipeline records about it.
#[derive(Debug, Clone)]
pub struct BuiltPrompt {
    /// What the model is sent.
    pub prompt: Prompt,
    /// Passages and products given to the model, in marker order.
    pub sources: Vec<Source>,
    /// Tokens of the whole prompt, counted locally before the call.
    pub tokens: usize,
    /// Passages dropped because the token budget was spent.
    pub dropped: usize,
}

/// Builds the prompt: passages in rank order while they fit `budget` tokens (the first that does
/// not fit is truncated if enough of it remains), then the products.
pub fn build(
    tokenizer: Tokenizer,
    budget: usize,
    question: &str,
    hits: &[Hit],
    products: &[ScoredProduct],
) -> BuiltPrompt {
    let mut used = 0;
    let mut context = String::new();
    let mut sources = Vec::new();
    let mut dropped = 0;
    for hit in hits {
        let marker = (sources.len() + 1).to_string();
        let title = hit.field("title");
        let text = hit.field("text");
        let tokens = tokenizer.count(text);
        let remaining = budget.saturating_sub(used);
        let text = if tokens <= remaining {
            used += tokens;
            text.to_owned()
        } else if remaining >= MIN_PASSAGE_TOKENS {
            used += remaining;
            tokenizer.truncate(text, remaining)
        } else {
            dropped += 1;
            continue;
        };
        context.push_str(&format!(
            "[{marker}] {title} ({})\n{text}\n\n",
            hit.field("source")
        ));
        sources.push(Source {
            marker,
            id: hit.id.clone(),
            title: title.to_owned(),
            source: hit.field("source").to_owned(),
            score: hit.score,
            cited: false,
        });
    }
    for (i, p) in products.iter().enumerate() {
        let marker = format!("P{}", i + 1);
        let prod = &p.product;
        context.push_str(&format!(
            "[{marker}] Product {}: {} costs ${:.2}, is {}, and is rated {:.1} of 5. {}\n\n",
            prod.id,
            prod.name,
            prod.price_usd,
            if prod.in_stock {
                "in stock"
            } else {
                "out of stock"
            },
            prod.rating,
            prod.description
        ));
        sources.push(Source {
            marker,
            id: prod.id.clone(),
            title: prod.name.clone(),
            source: "catalog".into(),
            score: p.score,
            cited: false,
        });
    }
    if context.is_empty() {
        context.push_str("(no passages matched the question)\n\n");
    }
    let user = format!("Context:\n{context}Question: {question}");
    let tokens = tokenizer.count(SYSTEM_PROMPT) + tokenizer.count(&user);
    BuiltPrompt {
        prompt: Prompt {
            system: SYSTEM_PROMPT.to_owned(),
            user,
        },
        sources,
        tokens,
        dropped,
    }
}

/// Post-processing: keeps only citations of real sources, marks the cited sources, and
/// normalises whitespace. Returns the answer and the number of citations kept.
pub fn postprocess(text: &str, sources: &mut [Source]) -> (String, usize) {
    let mut citations = 0;
    let cleaned = CITATION.replace_all(text, |c: &regex::Captures<'_>| {
        let marker = &c[1];
        match sources
            .iter_mut()
            .find(|s| s.marker.eq_ignore_ascii_case(marker))
        {
            Some(s) => {
                s.cited = true;
                citations += 1;
                c[0].to_owned()
            }
            // A citation of a passage the model was never given: drop it.
            None => String::new(),
        }
    });
    let answer = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    (answer, citations)
}
