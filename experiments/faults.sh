#!/usr/bin/env bash
# Injects, clears and checks faults in one powersource through its admin API (`/admin/faults`,
# `Authorization: Bearer TOKEN`) — what the slow-powersource and failing-powersource experiments
# use.
#
# The local fleet (deploy/local), instance INDEX (1-based, 127.0.0.1:(6060+INDEX)), through its
# process engine, deploy/local/fault.sh (which also has slow, fail and the other faults):
#   experiments/faults.sh set INDEX JSON          PUT JSON, e.g. '{"latency_ms": 2000}'
#                                                 (fault.sh faults powersource-INDEX JSON)
#   experiments/faults.sh clear INDEX             DELETE: no fault any more
#   experiments/faults.sh get INDEX               the faults in force
#   experiments/faults.sh expect INDEX latency:MS asks the instance itself (GET /random): exit 0
#                                                 only if it took at least MS ms to answer
#   experiments/faults.sh expect INDEX errors     40 requests: exit 0 only if one answered an
#                                                 injected 500
# The token: SUPERPOWER_ADMIN_TOKEN, else the one the fleet keeps in var/fleet/fleet.env.
#
# Every powersource superpower knows, through superpower's own admin API (SUPERPOWER_URL, default
# http://127.0.0.1:30280/: the local fleet, the container fleet's balancer, a Service), for faults
# that must reach the whole fleet wherever it runs (the front-end experiments slow every instance):
#   experiments/faults.sh every set JSON          PUT /admin/instances/NAME/faults for each
#   experiments/faults.sh every clear             DELETE them
# An instance superpower does not see healthy (gone, or not there yet: a restarted container comes
# back at a new address) is left out and named; set fails unless every healthy one took it (and
# one did). clear passes over one that does not answer any more (killed, or restarted elsewhere: a
# new process has no fault), and fails only when one that answers refuses. Behind a balancer the
# listing and each call may reach different replicas: a 404 (that replica does not know the
# instance yet) is asked again for up to 5 s. (The front-end
# experiments also give their faults a duration_ms: they end by themselves.)
# The token: SUPERPOWER_ADMIN_TOKEN, else the local fleet's.
#
# Kubernetes (key/value pairs, so that an experiment can pass them as a JSON object):
#   experiments/faults.sh kubernetes set|clear|get|expect label_selector SEL ns NS \
#       [pod NAME] [faults JSON] [fault latency:MS|errors]
# set, get and expect act on one pod: NAME, or the first running pod SEL selects (by name:
# powersource-0); clear acts on every pod SEL selects. Each call reaches the pod through
# `kubectl port-forward` on a free local port (the image has no shell or curl to exec), and stops
# the forward afterwards. KUBECTL (default kubectl) is the command to use, with --context
# KUBERNETES_CONTEXT when that is set (the Kubernetes experiments require it); the token comes from
# SUPERPOWER_ADMIN_TOKEN, else from the Secret superpower-admin (key token) in NS.
#
# Exit status: 0 done (or the fault observed), 1 failed (message on stderr), 2 bad arguments.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }
# shellcheck source=../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
log_tag 'faults:' '' # die: "faults: MESSAGE", as its other lines
bad_usage() { printf 'faults: %s (experiments/faults.sh --help)\n' "$*" >&2; exit 2; }

TMP="$(mktemp -d)"
PF_PID=""
cleanup() {
  if [ -n "$PF_PID" ]; then kill "$PF_PID" 2>/dev/null || true; wait "$PF_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# admin METHOD BASE [BODY]: one admin call; prints the answer, fails on anything but 200.
admin() {
  local method="$1" base="$2" body="${3:-}" code
  local args=(-s -o "$TMP/answer" -w '%{http_code}' --max-time 5 -X "$method"
    -H "Authorization: Bearer $TOKEN" "$base/admin/faults")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  code="$(curl "${args[@]}" 2>"$TMP/curl.err")" || die "$method $base/admin/faults: $(cat "$TMP/curl.err") (is the instance up?)"
  case "$code" in
    200) cat "$TMP/answer"; echo ;;
    401) die "$method $base/admin/faults: 401, the token was refused" ;;
    404) die "$method $base/admin/faults: 404, the admin API is off (the instance was started without POWERSOURCE_ADMIN_TOKEN)" ;;
    *) die "$method $base/admin/faults: HTTP $code: $(head -c 300 "$TMP/answer")" ;;
  esac
}

