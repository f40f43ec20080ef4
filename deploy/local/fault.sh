#!/usr/bin/env bash
# The process engine of the fault vocabulary: injects, ends and checks faults on one process of
# the local fleet (powersource-1.., superpower or superpower-1.., the names up.sh gives them).
#
#   deploy/local/fault.sh VERB NAME [ARG...]
#
#   kill NAME             SIGKILL: it dies at once, mid-request             undo: start
#   freeze NAME           SIGSTOP: it keeps its sockets, answers nothing    undo: thaw
#   partition NAME        its port refuses connections and resets open ones (nftables, root)
#                                                                           undo: heal
#   drop NAME             every packet to its port dropped: connects and open connections hang
#                         (nftables, root)                                  undo: undrop
#   flap NAME SECONDS DOWN UP
#                         kill, DOWN s later start (waiting for /health), UP s later kill again,
#                         for SECONDS, in the foreground; it ends with NAME down (as the
#                         container engine's flap)                          undo: start
#   slow NAME MS          every product request answered MS ms late (powersource: its admin API,
#                         PUT /admin/faults)                                undo: clear
#   fail NAME RATE        that share (0.0 to 1.0) of product requests answered 500 (admin API)
#                                                                           undo: clear
#   expect NAME down|frozen|unreachable|hanging|latency:MS|errors
#                         exit 0 only if that fault shows, seen from outside the process
#
#   start NAME            start it again as it was started (NAME.cmd) and wait until /health
#                         answers 200; also thaws a frozen NAME
#   stop NAME             SIGTERM: it drains, then exits (SIGKILL after FLEET_STOP_TIMEOUT s)
#   thaw NAME             SIGCONT, then wait for /health
#   heal NAME             end a partition; `heal all`: every partition and drop
#   undrop NAME           end a drop
#   clear NAME            end slow and fail
#   faults NAME [JSON]    the admin API's own spec: without JSON, the faults in force (GET); with
#                         it, PUT as it is (jitter_ms, hang, route, duration_ms: docs/powersource.md)
#
# slow and fail combine (each keeps the other's setting). A superpower replica behind the
# balancer (up.sh --frontends N) is, after kill and stop, out of the balancer's rotation, and
# after start, thaw, heal and undrop, back in it. Every undo of what is not done, and kill, stop
# or start of what is already so, says so and succeeds: rollbacks can always run.
# `expect` prints "faults: NAME ...: ... is in force" when it passes (experiments/verify_journals.py
# reads that line).
#
# partition and drop are rules in one nftables table, inet superpower_faults, on the process's
# address (127.0.0.1:PORT, loopback): they need root (exit 3 without); `heal all` deletes the
# table. The process keeps running through both.
#
# Env: FLEET_DIR (default var/fleet): the fleet, its pidfiles, NAME.cmd, NAME.addr and fleet.env
#      (lib.sh); SUPERPOWER_ADMIN_TOKEN (default: the fleet's, in fleet.env);
#      FLEET_START_TIMEOUT, FLEET_STOP_TIMEOUT (seconds, default 30 and 15).
#
# Exit status: 0 done (or the fault seen), 1 failed, 2 bad arguments, 3 unsupported here (no root
# for nftables; slow, fail and clear on superpower, which has no /admin/faults).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/lib.sh"

usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }
bad_usage() { printf '[fleet] %s (deploy/local/fault.sh --help)\n' "$*" >&2; exit 2; }
unsupported() { printf '[fleet] unsupported: %s\n' "$*" >&2; exit 3; }

NFT_TABLE=superpower_faults

# --- names -----------------------------------------------------------------------------------------

# check_name NAME: a process of this fleet, with a record of how it was started.
check_name() {
  [[ "$1" =~ ^(powersource-[1-9][0-9]*|superpower(-[1-9][0-9]*)?)$ ]] ||
    bad_usage "no process named '$1': powersource-I, superpower or superpower-I"
  if [ ! -f "$FLEET/$1.cmd" ] || ! addr_of "$1" >/dev/null; then
    die "$1 is not in the fleet at ${FLEET#"$ROOT"/} (no $1.cmd and $1.addr: deploy/local/up.sh records them)"
  fi
}
health_url() { echo "http://$(addr_of "$1")/health"; }
# behind_balancer NAME: NAME is a superpower replica and the fleet's balancer runs.
behind_balancer() { [[ "$1" == superpower-* ]] && pid_of balancer >/dev/null; }
frozen() { local pid; pid="$(pid_of "$1")" && [ "$(pid_state "$pid")" = T ]; }

