#!/usr/bin/env python3
"""The container fleet, run the way the Kubernetes manifests run it, and its faults.

    deploy/containers/fleet.sh COMMAND ...      (the wrapper runs this with var/venv's Python)

Everything about how a container runs is read from the rendered manifests (`kubectl kustomize
deploy/kubernetes/overlays/minikube`), never written here a second time: the image's command
lines, the env (fieldRef metadata.name as the pod name, the superpower-admin Secret as the
fleet's token), the uid/gid, readOnlyRootFilesystem, dropped capabilities, no privilege
escalation, the tmpfs /tmp of the emptyDir (its sizeLimit), the memory and CPU limits, the
termination grace period (the stop timeout), the ports, and the readiness and liveness probes.

What a cluster does and this machine does instead:
  - StatefulSet pod powersource-N + its PVC   container spc-powersource-N, volume spc-store-N;
    init container `ingest`                   a one-shot container spc-ingest-N before each start
  - headless Service powersource              network alias powersource.superpower.svc.cluster.local
                                              (and powersource) on every powersource container of
                                              the network spc-net: one A record each, as the
                                              Service gives; POWERSOURCE_DNS is the manifest's value
  - Deployment superpower (2 replicas)        one container spc-superpower, published on
                                              127.0.0.1:31280 (the NodePort 30280 is the native
                                              fleet's port on this machine)
  - Prometheus with kubernetes_sd            spc-prometheus, image from Debian's package (Debian
                                              builds Prometheus without Kubernetes SD): the same
                                              config with each SD job swapped for static targets
                                              labelled as the relabelling would label them;
                                              published on 127.0.0.1:19090
  - readiness probe (kubelet)                 `up` and `start` poll it from the host, with the
                                              probe's period, timeout and failure threshold;
                                              `status` checks readiness and liveness
  - preStop sleep                             not played (a container engine has no hook for it)

Commands:
  plan [--naive]               print the engine commands `up` would run
  up [--naive]                 network, volumes, ingest, powersources, superpower, Prometheus;
                               waits until each is ready and Prometheus scrapes every target
                               (--naive: superpower with every resilience switch off, health
                               checks and DNS re-resolution every NAIVE_HEALTH_INTERVAL_MS, default
                               an hour, and the powersources at fixed addresses (.10, .11, .12, and
                               fixed MACs):
                               the original demo had a fixed list and no health checks;
                               stable assignment is switched back on through the admin API by the
                               experiments)
  down                         removes every spc- container, the network and the volumes
  status                       readiness and liveness of every container; exit 1 if one fails
  kill N | start N             SIGKILL powersource-N / ingest again and start it, wait for ready
  pause N | unpause N          freeze / thaw it (the kernel's freezer: it accepts and answers nothing)
  disconnect N | connect N     take it off the network / put it back (with its aliases)
  drop N | undrop N            drop every packet that reaches it (nftables in its network
                               namespace: connects hang instead of failing) / stop dropping
  flap N [SECONDS] [DOWN] [UP] kill and start it again and again for SECONDS (default 60), down
                               DOWN s (3), up UP s (5) each time; it ends down (the rollback
                               starts it)
  expect N frozen|unreachable|hanging|down
                               exit 0 only if the fault is in force, seen from outside
  prometheus-config            print the Prometheus config the containers use (compose's
                               deploy/compose/prometheus.yml is this, checked by its test)
  env                          print SUPERPOWER_URL, PROMETHEUS_URL and the admin token
  rss                          resident memory per container (the engine's stats)

The engine is CONTAINER_ENGINE (podman, the default, or docker).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VAR = ROOT / "var" / "containers"
ENGINE = os.environ.get("CONTAINER_ENGINE", "podman")
IMAGE = os.environ.get("SUPERPOWER_IMAGE", "localhost/superpower:latest")
PROMETHEUS_IMAGE = os.environ.get("PROMETHEUS_IMAGE", "localhost/superpower-standin/prometheus:debian")
OVERLAY = ROOT / "deploy" / "kubernetes" / "overlays" / "minikube"
PREFIX = "spc-"
NETWORK = PREFIX + "net"
# The fleet's own subnet; the naive fleet gives powersource-N the fixed address .1N in it.
SUBNET = os.environ.get("CONTAINER_SUBNET", "10.213.13.0/24")
SUPERPOWER_PORT = int(os.environ.get("CONTAINER_SUPERPOWER_PORT", "31280"))
PROMETHEUS_PORT = int(os.environ.get("CONTAINER_PROMETHEUS_PORT", "19090"))
NAIVE_INTERVAL_MS = os.environ.get("NAIVE_HEALTH_INTERVAL_MS", "3600000")
NFT_TABLE = "spc_drop"
PROMETHEUS_HEADER = """\
# Prometheus for the containers (the container fleet, deploy/compose): the in-cluster config,
# deploy/kubernetes/base/prometheus/prometheus.yml, with its kubernetes_sd job as static targets
# labelled as its relabelling labels the pods. Made by `deploy/containers/fleet.sh
# prometheus-config`; do not edit (deploy/compose/test.sh checks that it is current).
"""


def say(msg: str) -> None:
    print(f"[containers] {msg}", file=sys.stderr, flush=True)


class Failed(Exception):
    """A command failed: its message is printed, the exit status is 1."""


# ---------------------------------------------------------------------------------------------
# The manifests


def render() -> list[dict]:
    env = dict(os.environ, KUBECONFIG="/dev/null")
    out = subprocess.run(
        ["kubectl", "kustomize", str(OVERLAY)], env=env, check=True, capture_output=True, text=True
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def find(docs: list[dict], kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    if len(found) != 1:
        raise Failed(f"the manifests have {len(found)} {kind}/{name}, not one")
    return found[0]


def quantity_bytes(q: str) -> int:
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", str(q))
    if not m:
        raise Failed(f"cannot read the quantity {q!r}")
    return int(m.group(1)) * {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}[m.group(2)]


def quantity_cpus(q: str) -> str:
    q = str(q)
    return f"{int(q[:-1]) / 1000:g}" if q.endswith("m") else q


def expand(arg: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion of a command line argument."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), arg)


class Spec:
    """One container as the manifests describe it, turned into engine arguments."""

    def __init__(self, workload: dict, container: dict, pod_name: str, token: str, volumes: dict[str, str]):
        pod = workload["spec"]["template"]["spec"]
        sc = pod.get("securityContext", {})
        csc = container.get("securityContext", {})
        self.name = container["name"]
        self.pod_name = pod_name
        self.user = f"{csc.get('runAsUser', sc['runAsUser'])}:{csc.get('runAsGroup', sc['runAsGroup'])}"
        self.env: dict[str, str] = {}
        for e in container.get("env", []):
            if "value" in e:
                self.env[e["name"]] = e["value"]
            elif e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
                self.env[e["name"]] = pod_name
            elif e.get("valueFrom", {}).get("secretKeyRef", {}).get("name") == "superpower-admin":
                self.env[e["name"]] = token
            else:
                raise Failed(f"{self.name}: env {e['name']} comes from something this fleet does not provide")
        self.command = [expand(a, self.env) for a in container.get("command", [])]
        self.args = [expand(a, self.env) for a in container.get("args", [])]
        self.read_only = csc.get("readOnlyRootFilesystem") is True
        self.cap_drop = csc.get("capabilities", {}).get("drop", [])
        self.no_new_privileges = csc.get("allowPrivilegeEscalation") is False
        limits = container.get("resources", {}).get("limits", {})
        self.memory = quantity_bytes(limits["memory"]) if "memory" in limits else None
        self.cpus = quantity_cpus(limits["cpu"]) if "cpu" in limits else None
        self.stop_timeout = pod.get("terminationGracePeriodSeconds", 30)
        self.ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        self.readiness = self.probe(container.get("readinessProbe"))
        self.liveness = self.probe(container.get("livenessProbe"))
        pod_volumes = {v["name"]: v for v in pod.get("volumes", [])}
        self.mounts: list[str] = []
        for m in container.get("volumeMounts", []):
            v = pod_volumes.get(m["name"])
            if v is not None and "emptyDir" in v and m["mountPath"] == "/tmp":
                size = quantity_bytes(v["emptyDir"].get("sizeLimit", "64Mi"))
                self.mounts += ["--tmpfs", f"/tmp:rw,nosuid,nodev,size={size},mode=1777"]
            elif m["name"] in volumes:
                src, _, opts = volumes[m["name"]].partition(":")
                self.mounts += ["-v", f"{src}:{m['mountPath']}" + (f":{opts}" if opts else "")]
            else:
                raise Failed(f"{self.name}: no stand-in for the volume {m['name']} at {m['mountPath']}")

    def probe(self, p: dict | None) -> dict | None:
        if not p:
            return None
        port = p["httpGet"]["port"]
        return {
            "path": p["httpGet"]["path"],
            "port": self.ports[port] if isinstance(port, str) else port,
            "period": p.get("periodSeconds", 10),
            "timeout": p.get("timeoutSeconds", 1),
            "failures": p.get("failureThreshold", 3),
            "delay": p.get("initialDelaySeconds", 0),
        }

    def run_args(self, container: str, image: str, extra: list[str], tail: list[str] = ()) -> list[str]:
        args = ["run", "-d", "--name", container, "--hostname", self.pod_name, "--user", self.user]
        args += ["--label", "io.superpower.fleet=spc", "--stop-timeout", str(self.stop_timeout)]
        if self.read_only:
            args.append("--read-only")
        for cap in self.cap_drop:
            args += ["--cap-drop", cap]
        if self.no_new_privileges:
            args += ["--security-opt", "no-new-privileges"]
        if self.memory:
            args += ["--memory", str(self.memory)]
        if self.cpus:
            args += ["--cpus", self.cpus]
        for k, v in self.env.items():
            args += ["-e", f"{k}={v}"]
        args += self.mounts + extra
        if self.command:
            args += ["--entrypoint", self.command[0], image] + self.command[1:]
        else:
            args.append(image)
        return args + self.args + list(tail)


def powersource_pods(docs: list[dict]) -> int:
    return find(docs, "StatefulSet", "powersource")["spec"]["replicas"]


def headless_names(docs: list[dict]) -> list[str]:
    """The DNS names the headless Service gives the powersource pods: the name POWERSOURCE_DNS
    names (its host part) and the Service's short name."""
    sp = find(docs, "Deployment", "superpower")["spec"]["template"]["spec"]["containers"][0]
    dns = next(e["value"] for e in sp["env"] if e["name"] == "POWERSOURCE_DNS")
    svc = find(docs, "Service", "powersource")
    if svc["spec"].get("clusterIP") != "None":
        raise Failed("the powersource Service is not headless")
    return [dns.rsplit(":", 1)[0], svc["metadata"]["name"]]


