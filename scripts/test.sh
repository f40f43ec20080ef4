#!/usr/bin/env bash
# The one test command: everything, on a fresh machine.
#
#   scripts/test.sh            the whole suite
#   scripts/test.sh quick      day to day: formatting, lint (clippy and the static checks), the
#                              unit and integration tests, with only the tools they need; no
#                              fleet, containers, browser, fuzzing or bench (QUICK below)
#   scripts/test.sh STEP...    only the named steps (see STEPS below)
#
# It installs what it needs (Debian packages and podman, a Python venv under var/, oha, npm
# packages under var/ and the test folders), then runs, in order: formatting, lint, unused
# dependencies (cargo machete), module cycles and the commands check (every command a script
# runs is installed by the scripts or on a fresh machine: scripts/commands.txt); the Rust unit
# and integration tests (nextest); a bounded run of every fuzz target (cargo fuzz); the OpenAPI
# specs (route drift, schemathesis against the real services); the headless-Chromium page
# tests; the dashboard and rule checks; the Kubernetes manifest checks with a real
# DNS-membership test; the local fleet; the returning visitors (Locust, headless: no failure on a
# healthy fleet, "superpower changed" failures once stable assignment is off); the chaos
# experiments against the real local fleet (resilient, then naive: they must deviate); the live
# dashboard check; traces (the fleet and one traced experiment against an OTLP receiver); the
# real container image built with podman from local base-image stand-ins (in the background
# during the steps before it: see BACKGROUND_FROM); the container fleet run as the manifests run
# it; the compose deployment; chaos experiments against containers (resilient, then naive); a
# smoke run of the benchmarks; and a one-minute soak (bench/run.sh --soak-seconds 60: returning
# users while powersources are killed, frozen and restarted; no error, no identity change, no
# answer over 1 s, flat RSS). Every step runs even when an earlier one failed; the last lines
# give each step's time and count them, and the exit code is non-zero if any failed.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# shellcheck source=tools.sh
source "$ROOT/scripts/tools.sh"
export PATH="$HOME/.cargo/bin:$PATH" CARGO_TERM_COLOR=never

STEPS=(tools lint rust fuzz api-spec browser dashboards kubernetes fleet visitors experiments naive-experiments dashboards-live traces image containers compose container-experiments naive-container-experiments bench-smoke soak-smoke)
# The image (a cold build of the Dockerfile: 5 to 13 minutes of both cores here) is built in
# the background while the steps from BACKGROUND_FROM up to the image step run: those run
# services and wait on timers and chaos, and leave most of the CPU idle. The build runs at the
# lowest CPU and I/O priority (nice 19, idle I/O class), so the services those steps measure
# keep the CPU whenever they want it; the image step waits for the build and shows its output.
# The compile-heavy steps (lint, rust, fuzz) and the measuring ones (bench-smoke, soak-smoke)
# never share the machine with it. `scripts/test.sh image` alone builds in the foreground.
BACKGROUND_FROM=api-spec
# `quick`: the steps that need no fleet, container, browser or bench, after the few tools they use
QUICK=(quick-tools lint rust)
IMAGE_BUILD_PID=""
IMAGE_BUILD_LOG="$ROOT/var/log/image-build.log"

start_image_build() {
  mkdir -p "$(dirname "$IMAGE_BUILD_LOG")"
  echo "::: image (building in the background, log: ${IMAGE_BUILD_LOG#"$ROOT"/})"
  setsid nice -n 19 ionice -c 3 deploy/containers/image.sh >"$IMAGE_BUILD_LOG" 2>&1 &
  IMAGE_BUILD_PID=$!
}

