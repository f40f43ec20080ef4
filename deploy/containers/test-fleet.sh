#!/usr/bin/env bash
# The container fleet's test: builds the images (image.sh, cached), brings the fleet up the way
# the manifests run it (fleet.sh up), and checks, through the published ports:
#   - every container runs as the manifests say: uid/gid, read-only root, no capabilities,
#     no-new-privileges, a tmpfs /tmp, the memory limit (read back from the engine); the two
#     superpower replicas as pods superpower-0 and superpower-1 (SUPERPOWER_REPLICA_NAME), with
#     one cookie key and the peers' headless Service (SUPERPOWER_PEERS_DNS and its alias); the
#     balancer hardened the same way, as the haproxy image's user;
#   - each powersource's store volume was filled by the init container, and the powersource
#     reports its pod name (X-Powersource-Instance: powersource-N);
#   - each replica found all three powersources through the headless-Service alias (its ring);
#   - the page, the JSON, /metrics and the admin API answer through the balancer on
#     127.0.0.1:31280, which spreads connections round robin over both replicas;
#   - /admin/replicas through the balancer lists both replicas, reachable; a switch changed on
#     one replica (its own port) is on the other within 1 s, both ways;
#   - every readiness and liveness probe answers (fleet.sh status);
#   - Prometheus (the Debian-package image) scrapes all six targets, and the rules loaded;
#   - with every powersource killed, a user who visited through the balancer gets their
#     superpower, degraded, from both replicas (the cookies superpower_id and superpower_last);
#   - a killed powersource leaves the rings and comes back after `start` (DNS membership);
#   - the fault vocabulary's slow/fail/clear, freeze/thaw, stop/start on powersources, each seen
#     by `expect`; a verb refused for a superpower replica exits 3;
#   - `frontend kill 1`: every request through the balancer is still answered; a switch changed
#     meanwhile is on replica 1 as soon as `frontend start 1` returns (it asks its peers before it
#     serves); `frontend stop 0`: replica 0 drains and exits 0 on SIGTERM, and comes back.
# Prints the resident memory of each container (the engine's stats) and the start-up time, and
# writes them to var/containers/fleet-figures.txt. Removes the fleet on exit.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
log_tag '[containers]'

ensure_engine
"$HERE/image.sh"
"$HERE/fleet.sh" down >/dev/null 2>&1 || true
trap '"$HERE/fleet.sh" down >/dev/null 2>&1 || true' EXIT
t0=$SECONDS
"$HERE/fleet.sh" up
up_s=$((SECONDS - t0))
eval "$("$HERE/fleet.sh" env)"
base="${SUPERPOWER_URL%/}"
IFS=, read -r -a replicas <<<"$SUPERPOWER_REPLICA_URLS"
[ "${#replicas[@]}" = 2 ] || die "fleet.sh env names ${#replicas[@]} superpower replicas, not the manifests' 2: $SUPERPOWER_REPLICA_URLS"
replicas=("${replicas[@]%/}")

for c in spc-powersource-0 spc-powersource-1 spc-powersource-2 spc-superpower-0 spc-superpower-1 spc-balancer; do
  ct inspect "$c" | python3 -c '
import json, sys
d = json.load(sys.stdin)[0]
name, hc = sys.argv[1], d["HostConfig"]
user = "haproxy" if name == "spc-balancer" else "65532:65532"
problems = []
if d["Config"]["User"] != user: problems.append("user " + d["Config"]["User"])
if hc["ReadonlyRootfs"] is not True: problems.append("a writable root")
if "CAP_NET_RAW" not in hc["CapDrop"] or "CAP_CHOWN" not in hc["CapDrop"]: problems.append("capabilities kept: %s" % hc["CapDrop"])
if "no-new-privileges" not in (hc.get("SecurityOpt") or []): problems.append("privileges may be gained")
if not hc.get("Memory"): problems.append("no memory limit")
tmp = (hc.get("Tmpfs") or {}).get("/tmp", "")
if "size=" not in tmp: problems.append("no sized tmpfs /tmp")
if problems: sys.exit(name + ": " + ", ".join(problems))
print("[containers] %s: user %s, read-only root, capabilities dropped, no-new-privileges, memory limit %d MiB, tmpfs /tmp (%s)"
      % (name, user, hc["Memory"] >> 20, next(o for o in tmp.split(",") if o.startswith("size="))))
' "$c"
done

