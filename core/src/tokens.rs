//! Token counting with OpenAI's encodings (`o200k_base`, `cl100k_base`): prompt budgets,
//! trimming and usage estimates.
//!
//! The BPE is bpe-openai's, which gives tiktoken's tokens (tested below against the ids OpenAI
//! publishes) and counts the demo corpus 1.35 times (o200k_base) to 2.1 times (cl100k_base) as
//! fast as tiktoken-rs (bench/bpe-compare, docs/benchmarks.md).

type Bpe = bpe_openai::Tokenizer;

/// Tokens that frame every message of a chat request (`<|start|>`, the role separator and
/// `<|end|>`), per OpenAI's counting for the GPT-4 and GPT-4o families.
pub const TOKENS_PER_MESSAGE: usize = 3;

/// Tokens that prime the reply (`<|start|>assistant<|message|>`), once per chat request.
pub const REPLY_PRIMING_TOKENS: usize = 3;

/// One message of a chat request, for [`Tokenizer::chat_tokens`].
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// `system`, `user` or `assistant`.
    pub role: &'a str,
    /// The optional participant name.
    pub name: Option<&'a str>,
    /// The text.
    pub content: &'a str,
}

/// A tokenizer by name (`cl100k_base` or `o200k_base`); the BPE tables are built once per
/// process and shared.
#[derive(Clone, Copy)]
pub struct Tokenizer {
    bpe: &'static Bpe,
    name: &'static str,
    kept: &'static Kept,
}

/// The counts [`Tokenizer::count_kept`] keeps, by text, for one encoding.
type Kept =
    std::sync::RwLock<std::collections::HashMap<Box<str>, u32, foldhash::fast::RandomState>>;

/// How many texts [`Tokenizer::count_kept`] keeps per encoding; past it, it starts over. A
/// passage header's text is one per document, so this holds the headers of 4,096 documents
/// (about half a megabyte).
pub const MAX_KEPT_COUNTS: usize = 4096;

static KEPT_O200K: std::sync::LazyLock<Kept> = std::sync::LazyLock::new(Kept::default);
static KEPT_CL100K: std::sync::LazyLock<Kept> = std::sync::LazyLock::new(Kept::default);

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("name", &self.name)
            .finish()
    }
}

impl Tokenizer {
    /// The tokenizer called `name`; anything but `cl100k_base` means `o200k_base` (the GPT-4o
    /// family's), which configuration validation has already enforced.
    pub fn by_name(name: &str) -> Self {
        match name {
            "cl100k_base" => Self {
                bpe: bpe_openai::cl100k_base(),
                name: "cl100k_base",
                kept: &KEPT_CL100K,
            },
            _ => Self {
                bpe: bpe_openai::o200k_base(),
                name: "o200k_base",
                kept: &KEPT_O200K,
            },
        }
    }

    /// The encoding in use; any configured name other than `cl100k_base` gives `o200k_base`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Tokens in `text` (special-token strings count as ordinary text, as user input must).
    pub fn count(&self, text: &str) -> usize {
        self.bpe.count(text)
    }

