#!/usr/bin/env bash
# Stops everything deploy/local/up.sh started: the visitors, the balancer and superpower (every
# replica), every powersource, Prometheus.
# SIGTERM first (each service drains its in-flight requests), SIGKILL after
# FLEET_STOP_TIMEOUT seconds (default 15). Only processes named in var/fleet/*.pid are signalled.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

names=$(pidfile_names)
if [ -z "$names" ]; then
  say "nothing to stop (no pidfiles in var/fleet/)"
  exit 0
fi

# The visitors first (so they do not fail visits against a fleet going down), then the balancer and
# superpower (so it does not log a storm of failed calls), then the rest, in parallel.
stop_one() {
  local name="$1" pid
  if pid="$(pid_of "$name")"; then
    stop_process "$name" TERM && say "stopped $name (pid $pid)"
  else
    rm -f "$FLEET/$name.pid"
    say "$name was not running"
  fi
  return 0
}
for first in visitors balancer $(echo "$names" | grep -x 'superpower\(-[0-9]\)\?'); do
  if echo "$names" | grep -qx "$first"; then stop_one "$first"; fi
done
pids=()
for name in $names; do
  case "$name" in visitors | balancer | superpower | superpower-*) continue ;; esac
  stop_one "$name" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
say "the fleet is down"
