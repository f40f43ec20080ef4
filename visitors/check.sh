#!/usr/bin/env bash
# The visitors step of scripts/test.sh: Locust's returning visitors (visitors/locustfile.py)
# against the real local fleet, headless, judged by their named failures.
#
#   visitors/check.sh
#
# 0. Bad settings (a pause range of 5 to 1 s) must be refused with exit 2 before any visit.
# 1. Starts the local fleet with deploy/local/up.sh (which also starts its background
#    population of visitors) unless one runs already (then it is used and left running).
# 2. healthy: a headless run (VISITORS_USERS users, VISITORS_SECONDS) must end with exit 0 and
#    no failure at all, and every user must have come back at least once.
# 3. stable assignment off (PUT /admin/switches {"stable_assignment": false}): the same run must
#    exit 1 with failures named "superpower changed" on most return visits, and the background
#    population (Locust's web UI, /stats/requests) must count them too.
# 4. stable assignment on again: a run must be clean again.
# Stable assignment is switched back on whatever happens; a fleet this script started is stopped.
# CSV files and summaries of each run stay in var/visitors/.
#
# Holds var/fleet.lock (deploy/local/lib.sh hold_fleet_lock), like the other suites that use the
# fleet. Env: VISITORS_USERS (default 10), VISITORS_SECONDS (default 20).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../scripts/tools.sh
source "$ROOT/scripts/tools.sh"
# shellcheck source=../deploy/local/lib.sh
source "$ROOT/deploy/local/lib.sh"
cd "$ROOT"

USERS="${VISITORS_USERS:-10}"
RUN_SECONDS="${VISITORS_SECONDS:-20}"
OUT="$ROOT/var/visitors"
SP="http://$SUPERPOWER_ADDR"

# shellcheck source=../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
log_tag '[visitors]' 'FAILED:'

ensure_venv
hold_fleet_lock 600
rm -rf "$OUT" && mkdir -p "$OUT"

# Bad settings are refused before any visit: exit 2, and a message that names them.
code=0
"$VENV/bin/locust" -f visitors/locustfile.py --host http://127.0.0.1:9 --headless -u 1 -r 1 -t 5s \
  --visit-min-s 5 --visit-max-s 1 >"$OUT/bad-settings.log" 2>&1 || code=$?
[ "$code" -eq 2 ] && grep -q -- "--visit-min-s (5.0) <= --visit-max-s (1.0)" "$OUT/bad-settings.log" ||
  die "a pause range of 5 to 1 s was not refused with exit 2 (exit $code, log: $OUT/bad-settings.log)"
say "bad settings (--visit-min-s 5 --visit-max-s 1) refused: exit 2"

started_fleet=0
token=""
switch() { # JSON patch: PUT /admin/switches, prints the new state
  curl -sf --max-time 5 -X PUT -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "$1" "$SP/admin/switches"
}
finish() {
  local code=$?
  [ -n "$token" ] && switch '{"stable_assignment": true}' >/dev/null 2>&1 || true
  if [ "$started_fleet" = 1 ]; then deploy/local/down.sh >/dev/null 2>&1 || true; fi
  exit "$code"
}
trap finish EXIT

if curl -sf -o /dev/null --max-time 2 "$SP/health"; then
  say "a fleet is already running: using it (it stays up afterwards)"
else
  say "starting the local fleet (deploy/local/up.sh)"
  started_fleet=1
  deploy/local/up.sh >"$OUT/up.log" 2>&1 || { tail -n 20 "$OUT/up.log" >&2; die "deploy/local/up.sh failed"; }
fi
token="$(sed -n 's/^SUPERPOWER_ADMIN_TOKEN=//p' "$FLEET/fleet.env" 2>/dev/null)"
[ -n "$token" ] || die "the running fleet has no admin token in var/fleet/fleet.env"
state="$(switch '{"stable_assignment": true}')" || die "cannot set the switches through the admin API"
say "superpower's switches: $state"

