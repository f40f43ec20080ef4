#!/usr/bin/env bash
# Prints the admin token of the running local fleet (kept by up.sh in var/fleet/fleet.env, mode
# 600): what the control page at http://127.0.0.1:30280/admin asks for, and what admin calls send
# as `Authorization: Bearer TOKEN`, e.g.
#
#   curl -H "Authorization: Bearer $(deploy/local/token.sh)" http://127.0.0.1:30280/admin/switches
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
token=""
[ -f "$FLEET/fleet.env" ] && token="$(sed -n 's/^SUPERPOWER_ADMIN_TOKEN=//p' "$FLEET/fleet.env")"
[ -n "$token" ] || die "no admin token in var/fleet/fleet.env: start the fleet with deploy/local/up.sh"
printf '%s\n' "$token"
