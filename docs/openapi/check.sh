#!/usr/bin/env bash
# Checks the OpenAPI specs of both services (docs/openapi/{powersource,superpower}.yaml):
#
#   1. drift        the specs' paths and methods are the route tables of the code, no more, no
#                   fewer (pytest docs/openapi/test_drift.py: static, no build needed)
#   2. schemathesis the specs against a real powersource and superpower on 127.0.0.1 (ports the
#                   kernel picks), admin token on: no 5xx, status codes, content types, bodies
#                   and headers as documented, invalid input refused, no hang
#                   (docs/openapi/api_check.py, settings in docs/openapi/schemathesis.toml)
#
#   docs/openapi/check.sh [--max-examples N]     (arguments go to api_check.py)
#
# Installs what it needs: the venv of scripts/requirements.txt (schemathesis, pytest, pyyaml) at
# var/venv and the release binaries (cargo build --release). Takes about a minute; every
# schemathesis pass is cut at 5 minutes. Exits non-zero on any finding.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../scripts/tools.sh
source "$ROOT/scripts/tools.sh"
cd "$ROOT"

step() { printf '\n== %s\n' "$*"; }
fail() { printf '\ncheck.sh: FAILED: %s\n' "$*" >&2; exit 1; }

ensure_venv
PY="$VENV/bin/python"

step "drift: spec paths and methods against the route tables"
"$PY" -m pytest -q -p no:cacheprovider docs/openapi/test_drift.py || fail "the specs and the route tables disagree"

step "schemathesis against the running services"
ensure_release_build
"$PY" docs/openapi/api_check.py "$@" || fail "schemathesis found problems (reports in var/api-check/)"
