//! The web UI's pure modules, checked by node: what the Compare and Simulator pages compute and say.

use std::process::Command;

use ragtrace_tests::require_tool;

/// The Compare page's model (speed-ups, the headline sentence, histogram scales, refusals of
/// reports of different cases) passes its checks in tests/ui/check-compare-model.mjs.
#[test]
fn compare_model_passes_its_node_checks() {
    let Some(node) = require_tool("node", "compare_model_passes_its_node_checks") else {
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/ui/check-compare-model.mjs");
    let out = Command::new(node).arg(script).output().expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("ok: "), "{stdout}");
}

/// The Simulator page's pure functions (money and payback text, number parsing, the request
/// body, the chart's crossing) and the language default pass tests/ui/check-simulator.mjs.
#[test]
fn simulator_page_functions_pass_their_node_checks() {
    let Some(node) = require_tool("node", "simulator_page_functions_pass_their_node_checks") else {
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/ui/check-simulator.mjs");
    let out = Command::new(node).arg(script).output().expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("ok: "), "{stdout}");
}
