//! Case study 2's collection: many short documents made from the shipped demo corpus, so that a
//! search without an index has many vectors to compare with. Each synthetic document is one
//! paragraph of a demo document under a heading of its own ("archive copy N"); nothing in it is
//! invented, it is the demo corpus repeated, and the runner's reports say how many points the
//! collection had.

/// A synthetic document: its source name and Markdown text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synthetic {
    /// `synthetic/000042.md`.
    pub source: String,
    /// A heading and one paragraph.
    pub text: String,
}

/// `count` synthetic documents made from `demo`, given as (title, text) pairs.
pub fn synthesize(demo: &[(String, String)], count: usize) -> Vec<Synthetic> {
    let paragraphs: Vec<(&str, &str)> = demo
        .iter()
        .flat_map(|(title, text)| {
            text.split("\n\n")
                .map(str::trim)
                .filter(|p| p.len() >= 40 && !p.starts_with('#'))
                .map(move |p| (title.as_str(), p))
        })
        .collect();
    if paragraphs.is_empty() {
        return Vec::new();
    }
    (0..count)
        .map(|k| {
            let (title, paragraph) = paragraphs[k % paragraphs.len()];
            Synthetic {
                source: format!("synthetic/{k:06}.md"),
                text: format!("# {title} (archive copy {k})\n\n{paragraph}\n"),
            }
        })
        .collect()
}

/// Writes `docs` as Markdown files under `dir` (for `ragtrace-ingest DIR` against a server).
pub fn write(docs: &[Synthetic], dir: &std::path::Path) -> std::io::Result<()> {
    for d in docs {
        let path = dir.join(&d.source);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, &d.text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Synthetic documents are distinct, named in order, and made of demo paragraphs only.
    #[test]
    fn synthetic_documents_repeat_the_demo_corpus() {
        let demo = vec![(
            "VPN".to_owned(),
            "# VPN\n\nConnect with the client from the portal and sign in with your badge number.\n\nShort.\n\nIf the tunnel drops, restart the client and check that the clock of your laptop is right."
                .to_owned(),
        )];
        let docs = synthesize(&demo, 5);
        assert_eq!(docs.len(), 5);
        assert_eq!(docs[3].source, "synthetic/000003.md");
        assert!(docs[0].text.contains("Connect with the client"));
        assert!(docs[1].text.contains("If the tunnel drops"));
        assert!(
            docs[2].text.contains("Connect with the client"),
            "paragraphs repeat in turn"
        );
        let unique: std::collections::BTreeSet<_> = docs.iter().map(|d| &d.text).collect();
        assert_eq!(unique.len(), 5, "each copy is a document of its own");
    }
}
