#!/usr/bin/env bash
# Tests the local fleet scripts for real: up.sh twice, the admin token (token.sh) and
# experiments/faults.sh against a live instance, the fault vocabulary's process engine
# (deploy/local/fault.sh: freeze, partition and drop as root, slow, fail, flap, kill, stop, start,
# each undo and its repeat), powersource.sh stop/kill/start, a partial fleet,
# status.sh, the returning visitors (Locust) up.sh starts and down.sh stops, down.sh, then
# up.sh --naive --no-visitors (every switch off, no visitors) and down.sh again, then the front
# end as two replicas behind the balancer (up.sh --frontends 2: one cookie key, frontend.sh
# kill/stop/start, the balancer's redispatch and rotation) and with a key per replica
# (--own-cookie-keys). Needs the release binaries (SKIP_BUILD=1 uses what is built) and
# the fleet's ports free: it refuses to run while a fleet runs (it would stop it). Holds
# var/fleet.lock like the other suites that use the fleet. Ends with "N passed, N failed".
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
hold_fleet_lock 600

passed=0 failed=0
check() { # DESCRIPTION COMMAND...: passes when COMMAND exits 0
  local what="$1"
  shift
  if "$@" >/dev/null 2>&1; then
    passed=$((passed + 1)); printf 'PASS %s\n' "$what"
  else
    failed=$((failed + 1)); printf 'FAIL %s\n' "$what"
  fi
}
fails() { ! "$@"; }
healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1")" = 200 ]; }
# gone PID: no such process, or a zombie waiting for init to reap it.
gone() {
  [ ! -r "/proc/$1/stat" ] || [ "$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null)" = Z ]
}
pids() { cat "$FLEET"/powersource-*.pid "$FLEET/superpower.pid" "$FLEET/visitors.pid" 2>/dev/null | sort | tr '\n' ' '; }

if name="$(running_process)"; then
  say "a fleet is running ($name): not testing against it (deploy/local/down.sh first)"
  exit 1
fi
# heal all: no nftables rule of ours outlives the test
trap 'deploy/local/fault.sh heal all >/dev/null 2>&1; deploy/local/down.sh >/dev/null 2>&1 || true' EXIT

check "up.sh starts the fleet" deploy/local/up.sh
check "superpower answers on 127.0.0.1:30280" healthy "http://$SUPERPOWER_ADDR/health"
for i in 1 2 3; do check "powersource-$i answers on $(powersource_addr "$i")" healthy "http://$(powersource_addr "$i")/health"; done
check "status.sh says healthy" deploy/local/status.sh
check "up.sh starts the visitors: Locust's web UI answers on $VISITORS_ADDR" healthy "http://$VISITORS_ADDR/"
check "status.sh shows the visitors healthy" grep -Eq '^visitors +[0-9]+ .* healthy$' <(deploy/local/status.sh)
visiting() { # the visitors have made visits, and none failed
  curl -s --max-time 2 "http://$VISITORS_ADDR/stats/requests" | python3 -c '
import json, sys
d = json.load(sys.stdin)
total = next(s for s in d["stats"] if s["name"] == "Aggregated")
sys.exit(not (d["user_count"] == 10 and total["num_requests"] > 0 and total["num_failures"] == 0))'
}
deadline=$((SECONDS + 15))
until visiting || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.5; done
check "10 visitors come back, and no visit failed" visiting

