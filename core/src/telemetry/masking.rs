//! Masking of secrets and personal data before any exporter or log sink sees them.
//!
//! [`mask`] is applied to every span attribute, event and status text by [`MaskingProcessor`]
//! (ahead of every span sink: the OTLP exporter and the in-process trace store), and to every
//! formatted log line by [`MaskingWriter`]. The collector masks again as a second line of
//! defence, but the first line is here, in-process.

use std::borrow::Cow;
use std::io::Write;
use std::sync::LazyLock;
use std::time::Duration;

use opentelemetry::{Context, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use regex::{Regex, RegexSet};
use tracing_subscriber::fmt::MakeWriter;

/// What a masked value is replaced with.
pub const MASK: &str = "****";

struct Rule {
    re: Regex,
    replacement: &'static str,
    /// A match is masked only when this holds for it (a card number's Luhn check); every
    /// match when `None`.
    check: Option<fn(&str) -> bool>,
}

/// The Luhn checksum of a card number (spaces and dashes ignored): true for real card numbers,
/// and for only one in ten other runs of digits.
fn luhn(candidate: &str) -> bool {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 { d2 - 9 } else { d2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |re: &str, replacement| Rule {
        re: Regex::new(re).expect("masking regex compiles"),
        replacement,
        check: None,
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
        // GitHub tokens: classic (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained (github_pat_).
        rule(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})",
            "****",
        ),
        // JSON Web Tokens on their own (a base64url header and payload, both JSON objects).
        rule(
            r"\beyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*",
            "****",
        ),
        // key=value / "key": "value" pairs whose key names a secret, also inside a JSON string
        // (\"api_key\": \"...\").
        rule(
            r#"(?i)(?P<pre>\b[a-z0-9_\-]*(?:api[_-]?key|apikey|password|passwd|pwd|secret|token)(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?)[^\s"'&,;}\\]+"#,
            "${pre}****",
        ),
        // Payment card numbers: 13 to 19 digits, in groups or not, that pass the Luhn check.
        Rule {
            re: Regex::new(r"\b\d(?:[ \-]?\d){12,18}\b").expect("masking regex compiles"),
            replacement: "****",
            check: Some(luhn),
        },
        // E-mail addresses.
        rule(
            r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
            "****@****",
        ),
    ]
});

/// All the rules' patterns in one set: one pass over the input says which rules can match, so
/// the common input (a model name, a route, a passage with no secret in it) is scanned once,
/// not once per rule.
static ANY_RULE: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(RULES.iter().map(|r| r.re.as_str())).expect("masking regex set compiles")
});

/// Returns `input` with secrets and e-mail addresses replaced by [`MASK`]; borrows when nothing
/// needed masking, so the common case costs no allocation.
pub fn mask(input: &str) -> Cow<'_, str> {
    if !might_hold_secret(input) {
        return Cow::Borrowed(input);
    }
    mask_scanned(input)
}

