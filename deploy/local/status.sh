#!/usr/bin/env bash
# Shows the local fleet: each process, its pid, its address and whether it answers 200.
# Exit 0 when every powersource and superpower runs and is healthy, 1 otherwise (Prometheus and
# the visitors, Locust's web UI, are shown but optional).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ok=0
row() { # NAME ADDR PATH
  local name="$1" addr="$2" path="$3" pid code state healthy=1
  if pid="$(pid_of "$name")"; then
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://$addr$path" 2>/dev/null)"
    if [ "$code" = 200 ]; then state=healthy healthy=0; else state="running, $path answers ${code:-nothing}"; fi
  else
    pid="-" state=down
  fi
  printf '%-14s %-8s %-16s %s\n' "$name" "$pid" "$addr" "$state"
  return $healthy
}
printf '%-14s %-8s %-16s %s\n' NAME PID ADDRESS STATE
for i in $(seq 1 "$(fleet_size)"); do
  row "powersource-$i" "$(powersource_addr "$i")" /health || ok=1
done
for name in $(superpower_names); do
  row "$name" "$(superpower_addr "$name")" /health || ok=1
done
if [ "$(frontends)" -gt 1 ]; then
  row balancer "$SUPERPOWER_ADDR" /health || ok=1
  if pid_of balancer >/dev/null; then
    for name in $(superpower_names); do
      printf '%-14s %-8s %-16s %s\n' "" "" "" "$name: $(balancer_state "$name" | grep . || echo unknown) in the balancer"
    done
  fi
fi
if command -v prometheus >/dev/null 2>&1; then
  row prometheus "$PROMETHEUS_ADDR" /-/ready || true
fi
if [ -f "$FLEET/visitors.pid" ] || [ "$(sed -n 's/^VISITORS=//p' "$FLEET/fleet.env" 2>/dev/null)" -gt 0 ] 2>/dev/null; then
  row visitors "$VISITORS_ADDR" / || true
fi
exit $ok
