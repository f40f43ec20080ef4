#!/usr/bin/env bash
# What traces cost superpower: the same load (oha, GET / as JSON for a returning user) against
# superpower with tracing off, on with sampling 0, and on with sampling 1.0 exporting to a live
# OTLP/HTTP receiver, in one run, rounds interleaved, the median of each kept. Prints throughput
# and p99 of each as a ratio to "off", superpower's own CPU time per request (utime + stime from
# /proc/PID/stat over the measured run ÷ requests) and the receiver's, the spans the receiver
# got, superpower's peak RSS and binary size.
#
# Then the memory flood: superpower with its default settings, sampling 1.0, exporting to a
# collector that accepts and never answers, in front of a hostile powersource (`hostile-powersource`:
# a new character with every answer, a new 1 MiB image for every id, a 40 KB header on every
# answer), while clients hold most of its connections with partial 15 KB request heads and the
# rest ask for new users (a sampled traceparent, the largest tracestate kept), new images and
# 3,000-byte paths (a tracestate dropped for its size). Prints superpower's peak RSS (VmHWM)
# against its 128 MiB budget (docs/CONTRACTS.md, Memory).
#
#   bench/traces.sh [--smoke] [--rounds N] [--seconds S] [--connections C] [--receiver sink|python]
#
# Defaults: 3 rounds of 10 s each, 32 connections, the `sink` receiver; --smoke is 1 round of 2 s.
# The live receiver is `otlp-sink` (the trace-tools crate, traces/tools: hyper, decodes every
# export with opentelemetry-proto, counts the spans, answers an empty
# ExportTraceServiceResponse), cheap as a collector on another machine would be to this one;
# `--receiver python` uses traces/receiver.py (the suite's checking receiver, which keeps every
# span, ~15k spans/s of a core here) instead.
#
# Env: REFERENCE_SUPERPOWER=PATH adds a fourth configuration, another superpower binary (a build
# of main without the tracing code) with no OTEL variable: "off" against it shows whether the
# mere presence of the tracing code costs anything. Results in var/bench/traces/results.md.
# One powersource (untraced in every configuration, so only superpower's cost is measured) on a
# free loopback port; superpower on another; nothing of the local fleet is used.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=../scripts/tools.sh
source scripts/tools.sh

rounds=3 seconds=10 conns=32 receiver_kind=sink
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) rounds=1 seconds=2 ;;
    --rounds) rounds="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --connections) conns="$2"; shift ;;
    --receiver) receiver_kind="$2"; shift ;;
    -h | --help) awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;;
    *) echo "bench/traces.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
ensure_venv
ensure_oha
ensure_release_build
(cd "$ROOT" && cargo build --release --locked -q -p trace-tools) >&2
BIN="$ROOT/target/release"
OUT="$ROOT/var/bench/traces"
rm -rf "$OUT" && mkdir -p "$OUT"
PY="$ROOT/var/venv/bin/python"
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_http() { # URL PID
  local i
  for i in $(seq 300); do
    curl -fs -o /dev/null --max-time 1 "$1" && return 0
    kill -0 "$2" 2>/dev/null || { echo "bench/traces.sh: process $2 died" >&2; return 1; }
    sleep 0.1
  done
  return 1
}

"$BIN/loader" ingest --store "$OUT/store" >"$OUT/loader.log" 2>&1
ps_port=$(free_port)
env -u OTEL_EXPORTER_OTLP_ENDPOINT "$BIN/powersource" --listen "127.0.0.1:$ps_port" --store "$OUT/store" \
  --name powersource-1 >"$OUT/powersource.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$ps_port/health" "$!"

case "$receiver_kind" in
  sink) "$BIN/otlp-sink" --listen 127.0.0.1:0 --port-file "$OUT/receiver.port" >"$OUT/receiver.log" 2>&1 & ;;
  python) "$PY" traces/receiver.py --listen 127.0.0.1:0 --port-file "$OUT/receiver.port" >"$OUT/receiver.log" 2>&1 & ;;
  *) echo "bench/traces.sh: --receiver is sink or python, not $receiver_kind" >&2; exit 2 ;;
esac
receiver_pid=$!
pids+=($receiver_pid)
for _ in $(seq 100); do [ -s "$OUT/receiver.port" ] && break; sleep 0.1; done
receiver="http://127.0.0.1:$(cat "$OUT/receiver.port")"

