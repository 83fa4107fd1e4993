#!/usr/bin/env bash
# Takes the screenshots of the docs from the real UI, with headless Chromium:
# - docs/first-trace.md: ragtrace with the product-search API slowed down to 2.5 s; the chat,
#   trace list, waterfall and breakdown pages.
# - docs/case-studies/: case study 1's waterfalls before and after the fix (on the same app,
#   switched through the admin API), and case study 2's, from `ragtrace-lab run doc-search
#   --hold` runs (the first one builds the lab's collection under lab-data/, once), and case
#   study 3's job traces, saved by `ragtrace-ingest transcribe --trace-out` and opened in the app.
# - docs/answer-quality.md: the breakdown of a golden-set run, with its answer quality.
# - docs/report.md: the executive report of the recorded chatbot runs, and the cost simulator.
# - the API page (/ui/api.html, Swagger UI on /openapi.json): docs/img/api.png.
#
#   scripts/screenshots.sh            # writes docs/img/*.png
#   scripts/screenshots.sh 'report|simulator'   # only the shots whose names match (a regex)
set -euo pipefail
cd "$(dirname "$0")/.."
only="${1:-}"
want() { [ -z "$only" ] || [[ "$1" =~ $only ]]; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ragtrace/target}"
# Chromium comes from the same script as the test suite's tools.
command -v chromium >/dev/null 2>&1 || scripts/install-test-deps.sh
command -v chromium >/dev/null 2>&1 || { echo "screenshots: chromium is missing (scripts/install-test-deps.sh installs it)" >&2; exit 1; }
cargo build --release --locked -p ragtrace -p ragtrace-lab -p ragtrace-ingest >&2
bins="$CARGO_TARGET_DIR/release"
lab_data="${LAB_DATA:-lab-data}"
work=$(mktemp -d)
trap 'kill -INT $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RAGTRACE__SIMULATOR__PROFILE="scenario=slow-catalog,catalog.latency_ms=2500,catalog.jitter_ms=0" \
  "$bins/ragtrace" --addr "127.0.0.1:$port" --data-dir "$work/data" > "$work/app.log" 2>&1 &
base="http://127.0.0.1:$port"
for _ in $(seq 1 300); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

ask() { curl -s "$base/v1/chat" -H 'content-type: application/json' -d "{\"question\": \"$1\", \"user_id\": \"$2\"}"; }
trace_id() { python3 -c 'import json,sys; print(json.load(sys.stdin)["trace_id"])'; }
fixes() { curl -sf -X PUT "$base/admin/fixes" -H 'content-type: application/json' -d "$1" >/dev/null; }

shot() { # name, URL, height
  want "$1" || return 0
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/profile-$1" --window-size=1600,"$3" --virtual-time-budget=8000 \
    --screenshot="docs/img/$1.png" "$2" 2>/dev/null
  echo "docs/img/$1.png" >&2
}

# docs/first-trace.md
ask "How many weeks of paid parental leave does a birth parent get?" ana >/dev/null
ask "How do I reset a Beam bulb?" ana >/dev/null
ask "How do I reset a Beam bulb?" ana >/dev/null
slow=$(ask "How much does a Beam bulb cost?" bruno | trace_id)
sleep 1
shot traces "$base/ui/#/traces" 1000
shot waterfall "$base/ui/#/traces/$slow" 1500
shot breakdown "$base/ui/#/breakdown" 1300

# The API page: Swagger UI (vendored, scripts/vendor-swagger-ui.sh) on the served /openapi.json.
shot api "$base/ui/api.html" 1300

# docs/answer-quality.md: the golden set asked of this app, and its breakdown (quality beside time).
if want quality-breakdown; then
  "$bins/ragtrace-lab" eval --target "$base" --out "$work/eval.json" --worst 0 >/dev/null
  golden_user=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["user_id"])' "$work/eval.json")
  shot quality-breakdown "$base/ui/#/breakdown?user_id=$golden_user" 1300
fi