# the replicas: pods superpower-N of the Deployment, one cookie key, members of the headless
# Service superpower-peers (its name in SUPERPOWER_PEERS_DNS is an alias of each)
ct inspect spc-superpower-0 spc-superpower-1 | python3 -c '
import json, re, sys
keys = set()
for i, d in enumerate(json.load(sys.stdin)):
    env = dict(e.split("=", 1) for e in d["Config"]["Env"])
    name = "superpower-%d" % i
    peers = env.get("SUPERPOWER_PEERS_DNS", "")
    aliases = d["NetworkSettings"]["Networks"]["spc-net"].get("Aliases") or []
    problems = []
    if env.get("SUPERPOWER_REPLICA_NAME") != name: problems.append("SUPERPOWER_REPLICA_NAME %r" % env.get("SUPERPOWER_REPLICA_NAME"))
    if d["Config"]["Hostname"] != name: problems.append("hostname %r" % d["Config"]["Hostname"])
    if peers != "superpower-peers.superpower.svc.cluster.local:30280": problems.append("SUPERPOWER_PEERS_DNS %r" % peers)
    if peers.rsplit(":", 1)[0] not in aliases or name not in aliases: problems.append("aliases %s" % aliases)
    if not re.fullmatch(r"([0-9a-f]{2}){32,}", env.get("SUPERPOWER_COOKIE_KEY", "")): problems.append("no cookie key of 32 bytes or more")
    if "SUPERPOWER_COOKIE_KEY_PREVIOUS" in env: problems.append("a previous cookie key (the Secret has none)")
    if problems: sys.exit("spc-superpower-%d: %s" % (i, ", ".join(problems)))
    keys.add(env["SUPERPOWER_COOKIE_KEY"])
if len(keys) != 1: sys.exit("the replicas have %d cookie keys, not one" % len(keys))
'
say "the replicas run as pods superpower-0 and superpower-1: one cookie key, members of superpower-peers"

# each powersource answers with its pod name (the StatefulSet's), from its own volume
for i in 0 1 2; do
  ip="$(ct inspect --format '{{ (index .NetworkSettings.Networks "spc-net").IPAddress }}' "spc-powersource-$i")"
  name="$(curl -s -D - -o /dev/null --max-time 3 "http://$ip:6061/random" | tr -d '\r' | sed -n 's/^[Xx]-[Pp]owersource-[Ii]nstance: //p')"
  [ "$name" = "powersource-$i" ] || die "spc-powersource-$i answers as '${name:-nothing}', not powersource-$i"
done
say "each powersource answers /random from its own store as powersource-N"

for r in "${replicas[@]}"; do wait_ring "$r" 3; done
say "each replica's ring: 3 powersources, found through the alias powersource.superpower.svc.cluster.local"

check_app "$base" "$SUPERPOWER_ADMIN_TOKEN"
say "the page, the JSON, /metrics and the admin API answer through the balancer on $base"

# round robin: 10 connections through the balancer, counted by each replica (GET /live, which
# nothing else asks here)
live_count() { curl -s --max-time 2 "$1/metrics" | awk '/^http_server_request_duration_seconds_count\{/ && /route="\/live"/ {n += $2} END {print n + 0}'; }
b0="$(live_count "${replicas[0]}")" b1="$(live_count "${replicas[1]}")"
for _ in $(seq 1 10); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$base/live")" = 200 ] || die "GET $base/live through the balancer failed"
done
d0=$(($(live_count "${replicas[0]}") - b0)) d1=$(($(live_count "${replicas[1]}") - b1))
[ $((d0 + d1)) = 10 ] && [ "$d0" -ge 4 ] && [ "$d1" -ge 4 ] ||
  die "10 connections through the balancer reached superpower-0 $d0 times and superpower-1 $d1 times: not round robin over both"
say "the balancer spreads connections round robin: superpower-0 answered $d0, superpower-1 $d1 of 10"

# replicas_reachable URL: exit 0 when /admin/replicas at URL lists superpower-0 and -1, both reachable
replicas_reachable() {
  curl -s --max-time 2 -H "Authorization: Bearer $SUPERPOWER_ADMIN_TOKEN" "$1/admin/replicas" | python3 -c '
import json, sys
r = json.load(sys.stdin)["replicas"]
sys.exit(0 if sorted(x["name"] for x in r) == ["superpower-0", "superpower-1"] and all(x["reachable"] for x in r) else 1)' 2>/dev/null
}
# wait_replicas URL: waits (at most 20 s: DNS re-resolution, a peer round) until replicas_reachable URL
wait_replicas() {
  local deadline=$((SECONDS + 20))
  until replicas_reachable "$1"; do
    [ "$SECONDS" -lt "$deadline" ] ||
      die "$1/admin/replicas does not list both replicas reachable: $(curl -s --max-time 2 -H "Authorization: Bearer $SUPERPOWER_ADMIN_TOKEN" "$1/admin/replicas")"
    sleep 0.3
  done
}
for u in "$base" "${replicas[@]}"; do wait_replicas "$u"; done
say "/admin/replicas (through the balancer, and on each replica): superpower-0 and superpower-1, both reachable"

