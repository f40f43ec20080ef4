#!/usr/bin/env bash
# The one test command: everything, on a fresh machine.
#
#   scripts/test.sh            the whole suite
#   scripts/test.sh STEP...    only the named steps (see STEPS below)
#
# It installs what it needs (Debian packages, a Python venv under var/, oha, npm packages under
# var/ and the test folders), then runs, in order: formatting, lint and unused dependencies (cargo machete), the Rust unit and
# integration tests (nextest), a bounded run of every fuzz target (cargo fuzz), the OpenAPI
# specs (route drift, schemathesis against the real services), the headless-Chromium page tests,
# the dashboard and rule checks,
# the Kubernetes manifest checks with a real DNS-membership test, the real container image built
# with podman from local base-image stand-ins, the container fleet run as the manifests run it,
# the compose deployment, chaos experiments against containers (resilient, then naive), the
# returning visitors (Locust, headless: no failure on a healthy fleet, "superpower changed"
# failures once stable assignment is off), the chaos experiments against
# the real local fleet (resilient, then naive: they must deviate), the live dashboard check, a
# smoke run of the benchmarks, and a one-minute soak (bench/run.sh --soak-seconds 60: returning
# users while powersources are killed, frozen and restarted; no error, no identity change, no
# answer over 1 s, flat RSS). Every step runs even when an earlier one failed; the last line
# counts them, and the exit code is non-zero if any failed. The traces step (before bench-smoke)
# runs the fleet and one traced experiment against an OTLP receiver (traces/check.sh).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# shellcheck source=tools.sh
source "$ROOT/scripts/tools.sh"
export PATH="$HOME/.cargo/bin:$PATH" CARGO_TERM_COLOR=never

STEPS=(tools lint rust fuzz api-spec browser dashboards kubernetes image containers compose container-experiments naive-container-experiments fleet visitors experiments naive-experiments dashboards-live traces bench-smoke soak-smoke)

step_tools() {
  ensure_apt prometheus pandoc chromium curl jq ca-certificates procps iproute2
  ensure_venv
  ensure_oha
  ensure_cargo_tool cargo-nextest cargo-nextest
  ensure_cargo_tool cargo-machete cargo-machete
  ensure_nightly
  ensure_cargo_tool cargo-fuzz cargo-fuzz
  ensure_release_build
}
step_lint() {
  # fmt, clippy with every warning an error (missing docs and unsafe code are workspace lints),
  # and no dependency a crate declares but does not use
  cargo fmt --all -- --check \
    && cargo fmt --manifest-path fuzz/Cargo.toml -- --check \
    && cargo clippy --workspace --all-targets --locked -- -D warnings \
    && cargo machete \
    && python3 scripts/module_cycles.py
}
step_rust() {
  cargo nextest run --workspace --locked --no-fail-fast && cargo test --workspace --doc --locked
}
step_fuzz() {
  # every fuzz target (fuzz/, cargo-fuzz and libFuzzer) for FUZZ_SECONDS each, on a copy of its
  # seed corpus in var/fuzz/ (the committed one stays as it is); any crash fails the step and
  # leaves its input in var/fuzz/artifacts/. Built without AddressSanitizer: the product is safe
  # Rust, and the build and the runs are faster; docs/fuzzing.md has the ASan build for long runs.
  local seconds="${FUZZ_SECONDS:-20}" out="$ROOT/var/fuzz" bin failed=0 t
  bin="$ROOT/fuzz/target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"
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
step_image() { deploy/containers/image.sh; }
step_containers() { deploy/containers/test-fleet.sh; }
step_compose() { deploy/compose/test.sh; }
step_container_experiments() { experiments/run-containers.sh; }
step_naive_container_experiments() { experiments/run-containers.sh --naive; }
step_fleet() { deploy/local/test-fleet.sh; }
step_visitors() { visitors/check.sh; }
step_experiments() { experiments/validate.sh && experiments/run-local.sh; }
step_naive_experiments() { experiments/run-local.sh --naive; }
step_dashboards_live() { dashboards/e2e.sh; }
# OpenTelemetry for real: the fleet and a traced chaostoolkit run exporting to an OTLP receiver
# (traces/check.sh), then the cost of tracing, seconds-long (bench/traces.sh --smoke)
step_traces() { traces/check.sh && bench/traces.sh --smoke; }
step_bench_smoke() { bench/run.sh --smoke; }
step_soak_smoke() { bench/run.sh --soak-seconds 60; }

selected=("$@")
[ ${#selected[@]} -eq 0 ] && selected=("${STEPS[@]}")
passed=0; failed=0; report=()
for s in "${selected[@]}"; do
  fn="step_${s//-/_}"
  if ! declare -F "$fn" >/dev/null; then echo "unknown step: $s (steps: ${STEPS[*]})" >&2; exit 2; fi
  echo "::: $s"
  t0=$(date +%s)
  if "$fn"; then
    passed=$((passed + 1)); report+=("PASS  $s ($(( $(date +%s) - t0 )) s)")
  else
    failed=$((failed + 1)); report+=("FAIL  $s ($(( $(date +%s) - t0 )) s)")
  fi
done
echo
printf '%s\n' "${report[@]}"
echo "suite: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
