#!/usr/bin/env bash
# Takes the screenshots of docs/first-trace.md from the real UI: starts ragtrace with the
# product-search API slowed down (case study 1), asks a few questions, and photographs the chat,
# trace list, waterfall and breakdown pages with headless Chromium.
#
#   scripts/screenshots.sh            # writes docs/img/*.png
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ragtrace/target}"
cargo build --locked -p ragtrace --bin ragtrace >&2
bin="$CARGO_TARGET_DIR/debug/ragtrace"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RAGTRACE__SIMULATOR__PROFILE="scenario=slow-catalog,catalog.latency_ms=2500,catalog.jitter_ms=0" \
  "$bin" --addr "127.0.0.1:$port" --data-dir "$work/data" > "$work/app.log" 2>&1 &
base="http://127.0.0.1:$port"
for _ in $(seq 1 300); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

ask() { curl -s "$base/v1/chat" -H 'content-type: application/json' -d "{\"question\": \"$1\", \"user_id\": \"$2\"}"; }
ask "How many weeks of paid parental leave does a birth parent get?" ana >/dev/null
ask "How do I reset a Beam bulb?" ana >/dev/null
ask "How do I reset a Beam bulb?" ana >/dev/null
slow=$(ask "How much does a Beam bulb cost?" bruno | python3 -c 'import json,sys; print(json.load(sys.stdin)["trace_id"])')
sleep 1

shot() { # name, path, height
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/profile-$1" --window-size=1600,"$3" --virtual-time-budget=8000 \
    --screenshot="docs/img/$1.png" "$base/ui/#/$2" 2>/dev/null
  echo "docs/img/$1.png" >&2
}
shot traces traces 1000
shot waterfall "traces/$slow" 1500
shot breakdown breakdown 1300
