#!/usr/bin/env bash
# What every script of the project shares: its messages, a fatal error, a required command and a
# polling wait. Source it (it runs nothing); then, once the script's own libraries are sourced:
#
#   log_tag TAG [FAIL]        the prefix of the messages from here on: say and warn print
#                             "TAG MESSAGE", die "TAG FAIL MESSAGE" (FAIL: "error:" unless given;
#                             "" for none). The last call wins, as a script's own say/die used to
#                             override its libraries' (deploy/local/lib.sh tags "[fleet]",
#                             experiments/run.sh then "[experiments]").
#   say MESSAGE...            on stdout
#   warn MESSAGE...           on stderr
#   die MESSAGE...            on stderr, then exit 1
#   require COMMAND [HINT]    dies "COMMAND is not installed[: HINT]" unless COMMAND is on PATH
#   wait_until SECONDS COMMAND...   runs COMMAND (quietly: its output is the caller's to
#                             redirect) every POLL_INTERVAL seconds (0.2) until it succeeds
#                             (returns 0) or SECONDS have passed (returns 1)
#
# A library that must keep its own prefix whatever its caller's (deploy/containers/lib.sh's
# "[containers]") sets LOG_TAG locally around the call: `ct_die() { local LOG_TAG=...; die "$@"; }`.
# Installing tools (and the venv) is scripts/tools.sh's: its `log` stays "[tools]" on stderr.

: "${LOG_TAG:=[$(basename "$0" .sh)]}"
: "${LOG_FAIL=error:}"

log_tag() {
  LOG_TAG="$1"
  LOG_FAIL="${2-error:}"
}
say() { printf '%s %s\n' "$LOG_TAG" "$*"; }
warn() { printf '%s %s\n' "$LOG_TAG" "$*" >&2; }
die() {
  printf '%s %s\n' "$LOG_TAG${LOG_FAIL:+ $LOG_FAIL}" "$*" >&2
  exit 1
}
require() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed${2:+: $2}"
}
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep "${POLL_INTERVAL:-0.2}"
  done
}
