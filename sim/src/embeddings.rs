//! Deterministic lexical embeddings: hashed word unigrams, word bigrams, character trigrams and
//! the concepts of a small thesaurus, L2-normalised.
//!
//! This is not a neural model and does not pretend to be one: two texts are close when they share
//! words, word pieces or a thesaurus concept ("2FA" and "MFA", "helpdesk" and "service desk"). That
//! is enough for the demo corpus' questions to find the right passages, and it makes every test
//! reproducible. A real model knows millions of such pairs; [`CONCEPTS`] knows a few dozen, of
//! the words people use for the demo's office and smart-home topics (docs/answer-quality.md says
//! how they were chosen and what they do to the golden set's figures).

/// Words too common to carry meaning; dropping them keeps short questions from matching every
/// passage that says "the".
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how",
    "i", "if", "in", "is", "it", "its", "my", "of", "on", "or", "our", "should", "that", "the",
    "this", "to", "was", "we", "what", "when", "where", "which", "who", "why", "will", "with",
    "you", "your",
];

/// Words too vague to tell one topic from another ("work" is in the remote-work policy and in "works
/// with Siri"): they count for a quarter of a word, where a model would weigh them by context.
const WEAK: &[&str] = &[
    "also", "any", "get", "gets", "got", "have", "has", "just", "make", "much", "need", "needs",
    "one", "some", "there", "think", "use", "used", "using", "want", "way", "work", "works",
];

/// The thesaurus: each group's words (lower case, as [`content_words`] splits them; two words for
/// a phrase) stand for the concept its first entry names. Words and phrases people use for the same
/// thing in an office and in smart-home support, not a list of the golden set's answers.
pub const CONCEPTS: &[(&str, &[&str])] = &[
    (
        "mfa",
        &[
            "mfa",
            "2fa",
            "2sv",
            "multifactor",
            "two factor",
            "multi factor",
            "authenticator",
        ],
    ),
    ("sms", &["sms", "texts", "text message", "text messages"]),
    (
        "malware",
        &[
            "malware",
            "virus",
            "viruses",
            "ransomware",
            "trojan",
            "infected",
            "infection",
        ],
    ),
    (
        "helpdesk",
        &["helpdesk", "servicedesk", "help desk", "service desk"],
    ),
    ("guest", &["guest", "guests", "visitor", "visitors"]),
    (
        "child",
        &["child", "children", "kid", "kids", "son", "daughter"],
    ),
    ("sick", &["sick", "ill", "illness", "unwell", "sickness"]),
    (
        "vulnerability",
        &["vulnerability", "vulnerabilities", "bug", "bugs", "exploit"],
    ),
    (
        "reward",
        &["reward", "rewards", "bounty", "bounties", "payout"],
    ),
    (
        "smoke",
        &[
            "smoke",
            "smoking",
            "smokes",
            "burning",
            "overheating",
            "overheats",
            "sparks",
        ],
    ),
    (
        "laptop",
        &["laptop", "laptops", "computer", "notebook", "macbook"],
    ),
    (
        "password",
        &["password", "passwords", "passphrase", "passcode"],
    ),
    ("wifi", &["wifi", "wi fi", "wireless"]),
    (
        "meal",
        &["meal", "meals", "food", "lunch", "dinner", "breakfast"],
    ),
    ("hotel", &["hotel", "hotels", "accommodation", "lodging"]),
    (
        "gift",
        &["gift", "gifts", "present", "presents", "hospitality"],
    ),
    (
        "referral",
        &[
            "referral",
            "referrals",
            "refer",
            "refers",
            "referring",
            "referred",
        ],
    ),
    ("doctor", &["doctor", "gp", "physician", "medical"]),
    (
        "leave",
        &[
            "leave", "vacation", "pto", "time off", "day off", "days off",
        ],
    ),
];

/// The concept `word` (one word, or two joined by a space) stands for in [`CONCEPTS`].
pub fn concept(word: &str) -> Option<&'static str> {
    CONCEPTS
        .iter()
        .find(|(_, words)| words.contains(&word))
        .map(|(c, _)| *c)
}