configs=(off sampling-0 sampling-1)
[ -n "${REFERENCE_SUPERPOWER:-}" ] && configs=(reference "${configs[@]}")
sp_port=$(free_port)
# CPU time (utime + stime, clock ticks) a process has used so far
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
run_one() { # CONFIG ROUND
  local cfg="$1" round="$2" bin="$BIN/superpower" envs=(env -u OTEL_EXPORTER_OTLP_ENDPOINT -u OTEL_TRACES_SAMPLER -u OTEL_TRACES_SAMPLER_ARG)
  case "$cfg" in
    reference) bin="$REFERENCE_SUPERPOWER" ;;
    sampling-0) envs+=(OTEL_EXPORTER_OTLP_ENDPOINT="$receiver" OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0) ;;
    sampling-1) envs+=(OTEL_EXPORTER_OTLP_ENDPOINT="$receiver" OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=1.0) ;;
  esac
  local spans0
  spans0=$(curl -fs "$receiver/stats" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["spans"])')
  "${envs[@]}" "$bin" --listen "127.0.0.1:$sp_port" --powersource "http://127.0.0.1:$ps_port" \
    >"$OUT/superpower-$cfg-$round.log" 2>&1 &
  local sp=$!
  wait_http "http://127.0.0.1:$sp_port/health" "$sp"
  local cookie
  cookie=$(curl -fs -D - -o /dev/null -H 'Accept: application/json' "http://127.0.0.1:$sp_port/" | sed -n 's/^[Ss]et-[Cc]ookie: \(superpower_id=[^;]*\).*/\1/p')
  # warm-up, then the measured run
  oha --no-tui -z 1s -c "$conns" -H 'Accept: application/json' -H "Cookie: $cookie" \
    "http://127.0.0.1:$sp_port/" >/dev/null 2>&1
  local cpu0 rcpu0 cpu1 rcpu1
  cpu0=$(cpu_ticks "$sp") rcpu0=$(cpu_ticks "$receiver_pid")
  oha --no-tui --output-format json -z "${seconds}s" -c "$conns" -H 'Accept: application/json' \
    -H "Cookie: $cookie" "http://127.0.0.1:$sp_port/" >"$OUT/oha-$cfg-$round.json"
  cpu1=$(cpu_ticks "$sp") rcpu1=$(cpu_ticks "$receiver_pid")
  local hwm size
  hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$sp/status")
  kill -TERM "$sp"
  wait "$sp" || true
  sleep 0.5 # the flush on SIGTERM has reached the receiver
  size=$(stat -c %s "$bin")
  local spans1
  spans1=$(curl -fs "$receiver/stats" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["spans"])')
  echo "$cfg $round $hwm $size $((spans1 - spans0)) $((cpu1 - cpu0)) $((rcpu1 - rcpu0))" >>"$OUT/runs.txt"
  echo "[bench/traces] round $round $cfg done" >&2
}
for round in $(seq 1 "$rounds"); do
  for cfg in "${configs[@]}"; do run_one "$cfg" "$round"; done
done

# the memory flood (see the top); its own superpower, powersource and collector
flood() {
  local secs=$((seconds * 2)) hostile_port bh_port port sp hwm held
  hostile_port=$(free_port) bh_port=$(free_port) port=$(free_port)
  "$BIN/hostile-powersource" --listen "127.0.0.1:$hostile_port" >"$OUT/hostile.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$hostile_port/health" "$!"
  # a collector that accepts (the kernel's backlog) and never reads or answers
  "$PY" -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(4096); time.sleep(3600)' "$bh_port" &
  pids+=($!)
  env OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$bh_port" OTEL_TRACES_SAMPLER=parentbased_always_on \
    "$BIN/superpower" --listen "127.0.0.1:$port" --powersource "http://127.0.0.1:$hostile_port" \
    >"$OUT/superpower-flood.log" 2>&1 &
  sp=$!
  pids+=($sp)
  wait_http "http://127.0.0.1:$port/health" "$sp"
  local tp state dropped
  tp="traceparent: $("$PY" -c 'import secrets; print(f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01")')"
  state="tracestate: $("$PY" -c 'print(",".join(f"v{i}=" + "x" * 58 for i in range(8)))')"
  dropped="tracestate: $("$PY" -c 'print(",".join(f"v{i:02d}=" + "x" * 240 for i in range(32)))')"
  # most of the default 1,000 connections held with a partial head
  "$PY" - "$port" 950 "$secs" >"$OUT/flood-held.txt" 2>&1 <<'HOLD' &
import socket, sys, time
port, n, secs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
held = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nx-pad: " + b"a" * 15000)
    held.append(s)
print(len(held), flush=True)
time.sleep(secs + 2)
HOLD
  local holder=$!
  pids+=($holder)
  for _ in $(seq 100); do [ -s "$OUT/flood-held.txt" ] && break; sleep 0.1; done
  oha --no-tui --output-format json -z "${secs}s" -c 16 -H 'Accept: application/json' -H "$tp" -H "$state" \
    "http://127.0.0.1:$port/" >"$OUT/flood-users.json" &
  local users=$!
  oha --no-tui --output-format json -z "${secs}s" -c 8 -H "$tp" -H "$state" \
    --rand-regex-url "http://127.0.0.1:$port/images/[1-9][0-9]{6}" >"$OUT/flood-images.json" &
  local images=$!
  oha --no-tui --output-format json -z "${secs}s" -c 4 -H "$tp" -H "$dropped" \
    --rand-regex-url "http://127.0.0.1:$port/[a-z]{3000}" >"$OUT/flood-paths.json" &
  wait "$users" "$images" "$!"
  hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$sp/status")
  held=$(head -1 "$OUT/flood-held.txt")
  kill -TERM "$sp" "$holder" 2>/dev/null || true
  echo "$hwm $held $secs" >"$OUT/flood.txt"
}
flood
echo "[bench/traces] memory flood done" >&2

