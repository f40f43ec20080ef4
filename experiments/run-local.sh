#!/usr/bin/env bash
# Runs every local chaos experiment against the local fleet and fails unless each one held.
#
#   experiments/run-local.sh [EXPERIMENT...]           (default: the seven local experiments)
#   experiments/run-local.sh --naive [EXPERIMENT...]   (default: slow-powersource,
#                                                       failing-powersource, lose-half, lose-all,
#                                                       lose-a-superpower-replica,
#                                                       rolling-restart-of-superpower)
#
# 1. installs what it needs: the venv with chaostoolkit (var/venv), Prometheus (Debian), and oha
#    when an experiment drives load (experiments/load.sh) and vegeta is not installed;
# 2. brings the fleet up (deploy/local/up.sh, which gives it an admin token) unless it already
#    runs, checks that every resilience switch is on, and waits until Prometheus scrapes every
#    target;
# 3. runs each experiment with `chaos run`, journal in var/experiments/journal-NAME.json, log in
#    var/experiments/NAME.log;
# 4. verifies every journal (experiments/verify_journals.py: completed, not deviated, steady state
#    met before and after, every method step and rollback succeeded, a fault still in force
#    while the steady state was checked after the method) and prints the figures;
# 5. writes an HTML report (chaos report) to var/experiments/report.html when it can
#    (var/experiments/naive/report.html with --naive);
# 6. brings the fleet down again if it started it.
#
# The front-end experiments (tagged "frontend": lose-a-superpower-replica,
# rolling-restart-of-superpower) act on superpower replicas: they run after the others, on a fleet
# of two replicas behind the balancer (`deploy/local/up.sh --frontends 2`), with a recording of
# followed users of their own (identity-state-frontends.json). When this script started the
# fleet of the other experiments, it stops it and starts that one. A fleet that already runs is
# used for every experiment it suits, and left up; one that does not suit an experiment asked
# for (one superpower, and front-end experiments) stops the run before anything runs.
#
# --naive proves that the experiments can fail. It starts a fleet of its own with
# `deploy/local/up.sh --naive --no-visitors`: superpower with every resilience switch off (ring: round robin;
# failover: one attempt; fallback: none; deadlines: the original's 2 s connect / 5 s read
# timeouts; hedging: none) and active health checks only every NAIVE_HEALTH_INTERVAL_MS (default
# 60000; the original demo had none, and a 1 s checker would take a dead instance out of the
# round robin before the probe asks). Then it switches ONE mechanism back on through the admin
# API: stable assignment — without it every visit gets a random superpower, so the steady state
# would fail before any fault and the run would prove nothing about the fault. It succeeds only
# if every experiment *deviates*: steady state met before the method, broken after it by the
# identity probe, with the complaint the missing mechanism causes (verify_journals.py
# EXPECTATIONS). The fault experiments run first: after lose-half and lose-all the killed
# instances stay passively ejected until the next (slow) health check. Journals go to
# var/experiments/naive/. It refuses to run while another fleet runs.
# The naive front end is another fleet: `up.sh --frontends 2 --own-cookie-keys --no-visitors`,
# every resilience switch on, but no shared cookie key — each replica signs the superpower_last
# cookie with a key of its own, made at start. With every powersource gone, a user whose cookie
# the lost (or restarted) replica signed gets a 503 from the replica that answers instead.
#
# Traces: with OTEL_EXPORTER_OTLP_ENDPOINT set (an OTLP/HTTP collector: Jaeger's :4318, or
# traces/receiver.py), the fleet this script starts exports its spans there, and every run is
# traced by chaostoolkit's OpenTelemetry control (experiments/tracing/settings.yaml): one trace per
# experiment, rooted at the experiment span, with the identity probe's requests (and superpower's
# and powersource's spans) under the probe activities. docs/traces.md shows what to open.
#
# Env: LOAD_RATE (default here 500 req/s: the heavy setting; the experiment files alone default
# to the original's 25), LOAD_DURATION (10s), LOAD_WORKERS (8); the front-end experiments'
# FRONTEND_LOAD_RATE (200), FRONTEND_LOAD_DURATION (20s), FRONTEND_LOAD_WORKERS (64),
# FRONTEND_BACKEND_LATENCY_MS (200), DRAIN_MAX_FAILED (0); KEEP_FLEET=1 (leave the last fleet
# up), NO_REPORT=1 (skip the HTML report).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=../scripts/tools.sh
source scripts/tools.sh
# shellcheck source=../deploy/local/lib.sh
source deploy/local/lib.sh
# shellcheck source=lib.sh
source experiments/lib.sh

