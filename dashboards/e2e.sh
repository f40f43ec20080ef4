#!/usr/bin/env bash
# End-to-end check of the dashboards against a live fleet and Prometheus: every query of every
# dashboard must return data.
#
#   dashboards/e2e.sh
#
# 1. Starts the local fleet with deploy/local/up.sh --frontends 2 (3 powersources, two superpower
#    replicas behind the balancer, Prometheus: the front end as the manifests run it, so every
#    query must hold with a series per replica), unless one is already running (then it is used,
#    and left running).
# 2. Waits until Prometheus scrapes every target (up == 1), each replica included.
# 3. Drives bounded traffic to superpower on 127.0.0.1:30280 (oha): JSON and HTML answers, new
#    visitors and returning ones (each with the superpower_id and superpower_last cookies its first
#    answer set), and /images/{id}.
# 4. Kills powersource-1 (SIGKILL), waits until Prometheus sees it down and superpower's ring
#    shrinks, drives more traffic, starts it again and waits until the ring is whole.
#    Then asks Prometheus whether promise 1 held: answers to returning users checked, none changed.
# 5. Runs every panel target of every dashboard as an instant query (template variables
#    substituted), every annotation as a range query over the test window, every query variable,
#    and prints a table query → series count. Fails listing the empty ones.
# 6. Stops the fleet if this script started it.
#
# Holds var/fleet.lock (deploy/local/lib.sh hold_fleet_lock) for the whole run, like the other
# suites that use the fleet, waiting up to 600 s for another holder.
#
# Env: E2E_WAIT (seconds each wait may take, default 60). Traffic is bounded: about 2,200 requests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../scripts/tools.sh
source "$ROOT/scripts/tools.sh"
# shellcheck source=tools/node-tools.sh
source "$ROOT/dashboards/tools/node-tools.sh"
# shellcheck source=../deploy/local/lib.sh
source "$ROOT/deploy/local/lib.sh"
cd "$ROOT"

SP="http://127.0.0.1:30280"
PROM="http://127.0.0.1:9090"
WAIT="${E2E_WAIT:-60}"

# shellcheck source=../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
log_tag '[e2e]' 'FAILED:'

ensure_prometheus_installed
command -v jq >/dev/null 2>&1 || ensure_apt jq
command -v curl >/dev/null 2>&1 || ensure_apt curl
ensure_oha
ensure_node_tools

# --- the fleet -----------------------------------------------------------------------------------
# It kills powersource-1: never at the same time as another suite that uses the fleet
# (experiments/run.sh --engine local, deploy/local/test-fleet.sh); they all hold var/fleet.lock.
hold_fleet_lock 600
started_fleet=0
killed=0
finish() {
  local code=$?
  if [ "$killed" = 1 ]; then deploy/local/powersource.sh start 1 >/dev/null 2>&1 || true; fi
  if [ "$started_fleet" = 1 ]; then
    say "stopping the fleet this script started"
    deploy/local/down.sh || true
  fi
  exit "$code"
}
trap finish EXIT

if curl -sf -o /dev/null --max-time 2 "$SP/health"; then
  say "a fleet is already running: using it (it stays up afterwards)"
  deploy/local/up.sh # starts only what is missing, e.g. Prometheus
else
  say "starting the local fleet (deploy/local/up.sh --frontends 2)"
  started_fleet=1
  deploy/local/up.sh --frontends 2
fi
curl -sf -o /dev/null --max-time 2 "$PROM/-/ready" || die "no Prometheus answers on $PROM (deploy/local/up.sh starts it when the prometheus binary is installed)"
n="$(sed -n 's/^POWERSOURCES=//p' var/fleet/fleet.env 2>/dev/null || true)"
n="${n:-3}"
targets=$((n + $(frontends)))

# prom_count EXPR: number of series EXPR returns now (0 when the query fails).
prom_count() {
  curl -sf --max-time 5 "$PROM/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result | length' 2>/dev/null || echo 0
}
# wait_for WHAT EXPR: polls until EXPR returns at least one series, for at most $WAIT seconds.
wait_for() {
  local what="$1" expr="$2" deadline=$((SECONDS + WAIT))
  until [ "$(prom_count "$expr")" -gt 0 ]; do
    [ "$SECONDS" -lt "$deadline" ] || die "waited ${WAIT}s for $what (query: $expr)"
    sleep 0.5
  done
  say "prometheus: $what"
}

