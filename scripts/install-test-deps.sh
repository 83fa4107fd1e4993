#!/usr/bin/env bash
# Installs the servers and tools the test suite runs for real (Debian packages), if missing.
# Safe to run again: it installs only what is absent.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# promtool and a real Prometheus, for the stack checks (tests/tests/stack.rs).
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
# amtool and a real Alertmanager.
command -v amtool >/dev/null 2>&1 && command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)

# The official OpenAI Python SDK, to prove the simulator speaks the same protocol as OpenAI.
if ! python3 -c 'import openai' >/dev/null 2>&1; then
  echo "installing test dependency: openai (Python SDK)" >&2
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore openai \
    || python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --break-system-packages openai
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "installing test dependencies: ${need[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "error: need root (or sudo) to apt-get install ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
