#!/usr/bin/env bash
# Runs every local chaos experiment against the local fleet and fails unless each one held.
#
#   experiments/run-local.sh [EXPERIMENT...]     (default: every experiments/local/*.json)
#
# 1. installs what it needs: the venv with chaostoolkit (var/venv), Prometheus (Debian), oha;
# 2. brings the fleet up (deploy/local/up.sh) unless it already runs, and waits until Prometheus
#    scrapes every target;
# 3. runs each experiment with `chaos run`, journal in var/experiments/journal-NAME.json, log in
#    var/experiments/NAME.log;
# 4. verifies every journal (experiments/verify_journals.py: completed, not deviated, steady state
#    met before and after, every method step and rollback succeeded) and prints the figures;
# 5. writes an HTML report (chaos report) to var/experiments/report.html when it can;
# 6. brings the fleet down again if it started it.
#
# Env: LOAD_RATE (default here 500 req/s: the heavy setting; the experiment file alone defaults to
# the original's 25), LOAD_DURATION (10s), LOAD_WORKERS (8), KEEP_FLEET=1 (leave the fleet up),
# NO_REPORT=1 (skip the HTML report).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=../scripts/tools.sh
source scripts/tools.sh
# shellcheck source=../deploy/local/lib.sh
source deploy/local/lib.sh

say() { printf '[experiments] %s\n' "$*"; }
die() { printf '[experiments] error: %s\n' "$*" >&2; exit 1; }

experiments=("$@")
if [ ${#experiments[@]} -eq 0 ]; then
  experiments=(
    experiments/local/lose-half-of-powersources.json
    experiments/local/lose-all-of-powersources.json
    experiments/local/latency-should-remain-sane-under-heavy-load.json
  )
fi
for e in "${experiments[@]}"; do [ -f "$e" ] || die "no such experiment: $e"; done

ensure_venv
ensure_apt prometheus
[ "${NO_REPORT:-0}" = 1 ] || ensure_apt pandoc # chaos report's HTML
ensure_oha
export PATH="$PATH:$HOME/.cargo/bin"

OUT="$ROOT/var/experiments"
mkdir -p "$OUT"
export PROMETHEUS_URL="${PROMETHEUS_URL:-http://127.0.0.1:9090}"
export SUPERPOWER_URL="${SUPERPOWER_URL:-http://127.0.0.1:30280/}"
export LOAD_RATE="${LOAD_RATE:-500}"

# Other suites that kill instances (dashboards/e2e.sh ...) must not run at the same time.
hold_fleet_lock 600

# --- the fleet ------------------------------------------------------------------------------------
started_fleet=0
if deploy/local/status.sh >/dev/null 2>&1; then
  say "the local fleet is already running: using it (and leaving it up)"
else
  started_fleet=1
  deploy/local/up.sh
fi
cleanup() {
  local code=$?
  if [ "$started_fleet" = 1 ] && [ "${KEEP_FLEET:-0}" != 1 ]; then
    deploy/local/down.sh || true
  fi
  exit "$code"
}
trap cleanup EXIT
deploy/local/status.sh >/dev/null || { deploy/local/status.sh || true; die "the fleet is not healthy"; }

# Prometheus must have scraped every target (after superpower's first request) before the first
# steady state asks it anything; its `up` series can hold stale samples of an earlier fleet, so
# this reads the targets API instead.
n=$(($(fleet_size) + 1))
say "waiting for Prometheus at $PROMETHEUS_URL to scrape all $n targets"
wait_scraped "$n" 30 || die "Prometheus does not scrape the fleet (deploy/local/status.sh, var/fleet/prometheus.log)"

# --- the experiments --------------------------------------------------------------------------------
# A fresh recording of the followed users for this suite; the first steady state records them.
rm -f "$OUT/identity-state.json" "$OUT/load-result.json"
journals=()
for e in "${experiments[@]}"; do
  name="$(basename "$e" .json)"
  journal="$OUT/journal-$name.json"
  rm -f "$journal"
  say "chaos run $e (log: var/experiments/$name.log)"
  started_at=$SECONDS
  code=0
  var/venv/bin/chaos --no-version-check --no-log-file run --journal-path "$journal" "$e" >"$OUT/$name.log" 2>&1 || code=$?
  say "  exit $code after $((SECONDS - started_at)) s"
  [ -f "$journal" ] || { tail -n 20 "$OUT/$name.log" >&2; die "chaos wrote no journal for $e"; }
  journals+=("$journal")
done

# --- verdict ---------------------------------------------------------------------------------------
verdict=0
var/venv/bin/python experiments/verify_journals.py --prometheus "$PROMETHEUS_URL" "${journals[@]}" || verdict=$?

if [ "${NO_REPORT:-0}" != 1 ]; then
  if var/venv/bin/chaos --no-version-check --no-log-file report --export-format=html5 "${journals[@]}" "$OUT/report.html" \
    >"$OUT/report.log" 2>&1; then
    say "report: var/experiments/report.html"
  else
    say "no HTML report (chaos report failed: var/experiments/report.log)"
  fi
fi
exit "$verdict"