start_epoch=$(date +%s)
# only targets scraped in the last 10 s count: Prometheus keeps its data between fleets, and the
# series of an earlier fleet's other targets (the front-end experiments' superpower-1 and -2)
# are still within the query's 5-minute lookback
up='up{job=~"superpower|powersource"}'
wait_for "all $targets targets up" "count(($up == 1) and (time() - timestamp($up) < 10)) == $targets"

# --- traffic -------------------------------------------------------------------------------------
# returning users as a browser keeps them: an identity, and the signed superpower_last cookie their
# first answer set (superpower checks each of their answers against it: promise 1, counted)
cookies=()
for _ in $(seq 1 12); do
  id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  last="$(curl -s --max-time 2 -D - -o /dev/null -H 'Accept: application/json' -H "Cookie: superpower_id=$id" "$SP/" |
    tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: superpower_last=\([^;]*\).*/\1/p')"
  [ -n "$last" ] || die "the first answer to a new user set no superpower_last cookie"
  cookies+=("superpower_id=$id; superpower_last=$last")
done

# oha_run LABEL ARGS...: a bounded oha run; prints requests, status codes and p99.
oha_run() {
  local label="$1"
  shift
  oha --no-tui --output-format json "$@" | jq -r --arg l "$label" \
    '"\($l): \(.statusCodeDistribution | to_entries | map("\(.key)×\(.value)") | join(" ")), p99 \((.latencyPercentiles.p99 // 0) * 1000 | floor) ms"' \
    | sed 's/^/[e2e]   /'
}

drive() {
  say "traffic: $1"
  oha_run "new visitors, JSON" -n 300 -c 8 -H 'Accept: application/json' "$SP/"
  oha_run "new visitors, HTML" -n 60 -c 4 "$SP/"
  local c url
  for c in "${cookies[@]}"; do
    oha_run "returning user" -n 25 -c 2 -H 'Accept: application/json' -H "Cookie: $c" "$SP/" >/dev/null
  done
  say "  returning users: ${#cookies[@]} × 25 requests"
  for c in "${cookies[@]:0:4}"; do
    url="$(curl -sf --max-time 2 -H 'Accept: application/json' -H "Cookie: $c" "$SP/" | jq -r '.image_url // empty')"
    [ -n "$url" ] && oha_run "image $url" -n 20 -c 2 "$SP$url"
  done
  return 0
}

drive "all instances up"

say "killing powersource-1"
killed=1
deploy/local/powersource.sh kill 1
wait_for "powersource-1 down" 'up{job="powersource", instance="powersource-1"} == 0'
wait_for "the ring shrank" 'superpower_ring_members < superpower_known_instances'
drive "powersource-1 down"

say "starting powersource-1 again"
deploy/local/powersource.sh start 1
killed=0
wait_for "powersource-1 back" 'up{job="powersource", instance="powersource-1"} == 1'
wait_for "the ring is whole" 'superpower_ring_members == superpower_known_instances'
drive "all instances back"

# Let one more scrape and rule evaluation land after the traffic.
t=$(date +%s)
wait_for "a scrape after the traffic" "timestamp(up{job=\"superpower\"}) > $t"
wait_for "a rule evaluation after the traffic" "timestamp(superpower:latency_sli:ratio_rate5m) > $t"
wait_for "the identity SLI recorded after the traffic" \
  "timestamp(superpower:identity_sli:ratio_rate5m) > $t and superpower:identity_sli:ratio_rate5m >= 0 and superpower:identity_sli:ratio_rate5m <= 1"
# Promise 1, as superpower counts it: returning users were checked, and not one changed superpower
# although an instance died (the SLI panels must show it kept, not merely show something). Judged
# over this script's own window: Prometheus keeps its data between fleets (var/prometheus), and a
# naive fleet a minute earlier (stable assignment off) changes superpowers on purpose.
window=$(($(date +%s) - start_epoch))
wait_for "promise 1 kept over the last ${window}s: answers to returning users checked, none changed" \
  "sum(increase(superpower_identity_checks_total{job=\"superpower\"}[${window}s])) > 0 and sum(increase(superpower_identity_changes_total{job=\"superpower\"}[${window}s])) == 0"

# --- every query of every dashboard -------------------------------------------------------------
say "querying every dashboard panel, annotation and variable"
node dashboards/tools/e2e-queries.mjs --prometheus "$PROM" --start "$start_epoch" --end "$(date +%s)"
say "every dashboard query returned data"
