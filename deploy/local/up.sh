#!/usr/bin/env bash
# Starts the local fleet: N powersources, superpower in front of them, Prometheus when its
# binary is installed, and a small population of returning visitors (Locust, visitors/). Running
# it again while the fleet runs starts nothing (but what is missing of Prometheus and visitors).
#
#   deploy/local/up.sh [--powersources N] [--data DIR] [--naive] [--visitors N | --no-visitors]
#
#   --powersources N   how many powersource instances (1-9, default 3): 127.0.0.1:6061..606N
#   --data DIR         dataset folder to ingest (default: the loader's built-in sample dataset)
#   --naive            superpower starts with every resilience switch off (`superpower --naive`)
#                      and checks /health only every NAIVE_HEALTH_INTERVAL_MS (default 60000;
#                      the original demo had no health checks): the teaching fleet
#   --visitors N       how many returning visitors (0-1000, default 10): Locust running
#                      visitors/locustfile.py against superpower, each user back every 1-5 s
#                      (about 3 visits/s for 10), its web UI on http://127.0.0.1:8089 (change
#                      users and rate live there); failures are named there by broken promise
#   --no-visitors      no visitors (same as --visitors 0)
#
# Env: SUPERPOWER_ADMIN_TOKEN (passed to every process: superpower's admin API and control page
#      at /admin, and, as POWERSOURCE_ADMIN_TOKEN, each powersource's admin API and what
#      superpower sends to it; without one up.sh makes a random one), kept in var/fleet/fleet.env
#      (mode 600) and printed by deploy/local/token.sh;
#      SKIP_BUILD=1 (use the binaries already in target/release),
#      FLEET_START_TIMEOUT (seconds each process gets to become healthy, default 30).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }

N=3
DATA=""
NAIVE=0
VISITORS=10
VISITORS_GIVEN=0 # a second up.sh keeps the running fleet's choice unless told otherwise
while [ $# -gt 0 ]; do
  case "$1" in
    --naive) NAIVE=1; shift ;;
    --powersources) [ $# -ge 2 ] || die "--powersources needs a number"; N="$2"; shift 2 ;;
    --powersources=*) N="${1#*=}"; shift ;;
    --data) [ $# -ge 2 ] || die "--data needs a folder"; DATA="$2"; shift 2 ;;
    --data=*) DATA="${1#*=}"; shift ;;
    --visitors) [ $# -ge 2 ] || die "--visitors needs a number"; VISITORS="$2"; VISITORS_GIVEN=1; shift 2 ;;
    --visitors=*) VISITORS="${1#*=}"; VISITORS_GIVEN=1; shift ;;
    --no-visitors) VISITORS=0; VISITORS_GIVEN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ "$N" =~ ^[1-9]$ ]] || die "--powersources must be 1 to 9 (ports 6061-6069), got '$N'"
[[ "$VISITORS" =~ ^(0|[1-9][0-9]{0,2}|1000)$ ]] || die "--visitors must be 0 to 1000, got '$VISITORS'"
if [ -n "$DATA" ]; then
  [ -d "$DATA" ] || die "--data $DATA: no such folder"
  DATA="$(cd "$DATA" && pwd)"
fi
cd "$ROOT"
started=() # what this run started: stopped again if the run fails
# On failure, stop what this run started, so a retry starts clean.
cleanup_on_failure() {
  local code=$?
  [ "$code" -eq 0 ] && return 0
  local name
  for name in "${started[@]}"; do stop_process "$name" TERM || true; done
  exit "$code"
}
trap cleanup_on_failure EXIT

print_urls() {
  say "superpower:  http://$SUPERPOWER_ADDR/   (JSON: curl -H 'Accept: application/json' http://$SUPERPOWER_ADDR/)"
  local i
  for i in $(seq 1 "$(fleet_size)"); do
    say "powersource-$i: http://$(powersource_addr "$i")/health"
  done
  if pid_of prometheus >/dev/null; then
    say "prometheus:  http://$PROMETHEUS_ADDR/"
  fi
  if pid_of visitors >/dev/null; then
    say "visitors:    http://$VISITORS_ADDR/   (Locust: $(sed -n 's/^VISITORS=//p' "$FLEET/fleet.env" 2>/dev/null) returning users; change them there)"
  fi
  if [ "$(sed -n 's/^NAIVE=//p' "$FLEET/fleet.env" 2>/dev/null)" = 1 ]; then
    say "superpower runs NAIVE: every resilience switch off (the control page turns them on)"
  fi
  say "control page: http://$SUPERPOWER_ADDR/admin   admin token: deploy/local/token.sh"
  say "logs and pidfiles: var/fleet/   stop: deploy/local/down.sh"
}