"$PY" - "$OUT" "$conns" "$seconds" "$(getconf CLK_TCK)" "$receiver_kind" <<'EOF'
import json, os, statistics, sys, pathlib
out, conns, seconds, tck, receiver = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
rows = {}
for line in (out / "runs.txt").read_text().split("\n"):
    if not line:
        continue
    cfg, rnd, hwm, size, spans, cpu, rcpu = line.split()
    o = json.loads((out / f"oha-{cfg}-{rnd}.json").read_text())
    total = sum(o.get("statusCodeDistribution", {}).values())
    ok = o.get("statusCodeDistribution", {}).get("200", 0)
    r = rows.setdefault(cfg, {"rps": [], "p99": [], "hwm": [], "size": int(size), "spans": [], "requests": [], "cpu_us": [], "rcpu_us": [], "non200": 0})
    r["rps"].append(o["summary"]["requestsPerSec"])
    r["p99"].append(o["latencyPercentiles"]["p99"] * 1000)
    r["hwm"].append(int(hwm))
    r["spans"].append(int(spans))
    r["requests"].append(total)
    r["cpu_us"].append(int(cpu) * 1e6 / tck / max(total, 1))
    r["rcpu_us"].append(int(rcpu) * 1e6 / tck / max(total, 1))
    r["non200"] += total - ok
med = {c: {k: statistics.median(v) if isinstance(v, list) else v for k, v in r.items()} for c, r in rows.items()}
base = med["off"]
lines = [
    f"superpower, GET / (JSON, returning user), oha -c {conns} for {seconds} s, median of {len(rows['off']['rps'])} interleaved rounds; "
    f"live receiver: {receiver}; load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    "",
    "| configuration | req/s | vs off | p99 ms | vs off | superpower CPU µs/req | vs off | receiver CPU µs/req | peak RSS MiB | binary MiB | spans received / requests | non-200 |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
]
for cfg in rows:
    m = med[cfg]
    lines.append(
        f"| {cfg} | {m['rps']:.0f} | {m['rps'] / base['rps']:.3f} | {m['p99']:.2f} | {m['p99'] / base['p99']:.3f} | "
        f"{m['cpu_us']:.1f} | {m['cpu_us'] / base['cpu_us']:.3f} | {m['rcpu_us']:.1f} | "
        f"{m['hwm'] / 1024:.1f} | {m['size'] / 2**20:.1f} | {int(m['spans'])} / {int(m['requests'])} | {m['non200']} |"
    )
s1 = med["sampling-1"]
cost = 1 - s1["rps"] / base["rps"]
lines += ["", f"sampling 1.0 costs {cost * 100:.1f} % of throughput (target: under 15 %): {'MET' if cost < 0.15 else 'MISSED'}; "
          f"superpower's CPU per request +{(s1['cpu_us'] / base['cpu_us'] - 1) * 100:.1f} %"]
hwm, held, secs = (out / "flood.txt").read_text().split()
def flood_counts(name):
    o = json.loads((out / f"flood-{name}.json").read_text())
    return o["summary"]["requestsPerSec"], o.get("statusCodeDistribution", {})
lines += ["", f"memory flood ({secs} s; a hostile powersource, a collector that never answers, {held} connections held "
          "with partial 15 KB heads, new users with a sampled trace and an 8-member tracestate, new images, 3,000-byte paths "
          "with a 32-member tracestate):"]
for name in ("users", "images", "paths"):
    rps, codes = flood_counts(name)
    lines.append(f"- {name}: {rps:.0f} req/s, statuses {dict(sorted(codes.items()))}")
peak = int(hwm) / 1024
lines.append(f"- superpower's peak RSS {peak:.1f} MiB (budget 128 MiB): {'MET' if peak < 128 else 'MISSED'}")
if "reference" in med:
    r = med["reference"]
    lines.append(f"off vs the reference binary: throughput {base['rps'] / r['rps']:.3f}, p99 {base['p99'] / r['p99']:.3f}, binary +{(base['size'] - r['size']) / 2**20:.1f} MiB, peak RSS {(base['hwm'] - r['hwm']) / 1024:+.1f} MiB")
text = "\n".join(lines)
(out / "results.md").write_text(text + "\n")
print(text)
EOF
