#!/usr/bin/env bash
# Starts the local fleet: N powersources, superpower in front of them, Prometheus (installed
# with apt, Debian package prometheus, when it is not on PATH), and a small population of
# returning visitors (Locust, visitors/). Running it again while the fleet runs starts nothing
# (but what is missing of Prometheus and visitors).
#
#   deploy/local/up.sh [--powersources N] [--frontends N] [--data DIR] [--naive]
#                      [--own-cookie-keys] [--visitors N | --no-visitors]
#
#   --powersources N   how many powersource instances (1-9, default 3): 127.0.0.1:6061..606N
#   --frontends N      how many superpower replicas (1-9, default 1). With more than one they
#                      listen on 127.0.0.1:30281..3028N, share the cookie key and their switches
#                      and promises (peers), and a balancer (HAProxy, TCP, round robin, as
#                      kube-proxy) takes 127.0.0.1:30280
#   --data DIR         dataset folder to ingest (default: the loader's built-in sample dataset)
#   --naive            superpower starts with every resilience switch off (`superpower --naive`)
#                      and checks /health only every NAIVE_HEALTH_INTERVAL_MS (default 60000;
#                      the original demo had no health checks): the teaching fleet
#   --own-cookie-keys  no shared cookie key: each superpower replica makes its own at start
#                      (superpower without --cookie-key), so a user's signed last known
#                      superpower is good only on the replica that signed it, and only until it
#                      restarts — the naive front end of the front-end experiments
#                      (experiments/run.sh --naive); every resilience switch stays on
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
#      SUPERPOWER_COOKIE_KEY (the key of the signed superpower_last cookie, hex, 32 bytes or more;
#      without one up.sh makes a random one; ignored with --own-cookie-keys), kept beside the token;
#      SKIP_BUILD=1 (use the binaries already in target/release),
#      SUPERPOWER_BIN_DIR (where the binaries are, default target/release),
#      FLEET_START_TIMEOUT (seconds each process gets to become healthy, default 30).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }

N=3
FRONTENDS=1
DATA=""
NAIVE=0
COOKIE_KEYS=shared
VISITORS=10
VISITORS_GIVEN=0 # a second up.sh keeps the running fleet's choice unless told otherwise
while [ $# -gt 0 ]; do
  case "$1" in
    --naive) NAIVE=1; shift ;;
    --own-cookie-keys) COOKIE_KEYS=own; shift ;;
    --powersources) [ $# -ge 2 ] || die "--powersources needs a number"; N="$2"; shift 2 ;;
    --powersources=*) N="${1#*=}"; shift ;;
    --frontends) [ $# -ge 2 ] || die "--frontends needs a number"; FRONTENDS="$2"; shift 2 ;;
    --frontends=*) FRONTENDS="${1#*=}"; shift ;;
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
[[ "$FRONTENDS" =~ ^[1-9]$ ]] || die "--frontends must be 1 to 9 (ports 30281-30289), got '$FRONTENDS'"
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
  if [ "$(frontends)" -gt 1 ]; then
    local name
    for name in $(superpower_names); do say "  $name: http://$(superpower_addr "$name")/   (behind the balancer)"; done
  fi
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
  if [ "$(fleet_env COOKIE_KEYS)" = own ]; then
    say "each superpower replica has its OWN cookie key: a user's last known superpower is good only where it was signed"
  fi
  say "control page: http://$SUPERPOWER_ADDR/admin   admin token: deploy/local/token.sh"
  say "logs and pidfiles: var/fleet/   stop: deploy/local/down.sh"
}

