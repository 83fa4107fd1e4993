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

/// Lines quoted after a sentence that announces them with a colon ("To reset the hub:").
const MAX_STEPS: usize = 4;

/// How much a sentence loses per passage ranked above its own: the retriever's order counts,
/// so an answer draws on the best passage unless a later one holds clearly more of the question.
const RANK_PENALTY: f32 = 0.06;

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
    /// The passage's headings (as they read in `text`, without the added full stop): never an
    /// answer on their own.
    pub headings: Vec<String>,
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

/// Whether a line is a numbered step (`2. Press ...`).
fn numbered(line: &str) -> bool {
    line.split_once(". ")
        .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// Whether a Markdown line opens a list item (`- `, `* `, `1. `).
fn starts_item(line: &str) -> bool {
    line.starts_with("- ") || line.starts_with("* ") || numbered(line)
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
                headings: Vec::new(),
            });
            continue;
        }
        if trimmed.starts_with("Question:") {
            break;
        }
        if let Some(last) = out.last_mut() {
            let line = plain(trimmed);
            let heading = trimmed.starts_with('#');
            if heading && !line.is_empty() {
                last.headings
                    .push(line.trim_end_matches(['.', '!', '?', ':']).to_owned());
            }
            if !line.is_empty() {
                // A line that goes on in lower case continues the sentence the line before broke
                // (text extracted from a PDF wraps mid-sentence).
                let continues = !heading
                    && !starts_item(trimmed)
                    && line.starts_with(|c: char| c.is_lowercase())
                    && !last.text.is_empty()
                    && !last.text.ends_with(['.', '!', '?', ':']);
                if continues {
                    last.text.push(' ');
                } else if !last.text.is_empty() {
                    // Lines without final punctuation (headings, list items) end a sentence.
                    if !last.text.ends_with(['.', '!', '?', ':']) {
                        last.text.push('.');
                    }
                    // Each line is a paragraph, list item or heading of its own.
                    last.text.push('\n');
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

/// What a question asks for, which the sentence that answers it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asks {
    /// A quantity, a price, a limit, a time ("how much", "how long"): a sentence with a number.
    Number,
    /// A procedure ("how do I"): a sentence that gives a step.
    Step,
    /// Anything else.
    Other,
}

impl Asks {
    fn of(question: &str) -> Self {
        let q = question.to_lowercase();
        let has = |needles: &[&str]| needles.iter().any(|n| q.contains(n));
        if has(&[
            "how much",
            "how many",
            "how long",
            "how often",
            "how far",
            "how old",
            "price",
            "cost",
            "limit",
            "maximum",
            "minimum",
            "max ",
            "deadline",
            "what time",
            "when ",
            "how soon",
            "how quickly",
            "percent",
            "number",
        ]) {
            Asks::Number
        } else if has(&[
            "how do i",
            "how to",
            "how can i",
            "what do i do",
            "what should i do",
            "steps",
            "what now",
            "how do you",
        ]) {
            Asks::Step
        } else {
            Asks::Other
        }
    }

    /// Whether sentence `s` holds what is asked.
    fn answered_by(self, s: &str) -> bool {
        match self {
            Asks::Number => s.chars().any(|c| c.is_ascii_digit()),
            Asks::Step => {
                let first = s
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .trim_matches(|c: char| !c.is_alphabetic())
                    .to_lowercase();
                STEP_VERBS.contains(&first.as_str())
            }
            Asks::Other => false,
        }
    }
}

/// Verbs that open an instruction ("Hold the button for 10 seconds").
const STEP_VERBS: &[&str] = &[
    "to", "press", "hold", "open", "go", "tap", "select", "click", "unplug", "plug", "restart",
    "install", "connect", "remove", "reset", "wait", "sign", "enter", "choose", "use", "turn",
    "follow", "call", "email", "report", "contact", "send", "submit", "book", "ask", "log", "lock",
    "change", "check", "make", "keep", "set", "add", "raise", "file", "scan", "power", "find",
    "insert", "release", "update", "download", "restore",
];

/// Answers `question` from `passages`: the sentences that best hold the question's rarer words
/// and what it asks for (a number for "how much", a step for "how do I"), never a bare heading;
/// a buying question draws on the product passages (`P1`, ...) first.
pub fn answer(question: &str, passages: &[Passage]) -> String {
    let q: HashSet<String> = content_words(question).into_iter().map(stem).collect();
    if q.is_empty() {
        return NO_ANSWER.to_owned();
    }
    let asks = Asks::of(question);
    let buying = matches!(asks, Asks::Number)
        && passages.iter().any(|p| p.marker.starts_with('P'))
        && ["price", "cost", "how much", "cheap", "expensive", "buy"]
            .iter()
            .any(|w| question.to_lowercase().contains(w));
    // Every sentence that could answer, headings left out.
    // A sentence is read in its context: the first sentence of its paragraph or list item (its
    // topic: "Tech Bar: walk-up help. ... It is open 09:00 to 17:00") and the heading above it
    // count for it too, at lower weight.
    struct Candidate<'a> {
        passage: usize,
        sentence: usize,
        line: usize,
        text: &'a str,
        words: HashSet<String>,
        topic: HashSet<String>,
        heading: HashSet<String>,
    }
    let terms = |s: &str| -> HashSet<String> { content_words(s).into_iter().map(stem).collect() };
    let mut candidates = Vec::new();
    for (pi, p) in passages.iter().enumerate() {
        // The document's title is the heading above everything in it ("Lumen Hub 2
        // Troubleshooting and Reset (docs/...)": its path left out).
        let title = match p.title.rsplit_once(" (") {
            Some((t, _)) if p.text != p.title => terms(t),
            _ => HashSet::new(),
        };
        let mut heading = title.clone();
        let mut si = 0;
        for (line_no, line) in p.text.lines().enumerate() {
            let mut topic = HashSet::new();
            for (li, s) in sentences(line).into_iter().enumerate() {
                si += 1;
                let bare = s.trim_end_matches(['.', '!', '?', ':']);
                if p.headings.iter().any(|h| h == bare) {
                    heading = &terms(s) | &title;
                    continue;
                }
                let words = terms(s);
                if li == 0 {
                    topic.clone_from(&words);
                }
                if words.len() >= 3 {
                    candidates.push(Candidate {
                        passage: pi,
                        sentence: si,
                        line: line_no,
                        text: s,
                        topic: if li == 0 {
                            HashSet::new()
                        } else {
                            topic.clone()
                        },
                        heading: heading.clone(),
                        words,
                    });
                }
            }
        }
    }
    // A question word is worth more the fewer sentences hold it (inverse document frequency).
    let n = candidates.len().max(1) as f32;
    let weight = |w: &String| {
        let df = candidates
            .iter()
            .filter(|c| c.words.contains(w) || c.topic.contains(w) || c.heading.contains(w))
            .count() as f32;
        if df == 0.0 { 0.0 } else { 1.0 + (n / df).ln() }
    };
    let weights: Vec<(&String, f32)> = q.iter().map(|w| (w, weight(w))).collect();
    let total: f32 = weights.iter().map(|(_, w)| w).sum();
    if total == 0.0 {
        return NO_ANSWER.to_owned();
    }
    // (score, passage index, sentence index, line index, sentence)
    let mut scored: Vec<(f32, usize, usize, usize, &str)> = Vec::new();
    for c in &candidates {
        let covered: f32 = weights
            .iter()
            .map(|(w, wt)| {
                let found = if c.words.contains(*w) {
                    1.0
                } else if c.topic.contains(*w) {
                    0.5
                } else if c.heading.contains(*w) {
                    0.3
                } else {
                    0.0
                };
                found * wt
            })
            .sum();
        if covered == 0.0 {
            continue;
        }
        let product = passages[c.passage].marker.starts_with('P');
        // Earlier passages are ranked higher by the retriever (products among products).
        let rank = passages[..c.passage]
            .iter()
            .filter(|p| p.marker.starts_with('P') == product)
            .count();
        let mut score = covered / total
            - RANK_PENALTY * rank as f32
            - 0.002 * (c.words.len().saturating_sub(25)) as f32;
        if asks.answered_by(c.text) {
            score += 0.15;
        }
        if buying && product {
            score += 0.25;
        }
        scored.push((score, c.passage, c.sentence, c.line, c.text));
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
    let mut quoted: HashSet<(usize, usize)> = HashSet::new();
    for (_, pi, _, line, s) in chosen {
        if quoted.contains(&(pi, line)) {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        // "To reset the hub:" announces the steps on the lines after it, and the first step of
        // a numbered list leads to the next ones: for a "how do I" question, they are the answer.
        let first_step = asks == Asks::Step
            && passages[pi]
                .text
                .lines()
                .nth(line)
                .is_some_and(|l| l.starts_with("1. "));
        let quotes_steps = s.ends_with(':') || first_step;
        out.push_str(if quotes_steps {
            s
        } else {
            s.trim_end_matches(['.', '!', '?'])
        });
        if quotes_steps {
            let p = &passages[pi];
            let steps = p.text.lines().enumerate().skip(line + 1).take(MAX_STEPS);
            for (n, step) in steps {
                let bare = step.trim_end_matches(['.', '!', '?', ':']);
                if p.headings.iter().any(|h| h == bare) || (first_step && !numbered(step)) {
                    break;
                }
                quoted.insert((pi, n));
                out.push(' ');
                out.push_str(step);
                if step.ends_with(':') {
                    break;
                }
            }
            let end = out.trim_end_matches(['.', '!', '?', ':']).len();
            out.truncate(end);
        }
        out.push_str(&format!(" [{}].", passages[pi].marker));
    }
    out
}

/// English Snowball stemming: "expenses" ~ "expense", "submitting" ~ "submit".
fn stem(w: String) -> String {
    use qdrant_rust_stemmers::{Algorithm, Stemmer};
    static STEMMER: std::sync::LazyLock<Stemmer> =
        std::sync::LazyLock::new(|| Stemmer::create(Algorithm::English));
    STEMMER.stem(&w).into_owned()
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

    /// A heading that repeats the question's words is never the answer; for "how long" the
    /// sentence with the number is in it.
    #[test]
    fn skips_headings_and_prefers_the_number_asked_for() {
        let prompt = "Context:\n[1] Parental leave (hr-parental-leave.md)\n\
            ## Paid parental leave for birth parents\n\
            Paid parental leave for birth parents is a benefit we are proud of.\n\
            Birth parents get 16 weeks of paid leave at full pay.\n\n\
            Question: How long is paid parental leave for birth parents?";
        let passages = parse_passages(prompt);
        assert_eq!(
            passages[0].headings,
            ["Paid parental leave for birth parents"]
        );
        let a = answer(extract_question(prompt), &passages);
        assert!(
            a.contains("Birth parents get 16 weeks of paid leave at full pay [1]"),
            "{a}"
        );
        assert!(
            !a.contains("Paid parental leave for birth parents ["),
            "{a}"
        );
    }

    /// Rare question words weigh more than common ones: "coin cell" picks the battery sentence
    /// over the many sentences that say "remote".
    #[test]
    fn weighs_question_words_by_rarity() {
        let prompt = "Context:\n[1] Dimmer remote\nThe remote pairs with the hub. \
            The remote has four buttons. The remote works up to 10 m away. \
            It runs on one CR2032 coin cell for about two years.\n\n\
            Question: which coin cell does the remote take?";
        let a = answer(extract_question(prompt), &parse_passages(prompt));
        assert!(a.starts_with("It runs on one CR2032 coin cell"), "{a}");
    }

    /// A buying question answers from the products, after five passages though they come.
    #[test]
    fn a_buying_question_answers_from_the_products() {
        let prompt = "Context:\n\
            [1] Beam bulbs\nBeam bulbs work with the Dimmer Switch S1 for wall control.\n\n\
            [2] Dimmer\nUse the dimmer with Beam bulbs only.\n\n\
            [P1] Product NL-0001: Beam White A60 costs $12.99, is in stock, and is rated 4.2 of 5. A warm white bulb.\n\n\
            Question: How much does a Beam bulb cost?";
        let a = answer(extract_question(prompt), &parse_passages(prompt));
        assert!(a.contains("$12.99") && a.contains("[P1]"), "{a}");
    }

    /// A sentence is read with its list item's topic and its heading: of four alike sentences,
    /// the one under the asked-about item or heading wins. A line that a PDF wrapped
    /// mid-sentence is one sentence again.
    #[test]
    fn reads_a_sentence_in_its_context() {
        let prompt = "Context:\n[1] Service desk\n\
            - **Print room**: on floor 1. It is open Monday to Friday, 08:00 to 18:00.\n\
            - **Mail room**: on floor 0. It is open Monday to Friday, 10:00 to 12:00.\n\
            - **Library**: on floor 3. It is open Monday to Friday, 09:00 to 20:00.\n\
            - **Tech Bar**: on floor 2. It is open Monday to Friday, 09:00 to 17:00 local time.\n\n\
            [2] Evacuation\n## Porto\nWhen the alarm sounds, leave by the nearest exit and\n\
            assemble in the car park behind the building.\n\
            ## Madrid\nWhen the alarm sounds, leave by the nearest exit and\n\
            assemble at the fountain across the street.\n\
            ## Faro\nWhen the alarm sounds, leave by the nearest exit and\n\
            assemble on the beach path.\n\
            ## Lisbon\nWhen the alarm sounds, leave by the nearest exit and\n\
            assemble in the square in front of the main entrance, by the kiosk.\n\n\
            Question: when is the tech bar open?";
        let passages = parse_passages(prompt);
        assert!(
            passages[1]
                .text
                .contains("nearest exit and assemble in the square"),
            "{:?}",
            passages[1].text
        );
        let a = answer(extract_question(prompt), &passages);
        assert!(a.contains("09:00 to 17:00 local time [1]"), "{a}");
        let a = answer(
            "in lisbon where do we assemble when the alarm sounds?",
            &passages,
        );
        assert!(a.contains("by the kiosk [2]"), "{a}");
    }

    /// A sentence that announces steps with a colon brings the steps with it.
    #[test]
    fn a_sentence_that_announces_steps_brings_them() {
        let prompt = "Context:\n[1] Beam bulbs\n## Reset\n\
            To reset a bulb, for example to pair it with a new hub:\n\
            1. Turn the bulb off and on five times, one second each.\n\
            2. The bulb blinks twice when it has reset.\n\
            ## Colours\nBeam Colour bulbs show 16 million colours.\n\n\
            Question: how do i reset a bulb?";
        let a = answer(extract_question(prompt), &parse_passages(prompt));
        assert!(
            a.contains("to pair it with a new hub: 1. Turn the bulb off and on five times"),
            "{a}"
        );
        assert!(a.contains("blinks twice when it has reset [1]."), "{a}");
        assert!(!a.contains("Colours"), "{a}");
        // Without the colon, the first numbered step leads to the others.
        let prompt = prompt.replace("new hub:", "new hub.");
        let a = answer(extract_question(&prompt), &parse_passages(&prompt));
        assert!(
            a.contains("one second each. 2. The bulb blinks twice when it has reset [1]."),
            "{a}"
        );
    }

    /// Inflections meet: "submitting expenses" finds "Submit the claim ... expense".
    #[test]
    fn stems_inflections() {
        assert_eq!(stem("expenses".into()), stem("expense".into()));
        assert_eq!(stem("submitting".into()), stem("submit".into()));
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