# connect_code NAME: curl's exit code for GET /health within 1.5 s (0 answered, 7 refused, 28 no
# answer in time), then whether the TCP connect completed (1/0).
connect_code() {
  local out code=0
  out="$(curl -s -o /dev/null -w '%{time_connect}' --connect-timeout 1.5 --max-time 1.5 "$(health_url "$1")" 2>/dev/null)" || code=$?
  echo "$code $(awk '{ print ($1 > 0) ? 1 : 0 }' <<<"${out:-0}")"
}

# --- lifecycle ---------------------------------------------------------------------------------------

# ready NAME: waits until NAME answers /health 200, and (behind the balancer) is in rotation.
ready() {
  wait_ready "$1" "$(health_url "$1")"
  if behind_balancer "$1"; then wait_in_rotation "$1"; fi
}

do_start() {
  start_process "$1"
}

# start_process NAME: starts NAME (or thaws it) and waits until it is ready.
start_process() {
  local name="$1" pid
  if pid="$(pid_of "$name")"; then
    if frozen "$name"; then
      kill -CONT "$pid"
      ready "$name"
      say "$name (pid $pid) was frozen: thawed, healthy on $(addr_of "$name")"
    else
      if behind_balancer "$name"; then wait_in_rotation "$name"; fi
      say "$name is already running (pid $pid)"
    fi
    return 0
  fi
  if port_answers "$(addr_of "$name")"; then
    die "something else already listens on $(addr_of "$name"); $name not started"
  fi
  relaunch "$name"
  ready "$name"
  say "$name started (pid $(pid_of "$name")) and healthy on $(addr_of "$name")$(behind_balancer "$name" && echo ", in the balancer's rotation")"
}

do_stop() { # NAME TERM|KILL
  local name="$1" sig="$2" pid verb=stop
  [ "$sig" = KILL ] && verb="kill"
  if pid="$(pid_of "$name")"; then
    stop_process "$name" "$sig"
    say "$name (pid $pid) stopped by SIG$sig"
  else
    rm -f "$FLEET/$name.pid"
    say "$name is not running: nothing to $verb"
  fi
  if behind_balancer "$name"; then
    wait_out_of_rotation "$name"
    say "$name is out of the balancer's rotation"
  fi
}

do_freeze() {
  local name="$1" pid
  pid="$(pid_of "$name")" || die "$name is not running: nothing to freeze"
  if frozen "$name"; then
    say "$name (pid $pid) is already frozen"
    return 0
  fi
  kill -STOP "$pid"
  say "$name (pid $pid) frozen by SIGSTOP"
}

do_thaw() {
  local name="$1" pid
  if ! pid="$(pid_of "$name")"; then
    say "$name is not running: nothing to thaw"
    return 0
  fi
  if ! frozen "$name"; then
    say "$name (pid $pid) is not frozen: nothing to thaw"
    return 0
  fi
  kill -CONT "$pid"
  ready "$name"
  say "$name (pid $pid) thawed by SIGCONT: healthy on $(addr_of "$name")"
}

# --- flap: kill and start again, in the foreground ------------------------------------------------------

# do_flap NAME SECONDS DOWN UP: kill, DOWN s down, start, UP s up, again while a whole cycle fits
# in SECONDS; it ends after a kill, NAME down, as the container engine's flap ends.
do_flap() {
  local name="$1" seconds="$2" down="$3" up="$4" end cycles=0
  for v in "$seconds" "$down" "$up"; do
    [[ "$v" =~ ^[0-9]+$ ]] || bad_usage "flap NAME SECONDS DOWN UP takes whole seconds, got '$v'"
  done
  [ "$seconds" -gt 0 ] || bad_usage "flap needs SECONDS > 0"
  end=$((SECONDS + seconds))
  while true; do
    do_stop "$name" KILL
    cycles=$((cycles + 1))
    sleep "$down"
    [ $((SECONDS + up)) -le "$end" ] || break
    start_process "$name"
    sleep "$up"
  done
  say "$name flapped $cycles times in ${seconds}s (down ${down}s, up ${up}s); it is down now (undo: start)"
}