# Prometheus is optional: started when installed, and (re)started by a second up.sh if it died.
ensure_prometheus() {
  pid_of prometheus >/dev/null && return 0
  if ! command -v prometheus >/dev/null 2>&1; then
    say "prometheus is not installed: skipping it (apt-get install prometheus)"
    return 0
  fi
  if port_answers "$PROMETHEUS_ADDR"; then
    say "something else already listens on $PROMETHEUS_ADDR: not starting our Prometheus"
    return 0
  fi
  mkdir -p "$ROOT/var/prometheus"
  launch prometheus "$(command -v prometheus)" \
    --config.file="$PROMETHEUS_CONFIG" \
    --storage.tsdb.path="$ROOT/var/prometheus" \
    --storage.tsdb.retention.time=2d \
    --web.listen-address="$PROMETHEUS_ADDR" \
    --web.enable-lifecycle
  started+=(prometheus)
  wait_ready prometheus "http://$PROMETHEUS_ADDR/-/ready"
}

# The returning visitors: Locust with its web UI, started with the population running
# (--autostart), logs in var/fleet/visitors.log. Optional like Prometheus: a second up.sh starts
# them if they died.
ensure_visitors() {
  [ "$VISITORS" -gt 0 ] || return 0
  pid_of visitors >/dev/null && return 0
  if port_answers "$VISITORS_ADDR"; then
    say "something else already listens on $VISITORS_ADDR: not starting the visitors"
    return 0
  fi
  # shellcheck source=../../scripts/tools.sh
  source "$ROOT/scripts/tools.sh"
  ensure_venv || die "no venv for the visitors (scripts/tools.sh ensure_venv); --no-visitors starts the fleet without them"
  launch visitors "$VISITORS_PYTHON" -m locust -f "$ROOT/visitors/locustfile.py" \
    --host "http://$SUPERPOWER_ADDR" --users "$VISITORS" --spawn-rate "$VISITORS" --autostart \
    --web-host "${VISITORS_ADDR%:*}" --web-port "${VISITORS_ADDR##*:}" --only-summary
  started+=(visitors)
  wait_ready visitors "http://$VISITORS_ADDR/"
  say "visitors: $VISITORS returning users (pid $(pid_of visitors)), Locust on http://$VISITORS_ADDR/"
}

# --- already running? ---------------------------------------------------------------------------
running=()
for name in $(pidfile_names); do
  case "$name" in prometheus | visitors) continue ;; esac
  pid_of "$name" >/dev/null && running+=("$name")
