#!/usr/bin/env bash
# The container fleet (deploy/containers/fleet.py --help): runs fleet.py with the project's venv
# (PyYAML), after making sure the engine is installed and configured. The chaos experiments in
# experiments/containers/ call it as their process provider.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
case "${1:-}" in
  up | plan | down | status) ensure_engine; source "$ROOT/scripts/tools.sh"; ensure_venv ;;
esac
exec "$ROOT/var/venv/bin/python" "$HERE/fleet.py" "$@"
