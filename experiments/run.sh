#!/usr/bin/env bash
# Runs chaos experiments against a fleet it brings up, and fails unless each one held — or, with
# --naive, unless each one deviated.
#
#   experiments/run.sh [--engine local|containers] [--naive] [--keep-fleet] [--no-report] [EXPERIMENT.json...]
#
# --engine    where the fleet runs (experiments/engines/ENGINE.sh):
#               local       the native fleet (deploy/local/up.sh), experiments/local/*.json
#               containers  the container fleet (deploy/containers/fleet.sh: the real image, run
#                           as the Kubernetes manifests run it), experiments/containers/*.json
#             Default: the engine of the named experiments' directory (experiments/local/ or
#             experiments/containers/); local when none is named.
# --naive     resilience off: every experiment must deviate (below).
# --keep-fleet  leave the last fleet this run started up (env KEEP_FLEET=1).
# --no-report   no HTML report (env NO_REPORT=1).
# With no EXPERIMENT, every experiment of the engine, in the engine's order (--naive: its naive
# order). Examples:
#   experiments/run.sh experiments/local/lose-half-of-powersources.json
#   experiments/run.sh --engine containers --naive
#
# 1. installs what it needs: the venv with chaostoolkit (var/venv), pandoc for the report, oha
#    when an experiment drives load (experiments/load.sh) and vegeta is not installed, and what
#    the engine needs (local: Prometheus; containers: the engine, the release build for the
#    identity probe, which runs on the host, and the image);
# 2. brings up the fleet each group of experiments needs (below), checks superpower's resilience
#    switches through its admin API and that Prometheus scrapes every target;
# 3. runs each experiment with `chaos run`, after experiments/settled.py has waited (at most 90 s)
#    until the experiment's own Prometheus steady-state queries hold (an earlier fleet's or
#    experiment's breaks, such as a naive run's slow answers, still in their window); journal
#    and log in OUT (local: var/experiments/, containers: var/experiments/containers/; --naive:
#    OUT/naive/);
# 4. verifies every journal (experiments/verify_journals.py: completed, not deviated, steady state
#    met before and after, every method step and rollback succeeded, a fault still in force while
#    the steady state was checked after the method; with --naive, the deviation the missing
#    mechanism causes) and prints the figures;
# 5. writes an HTML report (chaos report) to OUT/report.html;
# 6. removes the fleets it started.
#
# The experiments by the fleet they need, run in this order: the powersource experiments, then
# the front-end ones (tagged "frontend": a superpower replica killed under load, a rolling
# restart), each group with a recording of followed users of its own
# (OUT/identity-state{,-frontends}.json).
#
# --naive proves that the experiments can fail. The powersource experiments run on a fleet whose
# superpower has every resilience switch off (ring: round robin; failover: one attempt; fallback:
# none; deadlines: the original's 2 s connect / 5 s read timeouts; hedging: none) and health
# checks only every NAIVE_HEALTH_INTERVAL_MS (the original demo had none, and a 1 s checker
# would take a dead instance out before the probe asks); then ONE mechanism is switched back on
# through the admin API: stable assignment — without it every visit gets a random superpower, so
# the steady state would fail before any fault and the run would prove nothing about the fault.
# The front-end experiments run on another fleet: every switch on, but no shared cookie key
# (--own-cookie-keys: each replica signs the superpower_last cookie with a key of its own), so
# with every powersource gone a user whose cookie the lost (or restarted) replica signed gets a
# 503 from the replica that answers instead. The run succeeds only if every experiment
# *deviates*: steady state met before the method, broken after it with the complaint the missing
# mechanism causes (verify_journals.py EXPECTATIONS).
#
# Traces: with OTEL_EXPORTER_OTLP_ENDPOINT set (an OTLP/HTTP collector: Jaeger's :4318, or
# traces/receiver.py), every run is traced by chaostoolkit's OpenTelemetry control
# (experiments/tracing/settings.yaml): one trace per experiment, rooted at the experiment span,
# its hypothesis, method and activities under it; the identity probe sends each activity's
# context with its requests. The local fleet this script starts exports there too, so the
# requests' superpower and powersource spans join the probe activities; the containers export
# no spans of their own. docs/traces.md shows what to open.
#
# What differs by engine (the fleets, their ports, the faults, the default experiments and their
# settings) is in experiments/engines/local.sh and containers.sh, which say what each does.
# Env: KEEP_FLEET=1, NO_REPORT=1, OTEL_EXPORTER_OTLP_ENDPOINT; the engines' own (LOAD_RATE ...,
# CONTAINER_ENGINE) in their files.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=../scripts/lib.sh
source scripts/lib.sh
# shellcheck source=../scripts/tools.sh
source scripts/tools.sh

usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }
bad_usage() {
  printf '[experiments] %s\n' "$1" >&2
  usage | sed -n '/^  experiments\/run.sh \[/p' >&2
  echo "(experiments/run.sh --help for more)" >&2
  exit 2
}

engine="" naive=0 experiments=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --engine)
      [ $# -ge 2 ] || bad_usage "--engine needs local or containers"
      engine="$2"
      shift
      ;;
    --engine=*) engine="${1#--engine=}" ;;
    --naive) naive=1 ;;
    --keep-fleet) export KEEP_FLEET=1 ;;
    --no-report) export NO_REPORT=1 ;;
    --) shift; experiments+=("$@"); break ;;
    -*) bad_usage "unknown option $1" ;;
    *) experiments+=("$1") ;;
  esac
  shift
done

# engine_of EXPERIMENT: the engine its directory names (experiments/local/ or experiments/containers/)
engine_of() {
  case "$(basename "$(dirname "$(realpath -m "$1")")")" in
    local) echo local ;;
    containers) echo containers ;;
  esac
}
if [ -z "$engine" ]; then
  for e in "${experiments[@]+"${experiments[@]}"}"; do
    of="$(engine_of "$e")"
    [ -n "$of" ] || bad_usage "$e is in neither experiments/local/ nor experiments/containers/: say which --engine runs it"
    [ -z "$engine" ] || [ "$engine" = "$of" ] ||
      bad_usage "$e is a $of experiment and the ones before are $engine experiments: one engine a run"
    engine="$of"
  done
  engine="${engine:-local}"
fi
case "$engine" in
  local | containers) ;;
  *) bad_usage "unknown engine '$engine' (local or containers)" ;;
esac
# shellcheck source=engines/local.sh
source "experiments/engines/$engine.sh"
log_tag '[experiments]'

