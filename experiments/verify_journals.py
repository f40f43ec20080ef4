#!/usr/bin/env python3
"""Checks chaostoolkit journals and prints a summary table of what the runs measured.

    var/venv/bin/python experiments/verify_journals.py [--prometheus URL] [--expect-deviation] JOURNAL...

`chaos run` can exit 0 when the steady state already failed before the method, so its exit code
proves nothing: a journal passes here only if
- "status" is "completed" and "deviated" is false;
- the steady state was met both before and after the method;
- every method activity and every rollback succeeded, and every `process` one exited 0;
- every rollback the experiment declares was played.

With --expect-deviation (the naive fleet, experiments/run-local.sh --naive) a journal passes
only if the experiment caught the break: "status" "completed", "deviated" true, the steady
state met before the method and broken after it by the identity probe, every method step and
rollback succeeded — so a probe that cannot fail is caught — and, for the experiments in
EXPECTATIONS, the probe's complaint is the one the switched-off mechanism causes (an HTTP 503
without failover or fallback, no answer within 1 s without deadlines and hedging).

Fault experiments (slow-powersource, failing-powersource) must also show that the fault was in
force while the steady state was checked after the method: the method's own probe of the
instance (experiments/faults.sh expect) succeeded, and the rollback that clears the fault began
only after that steady-state check had ended.

Figures in the table: the identity probe's users and max latency (before / after the method),
how many answers were degraded (from the fallback) after it, superpower's p99 over the
experiment's window from Prometheus (when reachable), and the load run's summary. Exit status:
0 when every journal passes, 1 otherwise. Standard library only.
"""

import json
import math
import re
import sys
import urllib.parse
import urllib.request
from datetime import datetime

P99_QUERY = (
    'histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket'
    '{{job="superpower", route!~"/health|/live|/metrics"}}[{window}s])))'
)


# What each experiment must show, by its file name (journal-NAME.json or NAME.json):
# "naive_break" is what the identity probe must say on the naive fleet (and which switch removes
# the mechanism that prevents it); "fault" marks an experiment whose fault must still be in force
# during the steady-state check after the method.
EXPECTATIONS = {
    "lose-half-of-powersources": {
        "naive_break": r"HTTP 503",
        "why": "failover off: a request that lands on a dead instance is not retried",
    },
    "lose-all-of-powersources": {
        "naive_break": r"HTTP 503",
        "why": "fallback off: nothing answers when every instance is gone",
    },
    "slow-powersource": {
        "naive_break": r"no answer within \d+ ms|over the limit",
        "why": "deadlines and hedging off: a request that lands on the slow instance waits 2 s",
        "fault": True,
    },
    "failing-powersource": {
        "naive_break": r"HTTP 50\d",
        "why": "failover off: an injected 500 is not retried on another instance",
        "fault": True,
    },
}


# The method step that drives load (experiments/load.sh run); its exit code is its verdict.
LOAD_ACTION = "drive-load-at-superpower"


def experiment_name(path):
    """The experiment's file name without .json, from the journal's name (journal-NAME.json)."""
    base = re.sub(r"\.json$", "", path.rsplit("/", 1)[-1])
    return re.sub(r"^journal-", "", base)


def parse_ts(ts):
    """A journal timestamp as a datetime (None when missing or unreadable)."""
    try:
        return datetime.fromisoformat(ts)
    except (TypeError, ValueError):
        return None


def probe_line(run, pattern):
    out = run.get("output") or {}
    text = out.get("stdout", "") if isinstance(out, dict) else ""
    m = re.search(pattern, text)
    return m


def identity_figures(state):
    """(users, max latency ms, degraded) from the identity probe of a steady state."""
    for run in (state or {}).get("probes", []):
        if run["activity"]["name"].startswith("followed-users"):
            m = probe_line(run, r"(\d+) users, max latency ([0-9.]+) ms \(limit \d+ ms\), (\d+) degraded")
            if m:
                return int(m.group(1)), float(m.group(2)), int(m.group(3))
    return None


