#!/usr/bin/env bash
# The test suite: installs what the tests need beyond cargo, builds every binary once (the
# end-to-end tests spawn them), then runs every test of the workspace.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh --test otlp     # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
cargo build --workspace --bins --locked

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