    /// [`Tokenizer::count`] of a text that recurs from request to request (a passage header's
    /// title and source, which every chunk of a document shares; a citation marker), counted
    /// once and kept: the count of a text never changes. Up to [`MAX_KEPT_COUNTS`] texts per
    /// encoding are kept; a text that is new on every request (a question) is better counted
    /// with `count`.
    pub fn count_kept(&self, text: &str) -> usize {
        let read = self
            .kept
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&n) = read.get(text) {
            return n as usize;
        }
        drop(read);
        let n = self.count(text);
        let mut kept = self
            .kept
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() >= MAX_KEPT_COUNTS {
            kept.clear();
        }
        kept.insert(text.into(), u32::try_from(n).unwrap_or(u32::MAX));
        n
    }

    /// What a chat message costs beyond its content's tokens: the message framing
    /// ([`TOKENS_PER_MESSAGE`]) and the role's own tokens, as OpenAI counts a chat request.
    pub fn message_overhead(&self, role: &str) -> usize {
        TOKENS_PER_MESSAGE + self.count(role)
    }

    /// Tokens of a chat request as OpenAI counts its prompt: per message, the framing, the role,
    /// the content and (when named) the name plus one; then the reply's priming. This is the
    /// formula of OpenAI's cookbook ("How to count tokens with tiktoken"), which matches the
    /// API's `prompt_tokens` for the GPT-4 and GPT-4o families.
    pub fn chat_tokens(&self, messages: &[Message<'_>]) -> usize {
        messages
            .iter()
            .map(|m| {
                self.message_overhead(m.role)
                    + self.count(m.content)
                    + m.name.map_or(0, |n| self.count(n) + 1)
            })
            .sum::<usize>()
            + REPLY_PRIMING_TOKENS
    }

    /// The token ids of `text` (special-token strings as ordinary text).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.bpe.encode(text)
    }

    /// The longest prefix of `text` that fits in `max_tokens`, cut at a token boundary.
    pub fn truncate(&self, text: &str, max_tokens: usize) -> String {
        let tokens = self.bpe.encode(text);
        if tokens.len() <= max_tokens {
            return text.to_owned();
        }
        // A cut can split a multi-byte character; step back until the prefix decodes.
        let mut end = max_tokens;
        while end > 0 {
            if let Some(s) = self.bpe.decode(&tokens[..end]) {
                return s;
            }
            end -= 1;
        }
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counting agrees with the encoding and truncation respects the budget.
    #[test]
    fn counts_and_truncates() {
        let t = Tokenizer::by_name("o200k_base");
        let text = "The Lumen Hub 2 resets when you hold the button for ten seconds.";
        let n = t.count(text);
        assert!(n > 5 && n < 30, "{n}");
        let cut = t.truncate(text, 5);
        assert_eq!(t.count(&cut), 5);
        assert!(text.starts_with(&cut));
        assert_eq!(t.truncate(text, 1000), text);
    }

    /// A kept count is the count, is kept after the first call, and the store of them stays
    /// within its bound.
    #[test]
    fn kept_counts_are_counts_and_stay_bounded() {
        for encoding in ["o200k_base", "cl100k_base"] {
            let t = Tokenizer::by_name(encoding);
            let text = format!(" Lumen Hub 2 — Quick Start ({encoding}/quick-start.md)\n");
            assert_eq!(t.count_kept(&text), t.count(&text), "{encoding}");
            assert!(
                t.kept.read().unwrap().contains_key(text.as_str()),
                "{encoding}"
            );
            assert_eq!(t.count_kept(&text), t.count(&text), "{encoding}, kept");
            for i in 0..=MAX_KEPT_COUNTS {
                let text = format!("[{encoding} bound test {i}]");
                assert_eq!(t.count_kept(&text), t.count(&text));
            }
            assert!(
                t.kept.read().unwrap().len() <= MAX_KEPT_COUNTS,
                "{encoding}"
            );
        }
    }

    /// Token ids equal the ones OpenAI publishes: tiktoken's own tests (cl100k_base) and the
    /// encodings compared in OpenAI's cookbook ("How to count tokens with tiktoken").
    #[test]
    fn token_ids_equal_openais() {
        let cases: [(&str, &str, &[u32]); 12] = [
            ("cl100k_base", "hello world", &[15339, 1917]),
            ("cl100k_base", "rer", &[38149]),
            ("cl100k_base", "today\n ", &[31213, 198, 220]),
            ("cl100k_base", "today\n \n", &[31213, 27907]),
            ("cl100k_base", "today\n  \n", &[31213, 14211]),
            (
                "cl100k_base",
                "tiktoken is great!",
                &[83, 1609, 5963, 374, 2294, 0],
            ),
            (
                "cl100k_base",
                "antidisestablishmentarianism",
                &[519, 85342, 34500, 479, 8997, 2191],
            ),
            (
                "cl100k_base",
                "2 + 2 = 4",
                &[17, 489, 220, 17, 284, 220, 19],
            ),
            (
                "cl100k_base",
                "お誕生日おめでとう",
                &[33334, 45918, 243, 21990, 9080, 33334, 62004, 16556, 78699],
            ),
            (
                "o200k_base",
                "antidisestablishmentarianism",
                &[493, 129901, 376, 160388, 21203, 2367],
            ),
            ("o200k_base", "2 + 2 = 4", &[17, 659, 220, 17, 314, 220, 19]),
            (
                "o200k_base",
                "お誕生日おめでとう",
                &[8930, 9697, 243, 128225, 8930, 17693, 4344, 48669],
            ),
        ];
        for (encoding, text, ids) in cases {
            let t = Tokenizer::by_name(encoding);
            assert_eq!(t.name(), encoding);
            assert_eq!(t.encode(text), ids, "{encoding} {text:?}");
            assert_eq!(t.count(text), ids.len(), "{encoding} {text:?}");
        }
        // A special token's text is ordinary text (user input must not end a message).
        for encoding in ["o200k_base", "cl100k_base"] {
            assert!(Tokenizer::by_name(encoding).count("<|endoftext|>") > 1);
        }
    }

    /// The chat formula gives the prompt tokens OpenAI's API reported for the cookbook's example
    /// conversation: 129 for gpt-4 (cl100k_base) and 124 for gpt-4o (o200k_base).
    #[test]
    fn chat_tokens_equal_the_apis_prompt_tokens() {
        let m = |role, name, content| Message {
            role,
            name,
            content,
        };
        let conversation = [
            m(
                "system",
                None,
                "You are a helpful, pattern-following assistant that translates corporate jargon into plain English.",
            ),
            m(
                "system",
                Some("example_user"),
                "New synergies will help drive top-line growth.",
            ),
            m(
                "system",
                Some("example_assistant"),
                "Things working well together will increase revenue.",
            ),
            m(
                "system",
                Some("example_user"),
                "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
            ),
            m(
                "system",
                Some("example_assistant"),
                "Let's talk later when we're less busy about how to do better.",
            ),
            m(
                "user",
                None,
                "This late pivot means we don't have time to boil the ocean for the client deliverable.",
            ),
        ];
        assert_eq!(
            Tokenizer::by_name("cl100k_base").chat_tokens(&conversation),
            129
        );
        assert_eq!(
            Tokenizer::by_name("o200k_base").chat_tokens(&conversation),
            124
        );
    }
}