# --- partition and drop: nftables ------------------------------------------------------------------------

need_root() {
  [ "$(id -u)" = 0 ] || unsupported "$1 needs root (nftables rules on loopback); run as root or use the container engine"
  if ! command -v nft >/dev/null 2>&1; then
    # shellcheck source=../../scripts/tools.sh
    source "$ROOT/scripts/tools.sh"
    ensure_apt nftables || die "nft is missing (Debian package nftables)"
  fi
}

# rule_handles KIND NAME: the handles of NAME's KIND (partition|drop) rules, one a line.
rule_handles() {
  local rules
  rules="$(nft -a list chain inet "$NFT_TABLE" input 2>/dev/null)" || return 0
  grep -F "comment \"$1 $2\"" <<<"$rules" | sed -n 's/.*# handle \([0-9]*\)$/\1/p'
}

net_fault() { # partition|drop NAME
  local kind="$1" name="$2" addr host port action
  need_root "$kind"
  addr="$(addr_of "$name")" host="${addr%:*}" port="${addr##*:}"
  [[ "$host" =~ ^[0-9.]+$ ]] || die "$name listens on $addr: $kind needs an IPv4 address"
  if [ -n "$(rule_handles "$kind" "$name")" ]; then
    say "$name is already under a $kind"
    return 0
  fi
  action="reject with tcp reset"
  [ "$kind" = drop ] && action=drop
  # priority -300: before connection tracking, so open connections are hit too
  nft -f - <<NFT || die "nft refused the $kind rule for $name"
add table inet $NFT_TABLE
add chain inet $NFT_TABLE input { type filter hook input priority -300; policy accept; }
add rule inet $NFT_TABLE input ip daddr $host tcp dport $port $action comment "$kind $name"
NFT
  if [ "$kind" = partition ]; then
    say "$name is partitioned: connections to $addr are refused, open ones reset (nft table inet $NFT_TABLE)"
  else
    say "$name drops every packet to $addr: connects and open connections hang (nft table inet $NFT_TABLE)"
  fi
}

net_undo() { # partition|drop NAME
  local kind="$1" name="$2" h handles
  if [ "$(id -u)" != 0 ]; then
    say "no $kind to end on $name: without root none can be made"
    return 0
  fi
  command -v nft >/dev/null 2>&1 || { say "no $kind to end on $name: nft is not installed"; return 0; }
  handles="$(rule_handles "$kind" "$name")"
  if [ -z "$handles" ]; then
    say "$name is under no $kind: nothing to end"
    return 0
  fi
  for h in $handles; do nft delete rule inet "$NFT_TABLE" input handle "$h"; done
  # the last rule gone, the table goes too: nothing of ours stays in the ruleset
  local left
  left="$(nft list chain inet "$NFT_TABLE" input 2>/dev/null)" || true
  if ! grep -q comment <<<"$left"; then
    nft delete table inet "$NFT_TABLE" 2>/dev/null || true
  fi
  if pid_of "$name" >/dev/null; then
    ready "$name"
    say "$name: the $kind is over, healthy on $(addr_of "$name")"
  else
    say "$name: the $kind is over ($name is not running)"
  fi
}

heal_all() {
  if [ "$(id -u)" = 0 ] && command -v nft >/dev/null 2>&1 && nft list table inet "$NFT_TABLE" >/dev/null 2>&1; then
    nft delete table inet "$NFT_TABLE"
    say "every partition and drop is over (nft table inet $NFT_TABLE deleted)"
  else
    say "no partition or drop in force (no nft table inet $NFT_TABLE)"
  fi
}

# --- slow and fail: the powersource's admin API ----------------------------------------------------------