/// Whether any rule could match `input`: a superset of what the rules match, in one pass over
/// its bytes and, only when that pass saw what a rule's word must come with, a second looking
/// for the word. A rule can match only where the input holds
///
/// - `@` (an e-mail address, credentials in a URL);
/// - `sk-`, `rk-` or `pk-` (prefixed keys), `AK` (`AKIA...`), `yJ` (a JWT's `eyJ`);
/// - `_` and `gh` or `gi` (GitHub tokens: `ghp_...`, `github_pat_...`);
/// - white space and `bea` or `bas` in any case (`Bearer ...`, `Basic ...`);
/// - `:` or `=` and `key`, `pwd`, `pas`, `sec` or `tok` in any case (a `key=value` pair naming
///   an API key, a password, a secret or a token);
/// - 13 digits, counting through single spaces and dashes between them (a card number);
/// - any non-ASCII byte (the rules' `(?i)`, `\s` and `\d` are Unicode-aware: "ſecret" matches
///   `(?i)secret`).
///
/// A model name, a route, an address with its port, a user agent, a question or an id usually
/// holds none of these together and skips the regex set, whose scan costs more than these
/// passes (`the_prefilter_never_hides_a_secret` compares both paths on generated inputs).
fn might_hold_secret(input: &str) -> bool {
    let bytes = input.as_bytes();
    let (mut space, mut assign, mut underscore) = (false, false, false);
    let mut digits = 0;
    let (mut prev, mut prev2) = (0u8, 0u8);
    for &b in bytes {
        // One table lookup per byte; most bytes (letters, most punctuation) are `OTHER`.
        match CLASS[usize::from(b)] {
            OTHER => digits = 0,
            ALWAYS => return true,
            // Only `sk-`, `rk-` and `pk-`: a file name such as `quick-reference.pdf` is not one.
            DASH if prev == b'k' && matches!(prev2, b's' | b'r' | b'p') => return true,
            // A card number's groups are split by one space or dash: the count goes on.
            DASH if prev.is_ascii_digit() => {}
            DASH => digits = 0,
            UPPER_K if prev == b'A' => return true,
            UPPER_J if prev == b'y' => return true,
            UPPER_K | UPPER_J => digits = 0,
            DIGIT => {
                digits += 1;
                if digits >= 13 {
                    return true;
                }
            }
            SPACE if prev.is_ascii_digit() => space = true,
            SPACE | WHITE => {
                space = true;
                digits = 0;
            }
            ASSIGN => {
                assign = true;
                digits = 0;
            }
            _ => {
                underscore = true;
                digits = 0;
            }
        }
        (prev2, prev) = (prev, b);
    }
    if !(space || assign || underscore) {
        return false;
    }
    const fn word(w: &[u8; 3]) -> u32 {
        (w[0] as u32) << 16 | (w[1] as u32) << 8 | w[2] as u32
    }
    const BEA: u32 = word(b"bea");
    const BAS: u32 = word(b"bas");
    const KEY: u32 = word(b"key");
    const PWD: u32 = word(b"pwd");
    const PAS: u32 = word(b"pas");
    const SEC: u32 = word(b"sec");
    const TOK: u32 = word(b"tok");
    // The words are looked for only at a byte that can end one (`a`, `s`, `y`, `d`, `c`, `k`
    // in any case, `h` or `i` for `gh`/`gi`), by reading the two bytes before it.
    for (i, &b) in bytes.iter().enumerate().skip(1) {
        if !WORD_END[usize::from(b)] {
            continue;
        }
        let lower = |at: usize| u32::from(bytes[at].to_ascii_lowercase());
        let last2 = lower(i - 1) << 8 | u32::from(b.to_ascii_lowercase());
        // `gh` or `gi` (with the `g` in either case: a superset is safe).
        if underscore && matches!(last2, 0x6768 | 0x6769) {
            return true;
        }
        if i >= 2 {
            let last3 = lower(i - 2) << 16 | last2;
            if (space && matches!(last3, BEA | BAS))
                || (assign && matches!(last3, KEY | PWD | PAS | SEC | TOK))
            {
                return true;
            }
        }
    }
    false
}

// The prefilter's classes of bytes.
const OTHER: u8 = 0;
/// `@` or any non-ASCII byte: straight to the regexes.
const ALWAYS: u8 = 1;
const DASH: u8 = 2;
const UPPER_K: u8 = 3;
const UPPER_J: u8 = 4;
const DIGIT: u8 = 5;
const SPACE: u8 = 6;
/// White space other than the space: tab, line feed, vertical tab, form feed, carriage return.
const WHITE: u8 = 7;
/// `:` or `=`.
const ASSIGN: u8 = 8;
const UNDERSCORE: u8 = 9;

/// Each byte's class for [`might_hold_secret`].
static CLASS: [u8; 256] = {
    let mut class = [OTHER; 256];
    let mut b = 0x80;
    while b < 256 {
        class[b] = ALWAYS;
        b += 1;
    }
    let mut d = b'0';
    while d <= b'9' {
        class[d as usize] = DIGIT;
        d += 1;
    }
    class[b'@' as usize] = ALWAYS;
    class[b'-' as usize] = DASH;
    class[b'K' as usize] = UPPER_K;
    class[b'J' as usize] = UPPER_J;
    class[b' ' as usize] = SPACE;
    class[b'\t' as usize] = WHITE;
    class[b'\n' as usize] = WHITE;
    class[0x0b] = WHITE;
    class[0x0c] = WHITE;
    class[b'\r' as usize] = WHITE;
    class[b':' as usize] = ASSIGN;
    class[b'=' as usize] = ASSIGN;
    class[b'_' as usize] = UNDERSCORE;
    class
};

/// Bytes that can end a word the second pass looks for: `bea`, `bas`, `key`, `pwd`, `pas`,
/// `sec`, `tok` (in any case) and `gh`, `gi` (as written).
static WORD_END: [bool; 256] = {
    let mut end = [false; 256];
    let letters = b"asydckASYDCKhi";
    let mut i = 0;
    while i < letters.len() {
        end[letters[i] as usize] = true;
        i += 1;
    }
    end
};

