#!/usr/bin/env bash
# Brings deploy/compose/compose.yaml up with podman-compose and the local stand-ins
# (compose.local.yaml), checks it, and tears it down again (also on failure).
#
#   1. test_compose.py: compose.yaml runs each container as the rendered manifests do (the
#      replicas, the balancer and the visitors too), and its prometheus.yml and haproxy.cfg are
#      the ones deploy/containers/fleet.py derives; the HAProxy stand-in accepts haproxy.cfg
#      (`haproxy -c`);
#   2. `podman-compose config` renders the whole file (Grafana included);
#   3. `up -d` of everything but Grafana (its image cannot be had here), as project spc-compose,
#      the balancer (superpower) published on 127.0.0.1:31380 and Prometheus on 127.0.0.1:19190
#      (beside the native fleet and the container fleet), with a random admin token and a random
#      cookie key (SUPERPOWER_ADMIN_TOKEN, SUPERPOWER_COOKIE_KEY, as a user exports them);
#   4. the page, the JSON, /metrics and the admin API answer through the balancer; the init
#      services exited 0; superpower's ring holds all three powersources (found by DNS);
#      /admin/replicas lists both replicas, reachable (peers found by DNS), with the key given;
#      Prometheus scrapes all six targets;
#   5. each replica's and each powersource's compose health check (`superpower probe health` in
#      the container) says healthy, and the powersources run with compose's pids limit and log
#      rotation; then the visitors (Locust, web UI on 127.0.0.1:31389, through the balancer): its
#      /stats/requests shows 10 users running and the visits climbing, with no failed visit (at
#      most 90 s);
#   6. `down -v`.
#
# Env: CONTAINER_ENGINE=docker runs `docker compose` instead.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../containers/lib.sh
source "$ROOT/deploy/containers/lib.sh"
# shellcheck source=../../scripts/tools.sh
source "$ROOT/scripts/tools.sh"
# shellcheck source=../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
log_tag '[compose]'

ensure_engine
ensure_venv
"$ROOT/var/venv/bin/python" -m pytest -q -p no:cacheprovider "$HERE/test_compose.py"
"$ROOT/deploy/containers/image.sh"
# the balancer's config, as the real HAProxy 2.6 reads it (the replicas' names given addresses,
# as compose's DNS would: HAProxy warns about a name it cannot resolve)
hosts=()
for s in $(awk '$1 == "server" {print $2}' "$HERE/haproxy.cfg"); do hosts+=(--add-host "$s:127.0.0.1"); done
[ "${#hosts[@]}" = 4 ] || die "deploy/compose/haproxy.cfg has $((${#hosts[@]} / 2)) servers, not the 2 replicas"
ct run --rm "${hosts[@]}" -v "$HERE/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" "$HAPROXY_STANDIN" \
  haproxy -c -f /usr/local/etc/haproxy/haproxy.cfg >"$CT_VAR/compose-haproxy-check.log" 2>&1 ||
  { cat "$CT_VAR/compose-haproxy-check.log" >&2; die "HAProxy refuses deploy/compose/haproxy.cfg"; }
grep -q WARNING "$CT_VAR/compose-haproxy-check.log" && { cat "$CT_VAR/compose-haproxy-check.log" >&2; die "HAProxy warns about deploy/compose/haproxy.cfg"; }
say "HAProxy $(ct run --rm "$HAPROXY_STANDIN" haproxy -v | awk 'NR == 1 {print $3}') accepts haproxy.cfg without a warning"

PROJECT=spc-compose
export SUPERPOWER_PORT=31380 PROMETHEUS_PORT=19190 GRAFANA_PORT=13000 VISITORS_PORT=31389
SUPERPOWER_ADMIN_TOKEN="$(head -c 18 /dev/urandom | base64 | tr '+/' 'AB')"
# as compose.yaml's header says a user makes one: both replicas get it
SUPERPOWER_COOKIE_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export SUPERPOWER_ADMIN_TOKEN SUPERPOWER_COOKIE_KEY
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
grep -q 'jaeger' "$CT_VAR/compose-config.yaml" || die "the rendered compose config has no jaeger service"
say "compose config renders: $("$ROOT/var/venv/bin/python" -c 'import sys, yaml; print(" ".join(yaml.safe_load(open(sys.argv[1]))["services"]))' "$CT_VAR/compose-config.yaml")"

