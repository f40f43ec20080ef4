#!/usr/bin/env python3
"""Checks chaostoolkit journals and prints a summary table of what the runs measured.

    var/venv/bin/python experiments/verify_journals.py [--prometheus URL] [--expect-deviation] JOURNAL...

`chaos run` can exit 0 when the steady state already failed before the method, so its exit code
proves nothing: a journal passes here only if
- "status" is "completed" and "deviated" is false;
- the steady state was met both before and after the method;
- every method activity and every rollback succeeded, and every `process` one exited 0;
- every rollback the experiment declares was played.

With --expect-deviation (the naive fleet, experiments/run.sh --naive) a journal passes
only if the experiment caught the break: "status" "completed", "deviated" true, the steady
state met before the method and broken after it by the identity probe, every method step and
rollback succeeded — so a probe that cannot fail is caught — and, for the experiments in
EXPECTATIONS, the probe's complaint is the one the switched-off mechanism causes (or, for one
whose break shows in the load during the fault, flapping-powersource, the load check broke and
the load saw failed requests) (a user failed
with HTTP status 503 without failover or fallback, or, for the front-end experiments, without
a cookie key every replica shares; a user timed out or answered over the limit without
deadlines and hedging).

Fault experiments (slow-powersource, failing-powersource) must also show that the fault was in
force while the steady state was checked after the method: the method's own probe of the
instance (experiments/faults.sh expect) succeeded, and the rollback that clears the fault began
only after that steady-state check had ended.

The front-end experiments (lose-a-superpower-replica: SIGKILL; rolling-restart-of-superpower:
SIGTERM, drained; and their container variants) run the load in the background while they act on
the superpower replicas; their row says what promise 2 saw meanwhile — failed requests of all, and
the worst latency — from the load run's figures (`load result:` in its output). A resilient
journal also fails when those figures are missing, or when more requests failed than the load
allowed: for a kill, one a connection (the requests in flight on the killed replica's
connections); for a drain, DRAIN_MAX_FAILED (0: the replica's lame duck closes each connection after an
answer; every request in flight must be answered).

The identity probe runs with --json: every check and figure about it reads the one JSON object
it prints (the journal's probe `output.stdout`; schema in probe/src/lib.rs), and an
identity probe run that printed no such object fails the journal. The load and fault scripts'
lines (experiments/load.sh, experiments/faults.sh) are matched as text, but for the load's
figures (one JSON object after `load result:`).

Figures in the table: the identity probe's users and max latency (before / after the method),
how many answers were degraded (from the fallback) after it, superpower's p99 over the
experiment's window from Prometheus (when reachable), and the load run's summary. Exit status:
0 when every journal passes, 1 otherwise. Standard library only.
"""

import json
import math
import re
import sys
from datetime import datetime

import settled  # this directory's: its Prometheus query

P99_QUERY = (
    'histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket'
    '{{job="superpower", route!~"/health|/live|/metrics"}}[{window}s])))'
)