# run NAME: a headless Locust run; its exit code, CSV files in $OUT/NAME_*.csv.
run() {
  local name="$1" code=0
  "$VENV/bin/locust" -f visitors/locustfile.py --host "$SP" --headless -u "$USERS" -r "$USERS" \
    -t "${RUN_SECONDS}s" --only-summary --visit-min-s 0.5 --visit-max-s 1.5 \
    --csv "$OUT/$name" >"$OUT/$name.log" 2>&1 || code=$?
  return "$code"
}
# summary NAME: "visits failures {failure name: count}" from a run's CSV files.
summary() {
  python3 - "$OUT/$1" <<'PY'
import csv, json, sys
prefix = sys.argv[1]
stats = {r["Name"]: r for r in csv.DictReader(open(f"{prefix}_stats.csv"))}
agg = stats["Aggregated"]
failures = {}
for r in csv.DictReader(open(f"{prefix}_failures.csv")):
    failures[r["Error"]] = failures.get(r["Error"], 0) + int(r["Occurrences"])
print(agg["Request Count"], agg["Failure Count"], json.dumps(failures, sort_keys=True))
PY
}

# --- 1. a healthy fleet: no failure --------------------------------------------------------------
say "healthy fleet: $USERS returning visitors for ${RUN_SECONDS} s"
code=0; run healthy || code=$?
read -r visits fails failures < <(summary healthy)
say "  exit $code: $visits visits, $fails failed $failures"
[ "$code" -eq 0 ] || { tail -n 30 "$OUT/healthy.log" >&2; die "Locust exited $code on a healthy fleet"; }
[ "$fails" -eq 0 ] || die "$fails failed visits on a healthy fleet: $failures"
[ "$visits" -ge $((USERS * 2)) ] || die "only $visits visits for $USERS users: they did not come back"

# --- 2. stable assignment off: "superpower changed" -----------------------------------------------
bg_changed() { # failures named "superpower changed" the background population has counted so far
  curl -sf --max-time 3 "http://$VISITORS_ADDR/stats/requests" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(e["occurrences"] for e in d["errors"] if e["error"] == "superpower changed"))' 2>/dev/null || echo -
}
bg_before="$(bg_changed)"
switch '{"stable_assignment": false}' >/dev/null || die "cannot turn stable assignment off"
say "stable assignment off: the same run"
code=0; run unstable || code=$?
switch '{"stable_assignment": true}' >/dev/null || die "cannot turn stable assignment on again"
bg_after="$(bg_changed)"
read -r visits fails failures < <(summary unstable)
say "  exit $code: $visits visits, $fails failed $failures"
[ "$code" -eq 1 ] || die "Locust exited $code with stable assignment off (want 1: failed visits)"
changed="$(python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get("superpower changed", 0))' "$failures")"
returns=$((visits - USERS)) # each user's first visit has nothing to compare with
# 250 characters: a random one per visit is the same as the last one 1 time in 250.
[ "$changed" -ge $((returns * 9 / 10)) ] ||
  die "only $changed of $returns return visits failed as \"superpower changed\" with stable assignment off"
say "  \"superpower changed\": $changed of $returns return visits"
if [ "$bg_before" != - ] && [ "$bg_after" != - ]; then
  say "  the background population (Locust web UI) counted $((bg_after - bg_before)) more \"superpower changed\""
  [ "$bg_after" -gt "$bg_before" ] || die "the background visitors counted no \"superpower changed\" while stable assignment was off"
else
  say "  (no background population on http://$VISITORS_ADDR/ to check)"
fi

# --- 3. on again: clean -----------------------------------------------------------------------------
say "stable assignment on again: the same run"
code=0; run restored || code=$?
read -r visits fails failures < <(summary restored)
say "  exit $code: $visits visits, $fails failed $failures"
[ "$code" -eq 0 ] && [ "$fails" -eq 0 ] || die "failed visits after stable assignment came back on: $failures"
say "ok: no failure on a healthy fleet, \"superpower changed\" without stable assignment, none once it is back"
