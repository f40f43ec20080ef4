#!/usr/bin/env bash
# The suite's trace checks (step `traces`), for real: an OTLP/HTTP receiver built on the official
# protobuf classes (traces/receiver.py, standing in for Jaeger, which this machine cannot run),
# the real local fleet exporting to it, and a real chaostoolkit run traced by chaostoolkit's
# OpenTelemetry control.
#
#   traces/check.sh
#
# 1. installs what it needs (the venv, Prometheus, the release build);
# 2. starts the receiver on a free port and the local fleet (deploy/local/up.sh) with
#    OTEL_EXPORTER_OTLP_ENDPOINT pointing at it (it refuses to run while another fleet runs);
# 3. traces/check_traces.py services: one trace id across superpower and powersource, W3C
#    traceparent accepted and propagated, the trace id in the access log, and for a request
#    whose owner is frozen (SIGSTOP) or killed, the failed and the answering attempt side by side;
# 4. runs one experiment (slow-powersource) with experiments/run.sh, the tracing controls
#    on because OTEL_EXPORTER_OTLP_ENDPOINT is set, and checks its trace: rooted at the
#    experiment, the probe's requests and the services' spans under its activities;
# 5. the flush on SIGTERM: a superpower of its own with batches held back gets K requests, then
#    SIGTERM: it exits promptly and every span reaches the receiver; with the receiver
#    black-holed it still exits within the flush bound;
# 6. chaos on the observer: the receiver slow, erroring, black-holed (SIGSTOP), then dead — every
#    request still answers, metrics and logs keep working, RSS stays flat;
# 7. brings the fleet down.
# Spans are kept in var/traces/spans.jsonl, logs in var/traces/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=../scripts/tools.sh
source scripts/tools.sh
# shellcheck source=../deploy/local/lib.sh
source deploy/local/lib.sh

# shellcheck source=../scripts/lib.sh
source scripts/lib.sh
log_tag '[traces]'

ensure_venv
ensure_prometheus_installed
ensure_apt curl
ensure_release_build

hold_fleet_lock 600
for name in $(pidfile_names); do
  pid_of "$name" >/dev/null && die "the trace checks need a fleet of their own, and $name runs: deploy/local/down.sh first"
done

OUT="$ROOT/var/traces"
rm -rf "$OUT" && mkdir -p "$OUT"
var/venv/bin/python traces/receiver.py --listen 127.0.0.1:0 --port-file "$OUT/port" \
  --spans "$OUT/spans.jsonl" >"$OUT/receiver.log" 2>&1 9>&- &
receiver_pid=$!
disown "$receiver_pid" # the observer checks kill it: no "Killed" line from bash
cleanup() {
  local code=$?
  kill -CONT "$receiver_pid" 2>/dev/null || true
  kill "$receiver_pid" 2>/dev/null || true
  SKIP_BUILD=1 deploy/local/down.sh >/dev/null 2>&1 || true
  exit "$code"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -s "$OUT/port" ] && break; kill -0 "$receiver_pid" || die "the receiver died: $(cat "$OUT/receiver.log")"; sleep 0.1; done
[ -s "$OUT/port" ] || die "the receiver did not start"
RECEIVER="http://127.0.0.1:$(cat "$OUT/port")"
say "OTLP receiver at $RECEIVER (pid $receiver_pid)"

export OTEL_EXPORTER_OTLP_ENDPOINT="$RECEIVER"
SKIP_BUILD=1 deploy/local/up.sh >"$OUT/up.log" 2>&1 || { tail -n 20 "$OUT/up.log" >&2; die "the fleet did not start"; }
SUPERPOWER="http://$SUPERPOWER_ADDR/"
check=(var/venv/bin/python traces/check_traces.py --receiver "$RECEIVER" --receiver-pid "$receiver_pid"
  --superpower "$SUPERPOWER" --fleet-dir "$FLEET")

verdict=0
say "superpower → powersource, frozen and killed owners"
"${check[@]}" services || verdict=1

say "one experiment, traced (slow-powersource)"
# run.sh takes the fleet lock itself: release ours for it (the fleet is ours: it was started
# above, and run.sh leaves a running fleet up)
exec 9>&-
NO_REPORT=1 LOAD_DURATION=5s experiments/run.sh experiments/local/slow-powersource.json \
  >"$OUT/experiment.log" 2>&1 || { tail -n 30 "$OUT/experiment.log" >&2; verdict=1; }
hold_fleet_lock 600
"${check[@]}" experiment var/experiments/journal-slow-powersource.json || verdict=1

say "flush on SIGTERM: every held-back span exported at exit; bounded with a black-holed collector"
"${check[@]}" --powersource "http://$(powersource_addr 1)" flush || verdict=1

say "chaos on the observer: slow, erroring, black-holed, dead collector"
"${check[@]}" --requests 3000 observer || verdict=1

[ "$verdict" = 0 ] && say "all trace checks passed" || say "trace checks FAILED"
exit "$verdict"
