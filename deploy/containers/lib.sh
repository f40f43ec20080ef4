#!/usr/bin/env bash
# Shared by the container scripts (standins.sh, image.sh, fleet.sh, ...; deploy/compose/test.sh,
# experiments/engines/containers.sh). Source it.
#
# The container engine is ENGINE (env CONTAINER_ENGINE): podman (the default, and what the suite
# uses here) or docker. ensure_engine installs and configures podman on a fresh Debian machine:
#   - the packages: podman, runc, netavark + aardvark-dns (bridge networks with DNS), iptables
#     (netavark's firewall driver runs it for every container on a network), uidmap,
#     slirp4netns, fuse-overlayfs, nftables (the packet-drop fault);
#   - /etc/containers/containers.conf: `[containers] default_ulimits = []` (the default ulimits
#     fail setrlimit here) and `[engine] runtime = "runc"` (crun fails on this kernel's hybrid
#     cgroups). Written idempotently: other settings of an existing file are kept.
#
# Everything this project creates carries the prefix spc- (containers, networks, volumes) or the
# repository localhost/superpower-standin/ (the local base-image stand-ins); the scripts remove
# only those, by name.

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
ENGINE="${CONTAINER_ENGINE:-podman}"
CT_VAR="$ROOT/var/containers"
STANDIN=localhost/superpower-standin
RUST_STANDIN="$STANDIN/rust:1-bookworm"
RUNTIME_STANDIN="$STANDIN/distroless-cc-debian12:nonroot"
DEBIAN_STANDIN="$STANDIN/debian:bookworm"
PROMETHEUS_IMAGE="$STANDIN/prometheus:debian"
# Locust of scripts/requirements.txt on Debian's python3 (locust/Containerfile), for compose's visitors
LOCUST_STANDIN="$STANDIN/locust:2.47.0"
# HAProxy of Debian 12 (2.6) in the official haproxy:2.6 image's layout (haproxy/Containerfile):
# the balancer in front of the superpower replicas, in the container fleet and compose
HAPROXY_STANDIN="$STANDIN/haproxy:2.6"
IMAGE="${SUPERPOWER_IMAGE:-localhost/superpower:latest}"

# shellcheck source=../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
# "[containers]" whatever the caller's tag (compose/test.sh's is "[compose]"), on stderr
ct_say() { local LOG_TAG='[containers]'; warn "$@"; }
ct_die() { local LOG_TAG='[containers]' LOG_FAIL='error:'; die "$@"; }

# ensure_engine: the engine is installed and usable (podman is installed and configured here;
# docker must already run).
ensure_engine() {
  case "$ENGINE" in
    podman)
      # shellcheck source=../../scripts/tools.sh
      source "$ROOT/scripts/tools.sh"
      ensure_apt podman runc netavark aardvark-dns iptables uidmap slirp4netns fuse-overlayfs nftables mmdebstrap curl jq
      configure_podman
      ;;
    docker)
      command -v docker >/dev/null || ct_die "CONTAINER_ENGINE=docker, but docker is not installed"
      docker info >/dev/null 2>&1 || ct_die "CONTAINER_ENGINE=docker, but the docker daemon does not answer (docker info)"
      ;;
    *) ct_die "CONTAINER_ENGINE must be podman or docker, not '$ENGINE'" ;;
  esac
}

# engine_check IMAGE: a container of IMAGE runs on the engine's default network (`run --rm IMAGE
# true`); when it does not, the error names the engine's own message and what of podman's helpers
# is missing, rather than letting a build fail later on a line about netavark.
engine_check() {
  local out missing=() f
  out="$(ct run --rm "$1" true 2>&1)" && return 0
  if [ "$ENGINE" = podman ]; then
    for f in /usr/lib/podman/netavark /usr/lib/podman/aardvark-dns /usr/bin/conmon; do
      [ -x "$f" ] || missing+=("$f")
    done
    for f in runc iptables nft slirp4netns fuse-overlayfs newuidmap; do
      command -v "$f" >/dev/null 2>&1 || [ -x "/usr/sbin/$f" ] || missing+=("$f")
    done
  fi
  ct_die "'$ENGINE run --rm $1 true' fails: $(tail -n 1 <<<"$out")${missing[*]:+ — missing: ${missing[*]} (deploy/containers/lib.sh: ensure_engine installs them)}"
}

