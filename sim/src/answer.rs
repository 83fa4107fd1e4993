//! Extractive answers: built from the context passages sent in the prompt, with citation markers.
//!
//! The simulated model reads passages marked `[n]` in the messages, scores every sentence by the
//! question's content words it contains, and answers with the best sentences, each followed by the
//! marker of the passage it came from. When nothing matches it says so, like a grounded model should.

use std::collections::HashSet;

use crate::embeddings::content_words;

/// The answer given when no passage shares a word with the question.
pub const NO_ANSWER: &str = "I could not find this in the provided context. Please rephrase the question or add documents about it.";

/// Sentences used in an answer at most.
const MAX_SENTENCES: usize = 3;

/// A passage parsed from the prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    /// The marker, e.g. `1` or `P2`.
    pub marker: String,
    /// The rest of the marker's line (a title, or the whole passage when it is one line).
    pub title: String,
    /// The lines after the marker's line, Markdown emphasis and heading marks removed; the title
    /// when there are none.
    pub text: String,
}

/// Plain text of a Markdown line: no heading marks, list bullets, emphasis or code ticks.
fn plain(line: &str) -> String {
    line.trim_start_matches('#')
        .trim_start_matches(['-', '*', ' '])
        .replace("**", "")
        .replace('`', "")
        .trim()
        .to_owned()
}

/// Finds the passages in a prompt: a line starting with `[marker]` opens a passage that runs until
/// the next marker, a line starting with `Question:`, or the end.
pub fn parse_passages(prompt: &str) -> Vec<Passage> {
    let mut out: Vec<Passage> = Vec::new();
    for line in prompt.lines() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix('[')
            && let Some((marker, title)) = rest.split_once(']')
            && !marker.is_empty()
            && marker.len() <= 6
            && marker.chars().all(|c| c.is_ascii_alphanumeric())
        {
            out.push(Passage {
                marker: marker.to_owned(),
                title: title.trim().to_owned(),
                text: String::new(),
            });
            continue;
        }
        if trimmed.starts_with("Question:") {
            break;
        }
        if let Some(last) = out.last_mut() {
            let line = plain(trimmed);
            if !line.is_empty() {
                if !last.text.is_empty() {
                    // Lines without final punctuation (headings, list items) end a sentence.
                    if !last.text.ends_with(['.', '!', '?', ':']) {
                        last.text.push('.');
                    }
                    last.text.push(' ');
                }
                last.text.push_str(&line);
            }
        }
    }
    for p in &mut out {
        if p.text.is_empty() {
            p.text.clone_from(&p.title);
        }
    }
    out
}

/// The question in a user message: the text after the last `Question:`, or the whole message.
pub fn extract_question(user_message: &str) -> &str {
    match user_message.rfind("Question:") {
        Some(i) => user_message[i + "Question:".len()..].trim(),
        None => user_message.trim(),
    }
}

fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        let end_of_sentence = matches!(b, b'.' | b'!' | b'?')
            && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace());
        if end_of_sentence {
            let s = text[start..=i].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = i + 1;
        }
    }
    let tail = text[start..].trim();
    if !tail.is_empty() {
        out.push(tail);
    }
    out
}

/// Answers `question` from `passages`.
pub fn answer(question: &str, passages: &[Passage]) -> String {
    let q: HashSet<String> = content_words(question).into_iter().map(stem).collect();
    if q.is_empty() {
        return NO_ANSWER.to_owned();
    }
    // (score, passage index, sentence index, sentence)
    let mut scored: Vec<(f32, usize, usize, &str)> = Vec::new();
    for (pi, p) in passages.iter().enumerate() {
        for (si, s) in sentences(&p.text).into_iter().enumerate() {
            let words: HashSet<String> = content_words(s).into_iter().map(stem).collect();
            let hits = q.intersection(&words).count();
            if hits == 0 || words.len() < 3 {
                continue;
            }
            // Favour sentences that cover more of the question, and earlier passages (they are
            // ranked by the retriever), with a light penalty on very long sentences.
            let score = hits as f32 / q.len() as f32
                - 0.02 * pi as f32
                - 0.002 * (words.len().saturating_sub(25)) as f32;
            scored.push((score, pi, si, s));
        }
    }
    if scored.is_empty() {
        return NO_ANSWER.to_owned();
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let best = scored[0].0;
    let mut chosen: Vec<_> = scored
        .into_iter()
        .filter(|s| s.0 >= best * 0.5)
        .take(MAX_SENTENCES)
        .collect();
    chosen.sort_by_key(|s| (s.1, s.2));
    let mut out = String::new();
    for (_, pi, _, s) in chosen {
        if !out.is_empty() {
            out.push(' ');
        }
        let s = s.trim_end_matches(['.', '!', '?']);
        out.push_str(s);
        out.push_str(&format!(" [{}].", passages[pi].marker));
    }
    out
}

/// A crude stemmer: enough for "bulbs" ~ "bulb" and "resetting" ~ "reset".
fn stem(w: String) -> String {
    for suffix in ["ing", "es", "s"] {
        if w.len() > suffix.len() + 3
            && let Some(base) = w.strip_suffix(suffix)
        {
            return base.to_owned();
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMPT: &str = "Context:\n\
        [1] Parental leave (hr-parental-leave.md)\nEmployees get 20 weeks of paid parental leave. \
        Leave can be split in two blocks.\n\n\
        [2] Lumen Hub 2 manual\nTo reset the hub, hold the button for 10 seconds. The LED turns amber.\n\n\
        Question: How do I reset the hub?";

    /// Passages and the question are found in a prompt.
    #[test]
    fn parses_prompt() {
        let p = parse_passages(PROMPT);
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].marker, "2");
        assert!(p[1].text.contains("hold the button"));
        assert_eq!(p[1].title, "Lumen Hub 2 manual");
        assert!(!p[1].text.contains("manual"));
        assert_eq!(extract_question(PROMPT), "How do I reset the hub?");
    }

    /// The answer quotes the matching passage and cites it.
    #[test]
    fn answers_with_citations() {
        let a = answer("How do I reset the hub?", &parse_passages(PROMPT));
        assert!(a.contains("hold the button for 10 seconds"), "{a}");
        assert!(a.contains("[2]"), "{a}");
        assert!(!a.contains("[1]"), "{a}");
    }

    /// No overlap, no invented answer.
    #[test]
    fn says_so_when_context_does_not_answer() {
        assert_eq!(
            answer("quantum chromodynamics", &parse_passages(PROMPT)),
            NO_ANSWER
        );
        assert_eq!(answer("reset", &[]), NO_ANSWER);
    }
}
