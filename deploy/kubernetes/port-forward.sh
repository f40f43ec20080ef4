#!/usr/bin/env bash
# Makes the cluster's services reachable on this machine as in the original demo:
#   superpower  http://127.0.0.1:30280 (one pod per forward; on the nodes: NodePort 30080, every replica)
#   prometheus  http://127.0.0.1:9090
#   grafana     http://127.0.0.1:3000
#   visitors    http://127.0.0.1:8089  (Locust's web UI: the returning visitors)
#   jaeger      http://127.0.0.1:30141 (its UI; on the nodes: NodePort 30081)
# Runs in the foreground until Ctrl-C, restarting a forward that drops (a forward to a
# Service ends when the pod it picked is deleted, which the chaos experiments do).
#
# Usage: deploy/kubernetes/port-forward.sh minikube|microk8s
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$HERE/common.sh"

[ $# -eq 1 ] || { echo "usage: $0 minikube|microk8s" >&2; exit 2; }
use_cluster "$1"

forward() { # SERVICE LOCAL:REMOTE
  while :; do
    $KUBECTL -n "$NAMESPACE" port-forward --address 127.0.0.1 "svc/$1" "$2" >/dev/null 2>&1 || true
    sleep 1
  done
}

PIDS=()
# Each loop, then the kubectl it runs (by parent pid). (`p` is the trap's own loop variable.)
# shellcheck disable=SC2154
trap 'for p in "${PIDS[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done' EXIT
trap 'exit 0' INT TERM
forward superpower 30280:30280 & PIDS+=($!)
forward prometheus 9090:9090 & PIDS+=($!)
forward grafana 3000:3000 & PIDS+=($!)
forward visitors 8089:8089 & PIDS+=($!)
forward jaeger 30141:16686 & PIDS+=($!)
warn "superpower http://127.0.0.1:30280  prometheus http://127.0.0.1:9090  grafana http://127.0.0.1:3000  visitors http://127.0.0.1:8089  jaeger http://127.0.0.1:30141 (Ctrl-C stops)"
wait
