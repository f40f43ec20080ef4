#!/usr/bin/env python3
"""bench/render.py [RESULTS_JSON]: validates the bench's results (default var/bench/results.json)
against their schema ("$schema": results.schema.json beside them, which `bench` generates from its
types; `bench --schema` prints it), exits 1 if they do not follow it, else writes results.md and,
when the run measured scaling, scaling.svg beside them. The figures and verdicts are the bench's:
this only lays them out. bench/run.sh runs it with var/venv's Python (jsonschema, matplotlib).
"""
import json
import math
import statistics
import sys
from pathlib import Path

import jsonschema

# The markdown's labels of the names in the JSON.
SYSTEMS = {"one-tier": "one-tier reference", "two-tier": "two-tier reference",
           "superpower": "superpower (3 powersources)", "powersource": "powersource GET /characters/{id}"}
FRONT_ENDS = {"superpower": "superpower", "nginx": "nginx", "haproxy": "HAProxy"}
# The criterion ids of signing and of checking the superpower_last cookie (report::MICRO_SIGN and
# report::MICRO_RECALL; a bench test holds them equal).
MICRO_SIGN, MICRO_RECALL = "promises/sign", "promises/recall_tracked"
INCIDENTS_SHOWN = 10  # the soak's first incidents listed (the JSON has them all)
NM = "not measured"


def thousands(v):
    """12345.6 -> 12,346 (half away from zero, as the bench rounds)."""
    return f"{int(math.copysign(math.floor(abs(v) + 0.5), v)):,}"


def ms(v):
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def failures(r):
    return sum(r["unexpected_status"].values()) + sum(r["errors"].values())


def failures_cell(r):
    parts = [f"{n}×{s}" for s, n in r["unexpected_status"].items()] + [f"{n}× {e}" for e, n in r["errors"].items()]
    return f"{failures(r)} ({', '.join(parts)})" if failures(r) else "0"


def cpu_cell(row):
    """CPU per request only when the run was long enough for the 10 ms clock ticks and the health checks to be small next to it."""
    return f"{row['server_cpu_us_per_request']:.1f}" if row["report"]["requests"] >= 10_000 else "—"


def lat(r, *qs):
    return [ms(r["latency"][f"{q}_ms"]) for q in qs]


def table(head, sep, rows):
    lines = ["| " + " | ".join(head) + " |", sep] + ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines)


def ranges(seconds):
    """1, 2, 3, 7 -> 1–3, 7"""
    spans = []
    for s in seconds:
        if spans and spans[-1][1] + 1 == s:
            spans[-1][1] = s
        else:
            spans.append([s, s])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans)


def e2e(e):
    rows = [[SYSTEMS[r["system"]], r["tool"], thousands(r["report"]["rps"]), *lat(r["report"], "p50", "p99", "max"),
             failures_cell(r["report"]), cpu_cell(r)] for r in e["max"]]

    def cpu(system):
        r = next((r for r in e["rates"] if (r["system"], r["tool"], r["report"]["rate"]) == (system, "generator", e["high_rate"])), None)
        if r is None:
            return NM
        parts = ", ".join(f"{k} {v:.1f}" for k, v in r["cpu_us_per_request"].items())
        return f"**{r['server_cpu_us_per_request']:.1f} µs** ({parts})"
    return [f"### Maximum throughput (closed loop, {e['connections']} connections; `GET /` as JSON, {e['users']} rotating users; generator: best of {e['rounds']} interleaved rounds)",
            table(["system", "tool", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "server CPU µs/req"], "|---|---|---:|---:|---:|---:|---:|---:|", rows),
            f"superpower = **{e['superpower_vs_two_tier']:.3f}×** the two-tier reference and **{e['superpower_vs_one_tier']:.3f}×** the one-tier one; powersource = **{e['powersource_vs_one_tier']:.3f}×** the one-tier reference (maximum throughput, generator).",
            f"CPU per request at {thousands(e['high_rate'])} req/s (what the throughput ratio comes from): superpower and its powersources {cpu('superpower')}; the two-tier reference {cpu('two-tier')}; the one-tier reference {cpu('one-tier')}.",
            "### Constant rate (open loop; latency counted from when each request was due)",
            table(["system", "tool", "asked req/s", "got req/s", "p50 ms", "p99 ms", "max ms", "errors", "server CPU µs/req"], "|---|---|---:|---:|---:|---:|---:|---:|---:|",
                  [[SYSTEMS[r["system"]], r["tool"], thousands(r["report"]["rate"] or 0), thousands(r["report"]["rps"]),
                    *lat(r["report"], "p50", "p99", "max"), failures_cell(r["report"]), cpu_cell(r)] for r in e["rates"]])]


