#!/usr/bin/env bash
# Drives load at superpower for the experiments that act under load (heavy load, a failing
# powersource, the front-end experiments), and checks that the load ran clean.
#
#   experiments/load.sh run   [--url URL] [--rate R] [--duration D] [--workers W] [--result FILE] [--tool auto|vegeta|oha] [--max-failed N]
#   experiments/load.sh check [--result FILE]
#   experiments/load.sh wait  [--result FILE]
#
# run: GET URL with `Accept: application/json` at R requests/s for D (vegeta when installed,
#   otherwise oha), W workers/connections. Writes a one-object JSON result to FILE and exits
#   non-zero when the load could not start, when more than N requests (default 0) errored or
#   answered non-2xx, or when the client-side p99 reached 1 s. (A replica killed under load
#   cuts the connections it held: lose-a-superpower-replica allows one failed request a
#   connection, --max-failed W.)
# check: the steady-state side (chaostoolkit counts only steady-state probes, not the method).
#   Before the method there is no result yet: it leaves an "armed" marker and succeeds. After
#   the method it succeeds only if the run left a clean result, then clears the file. A marker
#   still armed after the method means the load never ran: that fails too. A marker older than
#   10 minutes is a leftover of an interrupted run and is armed anew.
# wait: for an experiment that runs the load in the background while it acts (kills or restarts
#   a replica): polls until the load run is done (at most 10 minutes) and prints its summary.
#   Fails when the load was not running any more, or not yet, when wait began: then what the
#   experiment did before was not done under load (LOAD_DURATION too short for it). The load's
#   own verdict is left to check.
#
# Defaults come from the environment: SUPERPOWER_URL (http://127.0.0.1:30280/), LOAD_RATE (25),
# LOAD_DURATION (10s), LOAD_WORKERS (8), LOAD_TOOL (auto), and the result file
# var/experiments/load-result.json — the original demo's 25 req/s, 8 workers, 10 s.
# Heavy load: LOAD_RATE=500 (or more).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# usage: the whole header; synopsis: its three command lines (what a wrong call prints)
usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }
synopsis() { usage | grep '^  experiments/load.sh '; echo "(experiments/load.sh --help for more)"; }
[ $# -ge 1 ] || { synopsis >&2; exit 2; }
case "$1" in -h | --help) usage; exit 0 ;; esac
cmd="$1"
shift
URL="${SUPERPOWER_URL:-http://127.0.0.1:30280/}"
RATE="${LOAD_RATE:-25}"
DURATION="${LOAD_DURATION:-10s}"
WORKERS="${LOAD_WORKERS:-8}"
TOOL="${LOAD_TOOL:-auto}"
MAX_FAILED=0
RESULT="$ROOT/var/experiments/load-result.json"
while [ $# -gt 0 ]; do
  case "$1" in -h | --help) usage; exit 0 ;; esac
  [ $# -ge 2 ] || { synopsis >&2; echo "load: $1 needs a value" >&2; exit 2; }
  case "$1" in
    --url) URL="$2" ;;
    --rate) RATE="$2" ;;
    --duration) DURATION="$2" ;;
    --workers) WORKERS="$2" ;;
    --result) RESULT="$2" ;;
    --tool) TOOL="$2" ;;
    --max-failed) MAX_FAILED="$2" ;;
    *) synopsis >&2; echo "load: unknown argument $1" >&2; exit 2 ;;
  esac
  shift 2