/// [`mask`] without the prefilter: every input goes through the regex set.
fn mask_scanned(input: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(input);
    let candidates = ANY_RULE.matches(input);
    if !candidates.matched_any() {
        return out;
    }
    // A replacement never makes another rule match (masks are `*`s, which no pattern takes),
    // so the rules that matched the input are the only ones that can change it.
    for rule in candidates.iter().map(|i| &RULES[i]) {
        let replaced = match rule.check {
            None => rule.re.replace_all(&out, rule.replacement),
            Some(check) => rule.re.replace_all(&out, |c: &regex::Captures<'_>| {
                if check(&c[0]) {
                    rule.replacement.to_owned()
                } else {
                    c[0].to_owned()
                }
            }),
        };
        if let Cow::Owned(s) = replaced
            && s != *out
        {
            out = Cow::Owned(s);
        }
    }
    out
}

/// Whether `input` holds anything [`mask`] would change.
pub fn needs_masking(input: &str) -> bool {
    ANY_RULE
        .matches(input)
        .iter()
        .any(|i| match RULES[i].check {
            None => true,
            Some(check) => RULES[i].re.find_iter(input).any(|m| check(m.as_str())),
        })
}

/// A sink that reads each finished, masked span without taking it (the in-process trace store
/// copies what it keeps), so the span is not cloned for it.
pub trait SpanReader: std::fmt::Debug + Send + Sync {
    /// Reads a finished span, already masked.
    fn read(&self, span: &SpanData);
    /// The resource the spans come from (the service name), as set on the provider.
    fn set_resource(&mut self, _resource: &Resource) {}
}

/// Masks every string attribute, event and status text, then shows the span to each reader and
/// hands it to each sink (cloned for all sinks but the last).
#[derive(Debug)]
pub struct MaskingProcessor {
    pub(super) readers: Vec<Box<dyn SpanReader>>,
    pub(super) sinks: Vec<Box<dyn SpanProcessor>>,
}

impl MaskingProcessor {
    /// A processor masking spans before showing them to `readers` and handing them to each of
    /// `sinks`.
    pub fn new(readers: Vec<Box<dyn SpanReader>>, sinks: Vec<Box<dyn SpanProcessor>>) -> Self {
        Self { readers, sinks }
    }
}

fn mask_value(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Cow::Owned(masked) = mask(s.as_str()) {
                *v = Value::from(masked);
            }
        }
        Value::Array(opentelemetry::Array::String(items)) => {
            for item in items.iter_mut() {
                if let Cow::Owned(masked) = mask(item.as_str()) {
                    *item = masked.into();
                }
            }
        }
        _ => {}
    }
}

/// Masks secrets in a finished span in place (name, attributes, events, status).
pub fn mask_span(span: &mut SpanData) {
    // A span name can carry user input too ("ingest uploads/<file name>").
    if let Cow::Owned(name) = mask(&span.name) {
        span.name = Cow::Owned(name);
    }
    for kv in span.attributes.iter_mut() {
        mask_value(&mut kv.value);
    }
    for ev in span.events.events.iter_mut() {
        if let Cow::Owned(name) = mask(&ev.name) {
            ev.name = Cow::Owned(name);
        }
        for kv in ev.attributes.iter_mut() {
            mask_value(&mut kv.value);
        }
    }
    if let opentelemetry::trace::Status::Error { description } = &mut span.status
        && let Cow::Owned(d) = mask(description)
    {
        *description = Cow::Owned(d);
    }
}

impl SpanProcessor for MaskingProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        for s in &self.sinks {
            s.on_start(span, cx);
        }
    }

    fn on_end(&self, mut span: SpanData) {
        mask_span(&mut span);
        for r in &self.readers {
            r.read(&span);
        }
        if let Some((last, rest)) = self.sinks.split_last() {
            for s in rest {
                s.on_end(span.clone());
            }
            last.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        // Every sink is flushed even when one fails; the first failure is reported.
        let results: Vec<OTelSdkResult> = self.sinks.iter().map(|s| s.force_flush()).collect();
        results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let results: Vec<OTelSdkResult> = self
            .sinks
            .iter()
            .map(|s| s.shutdown_with_timeout(timeout))
            .collect();
        results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
    }

    fn set_resource(&mut self, resource: &Resource) {
        for r in self.readers.iter_mut() {
            r.set_resource(resource);
        }
        for s in self.sinks.iter_mut() {
            s.set_resource(resource);
        }
    }
}

