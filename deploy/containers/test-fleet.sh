#!/usr/bin/env bash
# The container fleet's test: builds the images (image.sh, cached), brings the fleet up the way
# the manifests run it (fleet.sh up), and checks, through the published ports:
#   - every container runs as the manifests say: uid/gid, read-only root, no capabilities,
#     no-new-privileges, a tmpfs /tmp, the memory limit (read back from the engine);
#   - each powersource's store volume was filled by the init container, and the powersource
#     reports its pod name (X-Powersource-Instance: powersource-N);
#   - superpower found all three powersources through the headless-Service alias (its ring);
#   - the page, the JSON, /metrics and the admin API answer on 127.0.0.1:31280;
#   - every readiness and liveness probe answers (fleet.sh status);
#   - Prometheus (the Debian-package image) scrapes all five targets, and the rules loaded;
#   - a killed powersource leaves the ring and comes back after `start` (DNS membership).
# Prints the resident memory of each container (the engine's stats) and the start-up time, and
# writes them to var/containers/fleet-figures.txt. Removes the fleet on exit.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
say() { printf '[containers] %s\n' "$*"; }
die() { printf '[containers] error: %s\n' "$*" >&2; exit 1; }

ensure_engine
"$HERE/image.sh"
"$HERE/fleet.sh" down >/dev/null 2>&1 || true
trap '"$HERE/fleet.sh" down >/dev/null 2>&1 || true' EXIT
t0=$SECONDS
"$HERE/fleet.sh" up
up_s=$((SECONDS - t0))
eval "$("$HERE/fleet.sh" env)"
base="${SUPERPOWER_URL%/}"

for c in spc-powersource-0 spc-powersource-1 spc-powersource-2 spc-superpower; do
  ct inspect "$c" | python3 -c '
import json, sys
d = json.load(sys.stdin)[0]
name, hc = sys.argv[1], d["HostConfig"]
problems = []
if d["Config"]["User"] != "65532:65532": problems.append("user " + d["Config"]["User"])
if hc["ReadonlyRootfs"] is not True: problems.append("a writable root")
if "CAP_NET_RAW" not in hc["CapDrop"] or "CAP_CHOWN" not in hc["CapDrop"]: problems.append("capabilities kept: %s" % hc["CapDrop"])
if "no-new-privileges" not in (hc.get("SecurityOpt") or []): problems.append("privileges may be gained")
if not hc.get("Memory"): problems.append("no memory limit")
tmp = (hc.get("Tmpfs") or {}).get("/tmp", "")
if "size=" not in tmp: problems.append("no sized tmpfs /tmp")
if problems: sys.exit(name + ": " + ", ".join(problems))
print("[containers] %s: user 65532:65532, read-only root, capabilities dropped, no-new-privileges, memory limit %d MiB, tmpfs /tmp (%s)"
      % (name, hc["Memory"] >> 20, next(o for o in tmp.split(",") if o.startswith("size="))))
' "$c"
done

# each powersource answers with its pod name (the StatefulSet's), from its own volume
for i in 0 1 2; do
  ip="$(ct inspect --format '{{ (index .NetworkSettings.Networks "spc-net").IPAddress }}' "spc-powersource-$i")"
  name="$(curl -s -D - -o /dev/null --max-time 3 "http://$ip:6061/random" | tr -d '\r' | sed -n 's/^[Xx]-[Pp]owersource-[Ii]nstance: //p')"
  [ "$name" = "powersource-$i" ] || die "spc-powersource-$i answers as '${name:-nothing}', not powersource-$i"
done
say "each powersource answers /random from its own store as powersource-N"

wait_ring "$base" 3
say "superpower's ring: 3 powersources, found through the alias powersource.superpower.svc.cluster.local"

check_app "$base" "$SUPERPOWER_ADMIN_TOKEN"
say "the page, the JSON, /metrics and the admin API answer on $base"

"$HERE/fleet.sh" status | sed 's/^/  /'
rules="$(curl -s --max-time 3 "$PROMETHEUS_URL/api/v1/rules" | python3 -c 'import json,sys; print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))')"
[ "${rules:-0}" -gt 0 ] || die "Prometheus loaded no rules"
say "Prometheus scrapes all 5 targets and evaluates $rules rules"

# DNS membership: a killed powersource leaves the ring, and is back after start
"$HERE/fleet.sh" kill 2
wait_ring "$base" 2
"$HERE/fleet.sh" start 2
wait_ring "$base" 3
say "a killed powersource left the ring and came back after start (DNS re-resolution)"

# RSS after some traffic: 200 requests through the published port
for _ in $(seq 1 200); do curl -s -o /dev/null --max-time 2 -H 'Accept: application/json' "$base/"; done
{
  echo "fleet up in ${up_s} s (network, 3 ingests, 3 powersources ready, superpower ready, Prometheus scraping)"
  echo "resident memory after 200 requests ($ENGINE stats):"
  "$HERE/fleet.sh" rss | sed 's/^/  /'
} | tee "$CT_VAR/fleet-figures.txt"
say "container fleet: all checks passed"
