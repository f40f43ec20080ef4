#!/usr/bin/env bash
# Stops, kills or starts one superpower replica of a local fleet started with --frontends N > 1
# (the front-end experiments: lose a replica, a rolling restart).
#
#   deploy/local/frontend.sh stop INDEX    SIGTERM: the replica's lame duck (it fails the balancer's
#                                          check while it still serves), then it drains;
#                                          returns once it has exited and the balancer has
#                                          taken it out of rotation
#   deploy/local/frontend.sh kill INDEX    SIGKILL: it dies at once, its connections cut (and
#                                          the same wait)
#   deploy/local/frontend.sh start INDEX   start it again (it takes the front end's switches from
#                                          its peers first), wait until /health answers 200 and
#                                          the balancer has it back in rotation
#
# INDEX is 1-based: superpower-INDEX on 127.0.0.1:(30280+INDEX), behind the balancer on :30280.
# Stopping a replica that is not running, or starting one that runs, says so and succeeds (so
# rollbacks can always run). `deploy/local/fault.sh stop|kill|start superpower-INDEX` does the work
# (and the other faults). A rolling restart is `stop 1; start 1; stop 2; start 2`: each start
# returns once the balancer sends it connections again, so the front end never has fewer than
# N-1 replicas in rotation.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }
[ $# -eq 2 ] || { usage >&2; exit 2; }
cmd="$1" i="$2"
case "$cmd" in stop | kill | start) ;; *) usage >&2; exit 2 ;; esac
[[ "$i" =~ ^[1-9]$ ]] || die "INDEX must be 1 to 9, got '$i'"
n="$(frontends)"
[ "$n" -gt 1 ] || die "the fleet runs one superpower (var/fleet/fleet.env): start it with deploy/local/up.sh --frontends 2"
[ "$i" -le "$n" ] || die "the fleet has $n superpower replicas: no superpower-$i"
exec "$ROOT/deploy/local/fault.sh" "$cmd" "superpower-$i"
