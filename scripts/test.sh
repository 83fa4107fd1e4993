#!/usr/bin/env bash
# The test suite: installs what the tests need beyond cargo, builds every binary and test once
# (the end-to-end tests spawn the binaries), then runs every test of the workspace.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh --test otlp     # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
# Binaries and tests in one build: built apart, the binaries would resolve the dependencies'
# features without the test-only ones and compile a second copy of half the dependency tree.
cargo build --workspace --bins --tests --locked

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole suite (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
