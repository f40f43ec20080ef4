# The container engine of experiments/run.sh (sourced by it; what an engine defines:
# experiments/engines/local.sh): the container fleet of deploy/containers/fleet.sh — the real
# image, run the way the Kubernetes manifests run it, publishing 127.0.0.1:31280 (the balancer in
# front of superpower's two replicas, which are on 127.0.0.1:31281-31282 too) and 127.0.0.1:19090
# (Prometheus) — and the experiments of experiments/containers/.
#
# The faults are a cluster's, not a process list's (the experiments call fleet.sh): containers
# killed (lose half, lose all), a container frozen by the kernel (pause), one cut off the network
# (disconnect) and one whose packets are dropped so that connects hang (nftables in its network
# namespace), one flapping (killed and started again every few seconds for a minute, under load);
# and the front end's own replicas: one killed under load, and a rolling restart under load.
#
# The fleets: this run removes a container fleet left over from an earlier run and brings up its
# own; the resilient run keeps one fleet for every experiment (it always has two replicas behind
# the balancer). --naive: `fleet.sh up --naive` for the powersource experiments (every switch
# off, health checks and DNS re-resolution only once an hour: NAIVE_HEALTH_INTERVAL_MS, the
# powersources at fixed addresses: a restarted container gets a new one from the engine), then
# `fleet.sh up --own-cookie-keys` for the front-end ones (every switch on, no Secret
# superpower-cookie). The naive order matters: an instance the naive superpower ejected stays out
# (no health check brings it back), so the experiments on powersource-1 run before the flap and
# the kills.
#
# The fleet runs beside the native one, on its own ports: this engine holds no fleet lock. With
# OTEL_EXPORTER_OTLP_ENDPOINT set, each experiment is traced (chaostoolkit's spans: the
# experiment, its hypothesis, method and activities); the containers export no spans of their
# own (a collector on the host's 127.0.0.1 is out of their network's reach), so the probe's
# requests add none.
#
# Env: CONTAINER_ENGINE (podman | docker), P99_WINDOW (30s here, below), the experiments' own
# (FRONTEND_LOAD_RATE, FLAP_LOAD_RATE, ...: their files).
# shellcheck shell=bash
# The variables it sets are experiments/run.sh's, and it reads run.sh's (naive, kinds, experiments):
# shellcheck disable=SC2034,SC2154

# shellcheck source=../../deploy/containers/lib.sh
source deploy/containers/lib.sh

ENGINE_OUT=var/experiments/containers

engine_defaults() {
  local names n
  if [ "$1" = 1 ]; then
    names=(frozen-powersource dropped-powersource partitioned-powersource flapping-powersource lose-half-of-powersource-containers lose-all-of-powersource-containers)
  else
    names=(lose-half-of-powersource-containers lose-all-of-powersource-containers frozen-powersource partitioned-powersource dropped-powersource flapping-powersource)
  fi
  names+=(lose-a-superpower-container rolling-restart-of-superpower-containers)
  for n in "${names[@]}"; do experiments+=("experiments/containers/$n.json"); done
}

engine_prepare() {
  ensure_engine
  ensure_release_build # the identity probe runs on the host (target/release/superpower probe)
  deploy/containers/image.sh
  # The p99 steady-state probe looks back P99_WINDOW (30 s here, the files' 1m elsewhere). A
  # naive run's answers of 5 s (frozen, dropped) stay in the next experiment's window: the
  # shorter one lets experiments/settled.py's wait before each experiment end sooner.
  export P99_WINDOW="${P99_WINDOW:-30s}"
}

engine_begin() {
  deploy/containers/fleet.sh down >/dev/null 2>&1 || true
}

engine_teardown() {
  [ "${KEEP_FLEET:-0}" = 1 ] || deploy/containers/fleet.sh down || true
}

# fleet_for KIND: the resilient run starts one fleet for all; the naive run one per kind.
started="" # the up flags of the fleet that runs ("resilient" for none; empty before the first)
fleet_for() {
  local kind="$1" flags=()
  case "$naive/$kind" in
    1/powersources) flags=(--naive) ;;
    1/frontends) flags=(--own-cookie-keys) ;;
  esac
  if [ "$started" != "${flags[*]:-resilient}" ]; then
    if [ -n "$started" ]; then
      say "removing the fleet of the previous experiments"
      deploy/containers/fleet.sh down
    fi
    deploy/containers/fleet.sh up "${flags[@]+"${flags[@]}"}"
    started="${flags[*]:-resilient}"
  fi
  # SUPERPOWER_URL (the balancer's published port), PROMETHEUS_URL, SUPERPOWER_ADMIN_TOKEN: the
  # fault experiments reach the powersources through superpower's admin API with it
  eval "$(deploy/containers/fleet.sh env)"
  export SUPERPOWER_URL PROMETHEUS_URL SUPERPOWER_ADMIN_TOKEN
}
ENGINE_SWITCHES_HINT=""

# fleet.sh up returns once Prometheus scrapes every target
fleet_ready() { :; }

engine_after() {
  say "resident memory per container after the run ($ENGINE stats):"
  deploy/containers/fleet.sh rss | sed 's/^/  /'
}