need_admin() {
  [[ "$1" == powersource-* ]] || unsupported "$2 acts on a powersource's /admin/faults; $1 has none"
}

# admin_faults METHOD NAME [BODY]: one call to NAME's /admin/faults; prints the answer, fails on
# anything but 200.
admin_faults() {
  local method="$1" name="$2" body="${3:-}" token code tmp url
  token="${SUPERPOWER_ADMIN_TOKEN:-$(fleet_env SUPERPOWER_ADMIN_TOKEN)}"
  [ -n "$token" ] || die "no admin token: the fleet keeps it in ${FLEET#"$ROOT"/}/fleet.env (deploy/local/up.sh makes one); or set SUPERPOWER_ADMIN_TOKEN"
  url="http://$(addr_of "$name")/admin/faults"
  tmp="$(mktemp)"
  local args=(-s -o "$tmp" -w '%{http_code}' --max-time 5 -X "$method" -H "Authorization: Bearer $token")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  code="$(curl "${args[@]}" "$url" 2>/dev/null)" || { rm -f "$tmp"; die "$method $url: no answer (is $name up?)"; }
  case "$code" in
    200) cat "$tmp"; echo; rm -f "$tmp" ;;
    401) rm -f "$tmp"; die "$method $url: 401, the token was refused" ;;
    404) rm -f "$tmp"; die "$method $url: 404, the admin API is off ($name was started without POWERSOURCE_ADMIN_TOKEN)" ;;
    *) local why; why="$(head -c 300 "$tmp")"; rm -f "$tmp"; die "$method $url: HTTP $code: $why" ;;
  esac
}

# set_fault NAME KEY VALUE: the spec in force with KEY set to VALUE (a JSON value), PUT back.
set_fault() {
  local name="$1" key="$2" value="$3" spec out
  spec="$(admin_faults GET "$name")"
  spec="$(python3 -c '
import json, sys
spec = {k: v for k, v in json.loads(sys.argv[1]).items() if v is not None}
spec[sys.argv[2]] = json.loads(sys.argv[3])
print(json.dumps(spec))' "$spec" "$key" "$value")" || die "GET /admin/faults of $name: not a fault spec"
  out="$(admin_faults PUT "$name" "$spec")"
  say "$name: faults in force: $out"
}

# --- expect --------------------------------------------------------------------------------------------

do_expect() {
  local name="$1" fault="$2" pid cc ok
  case "$fault" in
    down)
      if pid="$(pid_of "$name")"; then die "$name runs (pid $pid): not down"; fi
      echo "faults: $name does not run: down is in force"
      ;;
    frozen)
      pid="$(pid_of "$name")" || die "$name does not run: not frozen"
      frozen "$name" || die "$name (pid $pid) is in state $(pid_state "$pid"), not stopped: not frozen"
      read -r cc ok <<<"$(connect_code "$name")"
      [ "$cc" = 28 ] || die "$name is stopped, but GET /health ended with curl code $cc, not a timeout"
      echo "faults: $name (pid $pid) is stopped and answers nothing within 1.5 s: frozen is in force"
      ;;
    unreachable | hanging)
      pid="$(pid_of "$name")" || die "$name does not run: $fault needs it running"
      read -r cc ok <<<"$(connect_code "$name")"
      if [ "$fault" = unreachable ]; then
        [ "$cc" = 7 ] || die "a connect to $name did not fail at once (curl code $cc): not unreachable"
        echo "faults: $name runs (pid $pid) and a connect to $(addr_of "$name") is refused: the partition is in force"
      else
        if [ "$cc" != 28 ] || [ "$ok" != 0 ]; then
          die "a connect to $name did not hang (curl code $cc, connected $ok): packets are not dropped"
        fi
        echo "faults: $name runs (pid $pid) and a connect to $(addr_of "$name") hung 1.5 s: the packet drop is in force"
      fi
      ;;
    latency:*)
      local want="${fault#latency:}" out code ms base
      [[ "$want" =~ ^[0-9]+$ ]] || bad_usage "latency:MS needs a number of ms, got '$want'"
      base="http://$(addr_of "$name")"
      # the answer: 200, or the 500 an error rate injects (fail), which comes after the latency
      out="$(curl -s -o /dev/null -D - -w '\n%{http_code} %{time_total}\n' --max-time $((want / 1000 + 10)) "$base/random")" ||
        die "GET $base/random failed (is $name up?)"
      read -r code ms <<<"$(tail -n 1 <<<"$out")"
      ms="$(awk '{printf "%d", $1 * 1000}' <<<"$ms")"
      if [ "$code" != 200 ] && ! grep -qi '^x-powersource-fault: *error' <<<"$out"; then
        die "$name answered GET /random with HTTP $code"
      fi
      [ "$ms" -ge "$want" ] || die "$name answered GET /random in $ms ms, under the $want ms expected: no latency fault in force"
      echo "faults: $name answered GET /random in $ms ms (at least $want ms): the latency is in force"
      ;;
    errors)
      local n=40 urls=() out injected
      for _ in $(seq 1 "$n"); do urls+=(-o /dev/null "http://$(addr_of "$name")/random"); done
      out="$(curl -s -D - --max-time 30 "${urls[@]}")" || true
      injected="$(grep -ci '^x-powersource-fault: *error' <<<"$out" || true)"
      [ "$injected" -gt 0 ] || die "$name answered none of $n requests with an injected 500: no error rate in force"
      echo "faults: $name answered $injected of $n requests with an injected 500: the error rate is in force"
      ;;
    *) bad_usage "unknown fault to expect '$fault': down, frozen, unreachable, hanging, latency:MS or errors" ;;
  esac
}

