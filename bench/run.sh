#!/usr/bin/env bash
# The benchmark suite: end to end (superpower, powersource and bare hyper references), the peers
# (nginx and HAProxy in front of the same powersources), failover,
# lose all, ingest, memory and micro-benchmarks, with the targets judged; or the soak alone.
# See docs/performance.md.
#
#   bench/run.sh [--smoke] [--no-micro] [-- BENCH-ARGS...]
#   bench/run.sh --soak | --soak-seconds N [-- BENCH-ARGS...]
#
# Full run: about 7 minutes on 2 cores (once built). --smoke runs every scenario for a second or
# two (CI): it catches rot, its figures mean little. --no-micro skips the criterion benchmarks.
# --soak runs only the soak for 10 minutes (--soak-seconds N: N seconds, at least 30): returning
# users at 500 req/s while powersources are killed, frozen and restarted on a seeded schedule
# (-- --soak-seed S for another; -- --soak-faults kill,freeze,restart,flap,slow,fail for more of
# the fault vocabulary, injected by deploy/local/fault.sh); it fails unless there were no errors,
# no identity changes, no answer over 1 s and flat RSS. Arguments after -- go to the bench binary, e.g.
# -- --product-env RUST_LOG=info,access=off.
# The bench writes var/bench/results.json (every figure and verdict) and results.schema.json
# beside it (`bench --schema`); bench/render.py then validates the one against the other and
# renders results.md (printed) and, when scaling ran, scaling.svg. Logs in var/bench/logs/ (the
# soak's faults in chaos.log). Exits non-zero when a scenario fails (a missed target is only a
# figure; the soak's verdict is not) or the results do not follow their schema.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=../scripts/tools.sh
source "$ROOT/scripts/tools.sh"

smoke=()
soak=()
micro=1
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=(--smoke) ;;
    --no-micro) micro=0 ;;
    --soak) soak=(--soak) ;;
    --soak-seconds)
      [ $# -ge 2 ] || { echo "bench: --soak-seconds needs a number" >&2; exit 2; }
      soak=(--soak-seconds "$2"); shift ;;
    --) shift; break ;;
    -h|--help) awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;;
    *) echo "bench: unknown argument $1 (--smoke, --no-micro, --soak, --soak-seconds N, -- BENCH-ARGS)" >&2; exit 2 ;;
  esac
  shift
done
if [ ${#soak[@]} -gt 0 ]; then
  # the soak measures neither criterion nor oha
  [ ${#smoke[@]} -eq 0 ] || { echo "bench: --smoke and the soak do not go together" >&2; exit 2; }
  micro=0
else
  ensure_oha
  # the peers superpower is compared with (started by the bench itself, never as services)
  ensure_apt nginx haproxy
fi

# render.py's Python (jsonschema, matplotlib), before minutes of measuring
ensure_venv
ensure_release_build
log "cargo build --release -p bench"
cargo build --release --locked -q -p bench >&2

target="${CARGO_TARGET_DIR:-$ROOT/target}"
criterion=()
if [ "$micro" = 1 ]; then
  crit="$target/criterion"
  # forget earlier estimates, so a benchmark that no longer runs cannot report stale figures
  rm -rf "$crit/ring_candidates" "$crit/ring" "$crit/assign_assign_1500" "$crit/identity_from_headers" \
    "$crit/render_json_answer" "$crit/render_html_character_page" \
    "$crit/promises_remember_untracked" "$crit/promises_remember_tracked" \
    "$crit/promises_sign" "$crit/promises_recall_untracked" "$crit/promises_recall_tracked"
  if [ ${#smoke[@]} -gt 0 ]; then times=(--warm-up-time 0.1 --measurement-time 0.2)
  else times=(--warm-up-time 1 --measurement-time 2); fi
  log "cargo bench --bench micro (superpower, powersource)"
  cargo bench --locked -q -p superpower -p powersource --bench micro -- "${times[@]}" >&2
  criterion=(--criterion-dir "$crit")
fi

mkdir -p var/bench
# nothing of an earlier run gets rendered as this one's
rm -f var/bench/results.json var/bench/results.schema.json var/bench/results.md
status=0
"$target/release/bench" "${smoke[@]}" "${soak[@]}" --out var/bench --bin-dir "$target/release" \
  "${criterion[@]}" --rustc "$(rustc --version)" "$@" || status=$?
[ -f var/bench/results.json ] || { echo "bench: no var/bench/results.json (bench exited $status)" >&2; exit 1; }
"$VENV/bin/python" bench/render.py var/bench/results.json
cat var/bench/results.md
exit "$status"