# Prometheus: installed when missing (scripts/tools.sh; a prometheus already on PATH needs no
# root), started, and (re)started by a second up.sh if it died. Only when it cannot be installed
# (not root, no sudo) does the fleet run without it, saying so.
ensure_prometheus() {
  pid_of prometheus >/dev/null && return 0
  # shellcheck source=../../scripts/tools.sh
  source "$ROOT/scripts/tools.sh"
  if ! ensure_prometheus_installed; then
    say "prometheus could not be installed (Debian package prometheus: needs root or sudo): the fleet runs without it"
    return 0
  fi
  if port_answers "$PROMETHEUS_ADDR"; then
    say "something else already listens on $PROMETHEUS_ADDR: not starting our Prometheus (Debian's prometheus.service? sudo systemctl disable --now prometheus)"
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
  want=$(($(fleet_size) + $(frontends)))
  [ "$(frontends)" -gt 1 ] && want=$((want + 1)) # the balancer
  if [ ${#running[@]} -eq "$want" ]; then
    say "the fleet is already running (${running[*]}): not starting another"
    [ "$N" = "$(fleet_size)" ] || say "(it has $(fleet_size) powersources, not $N: deploy/local/down.sh first to change that)"
    [ "$NAIVE" = "$(sed -n 's/^NAIVE=//p' "$FLEET/fleet.env" 2>/dev/null || echo 0)" ] ||
      say "(it was started $([ "$NAIVE" = 1 ] && echo without || echo with) --naive: deploy/local/down.sh first to change that)"
    [ "$COOKIE_KEYS" = "$(fleet_env COOKIE_KEYS | grep . || echo shared)" ] ||
      say "(it was started $([ "$COOKIE_KEYS" = own ] && echo without || echo with) --own-cookie-keys: deploy/local/down.sh first to change that)"
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
  for name in $(superpower_names); do
    pid_of "$name" >/dev/null || say "  $name is down"
  done
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
# One cookie key for every replica, kept beside the token: a returning user's signed last known
# superpower is good on any replica, and after a restart. (--own-cookie-keys: none kept, each
# replica makes its own.)
if [ "$COOKIE_KEYS" = own ]; then
  SUPERPOWER_COOKIE_KEY=""
else
  if [ -z "${SUPERPOWER_COOKIE_KEY:-}" ]; then
    SUPERPOWER_COOKIE_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  fi
  [[ "$SUPERPOWER_COOKIE_KEY" =~ ^([0-9a-fA-F]{2}){32,}$ ]] || die "SUPERPOWER_COOKIE_KEY must be hex, at least 32 bytes (64 digits)"
fi
rm -f "$FLEET/fleet.env" "$FLEET"/*.cmd "$FLEET"/*.addr # a new fleet: no record of an old one
(
  umask 077
  {
    echo "POWERSOURCES=$N"
    echo "DATA=$DATA"
    echo "NAIVE=$NAIVE"
    echo "VISITORS=$VISITORS"
    echo "FRONTENDS=$FRONTENDS"
    echo "COOKIE_KEYS=$COOKIE_KEYS"
    echo "SUPERPOWER_ADMIN_TOKEN=$SUPERPOWER_ADMIN_TOKEN"
    echo "SUPERPOWER_COOKIE_KEY=$SUPERPOWER_COOKIE_KEY"
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
for name in $(superpower_names); do
  start_superpower "$name"
  started+=("$name")
done
for name in $(superpower_names); do
  wait_ready "$name" "http://$(superpower_addr "$name")/health"
  say "$name is healthy on $(superpower_addr "$name") (pid $(pid_of "$name"))$([ "$NAIVE" = 1 ] && echo ", naive")"
done
if [ "$FRONTENDS" -gt 1 ]; then
  # shellcheck source=../../scripts/tools.sh
  source "$ROOT/scripts/tools.sh"
  ensure_apt haproxy
  write_balancer_config
  haproxy -c -q -f "$FLEET/balancer.cfg" || die "the balancer's configuration is refused (var/fleet/balancer.cfg)"
  launch balancer "$(command -v haproxy)" -db -f "$FLEET/balancer.cfg"
  started+=(balancer)
  wait_ready balancer "http://$SUPERPOWER_ADDR/health"
  for name in $(superpower_names); do wait_in_rotation "$name"; done
  say "the balancer spreads $SUPERPOWER_ADDR over $FRONTENDS replicas (pid $(pid_of balancer))"
fi

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
{
  echo '['
  sep=""
  for name in $(superpower_names); do
    printf '%s  {"targets": ["%s"], "labels": {"instance": "%s"}}\n' "$sep" "$(superpower_addr "$name")" "$name"
    sep=","
  done
  echo ']'
} >"$FLEET/targets/superpower.json.tmp"
mv "$FLEET/targets/superpower.json.tmp" "$FLEET/targets/superpower.json"

ensure_prometheus
# Experiments and dashboards ask Prometheus right away: return once it has scraped everything.
if pid_of prometheus >/dev/null; then
  wait_scraped $((N + FRONTENDS)) 20 || die "Prometheus does not scrape the fleet (log: var/fleet/prometheus.log)"
fi
ensure_visitors
trap - EXIT
say "the fleet is up: $N powersource(s) and $([ "$FRONTENDS" -gt 1 ] && echo "$FRONTENDS superpower replicas behind the balancer" || echo superpower)$([ "$VISITORS" -gt 0 ] && echo ", $VISITORS returning visitors")"
print_urls