def p99_from_prometheus(base, journal):
    """superpower's p99 (ms) over the run's window, evaluated at the run's end; None if unknown."""
    try:
        start = datetime.fromisoformat(journal["start"])
        end = datetime.fromisoformat(journal["end"])
    except (KeyError, ValueError):
        return None
    window = max(10, math.ceil((end - start).total_seconds()) + 4)
    params = urllib.parse.urlencode({"query": P99_QUERY.format(window=window), "time": end.timestamp() + 4})
    try:
        with urllib.request.urlopen(f"{base}/api/v1/query?{params}", timeout=5) as resp:
            body = json.load(resp)
        value = float(body["data"]["result"][0]["value"][1])
    except (OSError, ValueError, KeyError, IndexError):
        return None
    return None if math.isnan(value) else value * 1000


def check(path, expect_deviation=False):
    """(problems, row) for one journal."""
    problems = []
    try:
        with open(path) as f:
            j = json.load(f)
    except (OSError, ValueError) as e:
        return [f"unreadable journal: {e}"], None
    if j.get("status") != "completed":
        problems.append(f'status is {j.get("status")!r}, not "completed"')
    states = j.get("steady_states") or {}
    expected = {"before": True, "after": not expect_deviation}
    if j.get("deviated") is not expect_deviation:
        problems.append("the steady state deviated" if not expect_deviation else "the steady state did not deviate")
    for when in ("before", "after"):
        state = states.get(when)
        met = bool(state) and state.get("steady_state_met") is True
        if met == expected[when]:
            continue
        if expected[when]:
            failed = [p["activity"]["name"] for p in (state or {}).get("probes", []) if not p.get("tolerance_met")]
            problems.append(f"steady state not met {when} the method" + (f" ({', '.join(failed)})" if failed else ""))
            for p in (state or {}).get("probes", []):
                out = p.get("output")
                if not p.get("tolerance_met") and isinstance(out, dict) and "stdout" in out:
                    for line in (out.get("stdout", "") + out.get("stderr", "")).strip().splitlines()[-5:]:
                        problems.append(f"    {line}")
        else:
            problems.append(f"steady state met {when} the method: the break was not caught")
    if expect_deviation and states.get("after"):
        broken = [p["activity"]["name"] for p in states["after"].get("probes", []) if not p.get("tolerance_met")]
        if broken and not broken[0].startswith("followed-users"):
            problems.append(f"the steady state broke on {broken[0]}, not on the identity probe")
    for kind, runs in (("method", j.get("run") or []), ("rollback", j.get("rollbacks") or [])):
        for run in runs:
            name = run["activity"].get("name")
            if run.get("status") != "succeeded":
                problems.append(f"{kind} activity {name} {run.get('status')}")
            out = run.get("output")
            # On the naive fleet the load is expected to see errors: its verdict is the steady
            # state's load check after the method, which the deviation checks above cover.
            if expect_deviation and kind == "method" and name == LOAD_ACTION:
                continue
            if run["activity"]["provider"]["type"] == "process" and isinstance(out, dict) and out.get("status") != 0:
                tail = (out.get("stdout", "") + out.get("stderr", "")).strip().splitlines()[-1:]
                problems.append(f"{kind} activity {name} exited {out.get('status')}: {' '.join(tail)}")
    expectation = EXPECTATIONS.get(experiment_name(path), {})
    after_state = states.get("after") or {}
    if expect_deviation and expectation.get("naive_break"):
        complaints = " ".join(
            (p.get("output") or {}).get("stdout", "") for p in after_state.get("probes", [])
            if p["activity"]["name"].startswith("followed-users") and isinstance(p.get("output"), dict)
        )
        if not re.search(expectation["naive_break"], complaints):
            problems.append(
                f"the identity probe did not break as expected ({expectation['why']}: "
                f"looked for /{expectation['naive_break']}/)"
            )
    if expectation.get("fault"):
        checked = [parse_ts(p.get("end")) for p in after_state.get("probes", [])]
        cleared = [parse_ts(r.get("start")) for r in j.get("rollbacks") or []]
        if not after_state or None in checked or not cleared or None in cleared:
            problems.append("cannot tell whether the fault was in force during the steady-state check after the method")
        elif min(cleared) < max(checked):
            problems.append("the fault was cleared before the steady-state check after the method ended")
        if not any(
            r["activity"].get("type") == "probe" and r.get("status") == "succeeded"
            and isinstance(r.get("output"), dict) and r["output"].get("status") == 0
            for r in j.get("run") or []
        ):
            problems.append("no method probe showed the fault in force")
    declared = len(j.get("experiment", {}).get("rollbacks") or [])
    played = len(j.get("rollbacks") or [])
    if played != declared:
        problems.append(f"{played} of {declared} rollbacks were played")

    before = identity_figures(states.get("before"))
    after = identity_figures(states.get("after"))
    load = ""
    fault = ""
    for run in j.get("run") or []:
        m = probe_line(run, r"load: (?:OK|FAILED): (.*)")
        if m:
            load = m.group(1)
        m = probe_line(run, r"faults: (.* is in force)")
        if m:
            fault = m.group(1)
    row = {
        "experiment": j.get("experiment", {}).get("title", path),
        "file": path,
        "ok": not problems,
        "users": (after or before or (None,))[0],
        "max_before": before[1] if before else None,
        "max_after": after[1] if after else None,
        "degraded_after": after[2] if after else None,
        "duration": j.get("duration"),
        "load": load,
        "fault": fault,
        "broken": next(
            (m.group(0) for p in (states.get("after") or {}).get("probes", [])
             for m in [probe_line(p, r"identity probe: FAILED: .*")] if m),
            "",
        ),
        "journal": j,
    }
    return problems, row