def tracking(k):
    runs = lambda v: ", ".join(map(thousands, v))  # noqa: E731
    return [f"### Promise tracking: on vs off (superpower as shipped, and with `--no-promise-tracking`; same powersources and users, {k['rounds']} interleaved rounds, maximum throughput)",
            table(["promise tracking", "best req/s", "each run, req/s", "superpower CPU µs/req (median)"], "|---|---:|---|---:|",
                  [[s, thousands(k[f"{s}_best_rps"]), runs(k[f"{s}_rps"]), f"{k[f'{s}_median_cpu_us']:.1f}"] for s in ("on", "off")]),
            f"on = **{k['on_vs_off']:.3f}×** off (best runs); {thousands(k['identity_checks'])} identity checks made by the \"on\" side, {k['identity_changes']} changes."]


def peers(p):
    def find(runs, fe, rate=None):
        return next((r["report"] for r in runs if r["front_end"] == fe and (rate is None or r["report"]["rate"] == rate)), None)

    def row(what, cell, runs=None):
        """`cell(fe, report)` per front end; `runs`: the report is `fe`'s run there, "not measured" without one."""
        return [what] + [NM if runs is not None and find(runs, fe) is None else cell(fe, find(runs or [], fe)) for fe in FRONT_ENDS]

    def window(f):
        return lambda fe, _: next((f(w) for w in p["failover"] if w["front_end"] == fe), NM)

    def p99_max(fe, r):
        return f"{ms(r['latency']['p99_ms'])} / {ms(r['latency']['max_ms'])}; {failures_cell(r)}"

    def lose_all(fe, r):
        parts = [f"{r['expected']}×200 ({r['degraded']} degraded)"] if r["expected"] > 0 else []
        return ", ".join(parts + [f"{n}×{s}" for s, n in r["unexpected_status"].items()] + [f"{n}× {e}" for e, n in r["errors"].items()])
    nginx_max = (find(p["max"], "nginx") or {"rps": 0})["rps"]
    rounds = p["max_rounds"]
    ratio = statistics.median(r["rps_ratio"] for r in rounds) if rounds else None

    def max_cell(fe, r):
        if fe == "superpower" and ratio is not None:
            return f"{thousands(r['rps'])} ({ratio:.2f}× nginx)"
        if fe == "haproxy" and nginx_max > 0:
            return f"{thousands(r['rps'])} ({r['rps'] / nginx_max:.2f}× nginx)"
        return thousands(r["rps"])
    rates = []
    for r in p["rates"]:
        if r["report"]["rate"] is not None and (not rates or rates[-1] != r["report"]["rate"]):
            rates.append(r["report"]["rate"])
    rows = [row(f"users answered another character than superpower's ({thousands(p['users'])} users, once)",
                lambda fe, _: "—" if fe == "superpower" else str(len(find(p["same_character"], fe)["changed_users"])) if find(p["same_character"], fe) else NM),
            row(f"max throughput, oha -c 32, one cookie (req/s; the median of {len(rounds)} rounds; superpower: the median of its ratios to nginx in the same round)", max_cell, p["max"]),
            row("p99 at saturation (ms)", lambda fe, r: ms(r["latency"]["p99_ms"]), p["max"]),
            row("server CPU per request at saturation (µs, front end + powersources)",
                lambda fe, _: next((f"{r['server_cpu_us_per_request']:.1f}" for r in p["max"] if r["front_end"] == fe), NM))]
    rows += [row(f"p99 / max at {thousands(rate)} req/s, rotating users (ms; errors)", lambda fe, _, rate=rate: p99_max(fe, find(p["rates"], fe, rate)) if find(p["rates"], fe, rate) else NM)
             for rate in rates]
    rows += [row(f"one powersource slowed by {thousands(p['slow_ms'])} ms: p99 / max (ms; errors)", p99_max, p["slow"]),
             row(f"failover at {thousands(p['failover_rate'])} req/s (one of 3 SIGKILLed, restarted): errors", window(lambda w: failures_cell(w["window"]))),
             row("failover: p99 / max (ms)", window(lambda w: f"{ms(w['window']['latency']['p99_ms'])} / {ms(w['window']['latency']['max_ms'])}")),
             row("failover: users whose character changed", window(lambda w: str(w["changed_users"]))),
             row("lose all (every powersource SIGKILLed): answers to known users", lose_all, p["lose_all"])]
    versions = p["versions"]
    return ["### superpower, nginx and HAProxy in front of the same 3 powersources",
            f"nginx: `{versions.get('nginx', '')}`, `hash $cookie_superpower_id consistent`, proxying `/assignments/{{cookie}}`; HAProxy: `{versions.get('haproxy', '')}`, `balance hash req.cook(superpower_id)` + `hash-type consistent`. Both with keep-alive to the powersources, 2 workers / 2 threads, superpower's timeouts (connect 100 ms, attempt 300 ms, next instance on error, timeout or 5xx) and an access log line per request, as superpower has.",
            table(["figure", *FRONT_ENDS.values()], "|---|---:|---:|---:|", rows)]


