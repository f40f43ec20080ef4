#!/usr/bin/env bash
# Deploys superpower on a local Kubernetes: builds the image into the cluster's container
# runtime, applies the overlay, and waits until every workload is rolled out.
#
# Usage: deploy/kubernetes/deploy.sh minikube|microk8s [--data DIR]
#   --data DIR   a collected dataset folder (characters.json + images/, from `loader collect`)
#                to ingest instead of the built-in sample: it is copied into the PVC
#                `superpower-dataset` and the marvel-dataset component is applied.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=common.sh
source "$HERE/common.sh"

usage() { echo "usage: $0 minikube|microk8s [--data DIR]" >&2; exit 2; }
[ $# -ge 1 ] || usage
CLUSTER="$1"; shift
DATA=""
while [ $# -gt 0 ]; do
  case "$1" in
    --data) [ $# -ge 2 ] || usage; DATA="$(cd "$2" && pwd)"; shift 2 ;;
    *) usage ;;
  esac
done
use_cluster "$CLUSTER"
if [ -n "$DATA" ] && [ ! -f "$DATA/characters.json" ]; then
  die "$DATA has no characters.json: not a dataset folder (loader collect writes one)"
fi

warn "building $IMAGE into $CLUSTER"
case "$CLUSTER" in
  minikube)
    # Builds inside the minikube node, whatever its runtime (docker, containerd, cri-o).
    minikube image build -t "$IMAGE" "$ROOT"
    ;;
  microk8s)
    require docker
    docker build -t "$IMAGE" "$ROOT"
    # microk8s runs containerd: import the image into its k8s.io namespace.
    docker save "$IMAGE" | microk8s ctr image import -
    ;;
esac

target="$HERE/overlays/$CLUSTER"
if [ -n "$DATA" ]; then
  # The overlay plus the marvel-dataset component (kustomize takes folders from anywhere).
  target="$ROOT/var/kubernetes/deploy-$CLUSTER-dataset"
  mkdir -p "$target"
  cat > "$target/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../../deploy/kubernetes/overlays/$CLUSTER]
components: [../../../deploy/kubernetes/components/marvel-dataset]
YAML
  warn "copying $DATA into the PVC superpower-dataset"
  $KUBECTL apply -f "$HERE/base/namespace.yaml"
  $KUBECTL apply -f "$HERE/components/marvel-dataset/dataset-pvc.yaml"
  upload_dataset "$DATA"
fi

ensure_secrets
existed=0
$KUBECTL -n "$NAMESPACE" get statefulset/powersource >/dev/null 2>&1 && existed=1
warn "applying ${target#"$ROOT"/}"
# Server-side apply: the dashboards ConfigMap is too large for the last-applied annotation.
$KUBECTL kustomize "$target" | $KUBECTL apply --server-side --force-conflicts -f -

warn "waiting for the rollout"
# A re-deploy of the same :latest tag changes nothing in the pod templates: restart so the
# pods run the image just built.
if [ "$existed" -eq 1 ]; then
  $KUBECTL -n "$NAMESPACE" rollout restart statefulset/powersource deployment/superpower >/dev/null
fi
for w in statefulset/powersource deployment/superpower deployment/prometheus deployment/grafana deployment/visitors; do
  $KUBECTL -n "$NAMESPACE" rollout status "$w" --timeout=300s
done
warn "deployed. On the nodes: superpower http://NODE:30080  Jaeger's UI http://NODE:30081. Or, on 127.0.0.1: deploy/kubernetes/port-forward.sh $CLUSTER"
warn "  superpower http://127.0.0.1:30280  prometheus http://127.0.0.1:9090  grafana http://127.0.0.1:3000  visitors http://127.0.0.1:8089"