# --- the verbs ------------------------------------------------------------------------------------------

[ $# -ge 1 ] || { usage >&2; exit 2; }
case "$1" in -h | --help) usage; exit 0 ;; esac
verb="$1"
shift
if [ "$verb" = heal ] && [ "${1:-}" = all ] && [ $# -eq 1 ]; then heal_all; exit 0; fi
[ $# -ge 1 ] || bad_usage "$verb needs a NAME"
name="$1"
shift
args() { # N WHAT ARGS...: exactly N arguments after NAME
  local n="$1" what="$2"
  shift 2
  [ $# -eq "$n" ] || bad_usage "$verb $what"
}
case "$verb" in
  kill | freeze | partition | drop | start | stop | thaw | heal | undrop | clear) args 0 NAME "$@" ;;
  slow) args 1 "NAME MS" "$@" ;;
  fail) args 1 "NAME RATE" "$@" ;;
  expect) args 1 "NAME down|frozen|unreachable|hanging|latency:MS|errors" "$@" ;;
  flap) args 3 "NAME SECONDS DOWN UP" "$@" ;;
  faults) [ $# -le 1 ] || bad_usage "faults NAME [JSON]" ;;
  *) bad_usage "unknown verb '$verb'" ;;
esac
case "$verb" in
  partition | drop) need_root "$verb" ;;
  slow | fail | clear | faults) need_admin "$name" "$verb" ;;
esac
check_name "$name"
case "$verb" in
  kill) do_stop "$name" KILL ;;
  stop) do_stop "$name" TERM ;;
  start) do_start "$name" ;;
  freeze) do_freeze "$name" ;;
  thaw) do_thaw "$name" ;;
  flap) do_flap "$name" "$@" ;;
  partition | drop) net_fault "$verb" "$name" ;;
  heal) net_undo partition "$name" ;;
  undrop) net_undo drop "$name" ;;
  slow)
    [[ "$1" =~ ^[0-9]+$ ]] || bad_usage "slow NAME MS takes whole milliseconds, got '$1'"
    set_fault "$name" latency_ms "$1"
    ;;
  fail)
    [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]] || bad_usage "fail NAME RATE takes a number from 0.0 to 1.0, got '$1'"
    set_fault "$name" error_rate "$1"
    ;;
  clear)
    say "$name: faults cleared: $(admin_faults DELETE "$name")"
    ;;
  faults)
    if [ $# -eq 1 ]; then out="$(admin_faults PUT "$name" "$1")"; else out="$(admin_faults GET "$name")"; fi
    say "$name: faults in force: $out"
    ;;
  expect) do_expect "$name" "$1" ;;
esac
