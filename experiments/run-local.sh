#!/usr/bin/env bash
# Runs every local chaos experiment against the local fleet and fails unless each one held.
#
#   experiments/run-local.sh [EXPERIMENT...]           (default: the three local experiments)
#   experiments/run-local.sh --naive [EXPERIMENT...]   (default: lose-half and lose-all)
#
# 1. installs what it needs: the venv with chaostoolkit (var/venv), Prometheus (Debian), oha;
# 2. brings the fleet up (deploy/local/up.sh) unless it already runs, and waits until Prometheus
#    scrapes every target;
# 3. runs each experiment with `chaos run`, journal in var/experiments/journal-NAME.json, log in
#    var/experiments/NAME.log;
# 4. verifies every journal (experiments/verify_journals.py: completed, not deviated, steady state
#    met before and after, every method step and rollback succeeded) and prints the figures;
# 5. writes an HTML report (chaos report) to var/experiments/report.html when it can
#    (var/experiments/naive/report.html with --naive);
# 6. brings the fleet down again if it started it.
#
# --naive proves that the experiments can fail: it starts its own fleet with superpower's
# resilience switched off (`--naive`: no ring, failover, fallback, hedging or tight deadlines;
# active health checks only every NAIVE_HEALTH_INTERVAL_MS, default 60000, as the original
# demo had none), switches stable assignment back on through the admin API (without it every
# visit gets a random superpower and the steady state fails before any fault), and succeeds only
# if every experiment *deviates*: steady state met before the method, broken after it by the
# identity probe. Journals go to var/experiments/naive/. It refuses to run while a fleet runs.
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

naive=0
if [ "${1:-}" = --naive ]; then naive=1; shift; fi
experiments=("$@")
if [ ${#experiments[@]} -eq 0 ]; then
  experiments=(
    experiments/local/lose-half-of-powersources.json
    experiments/local/lose-all-of-powersources.json
  )
  [ "$naive" = 1 ] || experiments+=(experiments/local/latency-should-remain-sane-under-heavy-load.json)
fi
for e in "${experiments[@]}"; do [ -f "$e" ] || die "no such experiment: $e"; done

ensure_venv
ensure_apt prometheus
[ "${NO_REPORT:-0}" = 1 ] || ensure_apt pandoc # chaos report's HTML
ensure_oha
export PATH="$PATH:$HOME/.cargo/bin"

OUT="$ROOT/var/experiments"
[ "$naive" = 1 ] && OUT="$ROOT/var/experiments/naive"
mkdir -p "$OUT"
export PROMETHEUS_URL="${PROMETHEUS_URL:-http://127.0.0.1:9090}"
export SUPERPOWER_URL="${SUPERPOWER_URL:-http://127.0.0.1:30280/}"
export LOAD_RATE="${LOAD_RATE:-500}"

# Other suites that kill instances (dashboards/e2e.sh ...) must not run at the same time.
hold_fleet_lock 600

# --- the fleet ------------------------------------------------------------------------------------
started_fleet=0
if [ "$naive" = 1 ]; then
  for name in $(pidfile_names); do
    pid_of "$name" >/dev/null && die "--naive needs a fleet of its own, and $name runs: deploy/local/down.sh first"
  done
  export SUPERPOWER_NAIVE=true
  export SUPERPOWER_HEALTH_INTERVAL_MS="${NAIVE_HEALTH_INTERVAL_MS:-60000}"
  SUPERPOWER_ADMIN_TOKEN="${SUPERPOWER_ADMIN_TOKEN:-$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')}"
  export SUPERPOWER_ADMIN_TOKEN
fi
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
if [ "$naive" = 1 ]; then
  switches=$(curl -s --max-time 5 -X PUT -H "Authorization: Bearer $SUPERPOWER_ADMIN_TOKEN" \
    -H 'Content-Type: application/json' -d '{"stable_assignment": true}' "${SUPERPOWER_URL%/}/admin/switches")
  say "naive superpower, switches: $switches"
  [[ "$switches" == *'"failover":false'* && "$switches" == *'"fallback":false'* && "$switches" == *'"stable_assignment":true'* ]] ||
    die "could not set the naive switches through the admin API"
fi

# Prometheus must have scraped every target (after superpower's first request) before the first
# steady state asks it anything; its `up` series can hold stale samples of an earlier fleet, so
# this reads the targets API instead.
n=$(($(fleet_size) + 1))
say "waiting for Prometheus at $PROMETHEUS_URL to scrape all $n targets"
wait_scraped "$n" 30 || die "Prometheus does not scrape the fleet (deploy/local/status.sh, var/fleet/prometheus.log)"

# --- the experiments --------------------------------------------------------------------------------
# A fresh recording of the followed users for this suite; the first steady state records them.
rm -f "$OUT/identity-state.json" "$OUT/load-result.json"
export PROBE_STATE="$OUT/identity-state.json" LOAD_RESULT="$OUT/load-result.json"
journals=()
for e in "${experiments[@]}"; do
  name="$(basename "$e" .json)"
  journal="$OUT/journal-$name.json"
  rm -f "$journal"
  say "chaos run $e (log: ${OUT#"$ROOT"/}/$name.log)"
  started_at=$SECONDS
  code=0
  var/venv/bin/chaos --no-version-check --no-log-file run --journal-path "$journal" "$e" >"$OUT/$name.log" 2>&1 || code=$?
  say "  exit $code after $((SECONDS - started_at)) s"
  [ -f "$journal" ] || { tail -n 20 "$OUT/$name.log" >&2; die "chaos wrote no journal for $e"; }
  journals+=("$journal")
done

# --- verdict ---------------------------------------------------------------------------------------
verdict=0
expect=()
[ "$naive" = 1 ] && expect=(--expect-deviation)
var/venv/bin/python experiments/verify_journals.py --prometheus "$PROMETHEUS_URL" "${expect[@]}" "${journals[@]}" || verdict=$?

if [ "${NO_REPORT:-0}" != 1 ]; then
  if var/venv/bin/chaos --no-version-check --no-log-file report --export-format=html5 "${journals[@]}" "$OUT/report.html" \
    >"$OUT/report.log" 2>&1; then
    say "report: ${OUT#"$ROOT"/}/report.html"
  else
    say "no HTML report (chaos report failed: ${OUT#"$ROOT"/}/report.log)"
  fi
fi
exit "$verdict"
