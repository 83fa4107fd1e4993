//! The web UI's pure modules, checked by node: what the Compare and Simulator pages compute and say.

use std::process::Command;

use ragtrace_tests::require_tool;

/// Runs tests/ui/`script` with node (skipping `test` loudly without it; failing in CI), and
/// expects its "ok: N checks".
fn node_checks(script: &str, test: &str) {
    let Some(node) = require_tool("node", test) else {
        return;
    };
    let path = format!("{}/ui/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(node).arg(path).output().expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("ok: "), "{stdout}");
}

/// The Compare page's model (speed-ups, the headline sentence, histogram scales, refusals of
/// reports of different cases) passes its checks in tests/ui/check-compare-model.mjs.
#[test]
fn compare_model_passes_its_node_checks() {
    node_checks(
        "check-compare-model.mjs",
        "compare_model_passes_its_node_checks",
    );
}

/// The Simulator page's pure functions (money and payback text, number parsing, the request
/// body, the chart's crossing) and the language default pass tests/ui/check-simulator.mjs.
#[test]
fn simulator_page_functions_pass_their_node_checks() {
    node_checks(
        "check-simulator.mjs",
        "simulator_page_functions_pass_their_node_checks",
    );
}