/// The concepts of `words` (as [`content_words`] gives them): of each word, and of each pair.
pub fn concepts(words: &[String]) -> Vec<&'static str> {
    let single = words.iter().filter_map(|w| concept(w));
    let pairs = words
        .windows(2)
        .filter_map(|p| concept(&format!("{} {}", p[0], p[1])));
    single.chain(pairs).collect()
}

/// Lower-cased alphanumeric words of `text`, with stopwords removed.
pub fn content_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .collect()
}

/// FNV-1a, 64 bit: stable across platforms and Rust versions (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn add(v: &mut [f32], feature: &str, weight: f32, seed: u64) {
    let h = fnv1a(feature.as_bytes(), seed);
    let idx = (h % v.len() as u64) as usize;
    let sign = if (h >> 63) == 0 { 1.0 } else { -1.0 };
    v[idx] += sign * weight;
}

/// Embeds `text` into `dim` dimensions. Same text, same vector, on every machine.
pub fn embed(text: &str, dim: usize) -> Vec<f32> {
    let mut v = vec![0.0_f32; dim.max(1)];
    let words = content_words(text);
    for w in &words {
        let weight = if WEAK.contains(&w.as_str()) {
            0.25
        } else {
            1.0
        };
        add(&mut v, w, weight, 1);
        // Character trigrams with boundary markers: "reset" ~ "resetting", "bulb" ~ "bulbs"; a
        // quarter of a word each (docs/benchmarks.md has the sweep of this weight).
        let padded: Vec<char> = format!("<{w}>").chars().collect();
        for tri in padded.windows(3) {
            let s: String = tri.iter().collect();
            add(&mut v, &s, 0.25, 2);
        }
    }
    for pair in words.windows(2) {
        add(&mut v, &format!("{} {}", pair[0], pair[1]), 0.5, 3);
    }
    // A concept counts double: it is the one feature a question and a passage that say the
    // same thing in different words share.
    for c in concepts(&words) {
        add(&mut v, c, 2.0, 4);
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// Vectors are deterministic, unit-length and of the requested dimension.
    #[test]
    fn deterministic_and_normalised() {
        let a = embed("How do I reset the Lumen Hub?", 384);
        let b = embed("How do I reset the Lumen Hub?", 384);
        assert_eq!(a, b);
        assert_eq!(a.len(), 384);
        assert!((cosine(&a, &a) - 1.0).abs() < 1e-5);
        assert_eq!(embed("x", 64).len(), 64);
    }

    /// Lexically related texts are closer than unrelated ones.
    #[test]
    fn related_texts_are_closer() {
        let q = embed("how many days of parental leave", 384);
        let related = embed(
            "Parental leave: employees get 20 weeks; leave days are paid.",
            384,
        );
        let unrelated = embed("Pair the motion sensor with the hub over Zigbee.", 384);
        assert!(cosine(&q, &related) > cosine(&q, &unrelated) + 0.1);
    }

    /// Words of one thesaurus concept bring texts together that share no word: "2FA" and "MFA",
    /// "helpdesk" and "service desk".
    #[test]
    fn thesaurus_concepts_bring_synonyms_together() {
        let q = embed("can i get my 2FA codes by text message", 384);
        let right = embed(
            "Enrol in MFA with Lumen Verify; SMS codes are not allowed.",
            384,
        );
        let wrong = embed(
            "Codes for the meeting room booking are sent by e-mail.",
            384,
        );
        assert!(cosine(&q, &right) > cosine(&q, &wrong));
        assert_eq!(concept("2fa"), Some("mfa"));
        assert_eq!(
            concepts(&content_words("call the service desk or the help desk")),
            vec!["helpdesk", "helpdesk"]
        );
        assert_eq!(concept("reset"), None);
    }

    /// A text of stopwords only embeds to the zero vector rather than NaN.
    #[test]
    fn empty_text_is_zero_not_nan() {
        assert!(embed("the of and", 16).iter().all(|x| *x == 0.0));
    }
}
