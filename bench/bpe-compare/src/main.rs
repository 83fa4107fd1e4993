//! tiktoken-rs and bpe-openai on the same text: every paragraph and every whole document of the
//! demo corpus's Markdown, plus OpenAI's published examples. Prints whether their tokens are
//! identical and each one's counting speed (best of 7 passes).

use std::time::Instant;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/docs").to_owned());
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the demo corpus") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "md") {
            let text = std::fs::read_to_string(&path).expect("read");
            for para in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
                texts.push(para.to_owned());
            }
            texts.push(text);
        }
    }
    let published = [
        "antidisestablishmentarianism",
        "2 + 2 = 4",
        "お誕生日おめでとう",
        "hello world",
        "today\n \n",
        "today\n  \n",
        " \u{85}0",
        "hello <|endoftext|>",
    ];
    let bytes: usize = texts.iter().map(String::len).sum();
    for (name, tiktoken, bpe) in [
        ("o200k_base", tiktoken_rs::o200k_base_singleton(), bpe_openai::o200k_base()),
        ("cl100k_base", tiktoken_rs::cl100k_base_singleton(), bpe_openai::cl100k_base()),
    ] {
        let differ = texts
            .iter()
            .map(String::as_str)
            .chain(published)
            .filter(|t| tiktoken.encode_ordinary(t) != bpe.encode(*t))
            .count();
        let mut best = [f64::MAX; 2];
        for _ in 0..7 {
            let start = Instant::now();
            let a: usize = texts.iter().map(|t| tiktoken.encode_ordinary(t).len()).sum();
            best[0] = best[0].min(start.elapsed().as_secs_f64());
            let start = Instant::now();
            let b: usize = texts.iter().map(|t| bpe.count(t.as_str())).sum();
            best[1] = best[1].min(start.elapsed().as_secs_f64());
            assert_eq!(a, b, "{name}: the counts differ");
        }
        println!(
            "{name}: {} texts, {bytes} bytes, {differ} with different tokens; \
             tiktoken-rs {:.1} MB/s, bpe-openai {:.1} MB/s ({:.2}x)",
            texts.len() + published.len(),
            bytes as f64 / best[0] / 1e6,
            bytes as f64 / best[1] / 1e6,
            best[0] / best[1],
        );
    }
}
