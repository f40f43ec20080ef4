#!/usr/bin/env bash
# Headless Chromium tests of superpower's pages: starts one powersource and superpower from the
# release binaries on free loopback ports, runs pages.test.mjs (node's test runner with
# playwright-core driving Debian's chromium), keeps the screenshots in var/artifacts/, and stops
# only what it started.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
# shellcheck source=../../../scripts/tools.sh
source "$ROOT/scripts/tools.sh"
ensure_apt chromium
ensure_release_build
(cd "$HERE" && { [ -d node_modules/playwright-core ] || npm install --no-audit --no-fund --silent; })

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_health() {
  local url=$1 log=$2
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$url/health" 2>/dev/null && return 0
    python3 -c 'import time; time.sleep(0.1)'
  done
  echo "not healthy: $url" >&2; tail -20 "$log" >&2; return 1
}

TOKEN="browser-test-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
PS_PORT=$(free_port); SP_PORT=$(free_port)
"$ROOT/target/release/loader" ingest --store "$WORK/store" >"$WORK/ingest.log" 2>&1
POWERSOURCE_ADMIN_TOKEN="$TOKEN" "$ROOT/target/release/powersource" --listen "127.0.0.1:$PS_PORT" \
  --store "$WORK/store" --name powersource-browser >"$WORK/powersource.log" 2>&1 &
PIDS+=($!)
wait_health "http://127.0.0.1:$PS_PORT" "$WORK/powersource.log"
SUPERPOWER_ADMIN_TOKEN="$TOKEN" "$ROOT/target/release/superpower" --listen "127.0.0.1:$SP_PORT" \
  --powersource "http://127.0.0.1:$PS_PORT" >"$WORK/superpower.log" 2>&1 &
PIDS+=($!)
wait_health "http://127.0.0.1:$SP_PORT" "$WORK/superpower.log"

export SUPERPOWER_URL="http://127.0.0.1:$SP_PORT" ADMIN_TOKEN="$TOKEN" ARTIFACTS="$ROOT/var/artifacts"
cd "$HERE" && node --test pages.test.mjs
echo "screenshots: $ARTIFACTS/superpower-page.png $ARTIFACTS/superpower-admin.png"