def failover(f):
    w = f["window"]
    return [f"### Failover ({thousands(f['rate'])} req/s for {w['elapsed_s']:.0f} s; one of 3 powersources SIGKILLed at {f['kill_at_s']:.1f} s, restarted at {f['restart_at_s']:.1f} s)",
            table(["requests", "errors", "degraded", "p50 ms", "p99 ms", "max ms", "identity changes", "back on ring after restart", "probe identity"], "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
                  [[thousands(w["requests"]), failures_cell(w), w["degraded"], *lat(w, "p50", "p99", "max"), f["changed_users"], f"{f['back_on_ring_s']:.1f} s", "OK" if f["probe_ok"] else "FAILED"]])]


def lose_all(a):
    rows = [[who, thousands(r["rate"] or 0), want, thousands(r["expected"]), *lat(r, "p50", "p99", "max"), failures_cell(r)]
            for who, want, r in [("known (identity + signed cookie)", "200, degraded", a["known"]), ("unknown", "503", a["unknown"])]]
    return ["### Lose all (every powersource SIGKILLed)",
            table(["users", "req/s", "expected answer", "got it", "p50 ms", "p99 ms", "max ms", "other"], "|---|---:|---|---:|---:|---:|---:|---:|", rows),
            f"Known users answered degraded: {a['known']['degraded']} of {a['known']['requests']}; answered another superpower: {a['changed_users']}."]