# Case study 1: the product-search API at its case-study 6 s, without the fixes and with them.
curl -sf -X POST "$base/admin/scenarios/slow-catalog" >/dev/null
fixes '{"catalog_cache": false, "parallel_product_search": false}'
c1_before=$(ask "How much does the motion sensor cost?" shopper | trace_id)
fixes '{"catalog_cache": true, "parallel_product_search": true}'
c1_miss=$(ask "What is the price of the smart plug?" shopper | trace_id)
c1_hit=$(ask "How much is the smart plug?" shopper | trace_id)
sleep 1
shot case-chatbot-before "$base/ui/#/traces/$c1_before" 1300
shot case-chatbot-after-miss "$base/ui/#/traces/$c1_miss" 1300
shot case-chatbot-after-hit "$base/ui/#/traces/$c1_hit" 1300

# docs/report.md: the executive report of the recorded chatbot runs, and the cost simulator
# (its defaults measured from the requests above).
"$bins/ragtrace-lab" report docs/case-studies/runs/chatbot-before.json \
  docs/case-studies/runs/chatbot-after.json -o "$work/report.html"
shot report "file://$work/report.html" 2300
shot simulator "$base/ui/#/simulator" 1250

# Case study 2: a short doc-search run of each phase, held open; photographs a request at the
# run's 90th percentile, and the run's breakdown.
doc_search() { # phase
  local err="$work/lab-$1.err"
  "$bins/ragtrace-lab" run doc-search --phase "$1" --duration 25 --hold --data-dir "$lab_data" \
    > "$work/lab-$1.out" 2> "$err" &
  local pid=$!
  until grep -qs "keeps serving" "$err"; do
    kill -0 "$pid" 2>/dev/null || { cat "$err" >&2; exit 1; }
    sleep 0.5
  done
  local url lab_base user trace search
  url=$(grep -o 'http://[^ ]*' "$err" | tail -1)
  lab_base=${url%%/ui/*}
  user=${url##*user_id=}
  trace=$(curl -sf "$lab_base/api/traces?user_id=$user&limit=200" | python3 -c '
import json, sys
ts = sorted(json.load(sys.stdin)["traces"], key=lambda t: t["duration_us"])
print(ts[int(len(ts) * 0.9)]["trace_id"])')
  # The vector search's span, whose ragtrace.pool.wait_seconds says how long it queued.
  search=$(curl -sf "$lab_base/api/traces/$trace" | python3 -c '
import json, sys
print(next(s["span_id"] for s in json.load(sys.stdin)["spans"] if s["name"].startswith("query ")))')
  shot "case-doc-search-$1" "$lab_base/ui/#/traces/$trace?span=$search" 1700
  shot "case-doc-search-$1-breakdown" "$lab_base/ui/#/breakdown?user_id=$user" 1300
  kill -INT "$pid"
  wait "$pid" || true
}
if want case-doc-search; then
  doc_search before
  doc_search after
fi

# Case study 3: the transcription job's traces, saved by ragtrace-ingest in a process of its own
# (--trace-out) and opened in the app (POST /api/traces, as Traces → Open a trace file does).
mkdir -p "$lab_data/transcription"
wav="$lab_data/transcription/meeting-60min.wav"
[ -f "$wav" ] || "$bins/ragtrace-ingest" gen-audio --minutes 60 "$wav" >&2
for phase in before after; do
  want "case-transcription-$phase" || continue
  strategy=$([ "$phase" = before ] && echo naive || echo bounded)
  env -u OPENAI_API_KEY -u OPENAI_BASE_URL -u QDRANT_URL RAGTRACE__TELEMETRY__LOG_FILTER=error \
    "$bins/ragtrace-ingest" --data-dir "$work/transcribe-$strategy" transcribe \
    --strategy "$strategy" --no-index --trace-out "$work/$strategy.trace.json" "$wav" >/dev/null || true
  id=$(curl -sf "$base/api/traces" -H 'content-type: application/json' \
    --data-binary @"$work/$strategy.trace.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["trace_id"])')
  shot "case-transcription-$phase" "$base/ui/#/traces/$id" 1500
done