step_tools() {
  # every Debian package of every step, in one go: later steps (and the background image build)
  # find them installed and never run apt-get beside one another
  ensure_prometheus_installed # its own apt-get: Debian's prometheus.service is stopped once installed
  ensure_apt pandoc chromium curl jq ca-certificates procps iproute2 nginx haproxy shellcheck
  (source "$ROOT/deploy/containers/lib.sh" && ensure_engine)
  ensure_venv
  ensure_oha
  ensure_cargo_tool cargo-nextest cargo-nextest
  ensure_cargo_tool cargo-machete cargo-machete
  ensure_nightly
  ensure_cargo_tool cargo-fuzz cargo-fuzz
  ensure_release_build
  # what the steps run is installed now: each Debian command from the package scripts/commands.txt names
  python3 scripts/check_commands.py --installed
}
step_quick_tools() {
  # what lint and rust run besides cargo: the venv (pytest), cargo-nextest and cargo-machete
  ensure_venv
  ensure_cargo_tool cargo-nextest cargo-nextest
  ensure_cargo_tool cargo-machete cargo-machete
}
step_lint() {
  # fmt, clippy with every warning an error (missing docs and unsafe code are workspace lints),
  # and no dependency a crate declares but does not use; its pytest files need the venv (made
  # here when the step runs alone)
  ensure_venv \
    && cargo fmt --all -- --check \
    && cargo fmt --manifest-path fuzz/Cargo.toml -- --check \
    && cargo clippy --workspace --all-targets --locked -- -D warnings \
    && cargo machete \
    && python3 scripts/module_cycles.py \
    && python3 scripts/check_commands.py \
    && "$VENV/bin/python" -m pytest -q -p no:cacheprovider scripts/test_check_commands.py experiments/test_settled.py experiments/test_vocabulary.py
}
step_rust() {
  cargo nextest run --workspace --locked --no-fail-fast && cargo test --workspace --doc --locked
}
step_fuzz() {
  # every fuzz target (fuzz/, cargo-fuzz and libFuzzer) for FUZZ_SECONDS each, on a copy of its
  # seed corpus in var/fuzz/ (the committed one stays as it is); any crash fails the step and
  # leaves its input in var/fuzz/artifacts/. Built without AddressSanitizer: the product is safe
  # Rust, and the build and the runs are faster; docs/fuzzing.md has the ASan build for long runs.
  local seconds="${FUZZ_SECONDS:-10}" out="$ROOT/var/fuzz" bin failed=0 t
  bin="$ROOT/fuzz/target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"
  # `cargo fuzz build` has no --locked and rewrites a stale fuzz/Cargo.lock: fetching --locked
  # first fails instead, so the suite changes no tracked file (refresh it with
  # `cargo +nightly update --workspace --manifest-path fuzz/Cargo.toml` and commit it)
  cargo +nightly fetch --locked --manifest-path fuzz/Cargo.toml || {
    echo "fuzz: fuzz/Cargo.lock is not current with fuzz/Cargo.toml and the crates it builds" >&2
    return 1
  }
  (cd fuzz && CARGO_TARGET_DIR="$ROOT/fuzz/target" cargo +nightly fuzz build --sanitizer none) \
    || return 1
  rm -rf "$out" && mkdir -p "$out"
  # two targets at a time (the machine has two cores); each leaves its log and exit code
  for t in $(cd fuzz && cargo +nightly fuzz list); do
    mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
    cp fuzz/corpus/"$t"/* "$out/corpus/$t/"
    { "$bin/$t" -max_total_time="$seconds" -timeout=10 -artifact_prefix="$out/artifacts/$t/" \
        "$out/corpus/$t" >"$out/$t.log" 2>&1; echo $? >"$out/$t.rc"; } &
    [ "$(jobs -rp | wc -l)" -ge 2 ] && wait -n
  done
  wait
  for t in $(cd fuzz && cargo +nightly fuzz list); do
    if [ "$(cat "$out/$t.rc")" = 0 ]; then
      echo "fuzz: $t: $(grep -o 'Done [0-9]* runs' "$out/$t.log") in ${seconds} s"
    else
      echo "fuzz: $t FAILED, input in $out/artifacts/$t/ (log: $out/$t.log):"
      grep -v '^#' "$out/$t.log" | tail -25
      failed=1
    fi
  done
  return "$failed"
}
step_api_spec() { docs/openapi/check.sh; }
step_browser() { superpower/tests/browser/run.sh; }
step_dashboards() { dashboards/check.sh; }
step_kubernetes() { deploy/kubernetes/check.sh; }
# The containers (deploy/containers, deploy/compose): podman installed and configured here,
# base-image stand-ins made from Debian's packages, the real Dockerfile built, the fleet run as
# the manifests run it, compose brought up, chaos against containers. They publish on
# 127.0.0.1:31xxx/19xxx, beside the native fleet, and need no fleet lock.
step_image() {
  [ -n "$IMAGE_BUILD_PID" ] || { deploy/containers/image.sh; return; }
  local rc=0
  wait "$IMAGE_BUILD_PID" || rc=$?
  cat "$IMAGE_BUILD_LOG"
  return "$rc"
}
step_containers() { deploy/containers/test-fleet.sh; }
step_compose() { deploy/compose/test.sh; }
# the flapping experiment flaps for 30 s here (a minute by default): 4 kills and 3 starts
SUITE_FLAP=(env FLAP_SECONDS=30 FLAP_LOAD_DURATION=25s)
step_container_experiments() { "${SUITE_FLAP[@]}" experiments/run.sh --engine containers; }
step_naive_container_experiments() { "${SUITE_FLAP[@]}" experiments/run.sh --engine containers --naive; }
step_fleet() { deploy/local/test-fleet.sh; }
step_visitors() { visitors/check.sh; }
step_experiments() { experiments/validate.sh && experiments/run.sh --engine local; }
step_naive_experiments() { experiments/run.sh --engine local --naive; }
step_dashboards_live() { dashboards/e2e.sh; }
# OpenTelemetry for real: the fleet and a traced chaostoolkit run exporting to an OTLP receiver
# (traces/check.sh), then the cost of tracing, seconds-long (bench/traces.sh --smoke)
step_traces() { traces/check.sh && bench/traces.sh --smoke; }
step_bench_smoke() { bench/run.sh --smoke; }
step_soak_smoke() { bench/run.sh --soak-seconds 60; }

# The steps that run the local fleet on its fixed ports. A fleet `deploy/local/up.sh` started
# (the README's other command) is set aside before the first of them and started again, with the
# same settings, token and cookie key, when the suite ends: the two commands do not trip over
# each other.
LOCAL_FLEET_STEPS=" fleet visitors experiments naive-experiments dashboards-live traces "
USER_FLEET="$ROOT/var/log/user-fleet.env"
SET_ASIDE_CHECKED=0
set_aside_user_fleet() {
  # only the fleet running when the suite reached its first fleet step is the user's
  [ "$SET_ASIDE_CHECKED" = 0 ] || return 0
  SET_ASIDE_CHECKED=1
  [ -f "$ROOT/var/fleet/fleet.env" ] || return 0
  # shellcheck source=../deploy/local/lib.sh
  (source "$ROOT/deploy/local/lib.sh" && running_process >/dev/null) || return 0
  mkdir -p "$(dirname "$USER_FLEET")"
  (umask 077 && cp "$ROOT/var/fleet/fleet.env" "$USER_FLEET")
  echo "::: the local fleet deploy/local/up.sh started is stopped for the suite (it needs its ports); it starts again at the end"
  deploy/local/down.sh
}
restore_user_fleet() {
  [ -f "$USER_FLEET" ] || return 0
  local get args=()
  get() { sed -n "s/^$1=//p" "$USER_FLEET"; }
  [ -n "$(get POWERSOURCES)" ] && args+=(--powersources "$(get POWERSOURCES)")
  [ -n "$(get FRONTENDS)" ] && args+=(--frontends "$(get FRONTENDS)")
  [ -n "$(get VISITORS)" ] && args+=(--visitors "$(get VISITORS)")
  [ -n "$(get DATA)" ] && args+=(--data "$(get DATA)")
  [ "$(get NAIVE)" = 1 ] && args+=(--naive)
  [ "$(get COOKIE_KEYS)" = own ] && args+=(--own-cookie-keys)
  echo "::: starting the local fleet again as it was: deploy/local/up.sh ${args[*]}"
  SUPERPOWER_ADMIN_TOKEN="$(get SUPERPOWER_ADMIN_TOKEN)" SUPERPOWER_COOKIE_KEY="$(get SUPERPOWER_COOKIE_KEY)" \
    SKIP_BUILD=1 deploy/local/up.sh "${args[@]}" || echo "::: the local fleet did not start again: run deploy/local/up.sh" >&2
  rm -f "$USER_FLEET"
}

selected=()
for s in "$@"; do
  if [ "$s" = quick ]; then selected+=("${QUICK[@]}"); else selected+=("$s"); fi
done
[ ${#selected[@]} -eq 0 ] && selected=("${STEPS[@]}")
passed=0; failed=0; report=(); i=0
# a background build outlives no interrupted suite (setsid: its podman children go with it)
trap '[ -z "$IMAGE_BUILD_PID" ] || kill -- "-$IMAGE_BUILD_PID" 2>/dev/null' EXIT
for s in "${selected[@]}"; do
  fn="step_${s//-/_}"
  if ! declare -F "$fn" >/dev/null; then echo "unknown step: $s (steps: ${STEPS[*]}; quick: ${QUICK[*]})" >&2; exit 2; fi
  # the image step still to come: build it in the background from here on
  if [ "$s" = "$BACKGROUND_FROM" ] && [[ " ${selected[*]:$i} " == *" image "* ]]; then start_image_build; fi
  i=$((i + 1))
  [[ "$LOCAL_FLEET_STEPS" == *" $s "* ]] && set_aside_user_fleet
  echo "::: $s"
  t0=$(date +%s)
  if "$fn"; then
    passed=$((passed + 1)); report+=("PASS  $s ($(( $(date +%s) - t0 )) s)")
  else
    failed=$((failed + 1)); report+=("FAIL  $s ($(( $(date +%s) - t0 )) s)")
  fi
done
restore_user_fleet
echo
printf '%s\n' "${report[@]}"
echo "suite: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
