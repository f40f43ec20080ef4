#!/usr/bin/env python3
"""The suite's trace checks, against the real local fleet started with
OTEL_EXPORTER_OTLP_ENDPOINT pointing at traces/receiver.py (traces/check.sh does that).

    check_traces.py --receiver URL --superpower URL --fleet-dir var/fleet services
    check_traces.py --receiver URL --superpower URL --fleet-dir var/fleet observer
    check_traces.py --receiver URL --superpower URL --fleet-dir var/fleet experiment JOURNAL
    check_traces.py --receiver URL --receiver-pid PID --superpower URL --fleet-dir var/fleet flush

services:   a request with a client's traceparent: one trace id across superpower and
            powersource, the server span a child of the client's span, the attempt a child of
            the server span and the parent of powersource's span, the trace id in the access
            log; then for a request whose owner instance is frozen (SIGSTOP) and one whose owner
            is killed (SIGKILL): the failed attempt and the hedge / failover attempt that
            answered are siblings under the request span.
observer:   chaos on the collector (slow, erroring, black-holed by SIGSTOP, dead): every request
            still answers 200, /metrics and the access log keep working, superpower's RSS stays
            flat. Prints the figures.
flush:      SIGTERM flushes: a superpower of its own (free port, the fleet's powersource-1),
            batches held back (OTEL_BSP_SCHEDULE_DELAY of 10 minutes, batches of 4096) so
            nothing is exported while it runs; K requests with known traceparents; SIGTERM: it
            exits promptly and the receiver then has all K server spans and their attempts.
            Then the same with the receiver black-holed (SIGSTOP): it still exits within the
            bound (drain + the 3 s flush timeout), without a hang.
experiment: the chaostoolkit run that wrote JOURNAL yields one trace whose root is the
            experiment span, with hypothesis / method / activity spans, and whose identity-probe
            activities contain superpower's server spans, their attempts and powersource's spans.
Exit 0 when every check holds, 1 (one line per failure) otherwise.
"""

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

FAILURES = []