t0=$SECONDS
if [ "$ENGINE" = docker ]; then
  # docker compose honours depends_on: service_completed_successfully itself
  "${compose[@]}" up -d powersource-0 powersource-1 powersource-2 superpower-0 superpower-1 balancer prometheus >>"$LOG" 2>&1 ||
    { tail -30 "$LOG" >&2; die "compose up failed (log: var/containers/compose.log)"; }
else
  # podman-compose waits for the init services, but also gives each powersource container
  # `--requires` on its ingest one, so that podman starts the finished ingest again beside the
  # running powersource (which then fails on the store's lock). So: the init services first,
  # waited for here, then the rest with --no-deps.
  "${compose[@]}" up -d ingest-0 ingest-1 ingest-2 >>"$LOG" 2>&1 || { tail -30 "$LOG" >&2; die "compose up (ingest) failed (log: var/containers/compose.log)"; }
  for i in 0 1 2; do ct wait "${PROJECT}_ingest-${i}_1" >/dev/null; done
  "${compose[@]}" up -d --no-deps powersource-0 powersource-1 powersource-2 superpower-0 superpower-1 balancer prometheus >>"$LOG" 2>&1 ||
    { tail -30 "$LOG" >&2; die "compose up failed (log: var/containers/compose.log)"; }
fi

base="http://127.0.0.1:$SUPERPOWER_PORT"
deadline=$((SECONDS + 90))
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/health")" = 200 ]; do
  [ "$SECONDS" -lt "$deadline" ] || { "${compose[@]}" logs >>"$LOG" 2>&1 || true; tail -30 "$LOG" >&2; die "superpower did not become healthy on $base"; }
  sleep 0.5
done
say "up in $((SECONDS - t0)) s: superpower answers $base/health through the balancer"

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

# the front end: both replicas, peers through the alias superpower-peers, one cookie key
deadline=$((SECONDS + 30))
until curl -s --max-time 2 -H "Authorization: Bearer $SUPERPOWER_ADMIN_TOKEN" "$base/admin/replicas" | python3 -c '
import json, sys
r = json.load(sys.stdin)["replicas"]
sys.exit(0 if sorted(x["name"] for x in r) == ["superpower-0", "superpower-1"] and all(x["reachable"] for x in r) else 1)' 2>/dev/null; do
  [ "$SECONDS" -lt "$deadline" ] ||
    die "/admin/replicas does not list both replicas reachable: $(curl -s --max-time 2 -H "Authorization: Bearer $SUPERPOWER_ADMIN_TOKEN" "$base/admin/replicas")"
  sleep 0.5
done
for i in 0 1; do
  c="$(ct ps --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=superpower-$i" --format '{{.Names}}' | head -1)"
  [ -n "$c" ] || die "no running superpower-$i container in project $PROJECT"
  ct inspect --format '{{ range .Config.Env }}{{ println . }}{{ end }}' "$c" | grep -qx "SUPERPOWER_COOKIE_KEY=$SUPERPOWER_COOKIE_KEY" ||
    die "superpower-$i does not have the SUPERPOWER_COOKIE_KEY given to compose"
done
say "/admin/replicas: superpower-0 and superpower-1, both reachable (peers by DNS), both with the cookie key given"

prom="http://127.0.0.1:$PROMETHEUS_PORT"
deadline=$((SECONDS + 60))
while :; do
  up="$(curl -s --max-time 2 "$prom/api/v1/targets?state=active" | python3 -c 'import json,sys
t=json.load(sys.stdin)["data"]["activeTargets"]; print(sum(x["health"]=="up" for x in t))' 2>/dev/null || echo 0)"
  [ "$up" = 6 ] && break
  [ "$SECONDS" -lt "$deadline" ] || die "Prometheus scrapes $up targets up, not 6"
  sleep 1
done
say "Prometheus ($prom) scrapes all 6 targets (3 powersources, 2 replicas, itself)"

# each replica's health check, which the visitors wait for (depends_on: service_healthy). podman
# 4.3 runs health checks from systemd timers (none here) and podman-compose ignores the
# condition below podman 4.6, so the check is run here, as the engine would run it.
for i in 0 1; do
  sp_ct="$(ct ps --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=superpower-$i" --format '{{.Names}}' | head -1)"
  [ -n "$sp_ct" ] || die "no running superpower-$i container in project $PROJECT"
  deadline=$((SECONDS + 30))
  if [ "$ENGINE" = docker ]; then
    until [ "$(ct inspect --format '{{ .State.Health.Status }}' "$sp_ct")" = healthy ]; do
      [ "$SECONDS" -lt "$deadline" ] || die "superpower-$i's health check: $(ct inspect --format '{{ .State.Health.Status }}' "$sp_ct")"
      sleep 1
    done
  else
    until ct healthcheck run "$sp_ct" >/dev/null 2>&1; do
      [ "$SECONDS" -lt "$deadline" ] || die "superpower-$i's health check fails: $(ct healthcheck run "$sp_ct" 2>&1 | tail -1)"
      sleep 1
    done
  fi
