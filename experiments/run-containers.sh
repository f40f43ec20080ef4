#!/usr/bin/env bash
# Runs the container chaos experiments (experiments/containers/) against the container fleet
# (deploy/containers/fleet.sh: the real image, run the way the Kubernetes manifests run it) and
# fails unless each one held — or, with --naive, unless each one deviated.
#
#   experiments/run-containers.sh [EXPERIMENT...]
#   experiments/run-containers.sh --naive [EXPERIMENT...]
#
# 1. installs what it needs (the container engine and its configuration, the venv, and oha when
#    an experiment drives load and vegeta is not installed), builds
#    the images when they are missing or stale (deploy/containers/image.sh: cached layers);
# 2. brings up a container fleet of its own (`fleet.sh up`, `--naive` with --naive), removed
#    again on exit (KEEP_FLEET=1 keeps it);
# 3. runs each experiment with `chaos run` (journals and logs in var/experiments/containers/,
#    .../containers/naive/ with --naive) and checks every journal with
#    experiments/verify_journals.py, which prints the figures.
#
# The faults are a cluster's, not a process list's: containers killed (lose half, lose all), a
# container frozen by the kernel (pause), one cut off the network (disconnect) and one whose
# packets are dropped so that connects hang (nftables in its network namespace), one flapping
# (killed and started again every few seconds for a minute, under load); and the front end's own
# replicas: one killed under load, and a rolling restart under load (lose-a-superpower-container,
# rolling-restart-of-superpower-containers, tagged "frontend"), each followed by the loss of every
# powersource, with a recording of followed users of their own (identity-state-frontends.json).
#
# --naive: superpower starts with every resilience switch off, health checks and DNS
# re-resolution only once an hour (NAIVE_HEALTH_INTERVAL_MS; the original demo had a fixed list
# and no health checks: a check during a minute of flapping would take the instance out), and
# the powersources at fixed addresses (a restarted container gets a new one from the engine),
# stable assignment switched back on through the admin API, as experiments/run-local.sh --naive
# does. Its order matters: an instance the naive superpower ejected stays out (no health check
# brings it back), so the experiments on powersource-1 run before the flap and the kills.
# The naive front end is another fleet, started after those: `fleet.sh up --own-cookie-keys`,
# every switch on but no Secret superpower-cookie, so each replica makes its own key at every
# start; the front-end experiments must deviate on it (a 503 for the users whose cookie the lost
# or restarted replica signed, once no powersource is left).
#
# Env: CONTAINER_ENGINE (podman | docker), KEEP_FLEET=1, NO_REPORT=1 (no HTML report).
# The fleet publishes 127.0.0.1:31280 (superpower: the balancer in front of its two replicas,
# which are on 127.0.0.1:31281-31282 too) and 127.0.0.1:19090 (Prometheus): it runs beside the
# native fleet, and holds no fleet lock.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=../scripts/tools.sh
source scripts/tools.sh
# shellcheck source=../deploy/containers/lib.sh
source deploy/containers/lib.sh
# shellcheck source=lib.sh
source experiments/lib.sh

say() { printf '[experiments] %s\n' "$*"; }
die() { printf '[experiments] error: %s\n' "$*" >&2; exit 1; }