# switch_spread FROM TO SWITCH VALUE: sets SWITCH to VALUE on the replica FROM and fails unless the
# replica TO has it within 1 s (polled every 20 ms); prints how long it took
switch_spread() {
  python3 - "$1" "$2" "$3" "$4" "$SUPERPOWER_ADMIN_TOKEN" <<'PY'
import json, sys, time, urllib.request
src, dst, switch, value, token = sys.argv[1:]
value = value == "true"
def call(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + "/admin/switches", data=data, method=method,
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=2) as r:
        return json.load(r)
if call("GET", dst)[switch] is value:
    sys.exit(f"{dst} has {switch}={value} already: the test would prove nothing")
t0 = time.monotonic()
if call("PUT", src, {switch: value})[switch] is not value:
    sys.exit(f"PUT {src}/admin/switches did not set {switch}")
while (got := call("GET", dst))[switch] is not value:
    if time.monotonic() - t0 > 1.0:
        sys.exit(f"{switch}={value} set on {src} is not on {dst} within 1 s: {got}")
    time.sleep(0.02)
print(f"{(time.monotonic() - t0) * 1000:.0f} ms")
PY
}
took_a="$(switch_spread "${replicas[0]}" "${replicas[1]}" hedging false)"
took_b="$(switch_spread "${replicas[1]}" "${replicas[0]}" hedging true)"
say "a switch set on one replica was on the other in $took_a (0 -> 1) and $took_b (1 -> 0)"

"$HERE/fleet.sh" status | sed 's/^/  /'
rules="$(curl -s --max-time 3 "$PROMETHEUS_URL/api/v1/rules" | python3 -c 'import json,sys; print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))')"
[ "${rules:-0}" -gt 0 ] || die "Prometheus loaded no rules"
say "Prometheus scrapes all 6 targets (3 powersources, 2 replicas, itself) and evaluates $rules rules"

# Promise 1 with every powersource gone, on whichever replica answers: a user visits through the
# balancer; with every powersource killed, each replica answers them their superpower, degraded,
# from the cookies of that first answer (superpower_last is signed with the shared key).
visitor="$CT_VAR/visitor.json"
python3 - "$base" "$visitor" <<'PY'
import json, sys, urllib.request
base, out = sys.argv[1:]
with urllib.request.urlopen(urllib.request.Request(base + "/", headers={"Accept": "application/json"}), timeout=3) as r:
    answer = json.load(r)
    # name=value of each Set-Cookie, sent back as a browser would
    cookies = dict(h.split(";", 1)[0].strip().split("=", 1) for h in r.headers.get_all("Set-Cookie") or [])
missing = {"superpower_id", "superpower_last"} - set(cookies)
if missing or answer.get("degraded"):
    sys.exit(f"the first visit set the cookies {sorted(cookies)} (missing {sorted(missing)}), degraded={answer.get('degraded')}")
json.dump({"id": answer["id"], "name": answer["name"], "cookie": "; ".join(f"{k}={cookies[k]}" for k in ("superpower_id", "superpower_last"))}, open(out, "w"))
PY
for i in 0 1 2; do "$HERE/fleet.sh" kill "$i"; done
for r in "${replicas[@]}"; do wait_ring "$r" 0; done
for r in "${replicas[@]}"; do
  python3 - "$r" "$visitor" <<'PY'
import json, sys, urllib.request
url, visitor = sys.argv[1], json.load(open(sys.argv[2]))
req = urllib.request.Request(url + "/", headers={"Accept": "application/json", "Cookie": visitor["cookie"]})
with urllib.request.urlopen(req, timeout=3) as r:
    got = json.load(r)
if got.get("id") != visitor["id"] or got.get("degraded") is not True:
    sys.exit(f"{url} with every powersource down answered {got}, not {visitor['name']} ({visitor['id']}) degraded")
print(f"[containers] {url}: {got['name']} (degraded), with every powersource down")
PY
done
say "with every powersource killed, the visitor got their superpower from both replicas"
for i in 0 1 2; do "$HERE/fleet.sh" start "$i"; done
for r in "${replicas[@]}"; do wait_ring "$r" 3; done
say "the three powersources are back on both rings"