def scaling(c, micro):
    out = ["### How cost grows (plot: `scaling.svg`, written beside `results.md`: `var/bench/` by default)",
           "superpower with more powersources (a fresh fleet each; generator, rotating users):",
           table(["powersources", "max req/s", "p99 at saturation ms", "p99 at 1,000 req/s ms", "errors", "superpower RSS MiB"], "|---:|---:|---:|---:|---:|---:|",
                 [[p["powersources"], thousands(p["max"]["rps"]), ms(p["max"]["latency"]["p99_ms"]), ms(p["at_rate"]["latency"]["p99_ms"]),
                   failures(p["max"]) + failures(p["at_rate"]), f"{p['superpower_rss_mib']:.1f}"] for p in c["instances"]])]
    if c["users"]:
        def rss(u, i):
            return f"{u['rss'][i]['before_mib']:.1f} → {u['rss'][i]['after_mib']:.1f} → {u['rss'][i]['after_second_mib']:.1f}" if i < len(u["rss"]) else NM

        def kept(u, i):
            if i >= len(u["returning"]):
                return NM
            r = u["returning"][i]
            return f"{thousands(r['kept'])} ({r['kept'] * 100 / max(u['sampled'], 1):.2f} %)" + (f"; failed {failures_cell(r['report'])}" if r["failed"] else "")
        mean = {m["id"]: m["mean_ns"] for m in micro}
        cost = (f"Signing it (criterion `{MICRO_SIGN}`, the `Set-Cookie` value): {thousands(mean[MICRO_SIGN])} ns per answer that sets it; reading and verifying it on a returning user's request, with the identity check (`{MICRO_RECALL}`): {thousands(mean[MICRO_RECALL])} ns."
                if MICRO_SIGN in mean and MICRO_RECALL in mean else
                f"Signing it: not measured in this run (criterion's `{MICRO_SIGN}`; `bench/run.sh` without `--no-micro` runs it).")
        size = lambda k: max(u["cookie"][k] for u in c["users"])  # noqa: E731
        out += ["superpower with more distinct users: a fresh front end of two replicas each (superpower-a and superpower-b: peers, one `--cookie-key`), 3 powersources; N new users once each through superpower-a (a first visit: each answer signs and sets the user's `superpower_last` cookie), then N others (what the first N left as warm-up is not left again: the second pass's growth is what is kept per user); then a sample spread over the first N asked again, their cookies kept; every powersource killed, and the sample asked on each replica (kept: the same superpower, degraded):",
                table(["users (N)", "req/s", "p99 ms", "errors", "superpower-a RSS MiB: before → N → 2N", "bytes per user: first N / next N", "superpower-b RSS MiB",
                       "returning users sampled", "kept on superpower-a", "kept on superpower-b", "changed"], "|" + "---:|" * 11,
                      [[thousands(u["users"]), thousands(u["rps"]), ms(u["p99_ms"]), u["errors"], rss(u, 0), f"{u['first_bytes_per_user']:.1f} / {u['bytes_per_user']:.1f}",
                        rss(u, 1), thousands(u["sampled"]), kept(u, 0), kept(u, 1), " / ".join(str(r["changed"]) for r in u["returning"])] for u in c["users"]]),
                f"The `superpower_last` cookie (the largest of the samples): a value of {size('value_bytes')} bytes (`ID.TAG`); the `Set-Cookie` header line carrying it, {size('set_cookie_bytes')} bytes, on an answer whose character changed (a new user's first); {size('request_bytes')} bytes more on every later request's `Cookie`. {cost}"]
    if c["replicas"]:
        first = c["replicas"][0]
        one = first["max"]["rps"]
        out += [f"Returning users ({thousands(c['users'][0]['sampled'] if c['users'] else 0)} of them, each with both cookies; closed loop, {first['connections']} connections, best of {len(first['rounds_rps'])} interleaved rounds) on superpower-a alone, then with the connections spread over superpower-a and superpower-b, as a balancer spreads them:",
                table(["replicas", "max req/s", "p50 ms", "p99 ms", "errors", "server CPU µs/req", "each round req/s"], "|---:|---:|---:|---:|---:|---:|---|",
                      [[r["replicas"], thousands(r["max"]["rps"]) + (f" ({r['max']['rps'] / one:.2f}× one)" if r["replicas"] > 1 and one > 0 else ""),
                        *lat(r["max"], "p50", "p99"), failures_cell(r["max"]), f"{r['server_cpu_us_per_request']:.1f}", ", ".join(map(thousands, r["rounds_rps"]))] for r in c["replicas"]])]
    if d := c["dns"]:
        out.append(f"DNS membership: {d['addresses']} addresses behind one name (`--powersource-dns`, re-resolved every {d['dns_interval_ms']} ms): all on the ring {d['all_on_ring_s']:.2f} s after superpower started; then {thousands(d['max']['rps'])} req/s, p99 {ms(d['max']['latency']['p99_ms'])} ms, {failures_cell(d['max'])} errors.")
    elif c["dns_not_measured"]:
        out.append(f"DNS membership: not measured ({c['dns_not_measured']}).")
    return out