def check(ok, what):
    print(("PASS " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILURES.append(what)
    return ok


def http(method, url, headers=None, timeout=5.0):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def get_json(url, **kw):
    status, _, body = http("GET", url, **kw)
    return status, (json.loads(body) if body else None)


def spans_of(receiver, trace_id):
    return get_json(f"{receiver}/spans?trace_id={trace_id}")[1]


def wait_spans(receiver, trace_id, done, timeout=15.0):
    """Polls the receiver until done(spans) holds (or timeout); returns the last spans."""
    deadline = time.monotonic() + timeout
    spans = []
    while time.monotonic() < deadline:
        spans = spans_of(receiver, trace_id)
        if done(spans):
            return spans
        time.sleep(0.2)
    return spans


def new_traceparent():
    return secrets.token_hex(16), secrets.token_hex(8)


def log_has(path, needle, timeout=3.0):
    """Whether the log at `path` holds `needle` within `timeout` (the log writer writes in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        if needle in open(path, encoding="utf-8", errors="replace").read():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def ask(superpower, user=None, traceparent=None, timeout=5.0, tracestate=None, path="/"):
    headers = {"Accept": "application/json"}
    if user:
        headers["Cookie"] = f"superpower_id={user}"
    if traceparent:
        headers["traceparent"] = "00-%s-%s-01" % traceparent
    if tracestate:
        headers["tracestate"] = tracestate
    status, hdrs, body = http("GET", superpower.rstrip("/") + path, headers, timeout)
    cookie = hdrs.get("set-cookie", "")
    new_user = cookie.split(";")[0].split("=", 1)[1] if cookie.startswith("superpower_id=") else None
    return status, (json.loads(body) if status == 200 else None), new_user


def pid_of(fleet_dir, name):
    with open(os.path.join(fleet_dir, f"{name}.pid")) as f:
        return int(f.read().strip())


def attempts_under(spans, parent_id):
    return sorted(
        (s for s in spans if s["parent_span_id"] == parent_id and s["kind"] == "client"),
        key=lambda s: s["attributes"].get("superpower.attempt", 0),
    )


def server_span(spans, service, parent_id=None):
    for s in spans:
        if s["service"] == service and s["kind"] == "server":
            if parent_id is None or s["parent_span_id"] == parent_id:
                return s
    return None


def describe(spans):
    return "; ".join(
        f'{s["service"]}:{s["name"]}[{s["attributes"].get("superpower.attempt.outcome", s["attributes"].get("http.response.status_code"))}]'
        for s in spans
    )


# --- services ---------------------------------------------------------------------------------
def services(a):
    # 1. one request, with a client's traceparent
    user = None
    _, _, user = ask(a.superpower)
    check(user is not None, "superpower gives a new visitor an identity cookie")
    tid, parent = new_traceparent()
    status, answer, _ = ask(a.superpower, user, (tid, parent))
    check(status == 200, f"a request with a traceparent is answered 200 (got {status})")

    def complete(spans):
        return server_span(spans, "superpower") and server_span(spans, "powersource")

    spans = wait_spans(a.receiver, tid, complete)
    sp = server_span(spans, "superpower")
    ps = server_span(spans, "powersource")
    if not check(sp is not None and ps is not None, f"trace {tid} has superpower's and powersource's server spans ({describe(spans)})"):
        return
    check({s["trace_id"] for s in spans} == {tid}, "one trace id across superpower and powersource, the client's")
    check(sp["parent_span_id"] == parent, "superpower's server span is a child of the client's span (traceparent accepted)")
    attrs = sp["attributes"]
    check(
        attrs.get("http.request.method") == "GET" and attrs.get("http.route") == "/" and attrs.get("http.response.status_code") == 200,
        f"the server span has method, route template and status ({attrs})",
    )
    check(sp["name"] == "GET /", f'the server span is named "GET /" (got {sp["name"]!r})')
    tries = attempts_under(spans, sp["span_id"])
    check(len(tries) >= 1 and tries[0]["attributes"].get("superpower.attempt.reason") == "first", f"an attempt span (client) under the server span ({describe(tries)})")
    check(
        any(ps["parent_span_id"] == t["span_id"] for t in tries),
        "powersource's server span is a child of superpower's attempt (traceparent propagated)",
    )
    check(ps["attributes"].get("http.route", "").startswith("/assignments"), f'powersource names its route template ({ps["attributes"].get("http.route")})')
    check(ps["resource"].get("service.instance.id") == (answer or {}).get("instance"), "powersource's spans carry its instance name")
    check(log_has(os.path.join(a.fleet_dir, "superpower.log"), f'"trace_id":"{tid}"'), "the access log line carries the trace id")

    # 1b. a client's bytes stay bounded in the spans: a small tracestate goes on (to powersource
    # too); one of more than 8 members, or over 512 bytes (the largest W3C allows: 32 members),
    # is dropped whole; a long path is cut as the access log cuts it
    small = "vendor=abc"
    for state, kept, what in [
        (small, small, "a small tracestate is kept on"),
        (",".join(f"v{i}=x" for i in range(9)), "", "a tracestate of 9 members is dropped from"),
        (",".join(f"v{i}={'x' * 240}" for i in range(32)), "", "a 7,829-byte tracestate is dropped from"),
    ]:
        tid, parent = new_traceparent()
        status, _, _ = ask(a.superpower, user, (tid, parent), tracestate=state)
        spans = wait_spans(a.receiver, tid, complete)
        check(status == 200 and spans and all(s["trace_state"] == kept for s in spans),
              f"{what} every span of the trace ({[s['trace_state'][:20] for s in spans]})")
    tid, parent = new_traceparent()
    status, _, _ = ask(a.superpower, None, (tid, parent), path="/images/" + "9" * 3000)
    spans = wait_spans(a.receiver, tid, lambda spans: server_span(spans, "superpower"))
    sp = server_span(spans, "superpower") if spans else None
    check(sp is not None and len(sp["attributes"].get("url.path", "")) == 200,
          f"a 3,007-byte path is cut to 200 bytes in the span (status {status}, "
          f"{len(sp['attributes'].get('url.path', '')) if sp else 'no span'})")

    # 2. the owner frozen (SIGSTOP): the hedge answers, the frozen attempt fails; siblings
    for fault in ("freeze", "kill"):
        owner_user, owner = None, None
        for _ in range(20):  # a user whose owner is not an instance we already faulted
            _, _, u = ask(a.superpower)
            st, ans, _ = ask(a.superpower, u)
            if st == 200 and ans.get("instance") and ans["instance"] not in a.faulted:
                owner_user, owner = u, ans["instance"]
                break
        if not check(owner is not None, f"{fault}: found a user and their owner instance"):
            continue
        a.faulted.add(owner)
        pid = pid_of(a.fleet_dir, owner)
        os.kill(pid, signal.SIGSTOP if fault == "freeze" else signal.SIGKILL)
        try:
            tid, parent = new_traceparent()
            status, answer, _ = ask(a.superpower, owner_user, (tid, parent))
            done = "frozen" if fault == "freeze" else "killed"
            check(status == 200 and answer.get("instance") != owner, f"{fault}: {owner} {done}, the request is still answered, by {answer and answer.get('instance')}")
            want = "hedge" if fault == "freeze" else "failover"

            def settled(spans):
                sp = server_span(spans, "superpower")
                if not sp:
                    return False
                tries = attempts_under(spans, sp["span_id"])
                return len(tries) >= 2 and all(t["attributes"].get("superpower.attempt.outcome") for t in tries)

            spans = wait_spans(a.receiver, tid, settled, timeout=20)
            sp = server_span(spans, "superpower")
            tries = attempts_under(spans, sp["span_id"]) if sp else []
            print(f"  {fault}: attempts {describe(tries)}")
            # a frozen instance times out; a killed one refuses new connections (connect_error)
            # or resets the pooled one the attempt used (error: the connection closed)
            failed = [t for t in tries if t["attributes"].get("superpower.attempt.outcome") in ("timeout", "connect_error", "error")]
            won = [t for t in tries if t["attributes"].get("superpower.attempt.outcome") == "ok" and t["attributes"].get("superpower.attempt.reason") == want]
            check(len(tries) >= 2 and failed and won, f"{fault}: the failed attempt and the {want} that answered are siblings under the request span ({describe(tries)})")
            if failed:
                o = failed[0]["attributes"]["superpower.attempt.outcome"]
                why = failed[0]["attributes"].get("error.type", "")
                ok = o == "timeout" if fault == "freeze" else (o == "connect_error" or (o == "error" and why))
                check(ok and failed[0]["status"] == "error", f"{fault}: the failed attempt says why ({o}: {why}) and is marked failed")
            if won:
                check(server_span(spans, "powersource", won[0]["span_id"]) is not None, f"{fault}: the {want}'s powersource span is under it")
        finally:
            if fault == "freeze":
                os.kill(pid, signal.SIGCONT)
            else:
                idx = owner.rsplit("-", 1)[1]
                subprocess.run([os.path.join(a.root, "deploy/local/powersource.sh"), "start", idx], check=False, stdout=subprocess.DEVNULL)


# --- flush on SIGTERM -------------------------------------------------------------------------
FLUSH_BOUND_S = 3.0  # service/src/traces.rs FLUSH_TIMEOUT


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_held_superpower(a, name, log):
    """A superpower of its own exporting to the receiver, batches held back for 10 minutes."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=a.receiver,
        OTEL_SERVICE_NAME=name,
        OTEL_BSP_SCHEDULE_DELAY="600000",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE="4096",
        OTEL_BSP_MAX_QUEUE_SIZE="4096",
        OTEL_TRACES_SAMPLER="parentbased_always_on",
    )
    proc = subprocess.Popen(
        [os.path.join(a.root, "target/release/superpower"), "--listen", f"127.0.0.1:{port}",
         "--powersource", a.powersource, "--drain-timeout-ms", "2000"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if http("GET", url + "health", timeout=1)[0] == 200:
                return proc, url
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"flush: the superpower {name} did not become healthy (see {log.name})")


def stop(proc):
    """SIGTERM; returns seconds to exit (None: it did not exit within 30 s, then SIGKILL)."""
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None
    return time.monotonic() - t0


def flush(a):
    k = a.flush_requests
    out = os.path.join(a.root, "var/traces")
    name = f"superpower-flush-{secrets.token_hex(3)}"
    with open(os.path.join(out, "flush-superpower.log"), "w") as log:
        proc, url = start_held_superpower(a, name, log)
        try:
            user = ask(url)[2]
            tids, failed = [], 0
            for _ in range(k):
                tp = new_traceparent()
                failed += ask(url, user, tp)[0] != 200
                tids.append(tp[0])
            check(failed == 0, f"flush: {k} requests with known traceparents answered 200 ({failed} not)")
            # its own spans only: the fleet's powersources export theirs on their own schedule
            held = sum(1 for t in tids[:5] + tids[-5:] for s in spans_of(a.receiver, t) if s["service"] == name)
            check(held == 0, f"flush: nothing exported while it runs (batches held back; {held} of its spans of 10 sampled traces arrived)")
        finally:
            took = stop(proc)
    check(took is not None and took < 2.5, f"flush: superpower exits promptly on SIGTERM, flush included ({took and round(took, 2)} s, bound 2.5 s)")
    check(proc.returncode == 0, f"flush: exit status 0 (got {proc.returncode})")
    servers = attempts = 0
    missing = []
    for t in tids:
        spans = [s for s in spans_of(a.receiver, t) if s["service"] == name]
        srv = [s for s in spans if s["kind"] == "server"]
        att = [s for s in spans if s["kind"] == "client" and srv and s["parent_span_id"] == srv[0]["span_id"]]
        servers += len(srv) == 1
        attempts += len(att) >= 1
        if len(srv) != 1 or not att:
            missing.append(t)
    check(not missing, f"flush: after SIGTERM the receiver has every server span ({servers}/{k}) and its attempt ({attempts}/{k}) (missing: {missing[:3]})")

    # the collector black-holed: the flush is bounded, the exit prompt
    with open(os.path.join(out, "flush-blackholed-superpower.log"), "w") as log:
        proc, url = start_held_superpower(a, name + "-bh", log)
        try:
            user = ask(url)[2]
            for _ in range(k):
                ask(url, user, new_traceparent())
            os.kill(a.receiver_pid, signal.SIGSTOP)
            try:
                took = stop(proc)
            finally:
                os.kill(a.receiver_pid, signal.SIGCONT)
        finally:
            if proc.poll() is None:
                proc.kill()
    bound = 2.0 + FLUSH_BOUND_S + 2.0
    check(took is not None and took < bound, f"flush: with the collector black-holed superpower still exits on SIGTERM within {bound:.0f} s ({took and round(took, 2)} s)")
    print(f"  flush: {k} requests, exit after SIGTERM {took and round(took, 2)} s with the collector black-holed")


# --- observer chaos ---------------------------------------------------------------------------
def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def drive(superpower, users, n):
    """n requests, sequential, from users in turn; returns (errors, latencies in ms)."""
    errors, lat = 0, []
    for i in range(n):
        t0 = time.monotonic()
        try:
            st, _, _ = ask(superpower, users[i % len(users)], new_traceparent(), timeout=5)
        except Exception:
            st = 0
        lat.append((time.monotonic() - t0) * 1000)
        errors += st != 200
    return errors, lat


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * 0.99))]