/// A log writer that masks each formatted line before it reaches stderr.
#[derive(Debug, Clone, Copy)]
pub struct MaskingWriter;

/// One buffered log line; masked and written on drop.
#[derive(Debug, Default)]
pub struct MaskedLine(Vec<u8>);

impl Write for MaskedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for MaskedLine {
    fn drop(&mut self) {
        let _ = std::io::stderr().write_all(mask_log_line(&self.0).as_bytes());
    }
}

/// A formatted log line, masked. Colour codes around a field's name (`\x1b[3mapi_key\x1b[0m=`)
/// would hide it from the `key=value` rule, so a coloured line is also checked without them,
/// and written without them when that finds something to mask.
pub fn mask_log_line(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    if text.contains('\x1b') {
        let plain = strip_ansi(&text);
        if needs_masking(&plain) {
            return mask(&plain).into_owned();
        }
        return text.into_owned();
    }
    mask(&text).into_owned()
}

/// `text` without ANSI escape sequences (`ESC [ ... final byte`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.clone().next() == Some('[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('\x40'..='\x7e').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

impl<'a> MakeWriter<'a> for MaskingWriter {
    type Writer = MaskedLine;

    fn make_writer(&'a self) -> Self::Writer {
        MaskedLine::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind of secret named by the telemetry contract is masked.
    /// The prefilter only skips inputs no rule matches: on generated inputs built from the
    /// rules' literals, near misses, digits, case changes and non-ASCII look-alikes ("ſecret",
    /// the Kelvin sign), masking with it equals masking without it. The premise is checked
    /// too: a good share of the inputs hold a secret, and a good share are skipped.
    #[test]
    fn the_prefilter_never_hides_a_secret() {
        const FRAGMENTS: &[&str] = &[
            "sk",
            "-",
            "SK",
            "rk",
            "pk",
            "proj",
            "AKIA",
            "akia",
            "IOSFODNN7EXAMPLE",
            "ghp",
            "_",
            "github",
            "pat",
            "11ABCDEFG0123456789",
            "eyJ",
            ".",
            "hbGciOiJ",
            "Bearer",
            "BASIC",
            " ",
            "\t",
            "api",
            "key",
            "APIKEY",
            "passwd",
            "PassWord",
            "PWD",
            "Secret",
            "ſecret",
            "\u{212A}ey",
            "token",
            "=",
            ":",
            "\"",
            "\\",
            "'",
            "@",
            "/",
            "redis",
            "user",
            "pw",
            "example",
            "com",
            "northwind",
            "4111",
            "1111",
            "5555",
            "4444",
            "0",
            "٣",
            "é",
            "abcdefgh",
            "ABCDEFGHIJKLMNOP",
            "12345678",
            "qrstuvwxyz0123",
            "\u{2003}",
            // Single letters, so the rules' literals also arise split across fragments.
            "k",
            "s",
            "r",
            "p",
            "c",
            "A",
            "K",
            "e",
            "y",
            "J",
            "g",
            "h",
            "1",
            // Whole secrets and their near misses, so every rule matches often.
            "ana@northwind.example",
            "a@b",
            "sk-proj-",
            "desk-",
            "quick-",
            "ghp_",
            "github_pat_",
            ".eyJ",
            "Bearer ",
            "bearer\u{2003}",
            "password=",
            "pwd: ",
            "://u:",
            "api_key",
            "AKIAIOSFODNN7EXAMPLE",
            "4111 1111 1111 1111",
            "4111-1111",
            "ſecret=",
            "\u{212A}ey=",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut masked, mut skipped) = (0, 0);
        for _ in 0..20_000 {
            let input: String = (0..1 + next(12))
                .map(|_| FRAGMENTS[next(FRAGMENTS.len())])
                .collect();
            let scanned = mask_scanned(&input);
            assert_eq!(mask(&input), scanned, "input: {input:?}");
            masked += usize::from(scanned != input);
            skipped += usize::from(!might_hold_secret(&input));
        }
        assert!(masked > 1_000, "only {masked} of the inputs held a secret");
        assert!(skipped > 1_000, "only {skipped} of the inputs were skipped");
        // What the app's spans hold most: skipped, without a regex.
        for value in [
            "POST",
            "/v1/chat",
            "answer",
            "memory",
            "0af7651916cd43dd8448eb211c80319c",
            "127.0.0.1:53124",
            "Python-urllib/3.11",
            "curl/8.5.0",
            "67e55044-10b1-426f-9247-bb680e5fe0c8",
            "How do I reset the Lumen Hub 2?",
            "docs/product-lumen-hub-2-installer-quick-reference.pdf",
            r#"[{"source":"docs/product-lumen-hub-2-installer-quick-reference.pdf","score":1.4234,"dense":[4,0.4415],"sparse":[3,8.8116]}]"#,
            "chat pipeline",
            "sim-gpt-4o-mini",
            "2026-12-04T22:06:44Z",
        ] {
            assert!(!might_hold_secret(value), "{value}");
        }
    }

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
            // Inside a JSON string (gen_ai.input.messages holds the prompt as JSON).
            (
                r#"[{"content":"my config: {\"api_key\": \"abc123\"}"}]"#,
                r#"[{"content":"my config: {\"api_key\": \"****\"}"}]"#,
            ),
            (
                "token ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8 leaked",
                "token **** leaked",
            ),
            (
                "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
                "****",
            ),
            (
                "id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U ok",
                "id **** ok",
            ),
            ("card 4111 1111 1111 1111 exp", "card **** exp"),
            ("card 4111-1111-1111-1111", "card ****"),
            ("pay with 5555555555554444.", "pay with ****."),
        ];
        for (input, expected) in cases {
            assert_eq!(mask(input), expected, "input: {input}");
            assert!(needs_masking(input), "input: {input}");
        }
    }

    /// Ordinary text passes through untouched and unallocated, and so do long numbers that are
    /// not card numbers (they fail the Luhn check).
    #[test]
    fn leaves_plain_text_alone() {
        for text in [
            "How do I reset the Lumen Hub 2? It has 4 LEDs and 120 lm/W.",
            "order 4111 1111 1111 1112 and timestamp 1733212345678901235",
            "trace 4bf92f3577b34da6a3ce929d0e0e4736 took 1234 ms",
        ] {
            assert!(matches!(mask(text), Cow::Borrowed(_)), "{text}");
            assert!(!needs_masking(text), "{text}");
        }
    }

    /// A secret logged as a field is masked whether the log is coloured or not (the colour codes
    /// around the field's name used to hide it from the `key=value` rule).
    #[test]
    fn a_secret_logged_as_a_field_is_masked_coloured_or_not() {
        use std::sync::{Arc, Mutex};
        use tracing_subscriber::layer::SubscriberExt as _;

        #[derive(Clone, Default)]
        struct Capture(Arc<Mutex<Vec<String>>>, Vec<u8>);
        impl Write for Capture {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.1.extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        impl Drop for Capture {
            fn drop(&mut self) {
                if !self.1.is_empty() {
                    self.0.lock().unwrap().push(mask_log_line(&self.1));
                }
            }
        }
        for ansi in [true, false] {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = lines.clone();
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(ansi)
                .with_writer(move || Capture(sink.clone(), Vec::new()));
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::with_default(subscriber, || {
                tracing::warn!(
                    api_key = "planted-abc123",
                    user = "bob",
                    "calling the provider"
                );
            });
            let lines = lines.lock().unwrap();
            assert_eq!(lines.len(), 1, "ansi={ansi}: {lines:?}");
            let line = &lines[0];
            assert!(!line.contains("planted-abc123"), "ansi={ansi}: {line}");
            assert!(line.contains(r#"api_key="****""#), "ansi={ansi}: {line}");
            assert!(line.contains("calling the provider"), "ansi={ansi}: {line}");
        }
        assert_eq!(strip_ansi("\x1b[3mkey\x1b[0m\x1b[2m=\x1b[0mv"), "key=v");
    }

    /// A span's name passes through the rules like its attributes.
    #[test]
    fn masks_span_names() {
        use opentelemetry::trace::{SpanContext, SpanKind, Status};
        use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
        let mut span = SpanData {
            span_context: SpanContext::empty_context(),
            parent_span_id: opentelemetry::trace::SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "ingest uploads/ana.silva@northwind-lumen.example-notes.md".into(),
            start_time: std::time::SystemTime::UNIX_EPOCH,
            end_time: std::time::SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: Default::default(),
        };
        mask_span(&mut span);
        assert_eq!(span.name, "ingest uploads/****@****");
    }
}