done
say "both replicas' compose health check (superpower probe health): healthy"

# the powersources' health checks (what the replicas' depends_on waits for), run as the engine
# would; and what compose asks of every container: its pids limit and its log rotation
for i in 0 1 2; do
  ps_ct="$(ct ps --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=powersource-$i" --format '{{.Names}}' | head -1)"
  [ -n "$ps_ct" ] || die "no running powersource-$i container in project $PROJECT"
  if [ "$ENGINE" = docker ]; then
    [ "$(ct inspect --format '{{ .State.Health.Status }}' "$ps_ct")" = healthy ] || die "powersource-$i's health check: not healthy"
  else
    ct healthcheck run "$ps_ct" >/dev/null 2>&1 || die "powersource-$i's health check fails: $(ct healthcheck run "$ps_ct" 2>&1 | tail -1)"
  fi
  pids="$(ct inspect --format '{{ .HostConfig.PidsLimit }}' "$ps_ct")"
  [ "$pids" = 256 ] || die "powersource-$i runs with pids limit '$pids', not compose's 256"
  if [ "$ENGINE" = docker ]; then
    logs="$(ct inspect --format '{{ .HostConfig.LogConfig.Type }} {{ index .HostConfig.LogConfig.Config "max-size" }}' "$ps_ct")"
  else
    logs="$(ct inspect --format '{{ .HostConfig.LogConfig.Type }} {{ .HostConfig.LogConfig.Size }}' "$ps_ct")"
  fi
  case "$logs" in
    json-file\ 10m | json-file\ 10MB | k8s-file\ 10MB | k8s-file\ 10m) ;;
    *) die "powersource-$i's log is not rotated at 10 MB: '$logs'" ;;
  esac
done
say "the three powersources' health checks: healthy; pids limit 256, logs rotated ($logs)"

# the visitors: Locust's returning visitors against the healthy deployment
t1=$SECONDS
"${compose[@]}" up -d --no-deps visitors >>"$LOG" 2>&1 || { tail -30 "$LOG" >&2; die "compose up visitors failed (log: var/containers/compose.log)"; }
loc="http://127.0.0.1:$VISITORS_PORT"
# visitors_stats: "state users visits failures errors" from Locust's web API (empty when it does not answer)
visitors_stats() {
  curl -s --max-time 2 "$loc/stats/requests" | python3 -c 'import json, sys
d = json.load(sys.stdin)
total = d["stats"][-1]
errors = {e["error"]: e["occurrences"] for e in d["errors"]}
print(d["state"], d["user_count"], total["num_requests"], total["num_failures"], json.dumps(errors, separators=(",", ":")))' 2>/dev/null || true
}
deadline=$((SECONDS + 90))
first=""
while :; do
  read -r state users visits fails errors < <(visitors_stats; echo) || true
  if [ -n "${visits:-}" ]; then
    [ "$fails" = 0 ] && [ "$errors" = "{}" ] || die "the visitors counted $fails failed visits on a healthy deployment: $errors"
    if [ "$state" = running ] && [ "$users" = 10 ] && [ "$visits" -gt 0 ]; then
      [ -n "$first" ] || { first=$visits; say "visitors: 10 users running, $visits visits so far (Locust web UI $loc)"; }
      # climbing: at least 20 more visits, from users that came back
      [ "$visits" -ge $((first + 20)) ] && break
    fi
  fi
  [ "$SECONDS" -lt "$deadline" ] || { "${compose[@]}" logs visitors >>"$LOG" 2>&1 || true; tail -20 "$LOG" >&2
    die "the visitors did not climb in 90 s (state '${state:-}', users '${users:-}', visits '${visits:-}', first '$first'; $loc)"; }
  sleep 1
done
say "visitors: $first -> $visits visits in $((SECONDS - t1)) s from start, 0 failed"
say "compose deployment checked in $((SECONDS - t0)) s; tearing it down"