def observer(a):
    sp_pid = pid_of(a.fleet_dir, "superpower")
    users = [ask(a.superpower)[2] for _ in range(20)]
    log_path = os.path.join(a.fleet_dir, "superpower.log")
    errors, lat = drive(a.superpower, users, a.requests)
    base_rss = rss_kib(sp_pid)
    print(f"  collector ok: {a.requests} requests, p99 {p99(lat):.1f} ms, superpower RSS {base_rss} KiB")
    check(errors == 0, "collector healthy: every request answered 200")
    recv_pid = a.receiver_pid

    def mode(m, seconds=5):
        return http("PUT", f"{a.receiver}/mode?mode={m}&seconds={seconds}")[0] == 200

    scenarios = [
        ("slow (5 s per export)", lambda: mode("slow", 5), lambda: mode("ok")),
        ("erroring (503)", lambda: mode("error"), lambda: mode("ok")),
        ("black-holed (SIGSTOP)", lambda: os.kill(recv_pid, signal.SIGSTOP) or True, lambda: os.kill(recv_pid, signal.SIGCONT) or True),
    ]
    for name, start, stop in scenarios:
        check(start(), f"collector {name}: fault set")
        lines0 = sum(1 for _ in open(log_path, errors="replace"))
        try:
            # more spans than the queue holds, several times over
            errors, lat = drive(a.superpower, users, a.requests)
            rss = rss_kib(sp_pid)
            status, _, body = http("GET", a.superpower.rstrip("/") + "/metrics")
        finally:
            stop()
        # the log writer writes in batches (at most some 12 ms behind): poll, do not read once
        deadline = time.monotonic() + 3
        while True:
            lines1 = sum(1 for _ in open(log_path, errors="replace"))
            if lines1 - lines0 >= a.requests or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        print(f"  collector {name}: {a.requests} requests, p99 {p99(lat):.1f} ms, superpower RSS {rss} KiB")
        check(errors == 0, f"collector {name}: every request answered 200")
        check(status == 200 and b"http_server_request_duration_seconds" in body, f"collector {name}: Prometheus metrics still served")
        check(lines1 - lines0 >= a.requests, f"collector {name}: the access log kept writing ({lines1 - lines0} lines)")
        check(rss - base_rss < 20 * 1024, f"collector {name}: RSS flat (+{(rss - base_rss) // 1024} MiB, bound 20)")
    # dead: the receiver killed for good (the last scenario: the fleet keeps running without it)
    os.kill(recv_pid, signal.SIGKILL)
    errors, lat = drive(a.superpower, users, a.requests)
    rss = rss_kib(sp_pid)
    status, _, body = http("GET", a.superpower.rstrip("/") + "/metrics")
    print(f"  collector dead: {a.requests} requests, p99 {p99(lat):.1f} ms, superpower RSS {rss} KiB")
    check(errors == 0, "collector dead: every request answered 200")
    check(status == 200 and b"http_server_request_duration_seconds" in body, "collector dead: Prometheus metrics still served")
    check(rss - base_rss < 20 * 1024, f"collector dead: RSS flat (+{(rss - base_rss) // 1024} MiB, bound 20)")


