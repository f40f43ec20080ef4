# Shared by experiments/run-local.sh and experiments/run-containers.sh. Source it.

# run_experiments: for each kind in the array `kinds` (powersources, frontends), the runner's
# `fleet_for KIND` makes the fleet that kind needs; then each experiment of the kind
# (`powersource_experiments`, `frontend_experiments`) runs with `chaos run`, its journal and log
# in OUT, the journal appended to the array `journals`. Before each one experiments/settled.py
# waits for Prometheus' windows to hold no earlier fleet's breaks (visitors/check.sh switches
# stable assignment off on purpose; a naive run's frozen containers leave 5 s answers). Each kind
# has its own recording of followed users (PROBE_STATE; a user's superpower_last cookie is signed
# under that fleet's key): its first steady state records them. `chaos_settings` (optional) go
# before `run`. Needs `say` and `die`.
run_experiments() {
  local kind e name journal started_at code settings=("${chaos_settings[@]+"${chaos_settings[@]}"}")
  local group=()
  for kind in "${kinds[@]}"; do
    fleet_for "$kind"
    if [ "$kind" = frontends ]; then
      group=("${frontend_experiments[@]}")
      export PROBE_STATE="$OUT/identity-state-frontends.json"
    else
      group=("${powersource_experiments[@]}")
      export PROBE_STATE="$OUT/identity-state.json"
    fi
    rm -f "$PROBE_STATE"
    for e in "${group[@]}"; do
      var/venv/bin/python experiments/settled.py "$e"
      name="$(basename "$e" .json)"
      journal="$OUT/journal-$name.json"
      # a load result a broken steady state left unread (its load check never ran) is not this one's
      rm -f "$journal" "$LOAD_RESULT"
      say "chaos run $e (log: ${OUT#"$ROOT"/}/$name.log)"
      started_at=$SECONDS
      code=0
      var/venv/bin/chaos --no-version-check --no-log-file "${settings[@]}" run --journal-path "$journal" "$e" >"$OUT/$name.log" 2>&1 || code=$?
      say "  exit $code after $((SECONDS - started_at)) s"
      [ -f "$journal" ] || { tail -n 20 "$OUT/$name.log" >&2; die "chaos wrote no journal for $e"; }
      journals+=("$journal")
    done
  done
}

# ensure_load_tool EXPERIMENT...: the load tool of experiments/load.sh (vegeta when installed,
# otherwise oha, which compiles for minutes on a fresh machine), only when one of the experiments
# runs load.sh: a run of the others installs none.
ensure_load_tool() {
  local e
  for e in "$@"; do
    grep -Eq '"path": *"experiments/load.sh"' "$e" || continue
    [ "${LOAD_TOOL:-auto}" != oha ] && command -v vegeta >/dev/null 2>&1 && return 0
    ensure_oha
    return
  done
}