done
if [ ${#running[@]} -gt 0 ]; then
  want=$(($(fleet_size) + 1))
  if [ ${#running[@]} -eq "$want" ]; then
    say "the fleet is already running (${running[*]}): not starting another"
    [ "$N" = "$(fleet_size)" ] || say "(it has $(fleet_size) powersources, not $N: deploy/local/down.sh first to change that)"
    [ "$NAIVE" = "$(sed -n 's/^NAIVE=//p' "$FLEET/fleet.env" 2>/dev/null || echo 0)" ] ||
      say "(it was started $([ "$NAIVE" = 1 ] && echo without || echo with) --naive: deploy/local/down.sh first to change that)"
    ensure_prometheus
    if [ "$VISITORS_GIVEN" = 1 ]; then
      was="$(sed -n 's/^VISITORS=//p' "$FLEET/fleet.env" 2>/dev/null)"
      if [ "$VISITORS" != "${was:-0}" ] && pid_of visitors >/dev/null; then
        say "(the visitors run with ${was:-?} users, not $VISITORS: change them at http://$VISITORS_ADDR/, or deploy/local/down.sh first)"
      else
        sed -i "s/^VISITORS=.*/VISITORS=$VISITORS/" "$FLEET/fleet.env"
      fi
    else
      VISITORS="$(sed -n 's/^VISITORS=//p' "$FLEET/fleet.env" 2>/dev/null)"
      VISITORS="${VISITORS:-0}"
    fi
    ensure_visitors
    print_urls
    exit 0
  fi
  say "part of the fleet is running: ${running[*]}"
  for i in $(seq 1 "$(fleet_size)"); do
    pid_of "powersource-$i" >/dev/null || say "  powersource-$i is down: deploy/local/powersource.sh start $i"
  done
  pid_of superpower >/dev/null || say "  superpower is down"
  die "not starting a second fleet; start the missing instances, or run deploy/local/down.sh then up.sh"
fi

# --- build and ingest -----------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  # shellcheck source=../../scripts/tools.sh
  source "$ROOT/scripts/tools.sh"
  ensure_release_build
fi
for b in loader powersource superpower; do
  [ -x "$BIN/$b" ] || die "$BIN/$b is missing (cargo build --release -p $b)"
done

mkdir -p "$FLEET/targets" "$ROOT/var/stores"
stores=()
for i in $(seq 1 "$N"); do stores+=(--store "$ROOT/var/stores/powersource-$i"); done
say "ingesting ${DATA:-the built-in sample dataset} into $N store(s)"
"$BIN/loader" ingest ${DATA:+--data "$DATA"} "${stores[@]}" >"$FLEET/loader.log" 2>&1 || {
  tail -n 20 "$FLEET/loader.log" >&2
  die "loader ingest failed (log: var/fleet/loader.log)"
}

# The admin API is always on in the local fleet (it listens on loopback only): the experiments
# inject faults through it and the presenter flips switches. A made-up token unless one is given.
if [ -z "${SUPERPOWER_ADMIN_TOKEN:-}" ]; then
  SUPERPOWER_ADMIN_TOKEN="$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')"
fi
export SUPERPOWER_ADMIN_TOKEN
# One token for the whole local fleet: the powersources' admin API and what superpower sends it.
export POWERSOURCE_ADMIN_TOKEN="$SUPERPOWER_ADMIN_TOKEN"
[[ "$SUPERPOWER_ADMIN_TOKEN" =~ ^[A-Za-z0-9._~+/=-]+$ ]] || die "SUPERPOWER_ADMIN_TOKEN must be one word of URL-safe characters"
rm -f "$FLEET/fleet.env"
(
  umask 077
  {
    echo "POWERSOURCES=$N"
    echo "DATA=$DATA"
    echo "NAIVE=$NAIVE"
    echo "VISITORS=$VISITORS"
    echo "SUPERPOWER_ADMIN_TOKEN=$SUPERPOWER_ADMIN_TOKEN"
  } >"$FLEET/fleet.env"
)

# --- powersources, then superpower -----------------------------------------------------------------
urls=()
for i in $(seq 1 "$N"); do
  start_powersource "$i"
  started+=("powersource-$i")
  urls+=("http://$(powersource_addr "$i")")
done
for i in $(seq 1 "$N"); do
  wait_ready "powersource-$i" "http://$(powersource_addr "$i")/health"
  say "powersource-$i is healthy on $(powersource_addr "$i") (pid $(pid_of "powersource-$i"))"
done

port_answers "$SUPERPOWER_ADDR" && die "something else already listens on $SUPERPOWER_ADDR; superpower not started"
naive_flags=()
if [ "$NAIVE" = 1 ]; then
  naive_flags=(--naive --health-interval-ms "${NAIVE_HEALTH_INTERVAL_MS:-60000}")
fi
POWERSOURCE_URLS="$(IFS=,; echo "${urls[*]}")" launch superpower "$BIN/superpower" --listen "$SUPERPOWER_ADDR" "${naive_flags[@]}"
started+=(superpower)
wait_ready superpower "http://$SUPERPOWER_ADDR/health"
say "superpower is healthy on $SUPERPOWER_ADDR (pid $(pid_of superpower))$([ "$NAIVE" = 1 ] && echo ", naive")"

# One request to / creates superpower's request-duration series for the route, so the first
# experiment's rate() over them has a starting point in Prometheus.
curl -s -o /dev/null --max-time 2 -H 'Accept: application/json' "http://$SUPERPOWER_ADDR/" || true

# --- Prometheus targets (file_sd; Prometheus re-reads them on change) ---------------------------
{
  echo '['
  for i in $(seq 1 "$N"); do
    sep=","; [ "$i" -eq "$N" ] && sep=""
    printf '  {"targets": ["%s"], "labels": {"instance": "powersource-%s"}}%s\n' "$(powersource_addr "$i")" "$i" "$sep"
  done
  echo ']'
} >"$FLEET/targets/powersource.json.tmp"
mv "$FLEET/targets/powersource.json.tmp" "$FLEET/targets/powersource.json"
printf '[\n  {"targets": ["%s"], "labels": {"instance": "superpower"}}\n]\n' "$SUPERPOWER_ADDR" >"$FLEET/targets/superpower.json.tmp"
mv "$FLEET/targets/superpower.json.tmp" "$FLEET/targets/superpower.json"

ensure_prometheus
# Experiments and dashboards ask Prometheus right away: return once it has scraped everything.
if pid_of prometheus >/dev/null; then
  wait_scraped $((N + 1)) 20 || die "Prometheus does not scrape the fleet (log: var/fleet/prometheus.log)"
fi
ensure_visitors
trap - EXIT
say "the fleet is up: $N powersource(s) and superpower$([ "$VISITORS" -gt 0 ] && echo ", $VISITORS returning visitors")"
print_urls
