#!/usr/bin/env bash
# Tracing on vs off, measured in one run against the release binary:
#   on  = every request sampled, spans masked and exported over OTLP gRPC to a real receiver
#   off = OTEL_TRACES_SAMPLER=always_off (spans are created but not recorded or exported)
# Both runs use the embedded stack with an instant simulator, so what is measured is ragtrace's
# own work per request (HTTP, embeddings and chat calls to the simulator, vector search, token
# counting) and what tracing adds to it. Every request asks a new question (no cache hits).
#
#   bench/tracing-overhead.sh [DURATION_SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20}
conns=${2:-16}

command -v wrk >/dev/null 2>&1 || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk >/dev/null; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ragtrace/target-release}"
cargo build --release --locked -p ragtrace -p ragtrace-tests --bin ragtrace --bin otlp-sink >&2
bin="$CARGO_TARGET_DIR/release"

work=$(mktemp -d)
cleanup() { kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

sink_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/otlp-sink" "$sink_port" > "$work/sink.out" 2>/dev/null &
sink=$!

run() { # name, extra env...
  local name=$1; shift
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  env RAGTRACE__SIMULATOR__PROFILE=scenario=instant RAGTRACE__TELEMETRY__LOG_FILTER=warn \
      OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" "$@" \
      "$bin/ragtrace" --addr "127.0.0.1:$port" --data-dir "$work/data-$name" > "$work/$name.log" 2>&1 &
  local app=$!
  for _ in $(seq 1 300); do curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  wrk -t2 -c"$conns" -d3s -s bench/question.lua "http://127.0.0.1:$port" >/dev/null   # warm-up
  wrk -t2 -c"$conns" -d"${duration}s" --latency -s bench/question.lua "http://127.0.0.1:$port" > "$work/$name.wrk"
  dropped=$(curl -s "127.0.0.1:$port/metrics" | awk -F' ' '/^ragtrace_telemetry_spans_total\{outcome="dropped"\}/ {print $2}')
  kill -TERM "$app"; wait "$app" || true
  local rps p50 p99 errs
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/$name.wrk")
  p50=$(awk '$1=="50%" {print $2}' "$work/$name.wrk")
  p99=$(awk '$1=="99%" {print $2}' "$work/$name.wrk")
  errs=$(awk '/Non-2xx/ {print $5}' "$work/$name.wrk")
  echo "$name $rps $p50 $p99 ${errs:-0} ${dropped:-0}"
}

off=$(run off OTEL_TRACES_SAMPLER=always_off)
on=$(run on OTEL_TRACES_SAMPLER=always_on)
kill -TERM "$sink"; wait "$sink" || true
spans=$(cat "$work/sink.out")

printf '%-10s %12s %10s %10s %8s %14s\n' tracing req/s p50 p99 non-2xx spans-dropped
for line in "$off" "$on"; do printf '%-10s %12s %10s %10s %8s %14s\n' $line; done
awk -v a="$(echo "$off" | cut -d' ' -f2)" -v b="$(echo "$on" | cut -d' ' -f2)" \
  'BEGIN { printf "throughput with tracing on = %.1f %% of tracing off\n", 100 * b / a }'
echo "spans received by the OTLP sink: $spans"