# DNS membership: a killed powersource leaves the rings, and is back after start
"$HERE/fleet.sh" kill 2
for r in "${replicas[@]}"; do wait_ring "$r" 2; done
"$HERE/fleet.sh" start 2
for r in "${replicas[@]}"; do wait_ring "$r" 3; done
say "a killed powersource left the rings and came back after start (DNS re-resolution)"

# The fault vocabulary's verbs that the experiments do not run (experiments/vocabulary.yaml),
# each proved by its expect token and undone: slow and fail through the admin API, freeze, stop
"$HERE/fleet.sh" slow powersource-0 300
"$HERE/fleet.sh" expect powersource-0 latency:300
"$HERE/fleet.sh" clear powersource-0
"$HERE/fleet.sh" expect powersource-0 latency:300 >/dev/null 2>&1 && die "clear left the latency in force"
"$HERE/fleet.sh" fail powersource-0 1.0
"$HERE/fleet.sh" expect powersource-0 errors
"$HERE/fleet.sh" clear powersource-0
"$HERE/fleet.sh" expect powersource-0 errors >/dev/null 2>&1 && die "clear left the error rate in force"
"$HERE/fleet.sh" freeze powersource-1
"$HERE/fleet.sh" expect powersource-1 frozen
"$HERE/fleet.sh" thaw powersource-1
"$HERE/fleet.sh" stop powersource-2
"$HERE/fleet.sh" expect powersource-2 down
"$HERE/fleet.sh" start powersource-2
for r in "${replicas[@]}"; do wait_ring "$r" 3; done
rc=0
"$HERE/fleet.sh" freeze superpower-0 2>/dev/null || rc=$?
[ "$rc" = 3 ] || die "freeze superpower-0 exited $rc, not 3 (unsupported on this engine)"
say "the vocabulary's slow, fail and clear (admin API), freeze and thaw, stop and start act and are seen from outside"

# A replica lost: the balancer keeps answering; the front end's switches follow a restart.
"$HERE/fleet.sh" frontend kill 1
[ "$(ct inspect --format '{{ .State.Status }}' spc-superpower-1)" = exited ] || die "frontend kill 1 returned with spc-superpower-1 not exited"
ok=0
for _ in $(seq 1 20); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Accept: application/json' "$base/")" = 200 ] && ok=$((ok + 1))
done
[ "$ok" = 20 ] || die "with superpower-1 killed, $ok of 20 requests through the balancer were answered"
say "with superpower-1 killed, 20 of 20 requests through the balancer were answered"
curl -sf -o /dev/null --max-time 2 -X PUT -H "Authorization: Bearer $SUPERPOWER_ADMIN_TOKEN" \
  -H 'Content-Type: application/json' -d '{"hedging": false}' "${replicas[0]}/admin/switches" ||
  die "PUT ${replicas[0]}/admin/switches failed"
"$HERE/fleet.sh" frontend start 1
hedging="$(curl -s --max-time 2 -H "Authorization: Bearer $SUPERPOWER_ADMIN_TOKEN" "${replicas[1]}/admin/switches" | python3 -c 'import json,sys; print(json.load(sys.stdin)["hedging"])')"
[ "$hedging" = False ] || die "superpower-1, started again, serves with hedging=$hedging: it did not take the front end's switches"
say "superpower-1, started again, serves the switch set while it was down (it asked its peers first)"
"$HERE/fleet.sh" frontend stop 0
code="$(ct inspect --format '{{ .State.ExitCode }} {{ .State.Status }}' spc-superpower-0)"
[ "$code" = "0 exited" ] || die "superpower-0 after SIGTERM: $code (want exit 0: drained)"
"$HERE/fleet.sh" frontend start 0
for u in "$base" "${replicas[@]}"; do wait_replicas "$u"; done
switch_spread "${replicas[0]}" "${replicas[1]}" hedging true >/dev/null
say "superpower-0 drained and exited 0 on SIGTERM (frontend stop), came back, and both replicas are peers again"

# RSS after some traffic: 200 requests through the balancer
for _ in $(seq 1 200); do curl -s -o /dev/null --max-time 2 -H 'Accept: application/json' "$base/"; done
{
  echo "fleet up in ${up_s} s (network, 3 ingests, 3 powersources ready, 2 superpower replicas ready, the balancer, Prometheus scraping)"
  echo "resident memory after 200 requests through the balancer ($ENGINE stats):"
  "$HERE/fleet.sh" rss | sed 's/^/  /'
} | tee "$CT_VAR/fleet-figures.txt"
say "container fleet: all checks passed"
