#!/usr/bin/env bash
# Shows the local fleet: each process, its pid, its address and whether /health answers 200.
# Exit 0 when every process of the fleet runs and is healthy, 1 otherwise.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ok=0
row() {
  local name="$1" url="$2" pid code state
  if pid="$(pid_of "$name")"; then
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" 2>/dev/null)"
    if [ "$code" = 200 ]; then state=healthy; else state="running, health $code"; ok=1; fi
  else
    pid="-" state=down ok=1
  fi
  printf '%-14s %-8s %-24s %s\n' "$name" "$pid" "${url%/*}" "$state"
}
printf '%-14s %-8s %-24s %s\n' NAME PID ADDRESS STATE
for i in $(seq 1 "$(fleet_size)"); do
  row "powersource-$i" "http://$(powersource_addr "$i")/health"
done
row superpower "http://$SUPERPOWER_ADDR/health"
if command -v prometheus >/dev/null 2>&1; then
  saved=$ok
  row prometheus "http://$PROMETHEUS_ADDR/-/ready"
  ok=$saved # Prometheus is optional
fi
exit $ok
