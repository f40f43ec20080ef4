# The local engine of experiments/run.sh (sourced by it): the native fleet of deploy/local —
# processes on this machine, superpower on 127.0.0.1:30280, Prometheus on :9090 — and the
# experiments of experiments/local/, whose faults act on processes (kill, SIGTERM, the
# powersources' admin API through experiments/faults.sh).
#
# An engine defines what experiments/run.sh calls, in this order:
#   ENGINE_OUT                 where journals go (under the repo root; --naive adds /naive)
#   engine_defaults NAIVE      sets `experiments`: every experiment of the engine, in run order
#   engine_prepare             installs and builds what the engine needs; its environment
#   engine_begin               checks before any fleet starts
#   fleet_for KIND             the fleet for KIND's experiments (powersources, frontends) up;
#                              exports SUPERPOWER_URL, PROMETHEUS_URL, SUPERPOWER_ADMIN_TOKEN
#   ENGINE_SWITCHES_HINT       what to do when the switches are not as the run needs
#   fleet_ready KIND           after the switches: ready for the first steady state
#   engine_after               after the last experiment
#   engine_teardown            on exit, whatever happened: the fleets this run started go
#
# The fleets: the powersource experiments run on `up.sh` (one superpower), the front-end ones on
# `up.sh --frontends 2` (two replicas behind the balancer); this run starts each in turn. A fleet
# that already runs is used for every experiment it suits, and left up; one that does not suit
# an experiment asked for (one superpower, and front-end experiments; a naive fleet) stops the run
# before anything runs. --naive starts fleets of its own: `up.sh --naive --no-visitors` (every
# switch off, health checks every NAIVE_HEALTH_INTERVAL_MS, default 60000) and `up.sh --frontends
# 2 --own-cookie-keys --no-visitors`, and refuses to run while another fleet runs. The naive
# order puts the fault experiments first: after lose-half and lose-all the killed instances stay
# passively ejected until the next (slow) health check.
#
# Suites that kill instances (dashboards/e2e.sh, deploy/local/test-fleet.sh, ...) must not run at
# the same time: this engine holds var/fleet.lock (waiting up to 10 minutes for it).
#
# Env: LOAD_RATE (default here 500 req/s: the heavy setting; the experiment files alone default
# to the original's 25), LOAD_DURATION (10s), LOAD_WORKERS (8); the front-end experiments'
# FRONTEND_LOAD_RATE (200), FRONTEND_LOAD_DURATION (20s), FRONTEND_LOAD_WORKERS (64),
# FRONTEND_BACKEND_LATENCY_MS (200), DRAIN_MAX_FAILED (0); PROMETHEUS_URL, SUPERPOWER_URL (the
# fleet's). P99_WINDOW stays the files' 1m (the container engine's 30s is for its frozen
# containers; settled.py waits out whatever the window holds).
# shellcheck shell=bash
# The variables it sets are experiments/run.sh's, and it reads run.sh's (naive, kinds, experiments):
# shellcheck disable=SC2034,SC2154

# shellcheck source=../../deploy/local/lib.sh
source deploy/local/lib.sh

ENGINE_OUT=var/experiments

engine_defaults() {
  if [ "$1" = 1 ]; then
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
}

# The binaries (and the probe's target/release/superpower) are the fleet's: up.sh builds them
# when it starts one, and a fleet already running is not rebuilt under.
engine_prepare() {
  ensure_prometheus_installed
  export PROMETHEUS_URL="${PROMETHEUS_URL:-http://127.0.0.1:9090}"
  export SUPERPOWER_URL="${SUPERPOWER_URL:-http://127.0.0.1:30280/}"
  export LOAD_RATE="${LOAD_RATE:-500}"
}

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

ours=0 # the running fleet was started by this run: engine_teardown stops it
engine_begin() {
  local name kind
  hold_fleet_lock 600
  if [ "$naive" = 1 ]; then
    if name="$(running_process)"; then
      die "--naive needs a fleet of its own, and $name runs: deploy/local/down.sh first"
    fi
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
}

engine_teardown() {
  if [ "$ours" = 1 ] && [ "${KEEP_FLEET:-0}" != 1 ]; then
    deploy/local/down.sh || true
  fi
}

# fleet_for KIND: started by this run unless one that suits KIND already runs (a fleet this run
# started for other experiments is stopped first).
fleet_for() {
  local kind="$1" flags
  if [ "$ours" = 0 ] && [ "$naive" = 0 ] && deploy/local/status.sh >/dev/null 2>&1; then
    : # a fleet we were given, checked by engine_begin
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
  # The admin token: the fault experiments inject through it (experiments/faults.sh would read
  # it from var/fleet/fleet.env too), and the switches are read with it.
  SUPERPOWER_ADMIN_TOKEN="$(fleet_env SUPERPOWER_ADMIN_TOKEN)"
  [ -n "$SUPERPOWER_ADMIN_TOKEN" ] || die "the running fleet has no admin token (started by an older up.sh?): deploy/local/down.sh, then run this again"
  export SUPERPOWER_ADMIN_TOKEN
  ENGINE_SWITCHES_HINT="turn them on at ${SUPERPOWER_URL%/}/admin, or deploy/local/down.sh and run this again"
}

# fleet_ready: Prometheus must have scraped every target (after superpower's first request)
# before the first steady state asks it anything; its `up` series can hold stale samples of an
# earlier fleet, so this reads the targets API instead.
fleet_ready() {
  local n=$(($(fleet_size) + $(frontends)))
  say "waiting for Prometheus at $PROMETHEUS_URL to scrape all $n targets"
  wait_scraped "$n" 30 || die "Prometheus does not scrape the fleet (deploy/local/status.sh, var/fleet/prometheus.log)"
}

engine_after() { :; }