# What each experiment must show, by its file name (journal-NAME.json or NAME.json):
# "naive_break" is what the identity probe must report on the naive fleet — at least one of its
# problems must have every field of one of these patterns (a range matches any number in it) —
# and "why" says which switch removes the mechanism that prevents it; "fault" marks an experiment
# whose fault must still be in force during the steady-state check after the method; "promise2"
# names how a front-end experiment ends a replica under load ("kill" or "drain"), whose promise 2
# figures the table reports.
EXPECTATIONS = {
    "lose-half-of-powersources": {
        "naive_break": [{"kind": "failed", "reason": "status", "status": 503}],
        "why": "failover off: a request that lands on a dead instance is not retried",
    },
    "lose-all-of-powersources": {
        "naive_break": [{"kind": "failed", "reason": "status", "status": 503}],
        "why": "fallback off: nothing answers when every instance is gone",
    },
    "slow-powersource": {
        "naive_break": [{"kind": "failed", "reason": "timeout"}, {"kind": "slow"}],
        "why": "deadlines and hedging off: a request that lands on the slow instance waits 2 s",
        "fault": True,
    },
    "failing-powersource": {
        "naive_break": [{"kind": "failed", "reason": "status", "status": range(500, 510)}],
        "why": "failover off: an injected 500 is not retried on another instance",
        "fault": True,
    },
    # the container experiments (experiments/containers/, experiments/run.sh --engine containers)
    "frozen-powersource": {
        "naive_break": [{"kind": "failed", "reason": "timeout"}, {"kind": "slow"}],
        "why": "deadlines and hedging off: a request that lands on the frozen instance waits for the 5 s read timeout",
        "fault": True,
    },
    "partitioned-powersource": {
        "naive_break": [{"kind": "failed", "reason": "timeout"}, {"kind": "slow"}, {"kind": "failed", "reason": "status", "status": 503}],
        "why": "deadlines, hedging and failover off: a request to the vanished address hangs until the 2 s connect timeout",
        "fault": True,
    },
    "dropped-powersource": {
        "naive_break": [{"kind": "failed", "reason": "timeout"}, {"kind": "slow"}],
        "why": "deadlines and hedging off: a connect to the dropping instance hangs until the 2 s connect timeout",
        "fault": True,
    },
    "lose-half-of-powersource-containers": {
        "naive_break": [{"kind": "failed", "reason": "timeout"}, {"kind": "slow"}, {"kind": "failed", "reason": "status", "status": 503}],
        "why": "failover and deadlines off: a killed container's address is gone, and a request to it hangs until the 2 s connect timeout",
    },
    "lose-all-of-powersource-containers": {
        "naive_break": [{"kind": "failed", "reason": "timeout"}, {"kind": "slow"}, {"kind": "failed", "reason": "status", "status": 503}],
        "why": "fallback and deadlines off: nothing answers when every container is gone",
    },
    # the front-end experiments (experiments/local/, tag "frontend"): the naive front end is two
    # replicas, every switch on, each with a cookie key of its own (up.sh --own-cookie-keys)
    "lose-a-superpower-replica": {
        "naive_break": [{"kind": "failed", "reason": "status", "status": 503}],
        "why": "a cookie key per replica: the survivor cannot verify a last known superpower the lost replica "
        "signed, and no powersource answers",
        "promise2": "kill",
    },
    "rolling-restart-of-superpower": {
        "naive_break": [{"kind": "failed", "reason": "status", "status": 503}],
        "why": "a cookie key per replica, made anew at each start: no restarted replica can verify a last known "
        "superpower signed before the restart, and no powersource answers",
        "promise2": "drain",
    },
    "lose-a-superpower-container": {
        "naive_break": [{"kind": "failed", "reason": "status", "status": 503}],
        "why": "no shared cookie key (no Secret superpower-cookie): the surviving replica cannot verify a last "
        "known superpower the lost one signed, and no powersource answers",
        "promise2": "kill",
    },
    "rolling-restart-of-superpower-containers": {
        "naive_break": [{"kind": "failed", "reason": "status", "status": 503}],
        "why": "no shared cookie key (no Secret superpower-cookie): each replica makes a key anew at each start, "
        "so none can verify a last known superpower signed before the restart, and no powersource answers",
        "promise2": "drain",
    },
    # The naive superpower ejects the flapping instance at its first failure and, with no health
    # check to bring it back, never asks it again: the break is in the load during the flap.
    "flapping-powersource": {
        "breaks_on": "the-load-ran-without-errors",
        "load_break": r"load: FAILED: .*([1-9][0-9]* non-2xx|[1-9][0-9]* errors)",
        "why": "failover off: a request that lands on the instance while it is down is not retried",
    },
}

# The steady-state probe that runs `superpower probe identity --json`, by its name's start.
IDENTITY_PROBE = "followed-users"


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
    """The first match of pattern in a run's stdout (the load and fault scripts' lines)."""
    out = run.get("output") or {}
    text = out.get("stdout", "") if isinstance(out, dict) else ""
    m = re.search(pattern, text)
    return m


def load_figures(journal):
    """The load run's figures (experiments/load.sh run's `load result:` object); None without one."""
    for run in journal.get("run") or []:
        m = probe_line(run, r"(?m)^load result: (\{.*\})$")
        if m:
            try:
                return json.loads(m.group(1))
            except ValueError:
                return None
    return None


def promise2_line(how, load):
    """What promise 2 saw while a replica was killed or drained, from the load's figures."""
    failed = load.get("non_2xx", 0) + load.get("errors", 0)
    kinds = load.get("error_kinds") or {}
    codes = {k: v for k, v in (load.get("status_codes") or {}).items() if not k.startswith("2")}
    detail = ", ".join(f"{v}x {k}" for k, v in list(kinds.items()) + list(codes.items()))
    return (
        f"promise 2 during the {'kill (SIGKILL)' if how == 'kill' else 'drain (SIGTERM)'}: "
        f"{failed} of {load.get('requests')} requests failed{f' ({detail})' if detail else ''}, "
        f"p99 {load.get('p99_ms')} ms, worst {load.get('max_ms')} ms"
    )


def identity_runs(state):
    """The identity probe's runs in a steady state."""
    return [run for run in (state or {}).get("probes", []) if run["activity"]["name"].startswith(IDENTITY_PROBE)]


def probe_report(run):
    """The identity probe's --json object from a run's stdout; None when it printed none."""
    out = run.get("output")
    if not isinstance(out, dict):
        return None
    try:
        report = json.loads(out.get("stdout") or "")
    except (TypeError, ValueError):
        return None
    return report if isinstance(report, dict) and report.get("probe") == "identity" else None


