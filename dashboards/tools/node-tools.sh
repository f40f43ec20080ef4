#!/usr/bin/env bash
# Source it (after scripts/tools.sh), then call ensure_node_tools: installs Node.js when missing
# and the pinned npm packages of dashboards/tools/package-lock.json into var/node (again only when
# the lock file changes). Used by dashboards/check.sh and dashboards/e2e.sh.

ensure_node_tools() {
  command -v npm >/dev/null 2>&1 || ensure_apt nodejs npm
  local dir="$ROOT/var/node" tools="$ROOT/dashboards/tools" sha
  sha=$(cat "$tools/package.json" "$tools/package-lock.json" | sha256sum | cut -d' ' -f1)
  if [ -x "$dir/node_modules/.bin/tsc" ] && [ "$(cat "$dir/.tools.sha" 2>/dev/null)" = "$sha" ]; then
    return 0
  fi
  log "npm ci into var/node (@grafana/schema, typescript, @prometheus-io/lezer-promql, yaml)"
  mkdir -p "$dir"
  cp "$tools/package.json" "$tools/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
  echo "$sha" >"$dir/.tools.sha"
}