# configure_podman: sets the two settings podman needs here in containers.conf, keeping the rest.
configure_podman() {
  local conf="${CONTAINERS_CONF_FILE:-/etc/containers/containers.conf}" sudo
  sudo="$(root_prefix)" || return 1
  $sudo mkdir -p "$(dirname "$conf")"
  $sudo python3 - "$conf" <<'PY'
import os, re, sys
path = sys.argv[1]
want = {"containers": {"default_ulimits": "[]"}, "engine": {"runtime": '"runc"'}}
lines = open(path).read().splitlines() if os.path.exists(path) else []
section, seen = None, set()
out = []
for line in lines:
    m = re.match(r"\s*\[([^\]]+)\]\s*$", line)
    if m:
        # before leaving a wanted section, add its missing keys
        if section in want:
            out += [f"{k} = {v}" for k, v in want[section].items() if (section, k) not in seen]
            seen |= {(section, k) for k in want[section]}
        section = m.group(1).strip()
        out.append(line)
        continue
    k = re.match(r"\s*([A-Za-z_]+)\s*=", line)
    if section in want and k and k.group(1) in want[section]:
        if (section, k.group(1)) not in seen:
            out.append(f"{k.group(1)} = {want[section][k.group(1)]}")
            seen.add((section, k.group(1)))
        continue
    out.append(line)
if section in want:
    out += [f"{k} = {v}" for k, v in want[section].items() if (section, k) not in seen]
    seen |= {(section, k) for k in want[section]}
for s, kv in want.items():
    missing = [(k, v) for k, v in kv.items() if (s, k) not in seen]
    if missing:
        out += ["", f"[{s}]"] + [f"{k} = {v}" for k, v in missing]
text = "\n".join(out).strip("\n") + "\n"
if not os.path.exists(path) or open(path).read() != text:
    open(path, "w").write(text)
    print(f"[containers] wrote {path}", file=sys.stderr)
PY
}

ct() { "$ENGINE" "$@"; }

# image_label IMAGE KEY: the value of a label of a local image ('' when there is no such image).
image_label() {
  ct image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null | grep -v '^<no value>$' || true
}

# ring_members BASE: superpower's superpower_ring_members at BASE (empty when it does not answer).
ring_members() { curl -s --max-time 2 "$1/metrics" | awk '/^superpower_ring_members / {print int($2)}'; }

# wait_ring BASE N: waits (at most 30 s) until superpower's ring has N members.
wait_ring() {
  local deadline=$((SECONDS + 30))
  until [ "$(ring_members "$1")" = "$2" ]; do
    [ "$SECONDS" -lt "$deadline" ] || ct_die "superpower's ring has '$(ring_members "$1")' members, not $2"
    sleep 0.3
  done
}

# check_app BASE TOKEN: the page, the JSON, /metrics and the admin API answer at BASE (with the
# resilience switches on), and the admin API refuses a request without the token.
check_app() {
  local base="$1" token="$2" page json metrics sw
  page="$(curl -s --max-time 5 "$base/")"
  grep -qi '<html' <<<"$page" || ct_die "GET $base/ is not an HTML page"
  json="$(curl -s --max-time 5 -H 'Accept: application/json' "$base/")"
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert isinstance(d, dict) and d.get("name"), d' "$json" ||
    ct_die "GET $base/ as JSON: $json"
  metrics="$(curl -s --max-time 5 "$base/metrics")"
  grep -q '^http_server_request_duration_seconds_bucket' <<<"$metrics" || ct_die "$base/metrics has no request durations"
  sw="$(curl -s --max-time 5 -H "Authorization: Bearer $token" "$base/admin/switches")"
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d.get("ring") is True and d.get("failover") is True, d' "$sw" ||
    ct_die "the admin API: $sw"
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base/admin/switches")" = 401 ] ||
    ct_die "the admin API answers without the token"
}
