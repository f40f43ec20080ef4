# shellcheck shell=bash
# Shared by deploy.sh, undeploy.sh and port-forward.sh (sourced, not run).
NAMESPACE=superpower
IMAGE=superpower:latest # read by the scripts that source this one
export IMAGE

# shellcheck source=../../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
log_tag '[kubernetes]' # messages on stderr (warn), errors with die

# use_cluster minikube|microk8s: sets KUBECTL to a kubectl talking to that cluster.
use_cluster() {
  case "$1" in
    minikube)
      require minikube
      minikube status >/dev/null 2>&1 || die "minikube is not running (minikube start)"
      if command -v kubectl >/dev/null 2>&1; then KUBECTL="kubectl --context minikube"; else KUBECTL="minikube kubectl --"; fi
      ;;
    microk8s)
      require microk8s
      microk8s status --wait-ready --timeout 60 >/dev/null || die "microk8s is not ready (microk8s start)"
      for addon in dns hostpath-storage; do
        [ "$(microk8s status -a "$addon" 2>/dev/null)" = enabled ] || die "enable the $addon addon: microk8s enable $addon"
      done
      KUBECTL="microk8s kubectl"
      ;;
    *) die "unknown cluster '$1' (minikube or microk8s)" ;;
  esac
}

# upload_dataset DIR: copies DIR into the PVC superpower-dataset through a short-lived pod that
# satisfies the namespace's "restricted" Pod Security level.
upload_dataset() {
  local pod=dataset-upload
  $KUBECTL -n "$NAMESPACE" delete pod "$pod" --ignore-not-found --wait=true >/dev/null
  $KUBECTL -n "$NAMESPACE" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $pod
spec:
  restartPolicy: Never
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    fsGroup: 65532
    seccompProfile: {type: RuntimeDefault}
  containers:
    - name: upload
      image: busybox:1.36
      command: ["sleep", "3600"]
      securityContext:
        allowPrivilegeEscalation: false
        capabilities: {drop: ["ALL"]}
      volumeMounts: [{name: dataset, mountPath: /dataset}]
  volumes:
    - name: dataset
      persistentVolumeClaim: {claimName: superpower-dataset}
YAML
  $KUBECTL -n "$NAMESPACE" wait --for=condition=Ready "pod/$pod" --timeout=180s >/dev/null
  $KUBECTL -n "$NAMESPACE" exec "$pod" -- sh -c 'rm -rf /dataset/* /dataset/.[!.]* 2>/dev/null; true'
  tar -C "$1" -cf - . | $KUBECTL -n "$NAMESPACE" exec -i "$pod" -- tar -xf - -C /dataset
  $KUBECTL -n "$NAMESPACE" exec "$pod" -- test -f /dataset/characters.json || die "upload failed"
  $KUBECTL -n "$NAMESPACE" delete pod "$pod" --wait=false >/dev/null
}

# ensure_secrets: the two Secrets the front end needs to act as one, made with random values when
# missing (kept when present, so a re-deploy changes no key):
#   superpower-admin  token  the admin API and page; the replicas' peer calls carry it
#   superpower-cookie key    the key of the signed superpower_last cookie (hex, 32 bytes)
ensure_secrets() {
  $KUBECTL apply -f "$HERE/base/namespace.yaml" >/dev/null
  if ! $KUBECTL -n "$NAMESPACE" get secret superpower-admin >/dev/null 2>&1; then
    $KUBECTL -n "$NAMESPACE" create secret generic superpower-admin \
      --from-literal=token="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >/dev/null
    warn "made the Secret superpower-admin (the admin token: kubectl -n $NAMESPACE get secret superpower-admin -o jsonpath='{.data.token}' | base64 -d)"
  fi
  if ! $KUBECTL -n "$NAMESPACE" get secret superpower-cookie >/dev/null 2>&1; then
    $KUBECTL -n "$NAMESPACE" create secret generic superpower-cookie \
      --from-literal=key="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >/dev/null
    warn "made the Secret superpower-cookie (the cookie key every superpower replica shares)"
  fi
}
