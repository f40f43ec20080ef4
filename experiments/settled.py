#!/usr/bin/env python3
"""Waits until Prometheus' part of an experiment's steady state holds, so a run starts clean.

    python3 experiments/settled.py [--timeout SECONDS] EXPERIMENT.json

Prometheus keeps what an earlier fleet (or the experiment before) did in the window a steady-state
query looks back over: a superpower changed by `visitors/check.sh` (stable assignment switched off
on purpose) half a minute before a fresh fleet starts, a frozen container's slow answers. The first
steady state would then fail on history that is not this run's. This asks each `chaosprometheus`
probe of the experiment's steady-state hypothesis — its own query, with its configuration
substituted (the environment variable, else the default), so the queries live in one place — until
every one answers its tolerance's expected value, and says what it waits for. After --timeout
(default 90 s) it gives up and exits 0 all the same: the experiment then measures and reports the
break itself. Exit 2 on a bad experiment file. Standard library only; PROMETHEUS_URL (default
http://127.0.0.1:9090).
"""

import argparse
import json
import os
import re
import sys
import time
import urllib.parse
import urllib.request


def configuration(experiment):
    """The experiment's configuration values: env-typed entries from the environment or default."""
    values = {}
    for key, entry in experiment.get("configuration", {}).items():
        if isinstance(entry, dict) and entry.get("type") == "env":
            values[key] = os.environ.get(entry["key"], entry.get("default", ""))
        elif isinstance(entry, str):
            values[key] = entry
    return values


def prometheus_checks(experiment):
    """(name, query, expected value) of each Prometheus query probe of the steady state."""
    values = configuration(experiment)

    def substitute(text):
        return re.sub(r"\$\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), text)

    checks = []
    for probe in experiment.get("steady-state-hypothesis", {}).get("probes", []):
        provider = probe.get("provider", {})
        if provider.get("module") != "chaosprometheus.probes" or provider.get("func") != "query":
            continue
        expect = probe.get("tolerance", {}).get("expect")
        checks.append((probe["name"], substitute(provider["arguments"]["query"]), str(expect)))
    return checks


def value(base, query, at=None):
    """The instant query's first value (now, or at the Unix time `at`), or a short reason it has
    none. experiments/verify_journals.py asks Prometheus through it too."""
    params = urllib.parse.urlencode({"query": query} if at is None else {"query": query, "time": at})
    try:
        with urllib.request.urlopen(f"{base}/api/v1/query?{params}", timeout=5) as resp:
            result = json.load(resp)["data"]["result"]
    except (OSError, ValueError, KeyError) as err:
        return f"unreachable ({err})"
    return result[0]["value"][1] if result else "no data"


def holds(base, query, want):
    """None when the check holds, else what Prometheus answered. A latency check with no traffic
    in its window (`Q < bool 1` where Q is NaN: no answers to measure) holds here: there is no
    earlier history to wait out, and the experiment's own probe makes the traffic it measures."""
    got = value(base, query)
    if got == want:
        return None
    bound = re.fullmatch(r"(?s)(.*\S)\s*<\s*bool\s+([0-9.]+)\s*", query)
    if bound and value(base, bound.group(1)) in ("NaN", "no data"):
        return None
    return got


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("experiment")
    args = parser.parse_args()
    try:
        with open(args.experiment, encoding="utf-8") as f:
            checks = prometheus_checks(json.load(f))
    except (OSError, ValueError, KeyError, AttributeError) as err:
        print(f"[settled] {args.experiment}: not an experiment file ({err})", file=sys.stderr)
        return 2
    base = os.environ.get("PROMETHEUS_URL", "http://127.0.0.1:9090").rstrip("/")
    deadline = time.monotonic() + args.timeout
    said = set()
    while True:
        pending = [(n, v) for n, q, want in checks if (v := holds(base, q, want)) is not None]
        if not pending:
            return 0
        for name, got in pending:
            if name not in said:
                said.add(name)
                print(f"[settled] {name} does not hold yet in Prometheus ({got}): "
                      "earlier history is still in its window, waiting", flush=True)
        if time.monotonic() >= deadline:
            names = ", ".join(n for n, _ in pending)
            print(f"[settled] still not holding after {args.timeout:.0f} s: {names}; "
                  "the experiment will report it", flush=True)
            return 0
        time.sleep(2)


if __name__ == "__main__":
    sys.exit(main())