def output_lines(run):
    """A process run's output as lines: the identity probe's human lines (from its JSON), or the
    stdout of anything else, then stderr."""
    out = run.get("output")
    if not isinstance(out, dict):
        return []
    report = probe_report(run)
    if report:
        lines = [f"identity probe: {p.get('message')}" for p in report.get("problems") or []]
        lines.append(str(report.get("summary", "")))
    else:
        lines = (out.get("stdout") or "").strip().splitlines()
    return lines + (out.get("stderr") or "").strip().splitlines()


def identity_figures(state):
    """(users, max latency ms, degraded) from the identity probe of a steady state."""
    for run in identity_runs(state):
        report = probe_report(run)
        if report and report.get("users") is not None:
            return int(report["users"]), float(report["max_latency_ms"]), int(report["degraded"])
    return None


def matches(problem, pattern):
    """Whether an identity probe problem has every field of a naive_break pattern."""
    return all(
        problem.get(k) in want if isinstance(want, range) else problem.get(k) == want for k, want in pattern.items()
    )


def describe(patterns):
    """A naive_break's patterns as text: kind=failed, reason=status, status=503 or ..."""

    def value(v):
        return f"{v.start}..{v.stop - 1}" if isinstance(v, range) else str(v)

    return " or ".join(", ".join(f"{k}={value(v)}" for k, v in p.items()) for p in patterns)


def p99_from_prometheus(base, journal):
    """superpower's p99 (ms) over the run's window, evaluated at the run's end; None if unknown."""
    try:
        start = datetime.fromisoformat(journal["start"])
        end = datetime.fromisoformat(journal["end"])
    except (KeyError, ValueError):
        return None
    window = max(10, math.ceil((end - start).total_seconds()) + 4)
    try:
        value = float(settled.value(base, P99_QUERY.format(window=window), at=end.timestamp() + 4))
    except ValueError:  # unreachable, no data
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
                    for line in output_lines(p)[-5:]:
                        problems.append(f"    {line}")
        else:
            problems.append(f"steady state met {when} the method: the break was not caught")
    for when in ("before", "after"):
        for run in identity_runs(states.get(when)):
            if isinstance(run.get("output"), dict) and probe_report(run) is None:
                problems.append(f"the identity probe {when} the method printed no --json report")
    expectation = EXPECTATIONS.get(experiment_name(path), {})
    if expect_deviation and states.get("after"):
        broken = [p["activity"]["name"] for p in states["after"].get("probes", []) if not p.get("tolerance_met")]
        breaks_on = expectation.get("breaks_on", IDENTITY_PROBE)
        if broken and not broken[0].startswith(breaks_on):
            problems.append(f"the steady state broke on {broken[0]}, not on {breaks_on}")
        if expectation.get("load_break") and not any(
            probe_line(r, expectation["load_break"]) for r in j.get("run") or []
        ):
            problems.append(f"the load saw no failed request ({expectation['why']})")
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
                tail = output_lines(run)[-1:]
                problems.append(f"{kind} activity {name} exited {out.get('status')}: {' '.join(tail)}")
    after_state = states.get("after") or {}
    if expect_deviation and expectation.get("naive_break"):
        complaints = [
            p for run in identity_runs(after_state) for p in (probe_report(run) or {}).get("problems") or []
        ]
        if not any(matches(p, pattern) for p in complaints for pattern in expectation["naive_break"]):
            problems.append(
                f"the identity probe did not break as expected ({expectation['why']}: "
                f"looked for a problem with {describe(expectation['naive_break'])})"
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
    figures = load_figures(j)
    how = expectation.get("promise2")
    if how and not expect_deviation:
        if figures is None or figures.get("state") != "done" or "requests" not in figures:
            problems.append(f"no load figures: cannot tell what promise 2 saw during the {how}")
        else:
            failed = figures.get("non_2xx", 0) + figures.get("errors", 0)
            allowed = figures.get("max_failed", 0)
            if failed > allowed:
                why = {
                    "kill": "one a connection: the requests in flight on the killed replica's connections",
                    "drain": "the idle keep-alive connections a draining replica closes; a drain must answer "
                    "every request in flight",
                }[how]
                problems.append(f"{failed} requests failed during the {how}, more than the {allowed} allowed ({why})")
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
        "promise2": promise2_line(how, figures) if how and figures and "requests" in figures else "",
        "broken": next(
            (r["summary"] for r in map(probe_report, identity_runs(states.get("after")))
             if r and r.get("verdict") in ("broken", "unreachable")),
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
        if r["promise2"]:  # the load's figures, said as what promise 2 saw
            print(f"{'':6} {r['promise2']}")
        elif r["load"]:
            print(f"{'':6} load: {r['load']}")
    print()
    print(f"{len(argv) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
