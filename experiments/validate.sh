#!/usr/bin/env bash
# Checks, without running anything: every experiment (local, Kubernetes, containers) passes
# `chaos validate`, and the Prometheus configuration passes `promtool check config`.
# Needs the venv (scripts/tools.sh ensure_venv) and promtool (Debian's prometheus package).
# Ends with "N passed, N failed"; exit 1 on any failure.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=../scripts/tools.sh
source scripts/tools.sh
ensure_venv || exit 1
ensure_prometheus_installed || exit 1

passed=0 failed=0
run() { # DESCRIPTION COMMAND...
  local what="$1" out
  shift
  if out="$("$@" 2>&1)"; then
    passed=$((passed + 1)); printf 'PASS %s\n' "$what"
  else
    failed=$((failed + 1)); printf 'FAIL %s\n%s\n' "$what" "$(tail -n 5 <<<"$out")"
  fi
}
for e in experiments/local/*.json experiments/containers/*.json; do
  run "chaos validate $e" var/venv/bin/chaos --no-version-check --no-log-file validate "$e"
done
# The Kubernetes experiments refuse to load without KUBERNETES_CONTEXT (the cluster they act on
# is named, never the kubeconfig's current one); validating touches no cluster, so any name does.
for e in experiments/kubernetes/*.json; do
  run "chaos validate $e" env KUBERNETES_CONTEXT="${KUBERNETES_CONTEXT:-validate-only}" \
    var/venv/bin/chaos --no-version-check --no-log-file validate "$e"
done
run "promtool check config dashboards/prometheus/prometheus.yml" promtool check config dashboards/prometheus/prometheus.yml
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
