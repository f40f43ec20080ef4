#!/usr/bin/env bash
# Shared by the local fleet scripts (up.sh, down.sh, fault.sh, powersource.sh, frontend.sh, status.sh).
# Source it.
#
# Everything lives under var/ at the repo root:
#   var/fleet/NAME.pid, var/fleet/NAME.log   one per process (powersource-1.., superpower — or, with
#                                           --frontends N > 1, superpower-1.. and the balancer in
#                                           front of them —, prometheus, visitors: the Locust
#                                           population of visitors/locustfile.py)
#   var/fleet/NAME.cmd                      how NAME was started, to start it again the same way
#                                           (fault.sh start): NUL-separated words, `env -i`, the
#                                           variables it needs (VAR=VALUE), the program and its
#                                           arguments (mode 600: it holds the admin token)
#   var/fleet/NAME.addr                     HOST:PORT where a powersource or superpower listens
#                                           (its /health there; the port its faults act on)
#   var/fleet/balancer.cfg                  the balancer's HAProxy configuration (N > 1)
#   var/fleet/balancer.sock                 its stats page, as CSV: which replicas are in rotation
#   var/fleet/fleet.env                     what up.sh started (N, data dir, replicas, the token and
#                                           the cookie key, or COOKIE_KEYS=own), read by the others
#   var/fleet/targets/{superpower,powersource}.json   Prometheus file_sd targets
#   var/stores/powersource-I                the sled store of powersource I
#   var/prometheus                          Prometheus' TSDB
#
# Only processes named in our pidfiles are ever signalled, and only when /proc says the pid still
# runs the binary we started (a recycled pid is left alone).
#
# FLEET_DIR (default var/fleet) is the fleet's directory: another fleet of processes described the
# same way (NAME.pid, NAME.cmd, NAME.addr, fleet.env with the admin token) is driven by the same
# scripts (deploy/local/fault.sh) with FLEET_DIR pointing at it.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FLEET="${FLEET_DIR:-$ROOT/var/fleet}"
case "$FLEET" in /*) ;; *) FLEET="$PWD/$FLEET" ;; esac
BIN="${SUPERPOWER_BIN_DIR:-$ROOT/target/release}"
SUPERPOWER_ADDR="127.0.0.1:30280"
PROMETHEUS_ADDR="127.0.0.1:9090"
PROMETHEUS_CONFIG="$ROOT/dashboards/prometheus/prometheus.yml"
# The returning visitors (visitors/locustfile.py, run by the venv's Python): Locust's web UI.
VISITORS_ADDR="127.0.0.1:8089"
VISITORS_PYTHON="$ROOT/var/venv/bin/python"
# How long a process gets to answer /health after it starts, and to exit after SIGTERM.
START_TIMEOUT="${FLEET_START_TIMEOUT:-30}"
STOP_TIMEOUT="${FLEET_STOP_TIMEOUT:-15}"

# shellcheck source=../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
log_tag '[fleet]'

powersource_addr() { echo "127.0.0.1:$((6060 + $1))"; }

# The front end: one superpower on $SUPERPOWER_ADDR, or (--frontends N > 1) superpower-1..N on
# 127.0.0.1:30281.. behind the balancer (HAProxy, TCP, round robin, as kube-proxy spreads a
# Service's connections) on $SUPERPOWER_ADDR. Replicas share the cookie key and find each other
# as peers (superpower's --peer).
frontends() {
  local n=""
  [ -f "$FLEET/fleet.env" ] && n="$(sed -n 's/^FRONTENDS=//p' "$FLEET/fleet.env")"
  echo "${n:-1}"
}
superpower_names() {
  local n i
  n="$(frontends)"
  if [ "$n" -le 1 ]; then echo superpower; return; fi
  for i in $(seq 1 "$n"); do echo "superpower-$i"; done
}
superpower_addr() {
  case "$1" in
    superpower) echo "$SUPERPOWER_ADDR" ;;
    superpower-*) echo "127.0.0.1:$((30280 + ${1#superpower-}))" ;;
  esac
}

# fleet_env KEY: a value up.sh kept in var/fleet/fleet.env.
fleet_env() {
  [ -f "$FLEET/fleet.env" ] || return 0
  sed -n "s/^$1=//p" "$FLEET/fleet.env"
}

# start_superpower NAME: starts that front-end process (not waiting for it), with the settings
# up.sh kept in fleet.env: the powersources, the token, the cookie key (none with COOKIE_KEYS=own:
# each replica makes its own at start, the naive front end), --naive, its peers. Only what is set
# goes into its environment: an empty SUPERPOWER_PEERS or SUPERPOWER_COOKIE_KEY would be a value.
start_superpower() {
  local name="$1" addr peers=() other i n
  addr="$(superpower_addr "$name")"
  [ -x "$BIN/superpower" ] || die "$BIN/superpower is missing (cargo build --release -p superpower)"
  if port_answers "$addr"; then
    die "something else already listens on $addr; $name not started"
  fi
  n="$(frontends)"
  local urls=() flags=() token key
  if [ "$n" -gt 1 ]; then
    for i in $(seq 1 "$n"); do
      other="superpower-$i"
      [ "$other" = "$name" ] || peers+=("http://$(superpower_addr "$other")")
    done
    # on SIGTERM, fail the balancer's check and keep serving until it has seen that
    flags+=(--lame-duck-ms "$((2 * BALANCER_CHECK_MS))")
  fi
  for i in $(seq 1 "$(fleet_size)"); do urls+=("http://$(powersource_addr "$i")"); done
  if [ "$(fleet_env NAIVE)" = 1 ]; then
    flags+=(--naive --health-interval-ms "${NAIVE_HEALTH_INTERVAL_MS:-60000}")
  fi
  token="$(fleet_env SUPERPOWER_ADMIN_TOKEN)"
  key="$(fleet_env SUPERPOWER_COOKIE_KEY)"
  [ "$(fleet_env COOKIE_KEYS)" = own ] && key=""
  (
    unset SUPERPOWER_ADMIN_TOKEN POWERSOURCE_ADMIN_TOKEN SUPERPOWER_COOKIE_KEY SUPERPOWER_PEERS
    if [ -n "$token" ]; then export SUPERPOWER_ADMIN_TOKEN="$token" POWERSOURCE_ADMIN_TOKEN="$token"; fi
    if [ -n "$key" ]; then export SUPERPOWER_COOKIE_KEY="$key"; fi
    if [ ${#peers[@]} -gt 0 ]; then export SUPERPOWER_PEERS="$(IFS=,; echo "${peers[*]}")"; fi
    export SUPERPOWER_REPLICA_NAME="$name" POWERSOURCE_URLS="$(IFS=,; echo "${urls[*]}")"
    echo "$addr" >"$FLEET/$name.addr"
    launch "$name" "$BIN/superpower" --listen "$addr" "${flags[@]}"
  )
}

# How often the balancer checks each replica (a failed check takes it out); a replica's lame
# duck on SIGTERM is two of these (the check's own timeout is the interval).
BALANCER_CHECK_MS=1000

# The balancer's statistics (HAProxy's stats page, read as CSV) on a Unix socket only the fleet's
# user can open: which replicas it has in rotation.
BALANCER_STATS="$FLEET/balancer.sock"

# write_balancer_config: HAProxy in TCP mode on $SUPERPOWER_ADDR, round robin over the replicas
# (as kube-proxy spreads a Service's connections), each checked every BALANCER_CHECK_MS with
# GET /health (a replica that stops answering, or answers 503 in its lame duck, leaves the
# rotation, as an endpoint whose readiness probe fails does). A connection that a replica which
# just went away refuses (killed, or draining: its listener is closed) is tried on the next
# replica (redispatch) instead of being closed on the client: a replica that is stopped loses no
# request (its lame duck closes each connection after an answer), one that is killed loses the
# connections it held.
write_balancer_config() {
  local name
  {
    cat <<CFG
global
  maxconn 4000

defaults
  mode tcp
  timeout connect 1s
  timeout client 60s
  timeout server 60s
  retries 2
  option redispatch 1

frontend superpower
  bind $SUPERPOWER_ADDR
  default_backend replicas

backend replicas
  balance roundrobin
  option httpchk
  http-check send meth GET uri /health
  http-check expect status 200
CFG
    for name in $(superpower_names); do
      printf '  server %s %s check inter %sms fall 1 rise 1\n' "$name" "$(superpower_addr "$name")" "$BALANCER_CHECK_MS"
    done
    cat <<CFG

listen stats
  mode http
  bind $BALANCER_STATS mode 600
  stats enable
  stats uri /
CFG
  } >"$FLEET/balancer.cfg"
}

# balancer_state NAME: the balancer's view of replica NAME (UP, DOWN, MAINT, ...; nothing when the
# balancer does not answer).
balancer_state() {
  curl -s --max-time 2 --unix-socket "$BALANCER_STATS" 'http://balancer/;csv' 2>/dev/null |
    awk -F, -v name="$1" '$1 == "replicas" && $2 == name { print $18 }'
}

# wait_out_of_rotation NAME: polls until the balancer has taken replica NAME out of rotation (its
# check failed), for at most START_TIMEOUT seconds; at once when no balancer answers. A replica
# stopped and started again at once would otherwise get connections while it starts, before its
# /health says it is ready: Kubernetes takes a terminating pod out of the Service the same way.
wait_out_of_rotation() {
  local name="$1" deadline=$((SECONDS + START_TIMEOUT)) state
  while :; do
    state="$(balancer_state "$name")"
    [ "$state" != UP ] && return 0
    [ "$SECONDS" -lt "$deadline" ] || die "the balancer still has $name in rotation after ${START_TIMEOUT}s (log: var/fleet/balancer.log)"
    sleep 0.2
  done
}

# wait_in_rotation NAME: polls until the balancer has replica NAME in rotation (its check passed),
# for at most START_TIMEOUT seconds: what a rolling restart waits for before it stops the next
# replica, as Kubernetes waits for the new pod to be ready.
wait_in_rotation() {
  local name="$1" deadline=$((SECONDS + START_TIMEOUT)) state
  while :; do
    state="$(balancer_state "$name")"
    [ "$state" = UP ] && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      die "the balancer does not have $name in rotation after ${START_TIMEOUT}s (state: ${state:-no answer on var/fleet/balancer.sock}; log: var/fleet/balancer.log)"
    fi
    sleep 0.2
  done
}

# The executable a pidfile's process must be running: argv[0] as we started it.
expected_exe() {
  case "$1" in
    powersource-*) echo "$BIN/powersource" ;;
    superpower | superpower-*) echo "$BIN/superpower" ;;
    balancer) command -v haproxy ;;
    prometheus) command -v prometheus ;;
    visitors) echo "$VISITORS_PYTHON" ;;
  esac
}

# pid_of NAME: prints the pid and returns 0 when NAME's pidfile names a live process that runs
# the binary we started; returns 1 otherwise (no pidfile, dead, zombie, or a recycled pid).
# The program NAME's process must be running: the one its NAME.cmd starts, else expected_exe's.
pid_of() {
  local name="$1" pidfile="$FLEET/$1.pid" pid state argv0 want
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/stat" ] || return 1
  # Field 3 of /proc/PID/stat is the state; Z (zombie) and X (dead) are not running.
  state="$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null)"
  case "$state" in Z | X | "") return 1 ;; esac
  argv0="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1)"
  want="$(recorded_exe "$name")" || want="$(expected_exe "$name")"
  [ "$argv0" = "$want" ] || return 1
  echo "$pid"
}

# pid_state PID: the state letter of a live process (R, S, D, T when stopped by SIGSTOP, ...).
pid_state() {
  sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null
}

# pid_alive PID: true when PID is a live process (not a zombie).
pid_alive() {
  local state
  [[ "${1:-}" =~ ^[0-9]+$ ]] && [ -r "/proc/$1/stat" ] || return 1
  state="$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null)"
  case "$state" in Z | X | "") return 1 ;; esac
}

# Names of every process we have a pidfile for.
pidfile_names() {
  local f
  for f in "$FLEET"/*.pid; do
    [ -e "$f" ] || continue
    basename "$f" .pid
  done
}

# running_process: prints the name of a process of the fleet that runs (the first pidfile's that
# does) and returns 0; returns 1 when none runs.
running_process() {
  local name
  for name in $(pidfile_names); do
    pid_of "$name" >/dev/null && { echo "$name"; return 0; }
  done
  return 1
}

log_tail() {
  local log="$FLEET/$1.log"
  [ -f "$log" ] || return 0
  printf '[fleet] --- last lines of %s ---\n' "${log#"$ROOT"/}" >&2
  tail -n 20 "$log" >&2
  printf '[fleet] ---\n' >&2
}

# port_answers ADDR: true when something accepts TCP connections on ADDR.
port_answers() {
  local code=0
  curl -s -o /dev/null --max-time 1 "http://$1/" || code=$?
  # 7 = could not connect; 28 = timed out connecting. Anything else: someone is listening.
  [ "$code" -ne 7 ] && [ "$code" -ne 28 ]
}

# The variables a started process keeps from the environment it was started in (the rest is
# left out of NAME.cmd): what the binaries read (their flags' variables, OTEL_*, RUST_LOG,
# LOG_FORMAT) and what any program needs to run.
RECORDED_ENV='^(PATH|HOME|LANG|LC_[A-Z]+|TZ|OTEL_[A-Z0-9_]+|RUST_[A-Z0-9_]+|LOG_FORMAT|SUPERPOWER_[A-Z0-9_]+|POWERSOURCE_[A-Z0-9_]+)='

# launch NAME CMD...: records how NAME is started (NAME.cmd: CMD with the environment it needs),
# then starts it from that record (relaunch).
launch() {
  local name="$1"
  shift
  mkdir -p "$FLEET"
  (
    umask 077
    {
      printf '%s\0' env -i
      env -0 | grep -zE "$RECORDED_ENV" || true
      printf '%s\0' "$@"
    } >"$FLEET/$name.cmd.tmp"
  )
  mv "$FLEET/$name.cmd.tmp" "$FLEET/$name.cmd"
  relaunch "$name"
}

# recorded_cmd NAME: NAME.cmd's words into the array CMD; fails when there is none.
recorded_cmd() {
  [ -f "$FLEET/$1.cmd" ] || return 1
  mapfile -d '' CMD <"$FLEET/$1.cmd"
  [ ${#CMD[@]} -gt 2 ]
}

# recorded_argv NAME: the program NAME.cmd starts and its arguments, one a line (the words after
# `env -i VAR=VALUE...`).
recorded_argv() {
  local CMD w i=2
  recorded_cmd "$1" || return 1
  for w in "${CMD[@]:2}"; do
    [[ "$w" == *=* ]] || break
    i=$((i + 1))
  done
  [ "$i" -lt ${#CMD[@]} ] || return 1
  printf '%s\n' "${CMD[@]:i}"
}

# recorded_exe NAME: the program NAME.cmd starts.
recorded_exe() {
  local argv
  argv="$(recorded_argv "$1")" || return 1
  head -n1 <<<"$argv"
}

# relaunch NAME: starts NAME as NAME.cmd says, in the background, detached from the terminal
# (nohup), output appended to NAME.log, pid in NAME.pid. Not waiting for it.
relaunch() {
  local name="$1" CMD
  recorded_cmd "$name" || die "no ${FLEET#"$ROOT"/}/$name.cmd: how to start $name is not recorded (deploy/local/up.sh records it)"
  printf '\n==== %s starting %s\n' "$(date -u +%FT%TZ)" "$(recorded_argv "$name" | tr '\n' ' ')" >>"$FLEET/$name.log"
  # fd 9 is the fleet lock (hold_fleet_lock): the daemons must not keep it after we exit.
  nohup "${CMD[@]}" >>"$FLEET/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$FLEET/$name.pid"
  disown $! # no "Killed" from the shell that started it when a fault kills it
}

# addr_of NAME: HOST:PORT where NAME listens (NAME.addr, written when it was first started).
addr_of() {
  local addr
  addr="$(cat "$FLEET/$1.addr" 2>/dev/null)" || return 1
  [[ "$addr" =~ ^[^:]+:[0-9]+$ ]] || return 1
  echo "$addr"
}

# hold_fleet_lock [SECONDS]: takes var/fleet.lock (flock, fd 9) for the rest of the calling
# process, waiting at most SECONDS (default 600) for another holder. Suites that use the fleet
# (experiments/run.sh --engine local, ...) take it so that they do not kill each other's instances; the
# fleet itself never holds it.
hold_fleet_lock() {
  local wait="${1:-600}"
  mkdir -p "$ROOT/var"
  exec 9>"$ROOT/var/fleet.lock"
  if ! flock -n 9; then
    say "another suite holds the fleet lock (var/fleet.lock): waiting up to ${wait}s"
    flock -w "$wait" 9 || die "the fleet lock is still held after ${wait}s"
  fi
}

# wait_ready NAME URL: polls URL until it answers 200, for at most START_TIMEOUT seconds. Fails
# at once, with the log tail, if the process dies.
wait_ready() {
  local name="$1" url="$2" deadline=$((SECONDS + START_TIMEOUT))
  local pid
  pid="$(cat "$FLEET/$name.pid" 2>/dev/null)"
  while :; do
    # Right after launch the pid still runs bash or nohup (they exec the binary in place), so
    # pid_of's binary check would fail: only whether the process lives matters here.
    if ! pid_alive "$pid"; then
      log_tail "$name"
      die "$name exited before it became healthy (log: var/fleet/$name.log)"
    fi
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" 2>/dev/null)" = 200 ]; then
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log_tail "$name"
      die "$name did not answer 200 on $url within ${START_TIMEOUT}s (log: var/fleet/$name.log)"
    fi
    sleep 0.2
  done
}

# wait_scraped N [SECONDS]: waits until Prometheus has scraped N targets of the jobs superpower
# and powersource successfully *after* this call began (so series made just before, like
# superpower's first request, are in it; stale samples of an earlier fleet do not count), for at
# most SECONDS (default 20). Reads the targets API, which shows only the current targets.
wait_scraped() {
  local want="$1" wait="${2:-20}" since deadline
  since="$(date +%s.%N)"
  deadline=$((SECONDS + wait))
  while :; do
    local got
    got="$(curl -s --max-time 2 "http://$PROMETHEUS_ADDR/api/v1/targets?state=active" | python3 -c '
import json, sys
from datetime import datetime
since = float(sys.argv[1])
def ts(s):  # RFC 3339 with nanoseconds -> epoch seconds
    s = s.rstrip("Z")
    base, _, frac = s.partition(".")
    return datetime.fromisoformat(base + "+00:00").timestamp() + float("0." + (frac or "0"))
try:
    targets = json.load(sys.stdin)["data"]["activeTargets"]
except Exception:
    print(0); sys.exit()
print(sum(1 for t in targets if t["labels"].get("job") in ("superpower", "powersource")
          and t["health"] == "up" and ts(t["lastScrape"]) > since))
' "$since" 2>/dev/null || echo 0)"
    [ "${got:-0}" -ge "$want" ] && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "Prometheus scraped $got of $want targets within ${wait}s (http://$PROMETHEUS_ADDR/targets)"
      return 1
    fi
    sleep 0.3
  done
}

# fleet_size: the N of the running fleet (from var/fleet/fleet.env), default 3.
fleet_size() {
  local n=""
  [ -f "$FLEET/fleet.env" ] && n="$(sed -n 's/^POWERSOURCES=//p' "$FLEET/fleet.env")"
  echo "${n:-3}"
}

# start_powersource I: starts powersource I (not waiting for it).
start_powersource() {
  local i="$1" name="powersource-$1"
  [ -x "$BIN/powersource" ] || die "$BIN/powersource is missing: build it (cargo build --release -p powersource) or run deploy/local/up.sh"
  [ -d "$ROOT/var/stores/$name" ] || die "no store at var/stores/$name: run deploy/local/up.sh (it ingests the dataset)"
  if port_answers "$(powersource_addr "$i")"; then
    die "something else already listens on $(powersource_addr "$i"); $name not started"
  fi
  # The admin token, when the fleet was started with one, is in fleet.env (mode 600), so an
  # instance restarted later (by an experiment's rollback) keeps the admin API.
  local token
  token="$(fleet_env SUPERPOWER_ADMIN_TOKEN)"
  [ -n "$token" ] && export POWERSOURCE_ADMIN_TOKEN="$token"
  powersource_addr "$i" >"$FLEET/$name.addr"
  launch "$name" "$BIN/powersource" \
    --listen "$(powersource_addr "$i")" --store "$ROOT/var/stores/$name" --name "$name"
}

# stop_process NAME SIGNAL: sends SIGNAL (TERM or KILL) to NAME's process and waits for it to
# exit; after STOP_TIMEOUT seconds of a TERM it sends KILL. A frozen process (SIGSTOP) gets
# SIGCONT after the signal, so that it can act on it. Removes the pidfile. Returns 1 when the
# process was not running.
stop_process() {
  local name="$1" sig="$2" pid
  if ! pid="$(pid_of "$name")"; then
    rm -f "$FLEET/$name.pid"
    return 1
  fi
  kill "-$sig" "$pid" 2>/dev/null || true
  kill -CONT "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while pid_of "$name" >/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "$name (pid $pid) still running ${STOP_TIMEOUT}s after SIG$sig: sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 5))
      sig=KILL
    fi
    sleep 0.1
  done
  rm -f "$FLEET/$name.pid"
  printf '\n==== %s stopped by SIG%s\n' "$(date -u +%FT%TZ)" "$sig" >>"$FLEET/$name.log"
}