def soak(k):
    load, after, rule = k["load"], k["after"], k["rss_rule"]
    faults = ", ".join(f"{n} {f}" for f, n in k["faults"].items())
    out = [f"### Soak ({thousands(k['rate'])} req/s for {k['seconds']:.0f} s, {thousands(k['users'])} returning users; faults from seed {k['seed']}: {faults}; at most {k['max_impaired']} of 3 powersources impaired at once)",
           table(["requests", "errors", "degraded", "p50 ms", "p99 ms", "max ms", "identity changes", "after: every user once", "SIGTERM needed SIGKILL", "exited by themselves"], "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
                 [[thousands(load["requests"]), failures_cell(load), load["degraded"], *lat(load, "p50", "p99", "max"), k["changed_users"],
                   f"{thousands(after['requests'])} users, {failures_cell(after)} errors", k["slow_stops"], len(k["unexpected_exits"])]])]
    if load.get("degraded_by_second"):
        out.append(f"Degraded answers (the fallback's) were due in these seconds of the run: {ranges(int(s) for s in load['degraded_by_second'])}.")
    out += [f"RSS (`VmRSS` every {rule['sample_every_s']:.0f} s; start and end: medians of {rule['edge_samples']} samples right after the {rule['warm_up_s']:.0f} s warm-up and at the end; peak: the largest `VmHWM` of its lives; flat: end ≤ start + max({rule['tolerance_pct']:.0f} % of start, {rule['tolerance_mib']:.0f} MiB), and the medians of {rule['windows']} equal windows after the warm-up not rising by more than {rule['step_pct']:g} % of start every time):",
            table(["process", "lives", "start MiB", "peak MiB", "end MiB", "window medians MiB", "flat"], "|---|---:|---:|---:|---:|---|---|",
                  [[m["process"], m["lives"], f"{m['start_mib']:.1f}", f"{m['peak_mib']:.1f}", f"{m['end_mib']:.1f}", ", ".join(f"{w:.1f}" for w in m["window_mib"]),
                    "yes" if m["why"] is None else f"**no**: {m['why']}"] for m in k["rss"]])]
    if k["unexpected_exits"]:
        out.append("\n".join(f"- **{e}**" for e in k["unexpected_exits"]))
    if inc := load.get("incidents"):
        out += [f"Incidents (failed, slower than {k['slow_ms']:.0f} ms, or another name; the first {min(len(inc), INCIDENTS_SHOWN)} of {len(inc)} kept, seconds into the run):",
                "\n".join(f"- {i['at_s']:.3f} s, user {i['user']}: {i['what']}" + (f" after {ms(i['latency_ms'])} ms" if i["latency_ms"] is not None else "") for i in inc[:INCIDENTS_SHOWN])]
    return out


