//! Finding, reading and naming the files of a run.
//!
//! A file's *source* (the name its points are filed under) is its path relative to the parent
//! of the folder it was found in: `ragtrace-ingest data/docs` files `data/docs/it-vpn.md` as
//! `docs/it-vpn.md`, and so does `ragtrace-ingest data/docs/it-vpn.md`. The app's demo corpus
//! uses the same names, so ingesting `data/docs` over the seeded store finds nothing to do.

use std::path::{Path, PathBuf};

use crate::extract::{Document, ExtractError, Format, extract_within};

/// A file to ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The path to read: as given on the command line, or as found in a walked folder.
    pub path: PathBuf,
    /// The name its points are filed under (`docs/it-vpn.md`), however the file was named.
    pub source: String,
    /// Its format; `None` when the extension is not supported (reported as a failure when the
    /// file was named explicitly).
    pub format: Option<Format>,
}

/// What was found under the paths of a run.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Files to ingest, sorted by source.
    pub files: Vec<Found>,
    /// Paths that could not be listed or do not exist: `(path, reason)`.
    pub unreadable: Vec<(String, String)>,
    /// Source prefixes of the folders walked (`docs/`), for `--prune`.
    pub folders: Vec<String>,
    /// Files skipped in folders because their type is not supported.
    pub ignored: usize,
}

fn name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

fn source_of(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Walks `paths`: folders recursively (hidden entries skipped, supported types only), files as
/// given.
pub fn discover(paths: &[PathBuf]) -> Discovery {
    let mut d = Discovery::default();
    for p in paths {
        let meta = match std::fs::metadata(p) {
            Ok(m) => m,
            Err(e) => {
                d.unreadable.push((p.display().to_string(), e.to_string()));
                continue;
            }
        };
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.clone());
        if meta.is_dir() {
            let base = abs.parent().unwrap_or(&abs).to_path_buf();
            d.folders.push(format!("{}/", name(&abs)));
            walk(&abs, &base, &mut d);
        } else {
            let base = abs
                .parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("/"))
                .to_path_buf();
            d.files.push(Found {
                source: source_of(&base, &abs),
                format: Format::from_path(&abs),
                path: p.clone(),
            });
        }
    }
    d.files.sort_by(|a, b| a.source.cmp(&b.source));
    d.files.dedup_by(|a, b| a.source == b.source);
    d
}

fn walk(dir: &Path, base: &Path, d: &mut Discovery) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            d.unreadable
                .push((dir.display().to_string(), e.to_string()));
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // Follows symlinks, like the explicit paths.
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, base, d),
            Ok(_) => match Format::from_path(&path) {
                Some(format) => d.files.push(Found {
                    source: source_of(base, &path),
                    format: Some(format),
                    path,
                }),
                None => d.ignored += 1,
            },
            Err(e) => d
                .unreadable
                .push((path.display().to_string(), e.to_string())),
        }
    }
}

/// Reads and extracts one file, refusing files over `max_bytes` before reading them and
/// compressed streams that expand past `max_expanded`.
pub fn load(found: &Found, max_bytes: u64, max_expanded: u64) -> Result<Document, ExtractError> {
    let format = found.format.ok_or(ExtractError::Unsupported)?;
    let meta =
        std::fs::metadata(&found.path).map_err(|e| ExtractError::Unreadable(e.to_string()))?;
    if meta.len() > max_bytes {
        return Err(ExtractError::TooLarge {
            size: meta.len(),
            limit: max_bytes,
        });
    }
    let bytes = std::fs::read(&found.path).map_err(|e| ExtractError::Unreadable(e.to_string()))?;
    extract_within(&found.source, &bytes, format, max_expanded)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sources are relative to the folder's parent, the same whether a folder or one of its
    /// files is named; hidden and unsupported files are left out of folders.
    #[test]
    fn sources_are_stable_names() {
        let tmp = tempfile::tempdir().unwrap();
        let docs = tmp.path().join("docs");
        std::fs::create_dir_all(docs.join("sub")).unwrap();
        std::fs::write(docs.join("a.md"), "# A").unwrap();
        std::fs::write(docs.join("sub/b.txt"), "B").unwrap();
        std::fs::write(docs.join(".hidden.md"), "# H").unwrap();
        std::fs::write(docs.join("image.png"), [0u8; 4]).unwrap();
        let d = discover(std::slice::from_ref(&docs));
        let sources: Vec<&str> = d.files.iter().map(|f| f.source.as_str()).collect();
        assert_eq!(sources, ["docs/a.md", "docs/sub/b.txt"]);
        assert_eq!(d.folders, ["docs/"]);
        assert_eq!(d.ignored, 1);
        let one = discover(&[docs.join("a.md")]);
        assert_eq!(one.files[0].source, "docs/a.md");
        let missing = discover(&[tmp.path().join("nope")]);
        assert_eq!(missing.unreadable.len(), 1);
    }
}