def fmt(v, unit=""):
    return "-" if v is None else (f"{v:.1f}{unit}" if isinstance(v, float) else f"{v}{unit}")


def main(argv):
    prometheus = None
    expect_deviation = False
    while argv and argv[0].startswith("--"):
        if argv[0] == "--prometheus" and len(argv) >= 2:
            prometheus, argv = argv[1].rstrip("/"), argv[2:]
        elif argv[0] == "--expect-deviation":
            expect_deviation, argv = True, argv[1:]
        else:
            print(f"unknown option {argv[0]}", file=sys.stderr)
            return 2
    if not argv:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    failed = 0
    rows = []
    for path in argv:
        problems, row = check(path, expect_deviation)
        if problems:
            failed += 1
            print(f"FAIL {path}")
            for p in problems:
                print(f"  - {p}")
        if row:
            row["p99"] = p99_from_prometheus(prometheus, row["journal"]) if prometheus else None
            rows.append(row)
    print()
    header = f"{'result':6} {'experiment':52} {'users':>5} {'max latency before/after':>25} {'degraded':>8} {'p99 (Prometheus)':>17} {'took':>6}"
    print(header)
    print("-" * len(header))
    for r in rows:
        lat = f"{fmt(r['max_before'], ' ms')} / {fmt(r['max_after'], ' ms')}"
        print(
            f"{('PASS' if r['ok'] else 'FAIL'):6} {r['experiment'][:52]:52} {fmt(r['users']):>5} {lat:>25} "
            f"{fmt(r['degraded_after']):>8} {fmt(r['p99'], ' ms'):>17} {fmt(r['duration'], ' s'):>6}"
        )
        if expect_deviation and r["broken"]:
            print(f"{'':6} caught: {r['broken']}")
        if r["fault"]:
            print(f"{'':6} fault: {r['fault']}")
        if r["load"]:
            print(f"{'':6} load: {r['load']}")
    print()
    print(f"{len(argv) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
