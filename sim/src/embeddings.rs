//! Deterministic lexical embeddings: hashed word unigrams, word bigrams and character trigrams,
//! L2-normalised.
//!
//! This is not a neural model and does not pretend to be one: two texts are close when they share
//! words and word pieces. That is enough for the demo corpus' questions to find the right passages,
//! and it makes every test reproducible.

/// Words too common to carry meaning; dropping them keeps short questions from matching every
/// passage that says "the".
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how",
    "i", "if", "in", "is", "it", "its", "my", "of", "on", "or", "our", "should", "that", "the",
    "this", "to", "was", "we", "what", "when", "where", "which", "who", "why", "will", "with",
    "you", "your",
];

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
        add(&mut v, w, 1.0, 1);
        // Character trigrams with boundary markers: "reset" ~ "resetting", "bulb" ~ "bulbs".
        let padded: Vec<char> = format!("<{w}>").chars().collect();
        for tri in padded.windows(3) {
            let s: String = tri.iter().collect();
            add(&mut v, &s, 0.25, 2);
        }
    }
    for pair in words.windows(2) {
        add(&mut v, &format!("{} {}", pair[0], pair[1]), 0.5, 3);
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

    /// A text of stopwords only embeds to the zero vector rather than NaN.
    #[test]
    fn empty_text_is_zero_not_nan() {
        assert!(embed("the of and", 16).iter().all(|x| *x == 0.0));
    }
}
