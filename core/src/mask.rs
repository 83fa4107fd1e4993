//! Masking of secrets and personal data before any exporter or log sink sees them.
//!
//! Applied to every span attribute and event attribute (by the telemetry pipeline's masking span
//! processor) and to every formatted log line (by the log writer). The collector masks again as a
//! second line of defence, but the first line is here, in-process.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// What a masked value is replaced with.
pub const MASK: &str = "****";

struct Rule {
    re: Regex,
    replacement: &'static str,
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |re: &str, replacement| Rule {
        re: Regex::new(re).expect("masking regex compiles"),
        replacement,
    };
    vec![
        // Credentials inside URLs: scheme://user:password@host
        rule(
            r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@",
            "${pre}****@",
        ),
        // Authorization headers and bearer tokens.
        rule(
            r"(?i)\b(?P<pre>bearer|basic)\s+[A-Za-z0-9\-._~+/]{8,}=*",
            "${pre} ****",
        ),
        // OpenAI-style and similar prefixed API keys (sk-..., sk-proj-..., rk-...).
        rule(r"\b(?:sk|rk|pk)-[A-Za-z0-9_\-]{16,}", "****"),
        // AWS access key ids.
        rule(r"\bAKIA[0-9A-Z]{16}\b", "****"),
        // key=value / "key": "value" pairs whose key names a secret.
        rule(
            r#"(?i)(?P<pre>\b[a-z0-9_\-]*(?:api[_-]?key|apikey|password|passwd|pwd|secret|token)["']?\s*[:=]\s*["']?)[^\s"'&,;}]+"#,
            "${pre}****",
        ),
        // E-mail addresses.
        rule(
            r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
            "****@****",
        ),
    ]
});

/// Returns `input` with secrets and e-mail addresses replaced by [`MASK`]; borrows when nothing
/// needed masking, so the common case costs no allocation.
pub fn mask(input: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(input);
    for rule in RULES.iter() {
        if let Cow::Owned(s) = rule.re.replace_all(&out, rule.replacement) {
            out = Cow::Owned(s);
        }
    }
    out
}

/// Whether `input` holds anything [`mask`] would change.
pub fn needs_masking(input: &str) -> bool {
    RULES.iter().any(|r| r.re.is_match(input))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind of secret named by the telemetry contract is masked.
    #[test]
    fn masks_each_kind_of_secret() {
        let cases = [
            ("key sk-proj-abcdefghijklmnop1234 used", "key **** used"),
            (
                "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x.y",
                "Authorization: Bearer ****",
            ),
            ("bearer abcdefgh12345678", "bearer ****"),
            ("password=hunter2&user=bob", "password=****&user=bob"),
            (r#"{"api_key": "abc123"}"#, r#"{"api_key": "****"}"#),
            ("redis://:s3cret@redis:6379/0", "redis://:****@redis:6379/0"),
            (
                "mail ana.silva@northwind-lumen.example now",
                "mail ****@**** now",
            ),
            ("AKIAIOSFODNN7EXAMPLE", "****"),
        ];
        for (input, expected) in cases {
            assert_eq!(mask(input), expected, "input: {input}");
            assert!(needs_masking(input), "input: {input}");
        }
    }

    /// Ordinary text passes through untouched and unallocated.
    #[test]
    fn leaves_plain_text_alone() {
        let text = "How do I reset the Lumen Hub 2? It has 4 LEDs and 120 lm/W.";
        assert!(matches!(mask(text), Cow::Borrowed(_)));
        assert!(!needs_masking(text));
    }
}
