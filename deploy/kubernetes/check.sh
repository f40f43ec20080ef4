#!/usr/bin/env bash
# Checks the Kubernetes deployment without a cluster or a Docker engine. Exits non-zero on the
# first failure.
#
#   1. base/dashboards/ is an exact, current copy of dashboards/ (sync_dashboards.py --check)
#   2. `kubectl kustomize` renders each overlay, and each overlay with the marvel-dataset component
#   3. the rendered manifests pass `kubernetes-validate --strict` (offline JSON schemas of the
#      Kubernetes API) for the oldest and a current supported Kubernetes version
#   4. `promtool check config` of the in-cluster Prometheus config (rules included)
#   5. hadolint on the Dockerfile (and the Prometheus and HAProxy images' Containerfiles); shellcheck on the scripts (installed from Debian's package)
#   6. the invariants test (pytest deploy/kubernetes/test_invariants.py, deploy/test_manifests.py)
#   7. the real DNS-membership test (dns-membership.sh: loopback powersources behind one name
#      in /etc/hosts); skip it with --skip-dns
#
# Usage: deploy/kubernetes/check.sh [--skip-dns]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../../scripts/tools.sh
source "$ROOT/scripts/tools.sh"

# Oldest supported (the preStop `sleep` action is on by default from 1.30) and a current one;
# both ship with kubernetes-validate, so this runs offline.
K8S_VERSIONS=(1.30.0 1.34.0)
SKIP_DNS=0
for arg in "$@"; do
  case "$arg" in
    --skip-dns) SKIP_DNS=1 ;;
    *) echo "usage: $0 [--skip-dns]" >&2; exit 2 ;;
  esac
done

export KUBECONFIG=/dev/null
OUT="$ROOT/var/kubernetes/check"
rm -rf "$OUT" && mkdir -p "$OUT"
step() { printf '\n== %s\n' "$*"; }

ensure_venv
PY="$VENV/bin/python"
command -v kubectl >/dev/null || { echo "check.sh: kubectl is required (https://kubernetes.io/docs/tasks/tools/)" >&2; exit 1; }

step "base/dashboards is a current copy of dashboards/"
"$PY" "$HERE/sync_dashboards.py" --check

step "kubectl kustomize"
renders=()
for overlay in minikube microk8s; do
  kubectl kustomize "$HERE/overlays/$overlay" > "$OUT/$overlay.yaml"
  renders+=("$OUT/$overlay.yaml")
  # The overlay plus the marvel-dataset component, as `deploy.sh OVERLAY --data DIR` renders it.
  mkdir -p "$OUT/$overlay-dataset"
  cat > "$OUT/$overlay-dataset/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [$(realpath --relative-to="$OUT/$overlay-dataset" "$HERE/overlays/$overlay")]
components: [$(realpath --relative-to="$OUT/$overlay-dataset" "$HERE/components/marvel-dataset")]
EOF
  kubectl kustomize "$OUT/$overlay-dataset" > "$OUT/$overlay-dataset.yaml"
  renders+=("$OUT/$overlay-dataset.yaml")
  echo "rendered $overlay: $(grep -c '^kind:' "$OUT/$overlay.yaml") objects"
done

step "kubernetes-validate --strict (offline schemas)"
for v in "${K8S_VERSIONS[@]}"; do
  "$VENV/bin/kubernetes-validate" --strict --quiet -k "$v" "${renders[@]}"
  echo "Kubernetes $v: ${#renders[@]} renders valid"
done

step "promtool check config (in-cluster Prometheus)"
command -v promtool >/dev/null || ensure_prometheus_installed
# Debian builds Prometheus without Kubernetes service discovery, so promtool gets the config
# with kubernetes_sd_configs swapped for a static target (test_invariants.py checks the SD
# block itself), the rules read from the synced copy instead of their in-cluster mount, and the
# ServiceAccount token (the kubelet job's credentials) a stand-in file.
mkdir -p "$OUT/prometheus"
"$PY" - "$HERE/base/prometheus/prometheus.yml" "$HERE/base/dashboards/prometheus-rules" "$OUT/prometheus/prometheus.yml" <<'PY'
import sys, yaml
src, rules, out = sys.argv[1:]
cfg = yaml.safe_load(open(src))
assert cfg["rule_files"] == ["/etc/prometheus-rules/*.yml"], cfg["rule_files"]
cfg["rule_files"] = [f"{rules}/*.yml"]
token = f"{out}.token"  # the in-cluster ServiceAccount token's stand-in: promtool reads it
open(token, "w").write("stand-in\n")
for job in cfg["scrape_configs"]:
    if job.pop("kubernetes_sd_configs", None) is not None:
        job["static_configs"] = [{"targets": ["127.0.0.1:1"]}]
    if "authorization" in job:
        job["authorization"]["credentials_file"] = token
yaml.safe_dump(cfg, open(out, "w"), sort_keys=False)
PY
promtool check config "$OUT/prometheus/prometheus.yml"

step "hadolint Dockerfile"
"$VENV/bin/hadolint" "$ROOT/Dockerfile" "$ROOT/deploy/containers/prometheus/Containerfile" "$ROOT/deploy/containers/haproxy/Containerfile"
echo "Dockerfile, deploy/containers/{prometheus,haproxy}/Containerfile: no findings"

step "shellcheck"
ensure_apt shellcheck
shellcheck -x --source-path=SCRIPTDIR "$HERE"/*.sh
echo "scripts: no findings"

step "invariants (pytest)"
"$PY" -m pytest -q -p no:cacheprovider "$HERE/test_invariants.py" "$ROOT/deploy/test_manifests.py"

if [ "$SKIP_DNS" -eq 0 ]; then
  step "DNS membership (real processes on 127.0.0.2-4 behind one /etc/hosts name)"
  "$HERE/dns-membership.sh"
fi

printf '\ncheck.sh: all Kubernetes checks passed\n'
