//! The two pure steps of the pipeline: building the prompt from what was retrieved, and
//! post-processing the model's answer. No I/O and no telemetry here; the pipeline measures them.

use std::sync::{LazyLock, OnceLock};

use ragtrace_core::catalog::ScoredProduct;
use ragtrace_core::llm::Prompt;
use ragtrace_core::tokens::{REPLY_PRIMING_TOKENS, Tokenizer};
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

/// Tokens of what every prompt has whatever the question: the two messages' framing and roles,
/// the instructions, the context and question labels, and the reply's priming; counted once per
/// process and encoding.
fn fixed_tokens(tokenizer: Tokenizer) -> usize {
    static O200K: OnceLock<usize> = OnceLock::new();
    static CL100K: OnceLock<usize> = OnceLock::new();
    let cell = if tokenizer.name() == "cl100k_base" {
        &CL100K
    } else {
        &O200K
    };
    *cell.get_or_init(|| {
        tokenizer.message_overhead("system")
            + tokenizer.count(SYSTEM_PROMPT)
            + tokenizer.message_overhead("user")
            + tokenizer.count(CONTEXT_LABEL)
            + tokenizer.count(QUESTION_LABEL)
            + REPLY_PRIMING_TOKENS
    })
}

const CONTEXT_LABEL: &str = "Context:\n";
/// The question follows this after a space, counted with the question: a word's leading space
/// is part of its token.
const QUESTION_LABEL: &str = "Question:";
const PASSAGE_END: &str = "\n\n";
/// `PASSAGE_END` is one token in both encodings (tested).
const PASSAGE_END_TOKENS: usize = 1;
const NO_PASSAGES: &str = "(no passages matched the question)\n\n";

/// Tokens of a retrieved passage: the count stored in its payload at ingest when it was made
/// with this encoding, else counted now.
fn passage_tokens(tokenizer: Tokenizer, hit: &Hit, text: &str) -> usize {
    let stored = hit
        .payload
        .get("token_count")
        .and_then(serde_json::Value::as_u64);
    match stored {
        Some(n) if hit.field("token_encoding") == tokenizer.name() => n as usize,
        _ => tokenizer.count(text),
    }
}

/// Writes a source's line into `context`: its marker in brackets, then `rest` (which starts with
/// a space), and returns its tokens. Both parts recur from request to request (every chunk of a
/// document has the same title and source; a product, the same line) and are counted once
/// ([`Tokenizer::count_kept`]). Counting them apart gives the count of the whole line: no token,
/// nor the pieces the encodings split text into before merging, spans a `]` and the space
/// after it (`a_lines_count_is_its_marker_and_its_rest`).
fn header(
    tokenizer: Tokenizer,
    context: &mut String,
    marker: &str,
    rest: std::fmt::Arguments<'_>,
) -> usize {
    use std::fmt::Write as _;
    let start = context.len();
    let _ = write!(context, "[{marker}]");
    let mid = context.len();
    let _ = context.write_fmt(rest);
    tokenizer.count_kept(&context[start..mid]) + tokenizer.count_kept(&context[mid..])
}

/// A prompt and what the pipeline records about it.
#[derive(Debug, Clone)]
pub struct BuiltPrompt {
    /// What the model is sent.
    pub prompt: Prompt,
    /// Passages and products given to the model, in marker order.
    pub sources: Vec<Source>,
    /// Tokens of the whole chat request, counted locally before the call as OpenAI counts a
    /// prompt ([`Tokenizer::chat_tokens`]), each part on its own: the passages' counts come from
    /// ingest, only the question, the passage headers and the products are counted here. Where a
    /// passage ends in punctuation, the provider's tokenizer can merge it with the line break
    /// that follows, so this may exceed the provider's count by up to one token per passage.
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
    let question = format!(" {question}");
    let mut tokens = fixed_tokens(tokenizer) + tokenizer.count(&question);
    let mut context = String::new();
    let mut sources = Vec::new();
    let mut dropped = 0;
    for hit in hits {
        let marker = (sources.len() + 1).to_string();
        let title = hit.field("title");
        let text = hit.field("text");
        let text_tokens = passage_tokens(tokenizer, hit, text);
        let remaining = budget.saturating_sub(used);
        let (text, text_tokens) = if text_tokens <= remaining {
            (std::borrow::Cow::Borrowed(text), text_tokens)
        } else if remaining >= MIN_PASSAGE_TOKENS {
            let cut = tokenizer.truncate(text, remaining);
            let n = tokenizer.count(&cut);
            (std::borrow::Cow::Owned(cut), n)
        } else {
            dropped += 1;
            continue;
        };
        used += text_tokens;
        tokens += header(
            tokenizer,
            &mut context,
            &marker,
            format_args!(" {title} ({})\n", hit.field("source")),
        ) + text_tokens;
        context.push_str(&text);
        context.push_str(PASSAGE_END);
        tokens += PASSAGE_END_TOKENS;
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
        tokens += header(
            tokenizer,
            &mut context,
            &marker,
            format_args!(
                " Product {}: {} costs ${:.2}, is {}, and is rated {:.1} of 5. {}\n\n",
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
            ),
        );
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
        context.push_str(NO_PASSAGES);
        tokens += tokenizer.count(NO_PASSAGES);
    }
    let user = format!("{CONTEXT_LABEL}{context}{QUESTION_LABEL}{question}");
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

#[cfg(test)]
mod tests {
    use super::*;
    use ragtrace_core::tokens::Message;
    use serde_json::json;

