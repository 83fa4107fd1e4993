#!/usr/bin/env bash
# Ingest benchmarks (docs/benchmarks.md):
#   1. chunks per second into the embedded store: the demo corpus copied COPIES times (each copy
#      a different folder, so every chunk is new), simulator answering instantly, so the figure
#      is ragtrace's own cost (extraction, chunking, tokenizing, batching, upserts with fsync);
#   2. meeting transcription: peak resident memory, peak chunk-buffer bytes and error rate of
#      `transcribe` for 10, 60 and 180-minute recordings under both strategies, against the
#      simulator's default (healthy) audio profile: ~3 s per audio minute, 8 requests at once.
#
#   bench/ingest.sh [COPIES] [MINUTES...]
#   QDRANT_URL=http://localhost:6334 bench/ingest.sh   # also into a Qdrant server (gRPC URL)
#
# Uses the release binary in $CARGO_TARGET_DIR (default ~/.cache/ragtrace/target-release);
# set PROFILE=debug to use a debug build instead.
set -euo pipefail
cd "$(dirname "$0")/.."
copies=${1:-20}
shift || true
minutes=("$@")
[ ${#minutes[@]} -gt 0 ] || minutes=(10 60 180)
profile=${PROFILE:-release}
if [ "$profile" = release ]; then
  target=${CARGO_TARGET_DIR:-$HOME/.cache/ragtrace/target-release}
  CARGO_TARGET_DIR=$target cargo build --release --locked -p ragtrace-ingest --bin ragtrace-ingest >&2
else
  target=${CARGO_TARGET_DIR:-$HOME/.cache/ragtrace/target}
  CARGO_TARGET_DIR=$target cargo build --locked -p ragtrace-ingest --bin ragtrace-ingest >&2
fi
bin=$target/$profile/ragtrace-ingest
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export RUST_LOG=warn
# The embedded runs must not pick up QDRANT_URL (ragtrace-ingest reads it as --qdrant-url).
qdrant_url=${QDRANT_URL:-}
unset QDRANT_URL

echo "## chunks per second into the embedded store ($profile build)"
mkdir -p "$work/corpus"
for i in $(seq 1 "$copies"); do cp -r data/docs "$work/corpus/docs$i"; done
summary=$(RAGTRACE__SIMULATOR__PROFILE=scenario=instant "$bin" --data-dir "$work/store" --json "$work/corpus" | tail -1)
python3 - "$summary" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
print(f"documents {s['documents']}, chunks {s['upserted']}, {s['seconds']:.2f} s, {s['upserted']/s['seconds']:.0f} chunks/s")
PY
again=$(RAGTRACE__SIMULATOR__PROFILE=scenario=instant "$bin" --data-dir "$work/store" --json "$work/corpus" | tail -1)
python3 - "$again" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
print(f"re-run: upserted {s['upserted']}, skipped {s['skipped']}, {s['seconds']:.2f} s")
PY

if [ -n "$qdrant_url" ]; then
  echo
  echo "## chunks per second into the Qdrant server at $qdrant_url ($profile build)"
  collection="bench_ingest_$$"
  summary=$(RAGTRACE__SIMULATOR__PROFILE=scenario=instant RAGTRACE__VECTOR_STORE__COLLECTION=$collection \
    "$bin" --qdrant-url "$qdrant_url" --json "$work/corpus" | tail -1)
  python3 - "$summary" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
print(f"documents {s['documents']}, chunks {s['upserted']}, {s['seconds']:.2f} s, {s['upserted']/s['seconds']:.0f} chunks/s")
PY
  echo "(collection $collection is left on the server; delete it when done)"
fi

echo
echo "## transcription ($profile build, simulator's default audio profile)"
echo "| minutes | strategy | chunks | failed | error rate | peak chunk buffers | peak RSS | wall time |"
echo "|---|---|---|---|---|---|---|---|"
for m in "${minutes[@]}"; do
  "$bin" gen-audio --minutes "$m" "$work/m$m.wav" 2>/dev/null
  for strategy in naive bounded; do
    line=$("$bin" --data-dir "$work/t-$m-$strategy" transcribe --strategy "$strategy" --batch-size 4 --no-index --json "$work/m$m.wav" 2>/dev/null | tail -1 || true)
    python3 - "$m" "$line" <<'PY'
import json, sys
m, s = sys.argv[1], json.loads(sys.argv[2])
mib = lambda b: f"{b/1048576:.1f} MiB"
print(f"| {m} | {s['strategy']} | {s['chunks']} | {s['failed_chunks']} | {100*s['error_rate']:.1f} % | "
      f"{mib(s['peak_chunk_buffer_bytes'])} | {mib(s['peak_rss_bytes'] or 0)} | {s['seconds']:.1f} s |")
PY
  done
  rm -f "$work/m$m.wav"
done