token="$(deploy/local/token.sh 2>/dev/null)"
check "up.sh makes an admin token (token.sh prints it)" test -n "$token"
check "fleet.env, which holds it, is mode 600" test "$(stat -c %a "$FLEET/fleet.env")" = 600
switches() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H "Authorization: Bearer $1" "http://$SUPERPOWER_ADDR/admin/switches"; }
check "superpower's admin API takes the fleet's token" test "$(switches "$token")" = 200
check "superpower's admin API refuses another token" test "$(switches "not-$token")" = 401
check "faults.sh set 1: 300 ms of latency" experiments/faults.sh set 1 '{"latency_ms": 300}'
check "faults.sh expect 1 latency:300 sees it" experiments/faults.sh expect 1 latency:300
check "faults.sh clear 1" experiments/faults.sh clear 1
check "faults.sh expect 1 latency:300 fails once cleared" fails experiments/faults.sh expect 1 latency:300
check "faults.sh expect 1 errors fails without an error rate" fails experiments/faults.sh expect 1 errors
check "faults.sh set 2: a 50 % error rate" experiments/faults.sh set 2 '{"error_rate": 0.5}'
check "faults.sh expect 2 errors sees it" experiments/faults.sh expect 2 errors
check "faults.sh clear 2" experiments/faults.sh clear 2
check "faults.sh refuses a bad fault spec" fails experiments/faults.sh set 2 '{"error_rate": 7}'
check "faults.sh refuses a wrong token" fails env SUPERPOWER_ADMIN_TOKEN="not-$token" experiments/faults.sh get 2
# --- the fault vocabulary, process engine: deploy/local/fault.sh -----------------------------------
fault=deploy/local/fault.sh
lists_verbs() {
  local help v
  help="$($fault --help)"
  for v in kill freeze partition drop flap slow fail expect start stop thaw heal undrop clear; do
    grep -Eq "^ +$v NAME" <<<"$help" || return 1
  done
}
check "fault.sh --help lists every verb of the vocabulary and its undo" lists_verbs
# users_served N: N new users (no cookies) are each answered 200 within 2 s by superpower
users_served() {
  local i
  for i in $(seq 1 "$1"); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H 'Accept: application/json' "http://$SUPERPOWER_ADDR/")" = 200 ] || return 1
  done
}
exit_code() { local rc=0; "$@" >/dev/null 2>&1 || rc=$?; echo "$rc"; }
check "fault.sh freeze powersource-1 (SIGSTOP)" $fault freeze powersource-1
check "expect powersource-1 frozen sees it" $fault expect powersource-1 frozen
check "freezing it again succeeds" $fault freeze powersource-1
check "with powersource-1 frozen, 10 new users are each served within 2 s (failover)" users_served 10
check "fault.sh thaw powersource-1 (SIGCONT): healthy again" $fault thaw powersource-1
check "expect frozen fails once thawed" fails $fault expect powersource-1 frozen
check "thawing it again succeeds" $fault thaw powersource-1
check "fault.sh partition powersource-2 (nftables, as root)" $fault partition powersource-2
check "expect powersource-2 unreachable sees it (connects refused, the process runs)" $fault expect powersource-2 unreachable
check "partitioning it again succeeds" $fault partition powersource-2
check "fault.sh heal powersource-2: healthy again" $fault heal powersource-2
check "expect unreachable fails once healed" fails $fault expect powersource-2 unreachable
check "healing it again succeeds" $fault heal powersource-2
check "fault.sh drop powersource-2 (nftables)" $fault drop powersource-2
check "expect powersource-2 hanging sees it (connects hang)" $fault expect powersource-2 hanging
check "with powersource-2 dropping packets, 10 new users are each served within 2 s" users_served 10
check "fault.sh undrop powersource-2: healthy again" $fault undrop powersource-2
check "expect hanging fails once undropped" fails $fault expect powersource-2 hanging
check "undropping it again succeeds" $fault undrop powersource-2
check "no nftables table of ours is left" fails nft list table inet superpower_faults
# fail before slow: expect errors sends 40 requests one after another
check "fault.sh fail powersource-1 1.0" $fault fail powersource-1 1.0
check "expect powersource-1 errors sees it" $fault expect powersource-1 errors
check "fault.sh slow powersource-1 300" $fault slow powersource-1 300
check "expect powersource-1 latency:300 sees it" $fault expect powersource-1 latency:300
check "slow and fail combine: the error rate is still in force" grep -q '"error_rate":1.0' <($fault faults powersource-1)
check "fault.sh clear powersource-1" $fault clear powersource-1
check "expect latency:300 fails once cleared" fails $fault expect powersource-1 latency:300
check "expect errors fails once cleared" fails $fault expect powersource-1 errors
check "clearing it again succeeds" $fault clear powersource-1
check "slow on superpower is unsupported (exit 3: it has no /admin/faults)" test "$(exit_code $fault slow superpower 100)" = 3
check "fault.sh refuses an unknown verb (exit 2)" test "$(exit_code $fault explode powersource-1)" = 2
check "fault.sh refuses a process the fleet does not have" fails $fault kill powersource-7
t0=$SECONDS
check "fault.sh flap powersource-3 4 1 1 (in the foreground)" $fault flap powersource-3 4 1 1
check "... returns when its cycles are over, within SECONDS + DOWN + a start" test $((SECONDS - t0)) -ge 4 -a $((SECONDS - t0)) -le 20
check "... and leaves powersource-3 down, as the container engine's flap does" $fault expect powersource-3 down
check "start (the flap's undo) brings it back" $fault start powersource-3
check "... healthy" healthy "http://$(powersource_addr 3)/health"
check "fault.sh kill powersource-3 (SIGKILL)" $fault kill powersource-3
check "expect powersource-3 down sees it" $fault expect powersource-3 down
check "killing it again succeeds" $fault kill powersource-3
check "fault.sh start powersource-3 (from its recorded command line)" $fault start powersource-3
check "expect down fails once started" fails $fault expect powersource-3 down
check "starting it again succeeds" $fault start powersource-3
check "fault.sh stop powersource-3 (SIGTERM)" $fault stop powersource-3
check "fault.sh start powersource-3 again" $fault start powersource-3
check "fault.sh heal all succeeds with nothing to heal" $fault heal all