def markdown(r):
    m = r["machine"]
    out = [f"## Benchmark results ({r['mode']} run, {r['started']})",
           f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_mib']} MiB RAM, Linux {m['kernel']}, {m['rustc']}; load average {m['load_average']} at the start. Everything (servers and load generator) shares these CPUs. Run took {r['duration_s']:.0f} s."]
    if r["product_env"]:
        out.append(f"**powersource and superpower ran with `{' '.join(r['product_env'])}`** (not as shipped).")
    for key, section in [("e2e", e2e), ("tracking", tracking), ("peers", peers), ("failover", failover), ("lose_all", lose_all),
                         ("scaling", lambda c: scaling(c, r["micro"])), ("soak", soak)]:
        out += section(r[key]) if r[key] else []
    if i := r["ingest"]:
        out += [f"### Ingest (`loader ingest`, {thousands(i['characters'])} characters, {i['image_bytes'] / 1e6:.1f} MB of images)",
                table(["runs (s)", "median s", "characters/s", "MB/s"], "|---|---:|---:|---:|",
                      [[", ".join(f"{x:.2f}" for x in i["runs_s"]), f"{i['median_s']:.2f}", thousands(i["characters_per_s"]), f"{i['mb_per_s']:.0f}"]])]
    if r["memory"]:
        out += ["### Peak memory (VmHWM, after all the load)", table(["process", "peak RSS MiB"], "|---|---:|", [[x["name"], f"{x['peak_rss_mib']:.1f}"] for x in r["memory"]])]
    if r["micro"]:
        out += ["### Micro-benchmarks (criterion, mean per call)", table(["benchmark", "ns"], "|---|---:|", [[x["id"], f"{x['mean_ns']:.0f}"] for x in r["micro"]])]
    verdict = {True: "PASS", False: "MISS", None: "—"}
    out += ["### Targets", table(["what", "target", "figure", "verdict"], "|---|---|---|---|", [[t["what"], t["target"], t["figure"], verdict[t["pass"]]] for t in r["targets"]])]
    if r["failures"]:
        out += ["### Errors", "\n".join(f"- {f}".replace("\n", " ") for f in r["failures"])]
    return "\n\n".join(out) + "\n"


def plot(c, path):
    """Four charts: throughput and p99 against powersources and against distinct users (log x)."""
    import matplotlib
    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.hashsalt": "bench", "font.size": 8})  # the same ids for the same figures
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter
    fig, axes = plt.subplots(2, 2, figsize=(7.2, 4.8))
    inst = [p["powersources"] for p in c["instances"]]
    users = [u["users"] for u in c["users"]]
    for ax, title, xlabel, ylabel, xs, ys in [
            (axes[0][0], "max throughput vs powersources", "powersources (log scale)", "req/s", inst, [p["max"]["rps"] for p in c["instances"]]),
            (axes[0][1], "p99 at 1,000 req/s vs powersources", "powersources (log scale)", "p99 ms", inst, [p["at_rate"]["latency"]["p99_ms"] for p in c["instances"]]),
            (axes[1][0], "throughput vs distinct users (each once)", "distinct users (log scale)", "req/s", users, [u["rps"] for u in c["users"]]),
            (axes[1][1], "p99 vs distinct users (each once)", "distinct users (log scale)", "p99 ms", users, [u["p99_ms"] for u in c["users"]])]:
        ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _, rps=ylabel == "req/s": thousands(y) if rps else f"{y:.1f}"))
        if xs:
            ax.plot(xs, ys, marker="o")
            ax.set_xscale("log")
            ax.set_xticks(xs, [thousands(x) for x in xs])
            ax.minorticks_off()
            ax.set_ylim(0, max(max(ys), 1e-9) * 1.15)
        ax.grid(axis="y", color="#eee")
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})


def main():
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "var/bench/results.json")
    results = json.loads(path.read_text())
    schema = json.loads((path.parent / results.get("$schema", "results.schema.json")).read_text())
    errors = sorted(jsonschema.validators.validator_for(schema)(schema).iter_errors(results), key=lambda e: list(e.absolute_path))
    for e in map(lambda e: jsonschema.exceptions.best_match([e]), errors[:10]):
        print(f"render: {path}: at /{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}", file=sys.stderr)
    if errors:
        sys.exit(f"render: {path} does not follow its schema ({len(errors)} errors)")
    (path.parent / "results.md").write_text(markdown(results))
    if results["scaling"]:
        plot(results["scaling"], path.parent / "scaling.svg")
    print(f"render: {path} follows its schema; wrote results.md{' and scaling.svg' if results['scaling'] else ''} beside it", file=sys.stderr)


if __name__ == "__main__":
    main()
