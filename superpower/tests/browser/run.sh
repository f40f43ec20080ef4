#!/usr/bin/env bash
# Headless Chromium tests of superpower's pages: starts three powersources and two superpower
# replicas (peers, one cookie key) from the release binaries on free loopback ports and the Locust
# visitors, runs pages.test.mjs (node's test runner with
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
# three powersources, so the promises page shows a ring of three
stores=(); PS_URLS=()
for i in 1 2 3; do stores+=(--store "$WORK/store-$i"); done
"$ROOT/target/release/loader" ingest "${stores[@]}" >"$WORK/ingest.log" 2>&1
for i in 1 2 3; do
  port=$(free_port)
  POWERSOURCE_ADMIN_TOKEN="$TOKEN" "$ROOT/target/release/powersource" --listen "127.0.0.1:$port" \
    --store "$WORK/store-$i" --name "powersource-browser-$i" >"$WORK/powersource-$i.log" 2>&1 &
  PIDS+=($!)
  wait_health "http://127.0.0.1:$port" "$WORK/powersource-$i.log"
  PS_URLS+=(--powersource "http://127.0.0.1:$port")
done
# two replicas of one front end: peers of each other, one cookie key
SP_PORT=$(free_port)
SP2_PORT=$(free_port)
COOKIE_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
for replica in "1 $SP_PORT $SP2_PORT" "2 $SP2_PORT $SP_PORT"; do
  read -r i port peer <<<"$replica"
  SUPERPOWER_ADMIN_TOKEN="$TOKEN" SUPERPOWER_COOKIE_KEY="$COOKIE_KEY" "$ROOT/target/release/superpower" \
    --listen "127.0.0.1:$port" --peer "http://127.0.0.1:$peer" --replica-name "replica-$i" \
    "${PS_URLS[@]}" >"$WORK/superpower-$i.log" 2>&1 &
  PIDS+=($!)
done
wait_health "http://127.0.0.1:$SP_PORT" "$WORK/superpower-1.log"
wait_health "http://127.0.0.1:$SP2_PORT" "$WORK/superpower-2.log"

# The returning visitors (visitors/locustfile.py, Locust with its web UI on a free port): the
# promises test also reads their named failures from Locust's stats.
ensure_venv
LOCUST_PORT=$(free_port)
"$VENV/bin/locust" -f "$ROOT/visitors/locustfile.py" --host "http://127.0.0.1:$SP_PORT" \
  --users 10 --spawn-rate 10 --autostart --web-host 127.0.0.1 --web-port "$LOCUST_PORT" \
  --visit-min-s 0.2 --visit-max-s 0.5 >"$WORK/locust.log" 2>&1 &
PIDS+=($!)
LOCUST_URL="http://127.0.0.1:$LOCUST_PORT"
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$LOCUST_URL/stats/requests" 2>/dev/null && break
  python3 -c 'import time; time.sleep(0.1)'
done

export SUPERPOWER_URL="http://127.0.0.1:$SP_PORT" PEER_URL="http://127.0.0.1:$SP2_PORT" ADMIN_TOKEN="$TOKEN" \
  ARTIFACTS="$ROOT/var/artifacts" LOCUST_URL
cd "$HERE" && node --test pages.test.mjs
echo "screenshots: $ARTIFACTS/superpower-page.png $ARTIFACTS/superpower-admin.png $ARTIFACTS/promises-*.png"
