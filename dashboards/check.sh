#!/usr/bin/env bash
# Static checks of the dashboards and Prometheus rules (no running fleet needed):
#
#   1. promtool check rules    dashboards/prometheus/rules/*.yml
#   2. promtool check config   dashboards/prometheus/prometheus.yml (its rule_files too)
#   3. promtool test rules     dashboards/prometheus/tests/*.yml: each alert fires and does not fire
#   4. generate.mjs --check    the dashboard JSON is what dashboards/tools/generate.mjs writes
#   5. lint.mjs                datasource variable everywhere, PromQL parses, metric names exist in
#                              service/src/metrics.rs (or are `up` or recording rules), and the JSON
#                              type-checks against @grafana/schema with TypeScript
#
#   dashboards/check.sh
#
# Installs what it needs: promtool (Debian package prometheus), Node.js, and the pinned npm
# packages of dashboards/tools/package-lock.json into var/node. Exits non-zero on any failure.
# Env: PROMETHEUS_CONFIG overrides the config file checked in step 2.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../scripts/tools.sh
source "$ROOT/scripts/tools.sh"
cd "$ROOT"

step() { printf '\n== %s\n' "$*"; }
fail() { printf '\ncheck.sh: FAILED: %s\n' "$*" >&2; exit 1; }

command -v promtool >/dev/null 2>&1 || ensure_prometheus_installed
# shellcheck source=tools/node-tools.sh
source "$ROOT/dashboards/tools/node-tools.sh"
ensure_node_tools

step "promtool check rules"
shopt -s nullglob
rules=(dashboards/prometheus/rules/*.yml)
[ ${#rules[@]} -gt 0 ] || fail "no rule files in dashboards/prometheus/rules"
promtool check rules "${rules[@]}" || fail "promtool check rules"

step "promtool check config"
config="${PROMETHEUS_CONFIG:-dashboards/prometheus/prometheus.yml}"
[ -f "$config" ] || fail "$config does not exist (the local fleet's Prometheus config)"
# file_sd target files are written by deploy/local/up.sh; promtool only checks them when present.
promtool check config "$config" || fail "promtool check config $config"

step "promtool test rules"
tests=(dashboards/prometheus/tests/*.yml)
[ ${#tests[@]} -gt 0 ] || fail "no rule tests in dashboards/prometheus/tests"
# promtool evaluates rule groups in a random order unless a test names one, so an alert on a
# recording rule would read the last evaluation's value in some runs and not in others.
for t in "${tests[@]}"; do
  grep -q '^group_eval_order:' "$t" || fail "$t: no group_eval_order (promtool would order the rule groups at random)"
done
promtool test rules "${tests[@]}" || fail "promtool test rules"

step "dashboards match dashboards/tools/generate.mjs"
node dashboards/tools/generate.mjs --check || fail "dashboard JSON is stale: run node dashboards/tools/generate.mjs"

step "dashboard and rule lint (datasource, PromQL, metric names, alert tests, @grafana/schema)"
node dashboards/tools/lint.mjs || fail "lint"

printf '\ncheck.sh: all dashboard and rule checks passed\n'