# expect BASE NAME FAULT: proves FAULT is in force by asking the instance directly.
expect() {
  local base="$1" name="$2" fault="$3"
  case "$fault" in
    latency:*)
      local want="${fault#latency:}" t ms
      [[ "$want" =~ ^[0-9]+$ ]] || bad_usage "latency:MS needs a number of ms, got '$want'"
      t="$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time $((want / 1000 + 10)) "$base/random")" ||
        die "GET $base/random failed (is $name up?)"
      ms="$(awk '{printf "%d", $2 * 1000}' <<<"$t")"
      [ "${t%% *}" = 200 ] || die "$name answered GET /random with HTTP ${t%% *}"
      if [ "$ms" -ge "$want" ]; then
        echo "faults: $name answered GET /random in $ms ms (at least $want ms): the latency is in force"
      else
        die "$name answered GET /random in $ms ms, under the $want ms expected: no latency fault in force"
      fi
      ;;
    errors)
      local n=40 urls=() i out e500 e200
      for i in $(seq 1 "$n"); do urls+=(-o /dev/null "$base/random"); done
      out="$(curl -s -w '%{http_code}\n' --max-time 30 "${urls[@]}")" || true
      e500="$(grep -c '^500$' <<<"$out" || true)"
      e200="$(grep -c '^200$' <<<"$out" || true)"
      if [ "$e500" -gt 0 ] && [ "$e200" -gt 0 ]; then
        echo "faults: $name answered $e500 of $n requests with 500 (injected) and $e200 with 200: the error rate is in force"
      else
        die "$name answered $e500 of $n requests with 500 and $e200 with 200: no partial error rate in force"
      fi
      ;;
    *) bad_usage "unknown fault to expect '$fault' (latency:MS or errors)" ;;
  esac
}

[ $# -ge 1 ] || bad_usage "no command"
case "$1" in -h | --help) usage; exit 0 ;; esac

# --- Kubernetes --------------------------------------------------------------------------------
if [ "$1" = kubernetes ]; then
  shift
  [ $# -ge 1 ] || bad_usage "kubernetes needs set, clear, get or expect"
  cmd="$1"
  shift
  SEL="" NS="" POD="" SPEC="" FAULT=""
  while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || bad_usage "$1 needs a value"
    case "$1" in
      label_selector) SEL="$2" ;;
      ns) NS="$2" ;;
      pod) POD="$2" ;;
      faults) SPEC="$2" ;;
      fault) FAULT="$2" ;;
      *) bad_usage "unknown key $1" ;;
    esac
    shift 2
  done
  [ -n "$SEL" ] && [ -n "$NS" ] || bad_usage "kubernetes needs label_selector and ns"
  read -r -a KUBECTL_CMD <<<"${KUBECTL:-kubectl}"
  # the experiments name the cluster (KUBERNETES_CONTEXT), never the kubeconfig's current one
  if [ -n "${KUBERNETES_CONTEXT:-}" ]; then KUBECTL_CMD+=(--context "$KUBERNETES_CONTEXT"); fi
  k() { "${KUBECTL_CMD[@]}" -n "$NS" "$@"; }
  pods="$(k get pods -l "$SEL" --field-selector=status.phase=Running \
    -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' 2>"$TMP/k.err" | sort)" ||
    die "cannot list the pods labelled $SEL in namespace $NS: $(tail -n 2 "$TMP/k.err")"
  [ -n "$pods" ] || die "no running pod labelled $SEL in namespace $NS"
  if [ -z "${SUPERPOWER_ADMIN_TOKEN:-}" ]; then
    SUPERPOWER_ADMIN_TOKEN="$(k get secret superpower-admin -o jsonpath='{.data.token}' 2>/dev/null | base64 -d 2>/dev/null || true)"
  fi
  TOKEN="${SUPERPOWER_ADMIN_TOKEN:-}"
  [ -n "$TOKEN" ] || die "no admin token: set SUPERPOWER_ADMIN_TOKEN, or create the Secret superpower-admin in $NS (docs/kubernetes.md)"
  # forward POD: sets BASE to a local URL that reaches POD's port 6061.
  forward() {
    local pod="$1" i port=""
    k port-forward --address 127.0.0.1 "pod/$pod" :6061 >"$TMP/pf.log" 2>&1 &
    PF_PID=$!
    for i in $(seq 1 100); do
      port="$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$TMP/pf.log" | head -n1)"
      [ -n "$port" ] && break
      kill -0 "$PF_PID" 2>/dev/null || die "kubectl port-forward to $pod failed: $(tail -n 2 "$TMP/pf.log")"
      sleep 0.1
    done
    [ -n "$port" ] || die "kubectl port-forward to $pod did not start within 10 s"
    BASE="http://127.0.0.1:$port"
  }
  unforward() { kill "$PF_PID" 2>/dev/null || true; wait "$PF_PID" 2>/dev/null || true; PF_PID=""; }
  one="${POD:-$(head -n1 <<<"$pods")}"
  grep -qx "$one" <<<"$pods" || die "pod $one is not a running pod labelled $SEL in $NS"
  case "$cmd" in
    set)
      [ -n "$SPEC" ] || bad_usage "set needs faults JSON"
      forward "$one"; out="$(admin PUT "$BASE" "$SPEC")"; echo "faults: $one: $out"; unforward ;;
    get) forward "$one"; out="$(admin GET "$BASE")"; echo "faults: $one: $out"; unforward ;;
    expect)
      [ -n "$FAULT" ] || bad_usage "expect needs fault latency:MS or fault errors"
      forward "$one"; expect "$BASE" "$one" "$FAULT"; unforward ;;
    clear)
      for p in $pods; do forward "$p"; out="$(admin DELETE "$BASE")"; echo "faults: $p: $out"; unforward; done ;;
    *) bad_usage "unknown command $cmd" ;;
  esac
  exit 0