[ ${#experiments[@]} -gt 0 ] || engine_defaults "$naive"
for e in "${experiments[@]}"; do [ -f "$e" ] || die "no such experiment: $e"; done
say "engine $engine$([ "$naive" = 1 ] && echo ", naive"): ${#experiments[@]} experiment(s)"

# The experiments by the fleet they need: "powersources" (any front end) and, after them,
# "frontends" (tagged "frontend": superpower replicas behind the balancer).
powersource_experiments=()
frontend_experiments=()
for e in "${experiments[@]}"; do
  if python3 -c 'import json, sys; sys.exit("frontend" not in json.load(open(sys.argv[1])).get("tags", []))' "$e"; then
    frontend_experiments+=("$e")
  else
    powersource_experiments+=("$e")
  fi
done
kinds=()
[ ${#powersource_experiments[@]} -gt 0 ] && kinds+=(powersources)
[ ${#frontend_experiments[@]} -gt 0 ] && kinds+=(frontends)

# ensure_load_tool EXPERIMENT...: the load tool of experiments/load.sh (vegeta when installed,
# otherwise oha, which compiles for minutes on a fresh machine), only when one of the experiments
# runs load.sh: a run of the others installs none.
ensure_load_tool() {
  local e
  for e in "$@"; do
    grep -Eq '"path": *"experiments/load.sh"' "$e" || continue
    [ "${LOAD_TOOL:-auto}" != oha ] && command -v vegeta >/dev/null 2>&1 && return 0
    ensure_oha
    return
  done
}

ensure_venv
ensure_load_tool "${experiments[@]}"
[ "${NO_REPORT:-0}" = 1 ] || ensure_apt pandoc # chaos report's HTML
export PATH="$PATH:$HOME/.cargo/bin"
engine_prepare

OUT="$ROOT/$ENGINE_OUT"
[ "$naive" = 1 ] && OUT="$OUT/naive"
mkdir -p "$OUT"

engine_begin
cleanup() {
  local code=$?
  engine_teardown || true
  exit "$code"
}
trap cleanup EXIT

# --- the fleets -----------------------------------------------------------------------------------
switches() { # [PATCH]: GET, or PUT the patch; prints the switches
  local args=(-s --max-time 5 -H "Authorization: Bearer $SUPERPOWER_ADMIN_TOKEN")
  [ $# -eq 1 ] && args+=(-X PUT -H 'Content-Type: application/json' -d "$1")
  curl "${args[@]}" "${SUPERPOWER_URL%/}/admin/switches"
}

# fleet KIND: the fleet KIND's experiments run on, up (the engine's fleet_for, which exports
# SUPERPOWER_URL, PROMETHEUS_URL and SUPERPOWER_ADMIN_TOKEN), its switches as the run needs them
# (the naive powersource fleet gets stable assignment back), and ready (the engine's fleet_ready:
# Prometheus scrapes every target).
fleet() {
  local kind="$1" state want
  fleet_for "$kind"
  if [ "$naive/$kind" = 1/powersources ]; then
    state=$(switches '{"stable_assignment": true}')
    want='{"ring":false,"failover":false,"fallback":false,"stable_assignment":true,"deadlines":false,"hedging":false}'
  else
    state=$(switches)
    want='{"ring":true,"failover":true,"fallback":true,"stable_assignment":true,"deadlines":true,"hedging":true}'
  fi
  say "superpower's switches: $state$([ "$naive/$kind" = 1/frontends ] && echo " (naive front end: a cookie key per replica)")"
  python3 -c 'import json, sys
got, want = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.exit(any(got.get(k) != v for k, v in want.items()))' "$state" "$want" 2>/dev/null ||
    die "the switches are not as this run needs ($want)${ENGINE_SWITCHES_HINT:+: $ENGINE_SWITCHES_HINT}"
  fleet_ready "$kind"
}

# --- the experiments --------------------------------------------------------------------------------
chaos_settings=()
if [ -n "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ]; then
  say "tracing every run to $OTEL_EXPORTER_OTLP_ENDPOINT (experiments/tracing/settings.yaml)"
  chaos_settings=(--settings experiments/tracing/settings.yaml)
  export PYTHONPATH="$ROOT/experiments/tracing${PYTHONPATH:+:$PYTHONPATH}"
fi
export LOAD_RESULT="$OUT/load-result.json"

# For each kind, its fleet; then each of its experiments with `chaos run`, its journal and log in
# OUT. Before each one experiments/settled.py waits for Prometheus' windows to hold no earlier
# fleet's breaks (visitors/check.sh switches stable assignment off on purpose; a naive run leaves
# 5 s answers). Each kind has its own recording of followed users (PROBE_STATE; a user's
# superpower_last cookie is signed under that fleet's key): its first steady state records them.
journals=()
for kind in "${kinds[@]}"; do
  fleet "$kind"
  if [ "$kind" = frontends ]; then
    group=("${frontend_experiments[@]}")
    export PROBE_STATE="$OUT/identity-state-frontends.json"
  else
    group=("${powersource_experiments[@]}")
    export PROBE_STATE="$OUT/identity-state.json"
  fi
  rm -f "$PROBE_STATE"
  for e in "${group[@]}"; do
    var/venv/bin/python experiments/settled.py "$e"
    name="$(basename "$e" .json)"
    journal="$OUT/journal-$name.json"
    # a load result a broken steady state left unread (its load check never ran) is not this one's
    rm -f "$journal" "$LOAD_RESULT"
    say "chaos run $e (log: ${OUT#"$ROOT"/}/$name.log)"
    started_at=$SECONDS
    code=0
    var/venv/bin/chaos --no-version-check --no-log-file "${chaos_settings[@]+"${chaos_settings[@]}"}" \
      run --journal-path "$journal" "$e" >"$OUT/$name.log" 2>&1 || code=$?
    say "  exit $code after $((SECONDS - started_at)) s"
    [ -f "$journal" ] || { tail -n 20 "$OUT/$name.log" >&2; die "chaos wrote no journal for $e"; }
    journals+=("$journal")
  done
done
engine_after

# --- verdict ---------------------------------------------------------------------------------------
verdict=0
expect=()
[ "$naive" = 1 ] && expect=(--expect-deviation)
var/venv/bin/python experiments/verify_journals.py --prometheus "$PROMETHEUS_URL" "${expect[@]+"${expect[@]}"}" "${journals[@]}" || verdict=$?

if [ "${NO_REPORT:-0}" != 1 ]; then
  if var/venv/bin/chaos --no-version-check --no-log-file report --export-format=html5 "${journals[@]}" "$OUT/report.html" \
    >"$OUT/report.log" 2>&1; then
    say "report: ${OUT#"$ROOT"/}/report.html"
  else
    say "no HTML report (chaos report failed: ${OUT#"$ROOT"/}/report.log)"
  fi
fi
exit "$verdict"
