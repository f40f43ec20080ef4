#!/usr/bin/env bash
# Brings deploy/compose/compose.yaml up with podman-compose and the local stand-ins
# (compose.local.yaml), checks it, and tears it down again (also on failure).
#
#   1. test_compose.py: compose.yaml runs each container as the rendered manifests do, and its
#      prometheus.yml is the one deploy/containers/fleet.py derives;
#   2. `podman-compose config` renders the whole file (Grafana included);
#   3. `up -d` of everything but Grafana (its image cannot be had here), as project spc-compose,
#      superpower published on 127.0.0.1:31380 and Prometheus on 127.0.0.1:19190 (beside the
#      native fleet and the container fleet);
#   4. the page, the JSON, /metrics and the admin API answer through the published port; the
#      init services exited 0; superpower's ring holds all three powersources (found by DNS);
#      Prometheus scrapes all five targets;
#   5. `down -v`.
#
# Env: CONTAINER_ENGINE=docker runs `docker compose` instead.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../containers/lib.sh
source "$ROOT/deploy/containers/lib.sh"
# shellcheck source=../../scripts/tools.sh
source "$ROOT/scripts/tools.sh"
say() { printf '[compose] %s\n' "$*"; }
die() { printf '[compose] error: %s\n' "$*" >&2; exit 1; }

ensure_engine
ensure_venv
"$ROOT/var/venv/bin/python" -m pytest -q -p no:cacheprovider "$HERE/test_compose.py"
"$ROOT/deploy/containers/image.sh"

PROJECT=spc-compose
export SUPERPOWER_PORT=31380 PROMETHEUS_PORT=19190 GRAFANA_PORT=13000
SUPERPOWER_ADMIN_TOKEN="$(head -c 18 /dev/urandom | base64 | tr '+/' 'AB')"
export SUPERPOWER_ADMIN_TOKEN
if [ "$ENGINE" = docker ]; then
  compose=(docker compose -p "$PROJECT" -f "$HERE/compose.yaml" -f "$HERE/compose.local.yaml")
else
  compose=("$ROOT/var/venv/bin/podman-compose" -p "$PROJECT" -f "$HERE/compose.yaml" -f "$HERE/compose.local.yaml")
fi
LOG="$CT_VAR/compose.log"
mkdir -p "$CT_VAR"
: >"$LOG"
cleanup() {
  local code=$?
  "${compose[@]}" down -v >>"$LOG" 2>&1 || true
  exit "$code"
}
trap cleanup EXIT

"${compose[@]}" config >"$CT_VAR/compose-config.yaml" 2>>"$LOG" || { tail -20 "$LOG" >&2; die "compose config failed"; }
grep -q 'grafana' "$CT_VAR/compose-config.yaml" || die "the rendered compose config has no grafana service"
say "compose config renders: $("$ROOT/var/venv/bin/python" -c 'import sys, yaml; print(" ".join(yaml.safe_load(open(sys.argv[1]))["services"]))' "$CT_VAR/compose-config.yaml")"

t0=$SECONDS
if [ "$ENGINE" = docker ]; then
  # docker compose honours depends_on: service_completed_successfully itself
  "${compose[@]}" up -d powersource-0 powersource-1 powersource-2 superpower prometheus >>"$LOG" 2>&1 ||
    { tail -30 "$LOG" >&2; die "compose up failed (log: var/containers/compose.log)"; }
else
  # podman-compose waits for the init services, but also gives each powersource container
  # `--requires` on its ingest one, so that podman starts the finished ingest again beside the
  # running powersource (which then fails on the store's lock). So: the init services first,
  # waited for here, then the rest with --no-deps.
  "${compose[@]}" up -d ingest-0 ingest-1 ingest-2 >>"$LOG" 2>&1 || { tail -30 "$LOG" >&2; die "compose up (ingest) failed (log: var/containers/compose.log)"; }
  for i in 0 1 2; do ct wait "${PROJECT}_ingest-${i}_1" >/dev/null; done
  "${compose[@]}" up -d --no-deps powersource-0 powersource-1 powersource-2 superpower prometheus >>"$LOG" 2>&1 ||
    { tail -30 "$LOG" >&2; die "compose up failed (log: var/containers/compose.log)"; }
fi

base="http://127.0.0.1:$SUPERPOWER_PORT"
deadline=$((SECONDS + 90))
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/health")" = 200 ]; do
  [ "$SECONDS" -lt "$deadline" ] || { "${compose[@]}" logs >>"$LOG" 2>&1 || true; tail -30 "$LOG" >&2; die "superpower did not become healthy on $base"; }
  sleep 0.5
done
say "up in $((SECONDS - t0)) s: superpower answers $base/health"

# the init services ran to completion, with exit 0, before their powersource started
for i in 0 1 2; do
  code="$(ct inspect --format '{{ .State.ExitCode }} {{ .State.Status }}' "${PROJECT}_ingest-${i}_1" 2>/dev/null ||
    ct inspect --format '{{ .State.ExitCode }} {{ .State.Status }}' "${PROJECT}-ingest-${i}-1")"
  [ "$code" = "0 exited" ] || die "ingest-$i: $code (want exit 0)"
done
say "the three ingest services exited 0"

# the ring: superpower found every powersource through the alias
wait_ring "$base" 3
say "superpower's ring: 3 powersources, found by DNS through the alias powersource"

check_app "$base" "$SUPERPOWER_ADMIN_TOKEN"
say "the page, the JSON, /metrics and the admin API answer on $base"

prom="http://127.0.0.1:$PROMETHEUS_PORT"
deadline=$((SECONDS + 60))
while :; do
  up="$(curl -s --max-time 2 "$prom/api/v1/targets?state=active" | python3 -c 'import json,sys
t=json.load(sys.stdin)["data"]["activeTargets"]; print(sum(x["health"]=="up" for x in t))' 2>/dev/null || echo 0)"
  [ "$up" = 5 ] && break
  [ "$SECONDS" -lt "$deadline" ] || die "Prometheus scrapes $up targets up, not 5"
  sleep 1
done
say "Prometheus ($prom) scrapes all 5 targets"
say "compose deployment checked in $((SECONDS - t0)) s; tearing it down"
