#!/usr/bin/env bash
# DNS membership, for real: what a Kubernetes headless Service does, rebuilt on one machine.
#
# A test name (powersource.superpower.test) is given three addresses in /etc/hosts, 127.0.0.2,
# 127.0.0.3 and 127.0.0.4, with a powersource listening on each at port 6061 (these addresses
# do not collide with the local fleet on 127.0.0.1). superpower runs with
# `--powersource-dns powersource.superpower.test:6061` on a free port of 127.0.0.1 and must:
#   1. resolve the name to three ring members (superpower_ring_members == 3);
#   2. answer users from all three instances;
#   3. when one powersource is killed, drop it from the ring (ring members 2) while every user
#      still gets a normal answer from the survivors;
#   4. when the killed instance's address leaves DNS (its /etc/hosts line removed, as a pod's
#      A record leaves the headless Service), forget it (superpower_known_instances == 2).
#
# Only the /etc/hosts lines this script adds are removed on exit, and only the processes it
# started are stopped. Needs root (or passwordless sudo) to edit /etc/hosts.
#
# Usage: deploy/kubernetes/dns-membership.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../../scripts/tools.sh
source "$ROOT/scripts/tools.sh"

NAME=powersource.superpower.test
PORT=6061
ADDRS=(127.0.0.2 127.0.0.3 127.0.0.4)
USERS=60
MARK="# superpower-dns-membership-$$"
WORK="$ROOT/var/kubernetes/dns-membership"
BIN="$ROOT/target/release"
PASSED=0
FAILED=0

# shellcheck source=../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
# die counts no failure itself: it exits 1, and cleanup counts a failed run as at least one
log_tag '[dns-membership]' 'FAIL:'
pass() { say "ok: $*"; PASSED=$((PASSED + 1)); }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }; then
    echo "dns-membership.sh: needs root or passwordless sudo to edit /etc/hosts" >&2
    exit 1
  fi
  SUDO="sudo -n"
fi

