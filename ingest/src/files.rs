//! Finding, reading and naming the files of a run.
//!
//! A file's *source* (the name its points are filed under) must not depend on how the command
//! was pointed at it, or the same document is indexed twice. The rule:
//!
//! - a file under the corpus root (`ingest.corpus_root`, `data` by default) is named by its path
//!   relative to the root: `ragtrace-ingest data`, `ragtrace-ingest data/docs` and
//!   `ragtrace-ingest data/docs/it-vpn.md` all file `data/docs/it-vpn.md` as `docs/it-vpn.md`,
//!   the name the app's demo corpus is seeded under;
//! - any other file by its path relative to the parent of the folder it was found in (or of its
//!   own folder, when named on its own): `ragtrace-ingest ~/notes` files `~/notes/a.md` as
//!   `notes/a.md`, as does `ragtrace-ingest ~/notes/a.md`.
//!
//! Paths are compared after resolving symlinks, so a link to the corpus names files the same.

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

/// The source of `path`: relative to `root` when it is under it, else to `base`.
fn named(root: Option<&Path>, base: &Path, path: &Path) -> String {
    if let Some(root) = root
        && let Ok(real) = std::fs::canonicalize(path)
        && real.starts_with(root)
    {
        return source_of(root, &real);
    }
    source_of(base, path)
}

fn source_of(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Walks `paths`: folders recursively (hidden entries skipped, supported types only), files as
/// given; each named by the rule above, with `corpus_root` as the root (none when it does not
/// exist).
pub fn discover(paths: &[PathBuf], corpus_root: Option<&Path>) -> Discovery {
    let root = corpus_root.and_then(|r| std::fs::canonicalize(r).ok());
    let root = root.as_deref();
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
            d.folders.extend(prune_prefixes(root, &base, &abs));
            walk(&abs, &base, root, &mut d);
        } else {
            let base = abs
                .parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("/"))
                .to_path_buf();
            d.files.push(Found {
                source: named(root, &base, &abs),
                format: Format::from_path(&abs),
                path: p.clone(),
            });
        }
    }
    d.files.sort_by(|a, b| a.source.cmp(&b.source));
    d.files.dedup_by(|a, b| a.source == b.source);
    d
}

/// The source prefixes `--prune` may delete under for the folder `dir`: its name as its files
/// are named (`docs/`); for the corpus root itself, one per entry in it (never everything,
/// which would take the app's uploads too).
fn prune_prefixes(root: Option<&Path>, base: &Path, dir: &Path) -> Vec<String> {
    let real = std::fs::canonicalize(dir).ok();
    if let (Some(root), Some(real)) = (root, real.as_deref())
        && real == root
    {
        let mut out: Vec<String> = std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                if e.path().is_dir() {
                    format!("{n}/")
                } else {
                    n
                }
            })
            .collect();
        out.sort();
        return out;
    }
    vec![format!("{}/", named(root, base, dir))]
}

fn walk(dir: &Path, base: &Path, root: Option<&Path>, d: &mut Discovery) {
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
            Ok(m) if m.is_dir() => walk(&path, base, root, d),
            Ok(_) => match Format::from_path(&path) {
                Some(format) => d.files.push(Found {
                    source: named(root, base, &path),
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
        let d = discover(std::slice::from_ref(&docs), None);
        let sources: Vec<&str> = d.files.iter().map(|f| f.source.as_str()).collect();
        assert_eq!(sources, ["docs/a.md", "docs/sub/b.txt"]);
        assert_eq!(d.folders, ["docs/"]);
        assert_eq!(d.ignored, 1);
        let one = discover(&[docs.join("a.md")], None);
        assert_eq!(one.files[0].source, "docs/a.md");
        let missing = discover(&[tmp.path().join("nope")], None);
        assert_eq!(missing.unreadable.len(), 1);
    }

    /// Under the corpus root, a file has one name however the command points at it: the root,
    /// a folder in it, the file itself, or a symlink to the root.
    #[test]
    fn under_the_corpus_root_a_file_has_one_name() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data");
        let docs = root.join("docs");
        std::fs::create_dir_all(docs.join("sub")).unwrap();
        std::fs::write(docs.join("a.md"), "# A").unwrap();
        std::fs::write(docs.join("sub/b.md"), "# B").unwrap();
        std::fs::write(root.join("top.md"), "# T").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&root, &link).unwrap();
        let names = |paths: &[PathBuf]| -> Vec<String> {
            discover(paths, Some(&root))
                .files
                .into_iter()
                .map(|f| f.source)
                .collect()
        };
        let whole = names(std::slice::from_ref(&root));
        assert_eq!(whole, ["docs/a.md", "docs/sub/b.md", "top.md"]);
        assert_eq!(names(std::slice::from_ref(&docs)), whole[..2]);
        assert_eq!(names(&[docs.join("sub")]), ["docs/sub/b.md"]);
        assert_eq!(names(&[docs.join("a.md")]), ["docs/a.md"]);
        assert_eq!(names(std::slice::from_ref(&link)), whole);
        // --prune deletes under what was walked, never the whole namespace (uploads/).
        let d = discover(std::slice::from_ref(&root), Some(&root));
        assert_eq!(d.folders, ["docs/", "top.md"]);
        assert_eq!(
            discover(&[docs.join("sub")], Some(&root)).folders,
            ["docs/sub/"]
        );
        // Outside the root, the folder rule.
        let other = tmp.path().join("notes");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("n.md"), "# N").unwrap();
        assert_eq!(names(std::slice::from_ref(&other)), ["notes/n.md"]);
    }
}
