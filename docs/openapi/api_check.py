"""Checks the OpenAPI specs against the real services with schemathesis.

Starts a real powersource (on a store freshly ingested with the loader's built-in sample
dataset) and a real superpower in front of it, both on 127.0.0.1 ports the kernel picks, with an
admin token so that the admin routes are exercised; waits for readiness by polling /health; runs
schemathesis against each spec; and stops the two processes it started (by pid) however it
ends. Exit 0 when schemathesis finds nothing.

    var/venv/bin/python docs/openapi/api_check.py [--bin DIR] [--max-examples N]

The checks, the request timeout and the response-time limit (a hang fails), and the few narrow
exclusions with their reasons are in docs/openapi/schemathesis.toml. Generation is
deterministic: the same code gives the same requests.

The operations run in passes, because two of them change what the others answer:
  1. everything except the state-changing operations (PUT /admin/faults, PUT /admin/switches,
     PUT /admin/peer/switches, PUT /admin/instances/{name}/faults): a fault set by a random PUT (a hang, 300 s of latency,
     an error rate) would make later product requests slow, hang or answer 500, and a switch
     turned off changes what / answers (legitimately: that is what switches are for) — neither is
     a finding about the spec;
  2. the state-changing operations alone, with the other admin operations (the faults and
     switches they set act on the product routes only, which this pass does not call);
then the faults are cleared and the switches reset, and the reset is verified.

Artifacts (logs, the store, schemathesis' JUnit reports) go under var/api-check/.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = ROOT / "var" / "api-check"
# How long a process gets to listen and become healthy, and to exit after SIGTERM.
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 15
# A schemathesis pass that takes longer than this is stopped and fails: the step stays bounded
# however the generation goes (a pass takes well under a minute here).
PASS_TIMEOUT_S = 300

# Operations that change what other operations answer (see the module doc).
STATEFUL_OPS = {
    "powersource": ["putFaults"],
    "superpower": ["putSwitches", "putInstanceFaults", "putPeerSwitches"],
}
# What a state-changing pass runs beside them: the other admin operations (reads and clears),
# which faults and switches never affect; superpower's stateful phase follows the links from
# getInstances to the instance-faults operations.
STATEFUL_PASS_READS = {
    "powersource": ["getFaults", "deleteFaults"],
    "superpower": ["getSwitches", "getInstances", "deleteInstanceFaults"],
}
RESILIENT = {k: True for k in ["ring", "failover", "fallback", "stable_assignment", "deadlines", "hedging"]}
NO_FAULTS = {"latency_ms": 0, "jitter_ms": 0, "error_rate": 0.0, "hang": False, "route": None, "duration_ms": None}


def say(msg: str) -> None:
    print(f"[api-check] {msg}", flush=True)


def default_bin() -> Path:
    if os.environ.get("SUPERPOWER_BIN_DIR"):
        return Path(os.environ["SUPERPOWER_BIN_DIR"])
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"


class Service:
    """A process this check started, its log, and the address it listens on."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]):
        self.name = name
        self.log_path = OUT / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        self.addr = ""

    def wait_listening(self) -> str:
        """The address from the "… listening" log line (the kernel picked the port)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            self.check_alive()
            for line in self.log_path.read_text(errors="replace").splitlines():
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if str(event.get("message", "")).endswith("listening") and event.get("addr"):
                    self.addr = event["addr"]
                    return self.addr
            time.sleep(0.05)
        raise SystemExit(f"{self.name} did not listen within {START_TIMEOUT_S} s (log: {self.log_path})")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise SystemExit(f"{self.name} exited with {self.proc.returncode}:\n{tail}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                say(f"{self.name} (pid {self.proc.pid}) ignored SIGTERM for {STOP_TIMEOUT_S} s: killing it")
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def call(method: str, url: str, token: str | None = None, body: object | None = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def wait_healthy(svc: Service, ready) -> None:
    """Polls /health until `ready(status, body)` holds."""
    deadline = time.monotonic() + START_TIMEOUT_S
    last = None
    while time.monotonic() < deadline:
        svc.check_alive()
        try:
            last = call("GET", f"http://{svc.addr}/health")
            if ready(*last):
                return
        except (OSError, urllib.error.URLError) as err:
            last = err
        time.sleep(0.1)
    raise SystemExit(f"{svc.name} not ready within {START_TIMEOUT_S} s: last /health {last!r}")


def schemathesis(
    venv_bin: Path, spec: str, url: str, ops: list[str], exclude: bool, args, label: str, env, stateful: bool = True
) -> bool:
    flag = "--exclude-operation-id" if exclude else "--include-operation-id"
    argv = [
        str(venv_bin / "schemathesis"),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "--no-color",
        "run",
        str(HERE / f"{spec}.yaml"),
        "--url",
        url,
        "--max-examples",
        str(args.max_examples),
        "--workers",
        "1",
        "--report",
        "junit",
        "--report-junit-path",
        str(OUT / f"{label}.junit.xml"),
        "--warnings",
        "off",
    ]
    for op in ops:
        argv += [flag, op]
    if not stateful:
        argv += ["--phases", "examples,coverage,fuzzing"]
    say(f"{label}: schemathesis on {spec} ({'all but' if exclude else 'only'} {', '.join(ops)})")
    t0 = time.monotonic()
    try:
        code = subprocess.run(argv, cwd=OUT, env=env, timeout=PASS_TIMEOUT_S).returncode
    except subprocess.TimeoutExpired:
        say(f"{label}: schemathesis did not finish within {PASS_TIMEOUT_S} s")
        return False
    say(f"{label}: {'passed' if code == 0 else f'FAILED (exit {code})'} in {time.monotonic() - t0:.0f} s")
    return code == 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", type=Path, default=default_bin(), help="folder of the release binaries")
    p.add_argument("--venv", type=Path, default=ROOT / "var" / "venv", help="venv with schemathesis")
    p.add_argument("--max-examples", type=int, default=100, help="test cases per operation and phase")
    args = p.parse_args()

    for b in ["loader", "powersource", "superpower"]:
        if not (args.bin / b).is_file():
            raise SystemExit(f"{args.bin / b} is missing (cargo build --release -p {b})")
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    store = OUT / "store"
    ingest = subprocess.run(
        [str(args.bin / "loader"), "ingest", "--store", str(store)], capture_output=True, text=True, timeout=120
    )
    if ingest.returncode != 0:
        raise SystemExit(f"loader ingest failed:\n{ingest.stdout}{ingest.stderr}")

    token = secrets.token_urlsafe(24)
    # One admin token for the whole app; powersource reads it as SUPERPOWER_ADMIN_TOKEN (and, once
    # renamed, POWERSOURCE_ADMIN_TOKEN): both are set.
    env = dict(os.environ, SUPERPOWER_ADMIN_TOKEN=token, POWERSOURCE_ADMIN_TOKEN=token, API_CHECK_ADMIN_TOKEN=token)
    env.pop("RUST_LOG", None)
    started: list[Service] = []

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        ps = Service(
            "powersource",
            [str(args.bin / "powersource"), "--listen", "127.0.0.1:0", "--store", str(store), "--name", "api-check"],
            env,
        )
        started.append(ps)
        ps.wait_listening()
        wait_healthy(ps, lambda status, _body: status == 200)
        say(f"powersource healthy on {ps.addr} (pid {ps.proc.pid})")
        # Generous per-attempt timeouts: this checks the API, not the deadlines, and a loaded
        # 2-core machine must not turn a slow attempt into a 503 finding.
        sp = Service(
            "superpower",
            [
                str(args.bin / "superpower"),
                "--powersource",
                f"http://{ps.addr}",
                # `=`: a URL-safe token may start with `-`, which clap would take for a flag
                f"--admin-token={token}",
                "--listen",
                "127.0.0.1:0",
                "--attempt-timeout-ms",
                "2000",
                "--deadline-ms",
                "4000",
                "--connect-timeout-ms",
                "1000",
            ],
            env,
        )
        started.append(sp)
        sp.wait_listening()
        wait_healthy(sp, lambda status, body: status == 200 and isinstance(body, dict) and body.get("ring_members", 0) >= 1)
        say(f"superpower healthy on {sp.addr} (pid {sp.proc.pid}), powersource on its ring")

        ps_url, sp_url = f"http://{ps.addr}", f"http://{sp.addr}"
        venv_bin = args.venv / "bin"
        ok = True
        ok &= schemathesis(venv_bin, "powersource", ps_url, STATEFUL_OPS["powersource"], True, args, "powersource", env)
        ok &= schemathesis(venv_bin, "superpower", sp_url, STATEFUL_OPS["superpower"], True, args, "superpower", env)
        for spec, url in [("powersource", ps_url), ("superpower", sp_url)]:
            ops = STATEFUL_OPS[spec] + STATEFUL_PASS_READS[spec]
            # powersource's admin operations have no links between them: no stateful phase
            stateful = spec == "superpower"
            ok &= schemathesis(venv_bin, spec, url, ops, False, args, f"{spec}-admin-writes", env, stateful)

        # Put back what the state-changing passes changed, and check that it took.
        call("DELETE", f"{ps_url}/admin/faults", token)
        call("PUT", f"{sp_url}/admin/switches", token, RESILIENT)
        faults = call("GET", f"{ps_url}/admin/faults", token)
        switches = call("GET", f"{sp_url}/admin/switches", token)
        if faults != (200, NO_FAULTS) or switches != (200, RESILIENT):
            say(f"reset failed: faults {faults}, switches {switches}")
            ok = False
        for svc in started:
            svc.check_alive()
        say("all passes clean" if ok else "findings above (JUnit reports in var/api-check/)")
        return 0 if ok else 1
    finally:
        for svc in reversed(started):
            svc.stop()


if __name__ == "__main__":
    sys.exit(main())