# /etc/hosts is rewritten in place (not replaced): in containers it is often a bind mount.
hosts_add() { printf '%s %s %s\n' "$1" "$NAME" "$MARK" | $SUDO tee -a /etc/hosts >/dev/null; }
hosts_remove() { # [ADDR]: the lines this run added (only ADDR's, if given)
  local kept
  if [ $# -gt 0 ]; then
    kept="$(grep -v -x -F -- "$1 $NAME $MARK" /etc/hosts || true)"
  else
    kept="$(grep -v -F -- "$MARK" /etc/hosts || true)"
  fi
  printf '%s\n' "$kept" | $SUDO tee /etc/hosts >/dev/null
}

PIDS=()
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  { for pid in "${PIDS[@]}"; do wait "$pid" || true; done; } 2>/dev/null
  hosts_remove
  if [ "$rc" -ne 0 ]; then
    say "logs in ${WORK#"$ROOT"/}/"
    FAILED=$((FAILED > 0 ? FAILED : 1))
  fi
  printf 'dns-membership: %d passed, %d failed\n' "$PASSED" "$FAILED"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the binaries and the stores -------------------------------------------------------------
command -v curl >/dev/null || ensure_apt curl
ensure_release_build
rm -rf "$WORK" && mkdir -p "$WORK"
stores=()
for i in "${!ADDRS[@]}"; do stores+=(--store "$WORK/store-$((i + 1))"); done
"$BIN/loader" ingest "${stores[@]}" > "$WORK/ingest.log" 2>&1 || { cat "$WORK/ingest.log" >&2; die "loader ingest failed"; }

# --- /etc/hosts: one name, three addresses ----------------------------------------------------
if grep -q "[[:space:]]$NAME\([[:space:]]\|$\)" /etc/hosts; then
  die "/etc/hosts already has $NAME (a previous run killed with SIGKILL?); remove those lines"
fi
for a in "${ADDRS[@]}"; do hosts_add "$a"; done
resolved="$(getent ahostsv4 "$NAME" | awk '$2 == "STREAM" {print $1}' | sort -u | tr '\n' ' ')"
[ "$resolved" = "${ADDRS[*]} " ] || die "$NAME resolves to '$resolved', want '${ADDRS[*]}' (is 'multi on' set in /etc/host.conf?)"
pass "$NAME resolves to ${ADDRS[*]}"

# --- the processes ----------------------------------------------------------------------------
wait_http() { # URL SECONDS
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

for i in "${!ADDRS[@]}"; do
  a="${ADDRS[$i]}"
  if curl -s -o /dev/null --max-time 1 "http://$a:$PORT/"; then die "$a:$PORT is already in use"; fi
  "$BIN/powersource" --listen "$a:$PORT" --store "$WORK/store-$((i + 1))" --name "powersource-dns-$((i + 1))" \
    > "$WORK/powersource-$((i + 1)).log" 2>&1 &
  PIDS+=($!)
done
for a in "${ADDRS[@]}"; do wait_http "http://$a:$PORT/health" 20 || die "powersource on $a:$PORT not healthy within 20 s"; done

# A free port for superpower, chosen by the kernel (never 30280, the fleet's).
SP_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
SP="http://127.0.0.1:$SP_PORT"
SUPERPOWER_DNS_INTERVAL_MS=1000 "$BIN/superpower" --listen "127.0.0.1:$SP_PORT" --powersource-dns "$NAME:$PORT" \
  > "$WORK/superpower.log" 2>&1 &
SP_PID=$!
PIDS+=("$SP_PID")
wait_http "$SP/health" 20 || die "superpower not healthy within 20 s"

gauge() { # METRIC: its value on superpower's /metrics (unlabelled gauge), or empty
  curl -fsS --max-time 2 "$SP/metrics" | awk -v m="$1" '$1 == m {print $2 + 0}'
}
wait_gauge() { # METRIC VALUE SECONDS
  local deadline=$((SECONDS + $3)) v=""
  while :; do
    v="$(gauge "$1")"
    [ "$v" = "$2" ] && return 0
    [ $SECONDS -lt $deadline ] || { say "$1 = '${v}', want $2"; return 1; }
    sleep 0.2
  done
}

# Each request without a cookie is a new user; prints the instance that answered each one.
ask_users() { # N
  local hdr body code
  for _ in $(seq "$1"); do
    hdr="$(mktemp -p "$WORK")"
    body="$(curl -sS --max-time 2 -D "$hdr" -H 'Accept: application/json' -o - -w '\n%{http_code}' "$SP/")" \
      || die "request failed: curl exit $?"
    code="${body##*$'\n'}"
    [ "$code" = 200 ] || die "answer $code: ${body%$'\n'*}"
    grep -qi '^x-superpower-degraded: *true' "$hdr" && die "degraded answer while instances are up"
    tr -d '\r' < "$hdr" | awk -F': *' 'tolower($1) == "x-superpower-instance" {print $2}'
    rm -f "$hdr"
  done
}

wait_gauge superpower_ring_members 3 20 || die "superpower did not find 3 ring members behind $NAME"
pass "superpower_ring_members == 3"

answered="$(ask_users "$USERS" | sort | uniq -c)"
say "answers by instance for $USERS users:"$'\n'"$answered"
[ "$(printf '%s\n' "$answered" | grep -c .)" -eq 3 ] || die "answers did not come from all three instances"
pass "$USERS users answered by all three instances"

# --- lose one instance ------------------------------------------------------------------------
victim="${PIDS[0]}"
# Disowned first, so bash does not print a "Killed" job notice; cleanup still signals it.
disown "$victim"
kill -KILL "$victim"
say "killed powersource-dns-1 (${ADDRS[0]})"
wait_gauge superpower_ring_members 2 15 || die "ring members did not drop to 2 after a kill"
pass "superpower_ring_members == 2 after killing one instance"

answered="$(ask_users "$USERS" | sort | uniq -c)"
say "answers by instance for $USERS new users:"$'\n'"$answered"
[ "$(printf '%s\n' "$answered" | grep -c .)" -eq 2 ] || die "answers should come from exactly the two survivors"
! printf '%s\n' "$answered" | grep -q "powersource-dns-1\|${ADDRS[0]}:" || die "the killed instance still answers"
pass "$USERS new users answered by the two survivors"

# --- the address leaves DNS -------------------------------------------------------------------
hosts_remove "${ADDRS[0]}"
wait_gauge superpower_known_instances 2 15 || die "superpower still knows 3 instances after the name lost one address"
pass "superpower_known_instances == 2 once the address left DNS"
