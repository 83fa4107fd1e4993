//! The crate maps stay true: every module a crate declares is in its `//! # Layout`, and every
//! crate directory is in the README's layout.

/// Each library crate's `//! # Layout` names every `pub mod` of its root, and says what the crate
/// depends on.
#[test]
fn every_module_is_in_its_crate_layout() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for krate in ["core", "app", "sim", "ingest"] {
        let lib = std::fs::read_to_string(format!("{root}/{krate}/src/lib.rs")).unwrap();
        let docs: String = lib
            .lines()
            .filter(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            docs.contains("# Layout") && docs.contains("# Depends on"),
            "{krate}/src/lib.rs has a Layout and a Depends on section"
        );
        for module in lib
            .lines()
            .filter_map(|l| l.strip_prefix("pub mod "))
            .map(|m| m.trim_end_matches(';'))
        {
            assert!(
                docs.contains(&format!("[`{module}`]")),
                "{krate}/src/lib.rs declares `{module}` but its Layout does not list it"
            );
        }
    }
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let layout = &readme[readme
        .find("## Layout")
        .expect("README has a Layout section")..];
    for dir in [
        "core/", "app/", "sim/", "ingest/", "tests/", "data/", "docs/", "scripts/",
    ] {
        assert!(layout.contains(dir), "README's layout lists {dir}");
    }
}
