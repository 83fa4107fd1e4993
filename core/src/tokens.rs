//! Token counting with tiktoken: prompt budgets, trimming and usage estimates.

use tiktoken_rs::CoreBPE;

/// A tokenizer by name (`cl100k_base` or `o200k_base`); the BPE tables are built once per
/// process and shared.
#[derive(Clone, Copy)]
pub struct Tokenizer {
    bpe: &'static CoreBPE,
    name: &'static str,
}

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
                bpe: tiktoken_rs::cl100k_base_singleton(),
                name: "cl100k_base",
            },
            _ => Self {
                bpe: tiktoken_rs::o200k_base_singleton(),
                name: "o200k_base",
            },
        }
    }

    /// The encoding in use; any configured name other than `cl100k_base` gives `o200k_base`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Tokens in `text` (special-token strings count as ordinary text, as user input must).
    pub fn count(&self, text: &str) -> usize {
        self.bpe.encode_ordinary(text).len()
    }

    /// The longest prefix of `text` that fits in `max_tokens`, cut at a token boundary.
    pub fn truncate(&self, text: &str, max_tokens: usize) -> String {
        let tokens = self.bpe.encode_ordinary(text);
        if tokens.len() <= max_tokens {
            return text.to_owned();
        }
        // A cut can split a multi-byte character; step back until the prefix decodes.
        let mut end = max_tokens;
        while end > 0 {
            if let Ok(s) = self.bpe.decode(&tokens[..end]) {
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
}