before="$(pids)"
out="$(deploy/local/up.sh 2>&1)"
check "a second up.sh exits 0" test $? -eq 0
check "a second up.sh says the fleet runs" grep -q "already running" <<<"$out"
check "a second up.sh starts nothing" test "$before" = "$(pids)"

check "powersource.sh stop 2 (SIGTERM)" deploy/local/powersource.sh stop 2
check "powersource-2 is down after stop" fails healthy "http://$(powersource_addr 2)/health"
check "its pidfile is gone" test ! -e "$FLEET/powersource-2.pid"
check "status.sh fails with an instance down" fails deploy/local/status.sh
check "up.sh refuses a partial fleet" fails deploy/local/up.sh
check "stopping it again succeeds" deploy/local/powersource.sh stop 2
check "powersource.sh start 2" deploy/local/powersource.sh start 2
check "powersource-2 is healthy after start" healthy "http://$(powersource_addr 2)/health"
pid3="$(pid_of powersource-3)"
check "powersource.sh kill 3 (SIGKILL)" deploy/local/powersource.sh kill 3
check "the SIGKILLed process is gone" gone "$pid3"
check "superpower still answers JSON" curl -sf --max-time 2 -H 'Accept: application/json' "http://$SUPERPOWER_ADDR/"
check "powersource.sh start 3" deploy/local/powersource.sh start 3
check "powersource.sh refuses an index outside the fleet" fails deploy/local/powersource.sh start 4
check "powersource.sh refuses an unknown command" fails deploy/local/powersource.sh explode 1
check "up.sh refuses a bad --powersources" fails deploy/local/up.sh --powersources 12
check "up.sh refuses a bad --visitors" fails deploy/local/up.sh --visitors many

all="$(pids)"
check "down.sh stops everything" deploy/local/down.sh
check "no pidfile is left" test -z "$(pidfile_names)"
all_gone() { local p; for p in $all; do gone "$p" || return 1; done; }
check "every process is gone" all_gone
check "down.sh with nothing running succeeds" deploy/local/down.sh

check "up.sh --naive --no-visitors starts the teaching fleet" deploy/local/up.sh --naive --no-visitors
check "--no-visitors starts no visitors" test ! -e "$FLEET/visitors.pid"
all_off() {
  curl -s --max-time 2 -H "Authorization: Bearer $(deploy/local/token.sh)" "http://$SUPERPOWER_ADDR/admin/switches" |
    python3 -c 'import json, sys; s = json.load(sys.stdin); sys.exit(not (s and not any(s.values())))'
}
check "every resilience switch is off in the naive fleet" all_off
check "down.sh stops the naive fleet" deploy/local/down.sh