naive=0
if [ "${1:-}" = --naive ]; then naive=1; shift; fi
experiments=("$@")
if [ ${#experiments[@]} -eq 0 ]; then
  if [ "$naive" = 1 ]; then
    names=(frozen-powersource dropped-powersource partitioned-powersource flapping-powersource lose-half-of-powersource-containers lose-all-of-powersource-containers)
  else
    names=(lose-half-of-powersource-containers lose-all-of-powersource-containers frozen-powersource partitioned-powersource dropped-powersource flapping-powersource)
  fi
  names+=(lose-a-superpower-container rolling-restart-of-superpower-containers)
  for n in "${names[@]}"; do experiments+=("experiments/containers/$n.json"); done
fi
for e in "${experiments[@]}"; do [ -f "$e" ] || die "no such experiment: $e"; done
# The experiments by the fleet they need: "powersources" and, after them, "frontends" (tagged
# "frontend": the resilient run keeps its fleet for them, the naive run starts the naive front end).
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

ensure_engine
ensure_venv
ensure_load_tool "${experiments[@]}"
ensure_release_build # the identity probe runs on the host (target/release/superpower probe)
[ "${NO_REPORT:-0}" = 1 ] || ensure_apt pandoc
export PATH="$PATH:$HOME/.cargo/bin"
deploy/containers/image.sh

OUT="$ROOT/var/experiments/containers"
[ "$naive" = 1 ] && OUT="$OUT/naive"
mkdir -p "$OUT"

deploy/containers/fleet.sh down >/dev/null 2>&1 || true
cleanup() {
  local code=$?
  [ "${KEEP_FLEET:-0}" = 1 ] || deploy/containers/fleet.sh down || true
  exit "$code"
}
trap cleanup EXIT

switches() { # [PATCH]: GET, or PUT the patch; prints the switches
  local args=(-s --max-time 5 -H "Authorization: Bearer $SUPERPOWER_ADMIN_TOKEN")
  [ $# -eq 1 ] && args+=(-X PUT -H 'Content-Type: application/json' -d "$1")
  curl "${args[@]}" "${SUPERPOWER_URL%/}/admin/switches"
}

# fleet_for KIND: the fleet KIND's experiments run on, up and its switches checked. The resilient
# run starts one fleet for all; the naive run one per kind: `up --naive` for the powersource
# experiments, `up --own-cookie-keys` (every switch on, no shared cookie key) for the front end's.
started="" # the up flags of the fleet that runs ("resilient" for none; empty before the first)
fleet_for() {
  local kind="$1" flags=() state want
  case "$naive/$kind" in
    1/powersources) flags=(--naive) ;;
    1/frontends) flags=(--own-cookie-keys) ;;
  esac
  if [ "$started" != "${flags[*]:-resilient}" ]; then
    if [ -n "$started" ]; then
      say "removing the fleet of the previous experiments"
      deploy/containers/fleet.sh down
    fi
    deploy/containers/fleet.sh up "${flags[@]}"
    started="${flags[*]:-resilient}"
  fi
  eval "$(deploy/containers/fleet.sh env)"
  # the fault experiments reach the powersources through superpower's admin API with it
  export SUPERPOWER_URL PROMETHEUS_URL SUPERPOWER_ADMIN_TOKEN
  if [ "$naive/$kind" = 1/powersources ]; then
    state=$(switches '{"stable_assignment": true}')
    want='{"ring":false,"failover":false,"fallback":false,"stable_assignment":true,"deadlines":false,"hedging":false}'
  else
    state=$(switches)
    want='{"ring":true,"failover":true,"fallback":true,"stable_assignment":true,"deadlines":true,"hedging":true}'
  fi
  say "superpower's switches (through the published port and the admin API): $state$([ "$naive/$kind" = 1/frontends ] && echo " (naive front end: a cookie key per replica)")"
  python3 -c 'import json, sys
got, want = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.exit(any(got.get(k) != v for k, v in want.items()))' "$state" "$want" || die "the switches are not $want"
}

# The p99 steady-state probe looks back P99_WINDOW (30 s here). A naive run's answers of 5 s
# (frozen, dropped) would still be in the next experiment's window and fail its steady state
# before the method: before each experiment, experiments/settled.py waits (at most 90 s) until
# the experiment's Prometheus queries hold.
export P99_WINDOW="${P99_WINDOW:-30s}"

export LOAD_RESULT="$OUT/load-result.json"
journals=()
run_experiments
say "resident memory per container after the run ($ENGINE stats):"
deploy/containers/fleet.sh rss | sed 's/^/  /'

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
