#!/usr/bin/env bash
# Removes superpower from a local Kubernetes: the whole `superpower` namespace, which holds
# everything deploy.sh created (the powersource stores' PersistentVolumeClaims included), and
# the two cluster-scoped objects outside it (Prometheus's ClusterRole and ClusterRoleBinding
# for the kubelets' metrics, named superpower-prometheus-kubelet).
#
# Usage: deploy/kubernetes/undeploy.sh minikube|microk8s
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$HERE/common.sh"

[ $# -eq 1 ] || { echo "usage: $0 minikube|microk8s" >&2; exit 2; }
use_cluster "$1"
warn "deleting namespace $NAMESPACE"
$KUBECTL delete namespace "$NAMESPACE" --ignore-not-found --wait=true --timeout=180s
$KUBECTL delete clusterrolebinding,clusterrole "$NAMESPACE-prometheus-kubelet" --ignore-not-found
warn "removed"