done
[[ "$RATE" =~ ^[1-9][0-9]*$ ]] || { echo "load: --rate must be a positive integer, got '$RATE'" >&2; exit 2; }
[[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || { echo "load: --workers must be a positive integer, got '$WORKERS'" >&2; exit 2; }
[[ "$MAX_FAILED" =~ ^(0|[1-9][0-9]*)$ ]] || { echo "load: --max-failed must be a number, got '$MAX_FAILED'" >&2; exit 2; }
[[ "$DURATION" =~ ^[1-9][0-9]*(ms|s|m)$ ]] || { echo "load: --duration must look like 10s, 500ms or 1m, got '$DURATION'" >&2; exit 2; }
mkdir -p "$(dirname "$RESULT")"

now() { date +%s; }
write_result() { # JSON text -> RESULT, atomically
  printf '%s\n' "$1" >"$RESULT.tmp" && mv "$RESULT.tmp" "$RESULT"
}

if [ "$cmd" = check ]; then
  exec python3 - "$RESULT" "$(now)" <<'PY'
import json, os, sys
path, now = sys.argv[1], int(sys.argv[2])
STALE = 600
def arm():
    with open(path + ".tmp", "w") as f:
        json.dump({"state": "armed", "at": now}, f)
    os.replace(path + ".tmp", path)
try:
    with open(path) as f:
        r = json.load(f)
except FileNotFoundError:
    arm()
    print("load check: no load result yet (steady state before the method): armed")
    sys.exit(0)
except (OSError, ValueError) as e:
    os.remove(path)
    print(f"load check: FAILED: unreadable load result {path}: {e}")
    sys.exit(1)
state = r.get("state")
if state == "armed":
    if now - int(r.get("at", 0)) > STALE:
        arm()
        print("load check: a stale marker from an interrupted run was found: armed anew")
        sys.exit(0)
    os.remove(path)
    print("load check: FAILED: no load ran since the steady state was checked before the method "
          "(the load action did not start); if an earlier run was interrupted, run again")
    sys.exit(1)
os.remove(path)
if state == "running":
    print("load check: FAILED: the load run did not finish (killed or still running)")
    sys.exit(1)
if state != "done":
    print(f"load check: FAILED: unexpected load result state {state!r}")
    sys.exit(1)
print(f"load check: {'OK' if r.get('ok') else 'FAILED'}: {r.get('summary', '')}")
sys.exit(0 if r.get("ok") else 1)
PY
fi

if [ "$cmd" = wait ]; then
  exec python3 - "$RESULT" <<'PY'
import json, sys, time
path = sys.argv[1]
def state():
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
r = state()
if r.get("state") != "running":
    what = {"done": "had already finished", "armed": "had not started", None: "was not running"}
    print(f"load wait: FAILED: the load {what.get(r.get('state'), 'was not running')} when the wait began: "
          "what the experiment did before it was not done under load (a longer LOAD_DURATION?)")
    sys.exit(1)
began = time.monotonic()
deadline = began + 600
while r.get("state") == "running" and time.monotonic() < deadline:
    time.sleep(0.2)
    r = state()
if r.get("state") != "done":
    print(f"load wait: FAILED: the load did not finish within 10 minutes (state {r.get('state')!r})")
    sys.exit(1)
verdict = "OK" if r.get("ok") else "FAILED"
print(f"load wait: the load ran {time.monotonic() - began:.1f} s more; {verdict}: {r.get('summary', '')}")
PY
fi

[ "$cmd" = run ] || { synopsis >&2; exit 2; }

if [ "$TOOL" = auto ]; then
  if command -v vegeta >/dev/null 2>&1; then TOOL=vegeta
  elif command -v oha >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/oha" ]; then TOOL=oha
  else TOOL=none; fi
fi
[ -x "$HOME/.cargo/bin/oha" ] && PATH="$PATH:$HOME/.cargo/bin"

started="$(now)"
write_result "{\"state\": \"running\", \"at\": $started}"
fail_start() {
  write_result "{\"state\": \"done\", \"ok\": false, \"summary\": \"the load could not start: $1\"}"
  echo "load: FAILED: the load could not start: $1" >&2
  exit 1
}

raw="$(mktemp)"
trap 'rm -f "$raw" "$raw.targets"' EXIT
echo "load: $TOOL, GET $URL (Accept: application/json), $RATE req/s, $WORKERS workers, $DURATION"
case "$TOOL" in
  vegeta)
    targets="$ROOT/experiments/scenario.txt"
    if [ "$URL" != "http://127.0.0.1:30280/" ]; then
      printf 'GET %s\nAccept: application/json\n' "$URL" >"$raw.targets"
      targets="$raw.targets"
    fi
    vegeta attack -targets="$targets" -rate="$RATE" -duration="$DURATION" -workers="$WORKERS" \
      -max-workers="$WORKERS" -timeout=5s | vegeta report -type=json >"$raw" || fail_start "vegeta failed (exit $?)"
    ;;
  oha)
    oha -z "$DURATION" -q "$RATE" -c "$WORKERS" -w --no-tui --output-format json \
      -H 'Accept: application/json' -t 5s "$URL" >"$raw" || fail_start "oha failed (exit $?)"
    ;;
  none) fail_start "neither vegeta nor oha is installed (cargo install --locked oha)" ;;
  *) fail_start "unknown --tool $TOOL (auto, vegeta or oha)" ;;