fi

# --- every instance, through superpower --------------------------------------------------------
if [ "$1" = every ]; then
  [ $# -ge 2 ] || bad_usage "every needs set JSON or clear"
  cmd="$2"
  URL="${SUPERPOWER_URL:-http://127.0.0.1:30280/}"
  URL="${URL%/}"
  TOKEN="${SUPERPOWER_ADMIN_TOKEN:-}"
  [ -z "$TOKEN" ] && [ -f "$ROOT/var/fleet/fleet.env" ] && TOKEN="$(sed -n 's/^SUPERPOWER_ADMIN_TOKEN=//p' "$ROOT/var/fleet/fleet.env")"
  [ -n "$TOKEN" ] || die "no admin token: set SUPERPOWER_ADMIN_TOKEN (the local fleet keeps it in var/fleet/fleet.env)"
  case "$cmd" in
    set) [ $# -eq 3 ] || bad_usage "every set needs JSON"; method=PUT ;;
    clear) [ $# -eq 2 ] || bad_usage "every clear takes nothing more"; method=DELETE ;;
    *) bad_usage "unknown command every $cmd (set or clear)" ;;
  esac
  code="$(curl -s -o "$TMP/instances" -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $TOKEN" "$URL/admin/instances" 2>"$TMP/curl.err")" ||
    die "GET $URL/admin/instances: $(cat "$TMP/curl.err") (is superpower up?)"
  [ "$code" = 200 ] || die "GET $URL/admin/instances: HTTP $code: $(head -c 300 "$TMP/instances")"
  names="$(python3 -c 'import json, sys
for i in json.load(open(sys.argv[1]))["instances"]:
    print(i["name"], "healthy" if i.get("healthy") else "unhealthy")' "$TMP/instances")" ||
    die "GET $URL/admin/instances: not the instances' JSON"
  while read -r name health; do
    [ "$health" = healthy ] || echo "faults: $name: left out (superpower does not see it healthy)"
  done <<<"$names"
  names="$(awk '$2 == "healthy" { print $1 }' <<<"$names")"
  if [ -z "$names" ]; then
    [ "$cmd" = clear ] || die "superpower at $URL sees no healthy powersource"
    echo "faults: no powersource to clear: superpower sees none healthy (a new process has no fault)"
    exit 0
  fi
  for name in $names; do
    args=(-s -o "$TMP/answer" -w '%{http_code}' --max-time 5 -X "$method" -H "Authorization: Bearer $TOKEN")
    [ "$cmd" = set ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    # 404: the replica that answered does not know the instance yet (the listing came from
    # another one; a restarted container is at a new address until its DNS round, at most 3 s):
    # ask again, the balancer sends the next try elsewhere.
    for _ in $(seq 20); do
      code="$(curl "${args[@]}" "$URL/admin/instances/$name/faults" 2>"$TMP/curl.err")" ||
        die "$method $URL/admin/instances/$name/faults: $(cat "$TMP/curl.err")"
      [ "$code" = 404 ] || break
      sleep 0.25
    done
    case "$code" in
      200 | 204) echo "faults: $name (through superpower): $(head -c 300 "$TMP/answer")"; done_any=1 ;;
      502 | 503 | 504)
        [ "$cmd" = clear ] || die "$method $URL/admin/instances/$name/faults: HTTP $code: $(head -c 300 "$TMP/answer")"
        echo "faults: $name: passed over (it does not answer: HTTP $code from superpower)" ;;
      404)
        [ "$cmd" = clear ] || die "$method $URL/admin/instances/$name/faults: HTTP 404 for 5 s: no superpower replica knows $name"
        echo "faults: $name: passed over (no replica knows it any more: HTTP 404 for 5 s)" ;;
      *) die "$method $URL/admin/instances/$name/faults: HTTP $code: $(head -c 300 "$TMP/answer")" ;;
    esac
  done
  [ "${done_any:-0}" = 1 ] || [ "$cmd" = clear ] || die "no powersource took the $cmd"
  exit 0
fi

# --- the local fleet: deploy/local/fault.sh, the process engine -------------------------------------
[ $# -ge 2 ] || bad_usage "$1 needs an INDEX"
cmd="$1" i="$2"
[[ "$i" =~ ^[1-9]$ ]] || bad_usage "INDEX must be 1 to 9, got '$i'"
engine=("$ROOT/deploy/local/fault.sh")
case "$cmd" in
  set) [ $# -eq 3 ] || bad_usage "set needs INDEX and JSON"; "${engine[@]}" faults "powersource-$i" "$3" ;;
  get) [ $# -eq 2 ] || bad_usage "get takes INDEX"; "${engine[@]}" faults "powersource-$i" ;;
  clear) [ $# -eq 2 ] || bad_usage "clear takes INDEX"; "${engine[@]}" clear "powersource-$i" ;;
  expect)
    [ $# -eq 3 ] || bad_usage "expect needs INDEX and latency:MS or errors"
    "${engine[@]}" expect "powersource-$i" "$3" ;;
  *) bad_usage "unknown command $cmd" ;;
esac
