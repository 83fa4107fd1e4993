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
cargo test --workspace --locked "$@"