esac

python3 - "$TOOL" "$raw" "$RESULT" "$RATE" "$DURATION" "$MAX_FAILED" <<'PY'
import json, os, sys
tool, raw, path, rate, duration, max_failed = sys.argv[1:7]
max_failed = int(max_failed)
try:
    with open(raw) as f:
        r = json.load(f)
except (OSError, ValueError) as e:
    r = None
    err = f"no readable report from {tool}: {e}"
res = {"state": "done", "tool": tool, "rate": int(rate), "duration": duration}
if r is not None:
    if tool == "oha":
        codes = {str(k): int(v) for k, v in (r.get("statusCodeDistribution") or {}).items()}
        errors = {str(k): int(v) for k, v in (r.get("errorDistribution") or {}).items()}
        pct = r.get("latencyPercentiles") or {}
        p99 = pct.get("p99")
        mx = (r.get("summary") or {}).get("slowest")
        achieved = (r.get("summary") or {}).get("requestsPerSec")
    else:  # vegeta report -type=json: latencies in ns; status code "0" counts transport
        # errors, and "errors" lists each distinct error message once
        codes = {str(k): int(v) for k, v in (r.get("status_codes") or {}).items()}
        failed = codes.pop("0", 0)
        errors = {"; ".join(r.get("errors") or []) or "transport error": failed} if failed else {}
        lat = r.get("latencies") or {}
        p99 = lat.get("99th", 0) / 1e9 if "99th" in lat else None
        mx = lat.get("max", 0) / 1e9 if "max" in lat else None
        achieved = r.get("rate")
    total = sum(codes.values()) + sum(errors.values())
    non2xx = sum(v for k, v in codes.items() if not k.startswith("2"))
    nerr = sum(errors.values())
    problems = []
    if total == 0:
        problems.append("no request was made")
    if non2xx + nerr > max_failed:
        if non2xx:
            problems.append(f"{non2xx} non-2xx answers {codes}")
        if nerr:
            problems.append(f"{nerr} errors {errors}")
        if max_failed:
            problems.append(f"more than the {max_failed} failed requests allowed")
    if p99 is None:
        problems.append("no latency figures")
    elif p99 >= 1.0:
        problems.append(f"client-side p99 {p99 * 1000:.1f} ms is not under 1 s")
    res.update({
        "ok": not problems, "requests": total, "non_2xx": non2xx, "errors": nerr,
        "error_kinds": errors, "max_failed": max_failed,
        "status_codes": codes, "achieved_rps": round(achieved or 0, 1),
        "p99_ms": round((p99 or 0) * 1000, 2), "max_ms": round((mx or 0) * 1000, 2),
    })
    figures = (f"{total} requests at {res['achieved_rps']} req/s, {non2xx} non-2xx, {nerr} errors, "
               f"p99 {res['p99_ms']} ms, max {res['max_ms']} ms")
    if (non2xx or nerr) and not problems:
        figures += f" ({non2xx + nerr} failed, {max_failed} allowed: {errors or codes})"
    res["summary"] = figures if not problems else "; ".join(problems) + f" ({figures})"
else:
    res.update({"ok": False, "summary": err})
with open(path + ".tmp", "w") as f:
    json.dump(res, f)
os.replace(path + ".tmp", path)
print(f"load: {'OK' if res['ok'] else 'FAILED'}: {res['summary']}")
print(f"load result: {json.dumps(res)}")  # the figures, for experiments/verify_journals.py
sys.exit(0 if res["ok"] else 1)
PY