# --- the experiment's trace -------------------------------------------------------------------
def experiment(a):
    journal = json.load(open(a.journal))
    title = journal["experiment"]["title"]
    deadline = time.monotonic() + 20
    roots = []
    while time.monotonic() < deadline:
        spans = get_json(f"{a.receiver}/spans")[1]
        roots = [s for s in spans if s["name"] == "experiment" and s["attributes"].get("chaostoolkit.experiment.title") == title]
        if roots:
            break
        time.sleep(0.5)
    if not check(len(roots) == 1, f"one experiment span for {title!r} (found {len(roots)})"):
        return
    root = roots[0]
    tid = root["trace_id"]
    spans = wait_spans(a.receiver, tid, lambda s: True)
    check(root["parent_span_id"] == "", "the experiment span is the trace's root")
    by_id = {s["span_id"]: s for s in spans}
    names = {s["name"] for s in spans}
    check({"hypothesis", "method"} <= names, f"hypothesis and method spans ({sorted(n for n in names if not n.startswith('GET'))[:12]})")
    probes = [s for s in spans if s["name"].startswith("activity: ") and any(c["parent_span_id"] == s["span_id"] and c["service"] == "superpower" for c in spans)]
    check(len(probes) >= 2, f"identity-probe activities contain superpower's server spans ({len(probes)} activities)")
    sp = [s for s in spans if s["service"] == "superpower" and s["kind"] == "server"]
    ps = [s for s in spans if s["service"] == "powersource" and s["kind"] == "server"]
    check(len(sp) >= 100, f"the probe's requests are in the trace ({len(sp)} superpower server spans)")
    check(len(ps) >= len(sp) * 0.9, f"with powersource's spans under them ({len(ps)})")

    def root_of(s):
        seen = 0
        while s["parent_span_id"] and s["parent_span_id"] in by_id and seen < 50:
            s, seen = by_id[s["parent_span_id"]], seen + 1
        return s

    check(all(root_of(s)["span_id"] == root["span_id"] for s in sp + ps), "every service span leads up to the experiment span")
    hedges = [s for s in spans if s["attributes"].get("superpower.attempt.reason") == "hedge"]
    print(f"  trace {tid}: {len(spans)} spans, {len(sp)} superpower requests, {len(hedges)} hedges")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--receiver", required=True)
    ap.add_argument("--receiver-pid", type=int, dest="receiver_pid")
    ap.add_argument("--superpower", required=True)
    ap.add_argument("--fleet-dir", required=True)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--powersource", default="http://127.0.0.1:6061", help="flush: the powersource its superpower asks")
    ap.add_argument("--flush-requests", type=int, default=50, dest="flush_requests")
    ap.add_argument("what", choices=["services", "observer", "experiment", "flush"])
    ap.add_argument("journal", nargs="?")
    a = ap.parse_args()
    a.root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    a.faulted = set()
    {"services": services, "observer": observer, "experiment": experiment, "flush": flush}[a.what](a)
    print(f"{len(FAILURES)} failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
