#!/bin/sh
# The official haproxy image's entrypoint contract: a command that starts with an option runs
# haproxy with it, and haproxy runs as `haproxy -W -db ...` (master-worker, not daemonized).
set -e
case "$1" in
  -*) set -- haproxy "$@" ;;
esac
if [ "$1" = haproxy ]; then
  shift
  set -- haproxy -W -db "$@"
fi
exec "$@"