say() { printf '[experiments] %s\n' "$*"; }
die() { printf '[experiments] error: %s\n' "$*" >&2; exit 1; }

naive=0
if [ "${1:-}" = --naive ]; then naive=1; shift; fi
experiments=("$@")
if [ ${#experiments[@]} -eq 0 ]; then
  if [ "$naive" = 1 ]; then
    experiments=(
      experiments/local/slow-powersource.json
      experiments/local/failing-powersource.json
      experiments/local/lose-half-of-powersources.json
      experiments/local/lose-all-of-powersources.json
      experiments/local/lose-a-superpower-replica.json
      experiments/local/rolling-restart-of-superpower.json
    )
  else
    experiments=(
      experiments/local/lose-half-of-powersources.json
      experiments/local/lose-all-of-powersources.json
      experiments/local/latency-should-remain-sane-under-heavy-load.json
      experiments/local/slow-powersource.json
      experiments/local/failing-powersource.json
      experiments/local/lose-a-superpower-replica.json
      experiments/local/rolling-restart-of-superpower.json
    )
  fi
fi
for e in "${experiments[@]}"; do [ -f "$e" ] || die "no such experiment: $e"; done

# The experiments by the fleet they need: "powersources" (any front end) and "frontends" (the
# ones tagged "frontend": superpower replicas behind the balancer), run in that order.
powersource_experiments=()
frontend_experiments=()
for e in "${experiments[@]}"; do
  if python3 -c 'import json, sys; sys.exit("frontend" not in json.load(open(sys.argv[1])).get("tags", []))' "$e"; then
    frontend_experiments+=("$e")
  else
    powersource_experiments+=("$e")
  fi
done
kinds=()
[ ${#powersource_experiments[@]} -gt 0 ] && kinds+=(powersources)
[ ${#frontend_experiments[@]} -gt 0 ] && kinds+=(frontends)

ensure_venv
ensure_prometheus_installed
[ "${NO_REPORT:-0}" = 1 ] || ensure_apt pandoc # chaos report's HTML
ensure_load_tool "${experiments[@]}"
export PATH="$PATH:$HOME/.cargo/bin"

OUT="$ROOT/var/experiments"
[ "$naive" = 1 ] && OUT="$ROOT/var/experiments/naive"
mkdir -p "$OUT"
export PROMETHEUS_URL="${PROMETHEUS_URL:-http://127.0.0.1:9090}"
export SUPERPOWER_URL="${SUPERPOWER_URL:-http://127.0.0.1:30280/}"
export LOAD_RATE="${LOAD_RATE:-500}"

# Other suites that kill instances (dashboards/e2e.sh ...) must not run at the same time.
hold_fleet_lock 600

# --- the fleets -----------------------------------------------------------------------------------
# up_flags KIND: how this run starts the fleet for KIND's experiments.
up_flags() {
  case "$naive/$1" in
    0/powersources) echo "" ;;
    0/frontends) echo "--frontends 2" ;;
    # No background visitors on a naive fleet: without stable assignment they would break
    # promise 1 in Prometheus (superpower_identity_changes_total) before the first steady state;
    # with a key per replica, their cookies would not hold either.
    1/powersources) echo "--naive --no-visitors" ;;
    1/frontends) echo "--frontends 2 --own-cookie-keys --no-visitors" ;;
  esac
}
# suits KIND: whether the running fleet (var/fleet/fleet.env) is one KIND's experiments can run on
# in a resilient run: not naive, one cookie key, and replicas for the front-end experiments.
suits() {
  [ "$(fleet_env NAIVE)" != 1 ] && [ "$(fleet_env COOKIE_KEYS)" != own ] || return 1
  [ "$1" != frontends ] || [ "$(frontends)" -gt 1 ]
}

ours=0 # the running fleet was started by this run: it stops it at the end
if [ "$naive" = 1 ]; then
  for name in $(pidfile_names); do
    pid_of "$name" >/dev/null && die "--naive needs a fleet of its own, and $name runs: deploy/local/down.sh first"
  done
elif deploy/local/status.sh >/dev/null 2>&1; then
  for kind in "${kinds[@]}"; do
    suits "$kind" && continue
    if [ "$(fleet_env NAIVE)" = 1 ] || [ "$(fleet_env COOKIE_KEYS)" = own ]; then
      die "the running fleet is a naive one (up.sh --naive or --own-cookie-keys): deploy/local/down.sh first"
    fi
    die "the front-end experiments need superpower replicas behind the balancer, and the running fleet has one superpower: deploy/local/down.sh (this script then starts the fleets it needs), or deploy/local/up.sh --frontends 2"
  done
  say "the local fleet is already running: using it (and leaving it up)"
fi
cleanup() {
  local code=$?
  if [ "$ours" = 1 ] && [ "${KEEP_FLEET:-0}" != 1 ]; then
    deploy/local/down.sh || true
  fi
  exit "$code"
}
trap cleanup EXIT

switches() { # [PATCH]: GET, or PUT the patch; prints the switches
  local args=(-s --max-time 5 -H "Authorization: Bearer $token")
  [ $# -eq 1 ] && args+=(-X PUT -H 'Content-Type: application/json' -d "$1")
  curl "${args[@]}" "${SUPERPOWER_URL%/}/admin/switches"
}

# fleet_for KIND: the fleet KIND's experiments run on, up and checked: started by this run unless
# one that suits them already runs (a fleet this run started for other experiments is stopped
# first); the switches as the run needs them; Prometheus scraping every target.
fleet_for() {
  local kind="$1" state want n flags
  if [ "$ours" = 0 ] && [ "$naive" = 0 ] && deploy/local/status.sh >/dev/null 2>&1; then
    : # a fleet we were given, checked above
  else
    if [ "$ours" = 1 ]; then
      say "stopping the fleet of the previous experiments"
      deploy/local/down.sh
    fi
    ours=1
    read -r -a flags <<<"$(up_flags "$kind")"
    say "starting the fleet for the ${kind%s} experiments: deploy/local/up.sh ${flags[*]}"
    deploy/local/up.sh "${flags[@]}"
  fi
  deploy/local/status.sh >/dev/null || { deploy/local/status.sh || true; die "the fleet is not healthy"; }

  # The admin token: the fault experiments inject through it, and the switches are read with it.
  token="$(fleet_env SUPERPOWER_ADMIN_TOKEN)"
  [ -n "$token" ] || die "the running fleet has no admin token (started by an older up.sh?): deploy/local/down.sh, then run this again"
  if [ "$naive/$kind" = 1/powersources ]; then
    state=$(switches '{"stable_assignment": true}')
    say "naive superpower, switches: $state"
    want='{"ring":false,"failover":false,"fallback":false,"stable_assignment":true,"deadlines":false,"hedging":false}'
  else
    state=$(switches)
    say "superpower's switches: $state$([ "$(fleet_env COOKIE_KEYS)" = own ] && echo " (naive front end: a cookie key per replica)")"
    want='{"ring":true,"failover":true,"fallback":true,"stable_assignment":true,"deadlines":true,"hedging":true}'
  fi
  python3 -c 'import json, sys
got, want = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.exit(any(got.get(k) != v for k, v in want.items()))' "$state" "$want" 2>/dev/null ||
    die "the switches are not as this run needs ($want): turn them on at ${SUPERPOWER_URL%/}/admin, or deploy/local/down.sh and run this again"

  # Prometheus must have scraped every target (after superpower's first request) before the first
  # steady state asks it anything; its `up` series can hold stale samples of an earlier fleet, so
  # this reads the targets API instead.
  n=$(($(fleet_size) + $(frontends)))
  say "waiting for Prometheus at $PROMETHEUS_URL to scrape all $n targets"
  wait_scraped "$n" 30 || die "Prometheus does not scrape the fleet (deploy/local/status.sh, var/fleet/prometheus.log)"
}

# --- the experiments --------------------------------------------------------------------------------
export LOAD_RESULT="$OUT/load-result.json"
journals=()
chaos_settings=()
if [ -n "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ]; then
  say "tracing every run to $OTEL_EXPORTER_OTLP_ENDPOINT (experiments/tracing/settings.yaml)"
  chaos_settings=(--settings experiments/tracing/settings.yaml)
  export PYTHONPATH="$ROOT/experiments/tracing${PYTHONPATH:+:$PYTHONPATH}"
fi
run_experiments

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