def prometheus_config(docs: list[dict], n: int) -> dict:
    """The in-cluster Prometheus config with each kubernetes_sd job as static targets, labelled
    job (the app label) and instance (the pod name) as its relabelling labels them."""
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("prometheus-config-"))
    cfg = yaml.safe_load(cm["data"]["prometheus.yml"])
    sp_port = find(docs, "Deployment", "superpower")["spec"]["template"]["spec"]["containers"][0]["ports"][0]
    ps_port = find(docs, "StatefulSet", "powersource")["spec"]["template"]["spec"]["containers"][0]["ports"][0]
    for job in cfg["scrape_configs"]:
        if job.pop("kubernetes_sd_configs", None) is None:
            continue
        keep = next(r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep")
        apps = keep.split("|")
        assert apps == ["superpower", "powersource"], apps
        job["static_configs"] = [
            {"targets": [f"superpower:{sp_port['containerPort']}"], "labels": {"job": "superpower", "instance": "superpower", "namespace": "superpower"}}
        ] + [
            {"targets": [f"powersource-{i}:{ps_port['containerPort']}"], "labels": {"job": "powersource", "instance": f"powersource-{i}", "namespace": "superpower"}}
            for i in range(n)
        ]
        # the relabelling of SD metadata has nothing to act on: the labels above are its result
        job.pop("relabel_configs")
    return cfg


# ---------------------------------------------------------------------------------------------
# The engine


def engine(*args: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess:
    p = subprocess.run([ENGINE, *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise Failed(f"{ENGINE} {' '.join(shlex.quote(a) for a in args[:6])}...: {p.stderr.strip() or p.stdout.strip()}")
    return p


def exists(kind: str, name: str) -> bool:
    return engine(kind, "exists", name, check=False).returncode == 0 if ENGINE == "podman" else (
        engine(kind, "inspect", name, check=False).returncode == 0
    )


def inspect(name: str) -> dict:
    return json.loads(engine("inspect", name).stdout)[0]


def container_ip(name: str) -> str | None:
    nets = inspect(name).get("NetworkSettings", {}).get("Networks") or {}
    ip = (nets.get(NETWORK) or {}).get("IPAddress")
    return ip or None


def state(name: str) -> str:
    s = inspect(name)["State"]
    return "paused" if s.get("Paused") else s.get("Status", "unknown")


def http(url: str, timeout: float) -> int | None:
    """The status of GET url, None when it could not connect or timed out."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# The fleet


class Fleet:
    def __init__(self, naive: bool | None = None):
        self.docs = render()
        self.env_file = VAR / "fleet.env"
        saved = self.saved()
        self.token = saved.get("SUPERPOWER_ADMIN_TOKEN") or os.environ.get("SUPERPOWER_ADMIN_TOKEN") or secrets.token_urlsafe(18).lstrip("-")
        self.naive = (saved.get("NAIVE") == "1") if naive is None else naive
        self.n = powersource_pods(self.docs)
        self.aliases = headless_names(self.docs)
        ps = find(self.docs, "StatefulSet", "powersource")
        self.ingest = [
            Spec(ps, ps["spec"]["template"]["spec"]["initContainers"][0], f"powersource-{i}", self.token, {"store": f"{PREFIX}store-{i}"})
            for i in range(self.n)
        ]
        self.powersource = [
            Spec(ps, ps["spec"]["template"]["spec"]["containers"][0], f"powersource-{i}", self.token, {"store": f"{PREFIX}store-{i}"})
            for i in range(self.n)
        ]
        sp = find(self.docs, "Deployment", "superpower")
        self.superpower = Spec(sp, sp["spec"]["template"]["spec"]["containers"][0], "superpower", self.token, {})
        pr = find(self.docs, "Deployment", "prometheus")
        self.prometheus = Spec(
            pr, pr["spec"]["template"]["spec"]["containers"][0], "prometheus", self.token,
            {"config": str(VAR / "prometheus") + ":ro", "rules": str(ROOT / "deploy/kubernetes/base/dashboards/prometheus-rules") + ":ro", "data": f"{PREFIX}prometheus-data"},
        )

    def saved(self) -> dict[str, str]:
        if not self.env_file.exists():
            return {}
        return dict(line.split("=", 1) for line in self.env_file.read_text().splitlines() if "=" in line)

    # -- the commands each container starts with

    def fixed_ip(self, i: int) -> str | None:
        """The naive fleet's fixed address of powersource-i: its superpower resolves the name
        once, like the original demo's fixed list, and a restarted container (which gets a new
        address from the engine) must still be where it was."""
        return SUBNET.rsplit(".", 1)[0] + f".{10 + i}" if self.naive else None

    def fixed_addr(self, i: int) -> list[str]:
        """--ip and --mac-address of the naive fleet's powersource-i (the fixed MAC too: a
        restarted container with a new MAC behind the old IP would be unreachable until the
        neighbours' ARP entries expire)."""
        if not self.fixed_ip(i):
            return []
        return ["--ip", self.fixed_ip(i), "--mac-address", f"02:5c:0d:00:00:{10 + i:02x}"]

    def powersource_net(self, i: int) -> list[str]:
        args = ["--network", NETWORK] + self.fixed_addr(i)
        for a in self.aliases + [f"powersource-{i}"]:
            args += ["--network-alias", a]
        return args

    def ingest_args(self, i: int) -> list[str]:
        a = self.ingest[i].run_args(f"{PREFIX}ingest-{i}", IMAGE, ["--network", "none"])
        a.remove("-d")
        return ["run", "--rm"] + a[1:]

    def powersource_args(self, i: int) -> list[str]:
        return self.powersource[i].run_args(f"{PREFIX}powersource-{i}", IMAGE, self.powersource_net(i))

    def superpower_args(self) -> list[str]:
        port = self.superpower.ports["http"]
        tail = ["--naive", "--health-interval-ms", NAIVE_INTERVAL_MS, "--dns-interval-ms", NAIVE_INTERVAL_MS] if self.naive else []
        return self.superpower.run_args(
            f"{PREFIX}superpower", IMAGE,
            ["--network", NETWORK, "--network-alias", "superpower", "-p", f"127.0.0.1:{SUPERPOWER_PORT}:{port}"], tail,
        )

    def prometheus_args(self) -> list[str]:
        port = self.prometheus.ports["web"]
        return self.prometheus.run_args(
            f"{PREFIX}prometheus", PROMETHEUS_IMAGE,
            ["--network", NETWORK, "--network-alias", "prometheus", "-p", f"127.0.0.1:{PROMETHEUS_PORT}:{port}"],
        )

    def plan(self) -> list[list[str]]:
        return (
            [["network", "create", "--subnet", SUBNET, NETWORK]]
            + [["volume", "create", f"{PREFIX}store-{i}"] for i in range(self.n)]
            + [self.ingest_args(i) for i in range(self.n)]
            + [self.powersource_args(i) for i in range(self.n)]
            + [self.superpower_args(), self.prometheus_args()]
        )

    # -- readiness

    def wait_probe(self, container: str, spec: Spec, probe: dict | None, deadline_s: float = 60, url_base: str | None = None) -> None:
        """Polls the probe every probe period (at most 0.5 s here, so that up is quick) until it
        answers 200; fails after deadline_s or when the container exits."""
        if probe is None:
            return
        end = time.monotonic() + deadline_s
        while True:
            st = state(container)
            if st not in ("running", "created", "configured"):
                logs = engine("logs", "--tail", "20", container, check=False)
                raise Failed(f"{container} is {st}:\n{logs.stdout}{logs.stderr}")
            base = url_base or (f"http://{container_ip(container)}:{probe['port']}" if container_ip(container) else None)
            if base and http(base + probe["path"], probe["timeout"]) == 200:
                return
            if time.monotonic() > end:
                raise Failed(f"{container} did not answer 200 on {probe['path']} within {deadline_s:.0f} s")
            time.sleep(min(0.5, probe["period"]))

    def ready_powersource(self, i: int) -> None:
        self.wait_probe(f"{PREFIX}powersource-{i}", self.powersource[i], self.powersource[i].readiness)

    # -- commands

    def up(self) -> None:
        if exists("container", f"{PREFIX}superpower"):
            raise Failed(f"the container fleet exists ({PREFIX}superpower): deploy/containers/fleet.sh down first")
        VAR.mkdir(parents=True, exist_ok=True)
        (VAR / "prometheus").mkdir(exist_ok=True)
        (VAR / "prometheus" / "prometheus.yml").write_text(
            PROMETHEUS_HEADER + yaml.safe_dump(prometheus_config(self.docs, self.n), sort_keys=False)
        )
        old = os.umask(0o077)
        self.env_file.write_text(f"NAIVE={int(self.naive)}\nSUPERPOWER_ADMIN_TOKEN={self.token}\n")
        os.umask(old)
        t0 = time.monotonic()
        if not exists("network", NETWORK):
            engine("network", "create", "--subnet", SUBNET, NETWORK)
        for i in range(self.n):
            if not exists("volume", f"{PREFIX}store-{i}"):
                engine("volume", "create", f"{PREFIX}store-{i}")
        say(f"ingesting the built-in sample dataset into {self.n} volumes (the init container)")
        for i in range(self.n):
            engine(*self.ingest_args(i))
        for i in range(self.n):
            engine(*self.powersource_args(i))
        for i in range(self.n):
            self.ready_powersource(i)
            say(f"powersource-{i} is ready ({container_ip(PREFIX + f'powersource-{i}')}:6061)")
        engine(*self.superpower_args())
        self.wait_probe(f"{PREFIX}superpower", self.superpower, self.superpower.readiness)
        # the first request to / makes the route's duration series (as deploy/local/up.sh does)
        http(f"http://127.0.0.1:{SUPERPOWER_PORT}/", 2)
        say(f"superpower is ready on http://127.0.0.1:{SUPERPOWER_PORT}/{' (naive)' if self.naive else ''}")
        engine("volume", "create", f"{PREFIX}prometheus-data", check=False)
        engine(*self.prometheus_args())
        self.wait_probe(f"{PREFIX}prometheus", self.prometheus, self.prometheus.readiness, url_base=f"http://127.0.0.1:{PROMETHEUS_PORT}")
        self.wait_scraped(self.n + 1 + 1)
        say(f"Prometheus scrapes all {self.n + 2} targets: http://127.0.0.1:{PROMETHEUS_PORT}/")
        say(f"the fleet is up in {time.monotonic() - t0:.1f} s")

    def wait_scraped(self, want: int, deadline_s: float = 40) -> None:
        end = time.monotonic() + deadline_s
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/targets?state=active", timeout=2) as r:
                    targets = json.load(r)["data"]["activeTargets"]
                up = [t for t in targets if t["health"] == "up"]
                if len(up) >= want:
                    return
            except (OSError, ValueError, KeyError):
                pass
            if time.monotonic() > end:
                raise Failed(f"Prometheus does not scrape all {want} targets within {deadline_s:.0f} s")
            time.sleep(0.5)

    def down(self) -> None:
        names = [f"{PREFIX}prometheus", f"{PREFIX}superpower"] + [f"{PREFIX}powersource-{i}" for i in range(self.n)] + [
            f"{PREFIX}ingest-{i}" for i in range(self.n)
        ]
        for name in names:
            if exists("container", name):
                if state(name) == "paused":
                    engine("unpause", name, check=False)
                self.undrop_name(name)
                engine("rm", "-f", "-t", "5", name, check=False)
        for i in range(self.n):
            engine("volume", "rm", "-f", f"{PREFIX}store-{i}", check=False)
        engine("volume", "rm", "-f", f"{PREFIX}prometheus-data", check=False)
        if exists("network", NETWORK):
            engine("network", "rm", "-f", NETWORK, check=False)
        self.env_file.unlink(missing_ok=True)
        say("the container fleet is down")

    def status(self) -> bool:
        ok = True
        rows = [(f"{PREFIX}powersource-{i}", s) for i, s in enumerate(self.powersource)] + [(f"{PREFIX}superpower", self.superpower)]
        for name, spec in rows:
            if not exists("container", name):
                print(f"{name}: missing")
                ok = False
                continue
            ip = container_ip(name)
            st = state(name)
            checks = []
            for kind, p in (("ready", spec.readiness), ("live", spec.liveness)):
                got = http(f"http://{ip}:{p['port']}{p['path']}", p["timeout"]) if ip and st == "running" else None
                checks.append(f"{kind} {p['path']} {got or 'no answer'}")
                ok = ok and got == 200
            print(f"{name}: {st} {ip or '-'} " + ", ".join(checks))
        ready = http(f"http://127.0.0.1:{PROMETHEUS_PORT}/-/ready", 2)
        print(f"{PREFIX}prometheus: /-/ready {ready or 'no answer'}")
        return ok and ready == 200

    def container(self, index: str) -> tuple[int, str]:
        if not re.fullmatch(r"\d", index) or int(index) >= self.n:
            raise Failed(f"no powersource {index!r}: 0 to {self.n - 1}")
        return int(index), f"{PREFIX}powersource-{index}"

    def kill(self, index: str) -> None:
        _, name = self.container(index)
        engine("kill", "-s", "KILL", name)
        say(f"killed powersource-{index}")

    def start(self, index: str) -> None:
        i, name = self.container(index)
        st = state(name)
        if st == "paused":
            engine("unpause", name)
        if st == "running":
            say(f"powersource-{index} already runs")
        else:
            engine(*self.ingest_args(i))  # the init container runs before every start
            engine("start", name)
        self.ready_powersource(i)
        say(f"started powersource-{index}: ready")

    def pause(self, index: str) -> None:
        _, name = self.container(index)
        engine("pause", name)
        say(f"paused (froze) powersource-{index}")

    def unpause(self, index: str) -> None:
        i, name = self.container(index)
        if state(name) == "paused":
            engine("unpause", name)
        self.ready_powersource(i)
        say(f"unpaused powersource-{index}: ready")

    def disconnect(self, index: str) -> None:
        _, name = self.container(index)
        engine("network", "disconnect", NETWORK, name)
        say(f"disconnected powersource-{index} from {NETWORK} (it keeps running)")

    def connect(self, index: str) -> None:
        i, name = self.container(index)
        if container_ip(name) is None:
            args = ["network", "connect"] + self.fixed_addr(i)
            for a in self.aliases + [f"powersource-{i}"]:
                args += ["--alias", a]
            engine(*args, NETWORK, name)
        self.ready_powersource(i)
        say(f"connected powersource-{index} to {NETWORK} again: ready")

    def netns(self, name: str) -> list[str]:
        pid = inspect(name)["State"]["Pid"]
        if not pid:
            raise Failed(f"{name} does not run")
        return ["nsenter", f"--net=/proc/{pid}/ns/net", "nft"]

    def drop(self, index: str) -> None:
        _, name = self.container(index)
        nft = self.netns(name)
        rules = f"table inet {NFT_TABLE} {{\n  chain input {{\n    type filter hook input priority -300; policy drop;\n  }}\n}}\n"
        p = subprocess.run(nft + ["-f", "-"], input=rules, capture_output=True, text=True)
        if p.returncode != 0:
            raise Failed(f"nft in {name}'s network namespace: {p.stderr.strip()}")
        say(f"powersource-{index} drops every packet it receives (nftables in its network namespace)")

    def undrop_name(self, name: str) -> None:
        try:
            nft = self.netns(name)
        except Failed:
            return
        subprocess.run(nft + ["delete", "table", "inet", NFT_TABLE], capture_output=True)

    def undrop(self, index: str) -> None:
        i, name = self.container(index)
        self.undrop_name(name)
        self.ready_powersource(i)
        say(f"powersource-{index} receives packets again: ready")

    def flap(self, index: str, seconds: str = "60", down: str = "3", up: str = "5") -> None:
        i, name = self.container(index)
        end = time.monotonic() + float(seconds)
        cycles = 0
        while True:
            engine("kill", "-s", "KILL", name)
            cycles += 1
            time.sleep(float(down))
            if time.monotonic() + float(up) > end:
                break
            engine(*self.ingest_args(i))
            engine("start", name)
            time.sleep(float(up))
        say(f"powersource-{index} flapped {cycles} times in {seconds} s (down {down} s, up {up} s); it is down now")

    def expect(self, index: str, fault: str) -> None:
        _, name = self.container(index)
        p = self.powersource[int(index)].readiness
        if fault == "frozen":
            ip = container_ip(name)
            st = state(name)
            got = http(f"http://{ip}:{p['port']}{p['path']}", 1.5)
            if st != "paused" or got is not None:
                raise Failed(f"powersource-{index} is {st} and answered {got}: not frozen")
            print(f"faults: powersource-{index} is paused and answers nothing within 1.5 s: frozen is in force")
        elif fault in ("unreachable", "hanging"):
            ip = container_ip(name)
            if fault == "unreachable":
                if ip is not None:
                    raise Failed(f"powersource-{index} is still on {NETWORK} ({ip})")
                if state(name) != "running":
                    raise Failed(f"powersource-{index} is {state(name)}: a partition needs it running")
                print(f"faults: powersource-{index} runs but is off {NETWORK}: the partition is in force")
            else:
                t0 = time.monotonic()
                try:
                    socket.create_connection((ip, p["port"]), timeout=1.5).close()
                    raise Failed(f"powersource-{index} accepted a connection: packets are not dropped")
                except socket.timeout:
                    pass
                except OSError as e:
                    raise Failed(f"a connect to powersource-{index} failed at once ({e}): packets are refused, not dropped")
                print(f"faults: a connect to powersource-{index} ({ip}) hung {time.monotonic() - t0:.1f} s: the packet drop is in force")
        elif fault == "down":
            if state(name) == "running":
                raise Failed(f"powersource-{index} runs")
            print(f"faults: powersource-{index} is {state(name)}: down is in force")
        else:
            raise Failed(f"unknown fault {fault!r}: frozen, unreachable, hanging or down")

    def rss(self) -> None:
        names = [f"{PREFIX}powersource-{i}" for i in range(self.n)] + [f"{PREFIX}superpower", f"{PREFIX}prometheus"]
        out = engine("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", *names).stdout
        print(out.strip())


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    try:
        if cmd in ("plan", "up"):
            naive = "--naive" in rest
            f = Fleet(naive=naive)
            if cmd == "plan":
                for a in f.plan():
                    print(shlex.join([ENGINE, *a]).replace(f.token, "$SUPERPOWER_ADMIN_TOKEN"))
            else:
                f.up()
            return 0
        f = Fleet()
        if cmd == "down":
            f.down()
        elif cmd == "status":
            return 0 if f.status() else 1
        elif cmd == "env":
            print(f"SUPERPOWER_URL=http://127.0.0.1:{SUPERPOWER_PORT}/")
            print(f"PROMETHEUS_URL=http://127.0.0.1:{PROMETHEUS_PORT}")
            print(f"SUPERPOWER_ADMIN_TOKEN={f.token}")
        elif cmd == "prometheus-config":
            print(PROMETHEUS_HEADER + yaml.safe_dump(prometheus_config(f.docs, f.n), sort_keys=False), end="")
        elif cmd == "rss":
            f.rss()
        elif cmd in ("kill", "start", "pause", "unpause", "disconnect", "connect", "drop", "undrop", "flap", "expect"):
            if not rest:
                raise Failed(f"{cmd} needs a powersource index (0 to {f.n - 1})")
            getattr(f, cmd)(*rest)
        else:
            print(f"unknown command {cmd!r} (deploy/containers/fleet.sh --help)", file=sys.stderr)
            return 2
    except Failed as e:
        print(f"[containers] error: {e}", file=sys.stderr)
        return 1
    except TypeError as e:
        print(f"[containers] error: bad arguments for {cmd}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
