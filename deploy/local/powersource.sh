#!/usr/bin/env bash
# Stops, kills or starts one powersource of the local fleet — what the chaos experiments use.
#
#   deploy/local/powersource.sh stop INDEX    SIGTERM: graceful, in-flight requests drain
#                                             (SIGKILL after FLEET_STOP_TIMEOUT s, default 15)
#   deploy/local/powersource.sh kill INDEX    SIGKILL: the process dies at once, mid-request
#   deploy/local/powersource.sh start INDEX   start it again and wait until /health answers 200
#
# INDEX is 1-based: powersource-INDEX on 127.0.0.1:(6060+INDEX). Stopping an instance that is not
# running, or starting one that runs, says so and succeeds (so rollbacks can always run).
# `deploy/local/fault.sh stop|kill|start powersource-INDEX` does the work (and the other faults).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }
[ $# -eq 2 ] || { usage >&2; exit 2; }
cmd="$1" i="$2"
case "$cmd" in stop | kill | start) ;; *) usage >&2; exit 2 ;; esac
[[ "$i" =~ ^[1-9]$ ]] || die "INDEX must be 1 to 9, got '$i'"
n="$(fleet_size)"
[ "$i" -le "$n" ] || die "the fleet has $n powersource(s) (var/fleet/fleet.env): no powersource-$i"
exec "$ROOT/deploy/local/fault.sh" "$cmd" "powersource-$i"