# --- the front end as replicas behind the balancer --------------------------------------------------
# last_cookie URL [COOKIES]: the superpower_last cookie superpower at URL sets for a user (nothing
# when it sets none), the user given by COOKIES ("superpower_id=...; superpower_last=...").
last_cookie() {
  local args=(-s -o /dev/null -D - --max-time 2 -H 'Accept: application/json')
  [ -n "${2:-}" ] && args+=(-H "Cookie: $2")
  curl "${args[@]}" "$1" |
    sed -n 's/^[Ss]et-[Cc]ookie: \(superpower_last=[^;]*\).*/\1/p' | tr -d '\r'
}
# a new user's identity and last known superpower, as superpower-1 set them
user_of_replica_1() {
  curl -s -o /dev/null -D - --max-time 2 -H 'Accept: application/json' "http://$(superpower_addr superpower-1)/" |
    sed -n 's/^[Ss]et-[Cc]ookie: \(superpower_[a-z]*=[^;]*\).*/\1/p' | tr -d '\r' | awk 'NR > 1 { printf "; " } { printf "%s", $0 }'
}
# answers_through_balancer N: N requests through the balancer, each on a new connection, all 200
answers_through_balancer() {
  local i
  for i in $(seq 1 "$1"); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H 'Accept: application/json' "http://$SUPERPOWER_ADDR/")" = 200 ] || return 1
  done
}
in_rotation() { [ "$(balancer_state "$1")" = UP ]; }

check "up.sh --frontends 2 starts two replicas behind the balancer" deploy/local/up.sh --frontends 2 --no-visitors
for name in superpower-1 superpower-2; do
  check "$name answers on $(superpower_addr "$name")" healthy "http://$(superpower_addr "$name")/health"
  check "the balancer has $name in rotation" in_rotation "$name"
done
check "the balancer answers on $SUPERPOWER_ADDR" healthy "http://$SUPERPOWER_ADDR/health"
check "status.sh says healthy, the balancer included" grep -Eq '^balancer +[0-9]+ .* healthy$' <(deploy/local/status.sh)
check "fleet.env keeps one cookie key" grep -Eq '^SUPERPOWER_COOKIE_KEY=[0-9a-f]{64}$' "$FLEET/fleet.env"
user="$(user_of_replica_1)"
both_cookies() { grep -q 'superpower_id=' <<<"$1" && grep -q 'superpower_last=' <<<"$1"; }
check "superpower-1 gives a new user both cookies" both_cookies "$user"
check "superpower-2 takes superpower-1's signed cookie (one key: it sets none anew)" \
  test -z "$(last_cookie "http://$(superpower_addr superpower-2)/" "$user")"
pid1="$(pid_of superpower-1)"
check "frontend.sh kill 1 (SIGKILL)" deploy/local/frontend.sh kill 1
check "the killed replica is gone" gone "$pid1"
check "frontend.sh kill 1 returns with superpower-1 out of rotation" fails in_rotation superpower-1
check "frontend.sh start 1 returns with superpower-1 back in rotation" deploy/local/frontend.sh start 1
check "superpower-1 is in rotation" in_rotation superpower-1
kill -KILL "$(pid_of superpower-1)"
check "right after a SIGKILL the balancer has not seen, 20 new connections are all answered (redispatch)" answers_through_balancer 20
check "frontend.sh start 1 again" deploy/local/frontend.sh start 1
check "superpower-1 restarted takes the cookie it signed before (the key is kept)" \
  test -z "$(last_cookie "http://$(superpower_addr superpower-1)/" "$user")"
check "frontend.sh stop 2 (SIGTERM, drained)" deploy/local/frontend.sh stop 2
check "right after the stop, 20 new connections through the balancer are all answered" answers_through_balancer 20
check "status.sh fails with a replica down" fails deploy/local/status.sh
check "frontend.sh stop 2 again succeeds" deploy/local/frontend.sh stop 2
check "frontend.sh start 2" deploy/local/frontend.sh start 2
check "frontend.sh start 2 again succeeds" deploy/local/frontend.sh start 2
check "frontend.sh refuses a replica the fleet does not have" fails deploy/local/frontend.sh start 3
check "frontend.sh refuses an unknown command" fails deploy/local/frontend.sh explode 1
check "down.sh stops the replicas and the balancer" deploy/local/down.sh
check "no pidfile is left after the replicas" test -z "$(pidfile_names)"

check "up.sh --frontends 2 --own-cookie-keys starts the naive front end" deploy/local/up.sh --frontends 2 --own-cookie-keys --no-visitors
check "fleet.env keeps no cookie key" fails grep -q '^SUPERPOWER_COOKIE_KEY=.' "$FLEET/fleet.env"
user="$(user_of_replica_1)"
check "superpower-2 does not take superpower-1's cookie (a key each: it signs its own)" \
  grep -q '^superpower_last=' <<<"$(last_cookie "http://$(superpower_addr superpower-2)/" "$user")"
check "down.sh stops the naive front end" deploy/local/down.sh

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