    fn hit(i: usize, text: &str, stored: Option<(usize, &str)>) -> Hit {
        let mut payload = json!({
            "source": format!("docs/guide-{i}.md"),
            "title": format!("Guide {i}"),
            "text": text,
        });
        if let Some((count, encoding)) = stored {
            payload["token_count"] = json!(count);
            payload["token_encoding"] = json!(encoding);
        }
        let serde_json::Value::Object(payload) = payload else {
            unreachable!()
        };
        Hit {
            id: i.to_string(),
            score: 0.5,
            payload,
            dense: None,
            sparse: None,
        }
    }

    /// OpenAI's count of the chat request `built` makes, counted whole.
    fn exact_count(t: Tokenizer, built: &BuiltPrompt) -> usize {
        let message = |role, content| Message {
            role,
            name: None,
            content,
        };
        t.chat_tokens(&[
            message("system", &built.prompt.system),
            message("user", &built.prompt.user),
        ])
    }

    const PASSAGES: [&str; 3] = [
        "Hold the reset button for ten seconds until the ring blinks amber. The hub restarts with factory settings.",
        "Parental leave: a birth parent gets 16 weeks of paid leave, to be taken within the first year",
        "Hotel nights in Rotterdam are reimbursed up to EUR 180 (breakfast included); receipts are required!",
    ];

    /// The prompt's count is OpenAI's chat count of the messages actually built, to within one
    /// token per passage (a passage ending in punctuation merges with the line break after it).
    #[test]
    fn the_count_is_the_chat_count_of_the_built_prompt() {
        for encoding in ["o200k_base", "cl100k_base"] {
            let t = Tokenizer::by_name(encoding);
            assert_eq!(t.count(PASSAGE_END), PASSAGE_END_TOKENS);
            let hits: Vec<Hit> = PASSAGES
                .iter()
                .enumerate()
                .map(|(i, p)| hit(i, p, Some((t.count(p), encoding))))
                .collect();
            let built = build(t, 1000, "How do I reset the hub?", &hits, &[]);
            let exact = exact_count(t, &built);
            assert!(
                built.tokens >= exact && built.tokens <= exact + hits.len(),
                "{encoding}: counted {} for an exact {exact}",
                built.tokens
            );
            // Without passages the count is exact.
            let empty = build(t, 1000, "How do I reset the hub?", &[], &[]);
            assert_eq!(empty.tokens, exact_count(t, &empty), "{encoding}");
        }
    }

    /// A source line's tokens are its marker's plus the rest's, whatever the title, source or
    /// product line after it starts with: what lets `header` count the two apart and keep them.
    #[test]
    fn a_lines_count_is_its_marker_and_its_rest() {
        let titles = [
            "Lumen Hub 2 — Quick Start",
            "2024 travel policy",
            "(draft) Parental leave",
            "'s-Hertogenbosch office",
            "[internal] Expenses",
            "   spaced out",
            "",
            "Ünïcode Tïtle",
            "お誕生日おめでとう",
            "-dash first",
            "\ttabbed",
            "\nnew line",
            "!!! urgent",
            "42",
        ];
        let sources = [
            "docs/lumen-hub-2/quick-start.md",
            "uploads/x.pdf",
            "",
            "catalog",
        ];
        let markers: Vec<String> = (1..=30)
            .map(|i| i.to_string())
            .chain((1..=12).map(|i| format!("P{i}")))
            .collect();
        for encoding in ["o200k_base", "cl100k_base"] {
            let t = Tokenizer::by_name(encoding);
            for marker in &markers {
                for title in titles {
                    for source in sources {
                        let mut line = String::new();
                        let counted =
                            header(t, &mut line, marker, format_args!(" {title} ({source})\n"));
                        assert_eq!(line, format!("[{marker}] {title} ({source})\n"));
                        assert_eq!(counted, t.count(&line), "{encoding}: {line:?}");
                    }
                }
            }
        }
    }

    /// A passage's count stored at ingest is used as is (a deliberately wrong stored count shows
    /// in the total and in the budget); one stored for another encoding is not.
    #[test]
    fn stored_passage_counts_are_used_not_recounted() {
        let t = Tokenizer::by_name("o200k_base");
        let text = PASSAGES[0];
        let real = t.count(text);
        let stored = real + 500;
        let honest = build(
            t,
            1000,
            "q",
            &[hit(0, text, Some((real, "o200k_base")))],
            &[],
        );
        let planted = build(
            t,
            1000,
            "q",
            &[hit(0, text, Some((stored, "o200k_base")))],
            &[],
        );
        assert_eq!(planted.tokens, honest.tokens + 500);
        // The budget sees the stored count too: a budget that holds the passage's real tokens
        // but fewer than MIN_PASSAGE_TOKENS keeps it when honest and drops it when planted.
        let budget = real + 5;
        assert!(budget < MIN_PASSAGE_TOKENS);
        let kept = build(
            t,
            budget,
            "q",
            &[hit(0, text, Some((real, "o200k_base")))],
            &[],
        );
        assert_eq!((kept.sources.len(), kept.dropped), (1, 0));
        let planted_tight = build(
            t,
            budget,
            "q",
            &[hit(0, text, Some((stored, "o200k_base")))],
            &[],
        );
        assert_eq!((planted_tight.sources.len(), planted_tight.dropped), (0, 1));
        // A count made with another encoding, or none, is not trusted: counted here.
        for other in [
            hit(0, text, Some((stored, "cl100k_base"))),
            hit(0, text, None),
        ] {
            assert_eq!(build(t, 1000, "q", &[other], &[]).tokens, honest.tokens);
        }
    }
}
