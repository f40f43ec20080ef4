#!/usr/bin/env python3
"""The container fleet, run the way the Kubernetes manifests run it, and its faults.

    deploy/containers/fleet.sh COMMAND ...      (the wrapper runs this with var/venv's Python)

Everything about how a container runs is read from the rendered manifests (`kubectl kustomize
deploy/kubernetes/overlays/minikube`, read by deploy/manifests.py), never written here a second time: the image's command
lines, the env (fieldRef metadata.name as the pod name; the superpower-admin Secret as the
fleet's token and the superpower-cookie Secret's `key` as the fleet's cookie key, both made once
and kept in var/containers/fleet.env; an optional Secret key the fleet does not have, like
superpower-cookie's `previous`, sets nothing, as in the cluster), the uid/gid,
readOnlyRootFilesystem, dropped capabilities, no privilege escalation, the tmpfs /tmp of the
emptyDir (its sizeLimit), the memory and CPU limits, the termination grace period (the stop
timeout), the ports, the readiness and liveness probes, and the replica counts.

What a cluster does and this machine does instead:
  - StatefulSet pod powersource-N + its store container spc-powersource-N, volume spc-store-N;
    init container `ingest`                   a one-shot container spc-ingest-N before each start
  - headless Service powersource              network alias powersource.superpower.svc.cluster.local
                                              (and powersource) on every powersource container of
                                              the network spc-net: one A record each, as the
                                              Service gives; POWERSOURCE_DNS is the manifest's value
  - Deployment superpower (its replicas, 2)   one container per replica, spc-superpower-N, named
                                              superpower-N (hostname, SUPERPOWER_REPLICA_NAME, a
                                              network alias), each also published on its own
                                              loopback port 127.0.0.1:31281+N (for tests)
  - headless Service superpower-peers         network alias superpower-peers.superpower.svc.
                                              cluster.local (and superpower-peers) on every
                                              replica: SUPERPOWER_PEERS_DNS is the manifest's value
  - Service superpower (kube-proxy, NodePort) spc-balancer: HAProxy from Debian's package
                                              (localhost/superpower-standin/haproxy:2.6) in TCP
                                              mode, round robin over the replicas, each checked
                                              as its readiness probe checks it (`balancer-config`;
                                              compose runs the same file), network alias
                                              superpower, published on 127.0.0.1:31280 (the
                                              NodePort 30280 is the native fleet's port here)
  - Prometheus with kubernetes_sd            spc-prometheus, image from Debian's package (Debian
                                              builds Prometheus without Kubernetes SD): the same
                                              config with each SD job swapped for static targets
                                              labelled as the relabelling would label them (each
                                              replica, each powersource); published on
                                              127.0.0.1:19090
  - readiness probe (kubelet)                 `up` and `start` poll it from the host, with the
                                              probe's period, timeout and failure threshold;
                                              `status` checks readiness and liveness
  - preStop sleep (powersource)               not played (a container engine has no hook for it;
                                              superpower's lame duck is in the process itself)

Commands:
  plan [--naive] [--own-cookie-keys]
                               print the engine commands `up` would run
  up [--naive] [--own-cookie-keys]
                               network, volumes, ingest, powersources, the superpower replicas,
                               the balancer, Prometheus; waits until each is ready and
                               Prometheus scrapes every target
                               (--naive: superpower with every resilience switch off, health
                               checks and DNS re-resolution every NAIVE_HEALTH_INTERVAL_MS, default
                               an hour, and the powersources at fixed addresses (.10, .11, .12, and
                               fixed MACs):
                               the original demo had a fixed list and no health checks;
                               stable assignment is switched back on through the admin API by the
                               experiments;
                               --own-cookie-keys: no Secret superpower-cookie, as in a cluster where
                               nobody made it: each replica makes its own key at every start, so a
                               user's signed superpower_last cookie is good only on the replica that
                               signed it, until it restarts — the naive front end of the front-end
                               experiments, every switch on)
  down                         removes every spc- container, the network and the volumes
  status                       readiness and liveness of every container; exit 1 if one fails

  The fault vocabulary (experiments/vocabulary.yaml), on powersource NAME: powersource-N, or
  the bare index N; kill, stop and start also take superpower-N (as `frontend` does). A verb
  this engine refuses for NAME exits 3 ("unsupported on this engine").
  kill NAME | start NAME       SIGKILL it / ingest again and start it, wait for ready
  stop NAME                    SIGTERM (it drains), SIGKILL after the pod's grace period
  freeze NAME | thaw NAME      the engine's pause / unpause (the kernel's freezer: it accepts and
                               answers nothing)
  partition NAME | heal NAME   take it off the network / put it back (with its aliases)
  drop NAME | undrop NAME      drop every packet that reaches it (nftables in its network
                               namespace: connects hang instead of failing) / stop dropping
  flap NAME [SECONDS] [DOWN] [UP]
                               kill and start it again and again for SECONDS (default 60), down
                               DOWN s (3), up UP s (5) each time; it ends down (start undoes it)
  slow NAME MS | fail NAME RATE | clear NAME
                               its admin API (PUT /admin/faults on its address on the network,
                               with the fleet's token): every product request MS ms late / that
                               share (0.0 to 1.0) answered 500; the two combine / DELETE: no fault
  expect NAME down|frozen|unreachable|hanging|latency:MS|errors
                               exit 0 only if the fault is in force, seen from outside
  pause, unpause, disconnect, connect
                               the old names of freeze, thaw, partition, heal (still accepted)

  frontend kill|stop|start N   superpower replica N: SIGKILL / stop (SIGTERM: it drains its
                               in-flight requests, then the engine's stop timeout, the grace
                               period) / start it and wait until it is ready and the balancer
                               sends it connections again; killing or stopping one that does not
                               run, or starting one that runs, says so and succeeds (rollbacks)
  prometheus-config            print the Prometheus config the containers use (compose's
                               deploy/compose/prometheus.yml is this, checked by its test)
  balancer-config              print the balancer's HAProxy config (compose's
                               deploy/compose/haproxy.cfg is this, checked by its test)
  env                          print SUPERPOWER_URL (the balancer), SUPERPOWER_REPLICA_URLS (each
                               replica's own port, comma-separated), PROMETHEUS_URL and the admin
                               token
  rss                          resident memory per container (the engine's stats)

The engine is CONTAINER_ENGINE (podman, the default, or docker).
"""

from __future__ import annotations

import csv
import io
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
sys.path.insert(0, str(ROOT / "deploy"))
# the one reader of the rendered manifests (deploy/manifests.py)
from manifests import (  # noqa: E402
    BALANCER_CONFIG_PATH,
    BALANCER_CPUS,
    BALANCER_MEMORY,
    BALANCER_TMP,
    BALANCER_STATS_PORT,
    PROMETHEUS_HEADER,
    Failed,
    Spec,
    balancer_config,
    find,
    headless_names,
    peer_names,
    powersource_pods,
    prometheus_config,
    render,
    superpower_replicas,
)

VAR = ROOT / "var" / "containers"
ENGINE = os.environ.get("CONTAINER_ENGINE", "podman")
IMAGE = os.environ.get("SUPERPOWER_IMAGE", "localhost/superpower:latest")
PROMETHEUS_IMAGE = os.environ.get("PROMETHEUS_IMAGE", "localhost/superpower-standin/prometheus:debian")
# HAProxy from Debian 12's package in the layout of the official haproxy:2.6 image (haproxy/Containerfile)
BALANCER_IMAGE = os.environ.get("BALANCER_IMAGE", "localhost/superpower-standin/haproxy:2.6")
PREFIX = "spc-"
NETWORK = PREFIX + "net"
# The fleet's own subnet; the naive fleet gives powersource-N the fixed address .1N in it.
SUBNET = os.environ.get("CONTAINER_SUBNET", "10.213.13.0/24")
SUPERPOWER_PORT = int(os.environ.get("CONTAINER_SUPERPOWER_PORT", "31280"))
# superpower replica N is published on REPLICA_PORT + N too (tests ask one replica directly)
REPLICA_PORT = int(os.environ.get("CONTAINER_REPLICA_PORT", "31281"))
PROMETHEUS_PORT = int(os.environ.get("CONTAINER_PROMETHEUS_PORT", "19090"))
NAIVE_INTERVAL_MS = os.environ.get("NAIVE_HEALTH_INTERVAL_MS", "3600000")
NFT_TABLE = "spc_drop"


# The fault vocabulary (experiments/vocabulary.yaml) on this engine: each verb is the Fleet method
# of that name, given NAME and the verb's arguments; experiments/test_vocabulary.py holds this
# table to the vocabulary.
VERBS = ("kill", "start", "stop", "freeze", "thaw", "partition", "heal", "drop", "undrop", "flap", "slow", "fail", "clear", "expect")
# The names of before the vocabulary, kept so that older experiments still run.
ALIASES = {"pause": "freeze", "unpause": "thaw", "disconnect": "partition", "connect": "heal"}


def say(msg: str) -> None:
    print(f"[containers] {msg}", file=sys.stderr, flush=True)


class Unsupported(Failed):
    """A verb this engine refuses (for this NAME): exit status 3, as the vocabulary says."""


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
    def __init__(self, naive: bool | None = None, own_keys: bool | None = None):
        self.docs = render()
        self.env_file = VAR / "fleet.env"
        saved = self.saved()
        self.token = saved.get("SUPERPOWER_ADMIN_TOKEN") or os.environ.get("SUPERPOWER_ADMIN_TOKEN") or secrets.token_urlsafe(18).lstrip("-")
        # the key of the signed superpower_last cookie, the same on every replica (deploy.sh
        # makes the Secret superpower-cookie the same way: 32 random bytes, hex)
        self.cookie_key = saved.get("SUPERPOWER_COOKIE_KEY") or os.environ.get("SUPERPOWER_COOKIE_KEY") or secrets.token_hex(32)
        if not re.fullmatch(r"([0-9a-fA-F]{2}){32,}", self.cookie_key):
            raise Failed("SUPERPOWER_COOKIE_KEY must be hex, at least 32 bytes (64 digits)")
        # the Secrets of the manifests that this fleet has, by name and key
        self.own_keys = (saved.get("COOKIE_KEYS") == "own") if own_keys is None else own_keys
        self.secrets = {"superpower-admin": {"token": self.token}, "superpower-cookie": {"key": self.cookie_key}}
        if self.own_keys:  # the Secret's key is optional in the manifest: without it, none is set
            del self.secrets["superpower-cookie"]
        self.naive = (saved.get("NAIVE") == "1") if naive is None else naive
        self.n = powersource_pods(self.docs)
        self.replicas = superpower_replicas(self.docs)
        self.aliases = headless_names(self.docs)
        self.peer_aliases = peer_names(self.docs)
        ps = find(self.docs, "StatefulSet", "powersource")
        self.ingest = [
            Spec(ps, ps["spec"]["template"]["spec"]["initContainers"][0], f"powersource-{i}", self.secrets, {"store": f"{PREFIX}store-{i}"})
            for i in range(self.n)
        ]
        self.powersource = [
            Spec(ps, ps["spec"]["template"]["spec"]["containers"][0], f"powersource-{i}", self.secrets, {"store": f"{PREFIX}store-{i}"})
            for i in range(self.n)
        ]
        sp = find(self.docs, "Deployment", "superpower")
        self.superpower = [
            Spec(sp, sp["spec"]["template"]["spec"]["containers"][0], f"superpower-{i}", self.secrets, {})
            for i in range(self.replicas)
        ]
        pr = find(self.docs, "Deployment", "prometheus")
        self.prometheus = Spec(
            pr, pr["spec"]["template"]["spec"]["containers"][0], "prometheus", self.secrets,
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

    def replica_url(self, i: int) -> str:
        return f"http://127.0.0.1:{REPLICA_PORT + i}"

    def superpower_args(self, i: int) -> list[str]:
        port = self.superpower[i].ports["http"]
        tail = ["--naive", "--health-interval-ms", NAIVE_INTERVAL_MS, "--dns-interval-ms", NAIVE_INTERVAL_MS] if self.naive else []
        net = ["--network", NETWORK]
        for a in self.peer_aliases + [f"superpower-{i}"]:
            net += ["--network-alias", a]
        return self.superpower[i].run_args(
            f"{PREFIX}superpower-{i}", IMAGE, net + ["-p", f"127.0.0.1:{REPLICA_PORT + i}:{port}"], tail,
        )

    def balancer_args(self) -> list[str]:
        """kube-proxy's part: HAProxy with balancer-config's file, published where the NodePort
        would be; hardened as the manifests harden every container, as the image's own user."""
        (svc_port,) = find(self.docs, "Service", "superpower")["spec"]["ports"]
        return [
            "run", "-d", "--name", f"{PREFIX}balancer", "--hostname", "balancer",
            "--label", "io.superpower.fleet=spc", "--read-only", "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges", "--memory", str(BALANCER_MEMORY), "--cpus", BALANCER_CPUS,
            "--tmpfs", f"/tmp:rw,nosuid,nodev,size={BALANCER_TMP},mode=1777",
            "-v", f"{VAR / 'balancer' / 'haproxy.cfg'}:{BALANCER_CONFIG_PATH}:ro",
            "--network", NETWORK, "--network-alias", "superpower",
            "-p", f"127.0.0.1:{SUPERPOWER_PORT}:{svc_port['port']}",
            BALANCER_IMAGE,
        ]

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
            + [self.superpower_args(i) for i in range(self.replicas)]
            + [self.balancer_args(), self.prometheus_args()]
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

    def ready_superpower(self, i: int) -> None:
        self.wait_probe(f"{PREFIX}superpower-{i}", self.superpower[i], self.superpower[i].readiness)

    def in_rotation(self) -> dict[str, str]:
        """The balancer's state of each replica (UP, DOWN, MAINT...), from its stats page; empty
        when it does not answer."""
        ip = container_ip(f"{PREFIX}balancer") if exists("container", f"{PREFIX}balancer") else None
        if not ip:
            return {}
        try:
            with urllib.request.urlopen(f"http://{ip}:{BALANCER_STATS_PORT}/stats;csv", timeout=2) as r:
                rows = list(csv.DictReader(io.StringIO(r.read().decode().lstrip("# "))))
        except (OSError, ValueError):
            return {}
        return {row["svname"]: row["status"] for row in rows if row.get("pxname") == "replicas" and row["svname"] != "BACKEND"}

    def wait_rotation(self, i: int, deadline_s: float = 30) -> None:
        """Waits until the balancer sends connections to replica i (its check found it ready)."""
        end = time.monotonic() + deadline_s
        while (st := self.in_rotation().get(f"superpower-{i}", "")).split(" ")[0] != "UP":
            if time.monotonic() > end:
                raise Failed(f"the balancer has not taken superpower-{i} in within {deadline_s:.0f} s (its state: {st or 'unknown'})")
            time.sleep(0.2)

    def containers(self) -> list[str]:
        """Every long-running container of the fleet, in the order `up` starts them."""
        return (
            [f"{PREFIX}powersource-{i}" for i in range(self.n)]
            + [f"{PREFIX}superpower-{i}" for i in range(self.replicas)]
            + [f"{PREFIX}balancer", f"{PREFIX}prometheus"]
        )

    # -- commands

    def up(self) -> None:
        for name in self.containers():
            if exists("container", name):
                raise Failed(f"the container fleet exists ({name}): deploy/containers/fleet.sh down first")
        VAR.mkdir(parents=True, exist_ok=True)
        (VAR / "prometheus").mkdir(exist_ok=True)
        (VAR / "prometheus" / "prometheus.yml").write_text(
            PROMETHEUS_HEADER + yaml.safe_dump(prometheus_config(self.docs, self.n), sort_keys=False)
        )
        (VAR / "balancer").mkdir(exist_ok=True)
        (VAR / "balancer" / "haproxy.cfg").write_text(balancer_config(self.docs))
        old = os.umask(0o077)
        self.env_file.write_text(
            f"NAIVE={int(self.naive)}\nCOOKIE_KEYS={'own' if self.own_keys else 'shared'}\n"
            f"SUPERPOWER_ADMIN_TOKEN={self.token}\nSUPERPOWER_COOKIE_KEY={self.cookie_key}\n"
        )
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
        for i in range(self.replicas):
            engine(*self.superpower_args(i))
        for i in range(self.replicas):
            self.ready_superpower(i)
            # the first request to / makes the route's duration series (as deploy/local/up.sh does)
            http(self.replica_url(i) + "/", 2)
            say(f"superpower-{i} is ready ({self.replica_url(i)}/){' (naive)' if self.naive else ''}")
        engine(*self.balancer_args())
        self.wait_probe(f"{PREFIX}balancer", self.superpower[0], self.superpower[0].readiness, url_base=f"http://127.0.0.1:{SUPERPOWER_PORT}")
        for i in range(self.replicas):
            self.wait_rotation(i)
        say(f"the balancer spreads http://127.0.0.1:{SUPERPOWER_PORT}/ over {self.replicas} superpower replicas")
        engine("volume", "create", f"{PREFIX}prometheus-data", check=False)
        engine(*self.prometheus_args())
        self.wait_probe(f"{PREFIX}prometheus", self.prometheus, self.prometheus.readiness, url_base=f"http://127.0.0.1:{PROMETHEUS_PORT}")
        targets = self.n + self.replicas + 1
        self.wait_scraped(targets)
        say(f"Prometheus scrapes all {targets} targets: http://127.0.0.1:{PROMETHEUS_PORT}/")
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
        names = list(reversed(self.containers())) + [f"{PREFIX}ingest-{i}" for i in range(self.n)]
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
        rows = [(f"{PREFIX}powersource-{i}", s) for i, s in enumerate(self.powersource)]
        rows += [(f"{PREFIX}superpower-{i}", s) for i, s in enumerate(self.superpower)]
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
        path = self.superpower[0].readiness["path"]
        through = http(f"http://127.0.0.1:{SUPERPOWER_PORT}{path}", 2)
        rotation = self.in_rotation()
        print(f"{PREFIX}balancer: {path} through 127.0.0.1:{SUPERPOWER_PORT} {through or 'no answer'}; "
              + ", ".join(f"superpower-{i} {rotation.get(f'superpower-{i}', 'unknown')}" for i in range(self.replicas)))
        ready = http(f"http://127.0.0.1:{PROMETHEUS_PORT}/-/ready", 2)
        print(f"{PREFIX}prometheus: /-/ready {ready or 'no answer'}")
        in_rotation = all(rotation.get(f"superpower-{i}", "").startswith("UP") for i in range(self.replicas))
        return ok and through == 200 and in_rotation and ready == 200

    def target(self, name: str) -> tuple[str, int]:
        """NAME as the vocabulary names a pod: powersource-N (or the bare index N) or superpower-N."""
        m = re.fullmatch(r"(?:(powersource|superpower)-)?(\d+)", name)
        if not m:
            raise Failed(f"no {name!r}: powersource-N (or N) or superpower-N")
        kind, i = m.group(1) or "powersource", int(m.group(2))
        count = self.n if kind == "powersource" else self.replicas
        if i >= count:
            raise Failed(f"no {kind}-{i}: {kind}-0 to {kind}-{count - 1}")
        return kind, i

    def ps(self, name: str, verb: str) -> tuple[int, str]:
        """powersource NAME's index and container; a superpower replica is refused (exit 3): the
        faults of this engine act on powersources."""
        kind, i = self.target(name)
        if kind != "powersource":
            raise Unsupported(f"{verb} {kind}-{i}: this engine's {verb} acts on powersources (kill, stop and start act on both)")
        return i, f"{PREFIX}powersource-{i}"

    def kill(self, name: str) -> None:
        kind, i = self.target(name)
        if kind == "superpower":
            return self.frontend("kill", str(i))
        _, c = self.ps(name, "kill")
        engine("kill", "-s", "KILL", c)
        say(f"killed powersource-{i}")

    def start(self, name: str) -> None:
        kind, i = self.target(name)
        if kind == "superpower":
            return self.frontend("start", str(i))
        _, c = self.ps(name, "start")
        st = state(c)
        if st == "paused":
            engine("unpause", c)
        if st == "running":
            say(f"powersource-{i} already runs")
        else:
            engine(*self.ingest_args(i))  # the init container runs before every start
            engine("start", c)
        self.ready_powersource(i)
        say(f"started powersource-{i}: ready")

    def stop(self, name: str) -> None:
        """SIGTERM (the engine's stop signal), SIGKILL after the pod's grace period; stopping one
        that does not run says so and succeeds."""
        kind, i = self.target(name)
        if kind == "superpower":
            return self.frontend("stop", str(i))
        _, c = self.ps(name, "stop")
        st = state(c)
        if st not in ("running", "paused"):
            say(f"powersource-{i} is {st}: nothing to stop")
            return
        if st == "paused":
            engine("unpause", c)
        t0 = time.monotonic()
        engine("stop", "-t", str(self.powersource[i].stop_timeout), c)
        say(f"stopped powersource-{i} (SIGTERM) in {time.monotonic() - t0:.1f} s, exit code {inspect(c)['State'].get('ExitCode')}")

    def freeze(self, name: str) -> None:
        i, c = self.ps(name, "freeze")
        engine("pause", c)
        say(f"froze powersource-{i} (the engine's pause: the kernel's freezer)")

    def thaw(self, name: str) -> None:
        i, c = self.ps(name, "thaw")
        if state(c) == "paused":
            engine("unpause", c)
        self.ready_powersource(i)
        say(f"thawed powersource-{i}: ready")

    def partition(self, name: str) -> None:
        i, c = self.ps(name, "partition")
        engine("network", "disconnect", NETWORK, c)
        say(f"took powersource-{i} off {NETWORK} (it keeps running)")

    def heal(self, name: str) -> None:
        i, c = self.ps(name, "heal")
        if container_ip(c) is None:
            args = ["network", "connect"] + self.fixed_addr(i)
            for a in self.aliases + [f"powersource-{i}"]:
                args += ["--alias", a]
            engine(*args, NETWORK, c)
        self.ready_powersource(i)
        say(f"put powersource-{i} back on {NETWORK}: ready")

    def netns(self, name: str) -> list[str]:
        pid = inspect(name)["State"]["Pid"]
        if not pid:
            raise Failed(f"{name} does not run")
        return ["nsenter", f"--net=/proc/{pid}/ns/net", "nft"]

    def drop(self, name: str) -> None:
        i, c = self.ps(name, "drop")
        nft = self.netns(c)
        rules = f"table inet {NFT_TABLE} {{\n  chain input {{\n    type filter hook input priority -300; policy drop;\n  }}\n}}\n"
        p = subprocess.run(nft + ["-f", "-"], input=rules, capture_output=True, text=True)
        if p.returncode != 0:
            raise Failed(f"nft in {c}'s network namespace: {p.stderr.strip()}")
        say(f"powersource-{i} drops every packet it receives (nftables in its network namespace)")

    def undrop_name(self, name: str) -> None:
        try:
            nft = self.netns(name)
        except Failed:
            return
        subprocess.run(nft + ["delete", "table", "inet", NFT_TABLE], capture_output=True)

    def undrop(self, name: str) -> None:
        i, c = self.ps(name, "undrop")
        self.undrop_name(c)
        self.ready_powersource(i)
        say(f"powersource-{i} receives packets again: ready")

    def flap(self, name: str, seconds: str = "60", down: str = "3", up: str = "5") -> None:
        i, c = self.ps(name, "flap")
        end = time.monotonic() + float(seconds)
        cycles = 0
        while True:
            engine("kill", "-s", "KILL", c)
            cycles += 1
            time.sleep(float(down))
            if time.monotonic() + float(up) > end:
                break
            engine(*self.ingest_args(i))
            engine("start", c)
            time.sleep(float(up))
        say(f"powersource-{i} flapped {cycles} times in {seconds} s (down {down} s, up {up} s); it is down now")

    # -- the admin API's faults (slow, fail, clear): each powersource's /admin/faults, asked on its
    # address on the fleet's network (as `expect` and the readiness checks ask it) with the fleet's
    # admin token (the Secret superpower-admin's, which the powersources get)

    def base(self, i: int, c: str) -> str:
        ip = container_ip(c)
        if ip is None:
            raise Failed(f"powersource-{i} is not on {NETWORK}: it cannot be asked")
        return f"http://{ip}:{self.powersource[i].ports['http']}"

    def admin_faults(self, i: int, c: str, method: str, spec: dict | None = None) -> dict:
        url = self.base(i, c) + "/admin/faults"
        req = urllib.request.Request(
            url, data=None if spec is None else json.dumps(spec).encode(), method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            why = {401: "the token was refused", 404: "the admin API is off (no POWERSOURCE_ADMIN_TOKEN)"}.get(e.code, e.read()[:300].decode(errors="replace"))
            raise Failed(f"{method} {url}: HTTP {e.code}: {why}") from None
        except (OSError, ValueError) as e:
            raise Failed(f"{method} {url}: {e} (does powersource-{i} run?)") from None

    def slow(self, name: str, ms: str) -> None:
        i, c = self.ps(name, "slow")
        if not ms.isdigit():
            raise Failed(f"slow {name} MS: a number of milliseconds, not {ms!r}")
        spec = self.admin_faults(i, c, "GET") | {"latency_ms": int(ms)}
        got = self.admin_faults(i, c, "PUT", spec)
        say(f"powersource-{i} answers every product request {got['latency_ms']} ms late (its faults: {json.dumps(got)})")

    def fail(self, name: str, rate: str) -> None:
        i, c = self.ps(name, "fail")
        try:
            r = float(rate)
        except ValueError:
            r = -1.0
        if not 0.0 <= r <= 1.0:
            raise Failed(f"fail {name} RATE: a share from 0.0 to 1.0, not {rate!r}")
        spec = self.admin_faults(i, c, "GET") | {"error_rate": r}
        got = self.admin_faults(i, c, "PUT", spec)
        say(f"powersource-{i} answers a share {got['error_rate']:g} of product requests with 500 (its faults: {json.dumps(got)})")

    def clear(self, name: str) -> None:
        i, c = self.ps(name, "clear")
        self.admin_faults(i, c, "DELETE")
        say(f"powersource-{i} has no fault of its admin API any more")

    def expect(self, name: str, fault: str) -> None:
        """Exits 0 only if `fault` (a token of the vocabulary) is in force, seen from outside."""
        i, c = self.ps(name, "expect")
        p = self.powersource[i].readiness
        if fault == "frozen":
            ip = container_ip(c)
            st = state(c)
            got = http(f"http://{ip}:{p['port']}{p['path']}", 1.5)
            if st != "paused" or got is not None:
                raise Failed(f"powersource-{i} is {st} and answered {got}: not frozen")
            print(f"faults: powersource-{i} is paused and answers nothing within 1.5 s: frozen is in force")
        elif fault == "unreachable":
            ip = container_ip(c)
            if ip is not None:
                raise Failed(f"powersource-{i} is still on {NETWORK} ({ip})")
            if state(c) != "running":
                raise Failed(f"powersource-{i} is {state(c)}: a partition needs it running")
            print(f"faults: powersource-{i} runs but is off {NETWORK}: the partition is in force")
        elif fault == "hanging":
            ip = container_ip(c)
            t0 = time.monotonic()
            try:
                socket.create_connection((ip, p["port"]), timeout=1.5).close()
                raise Failed(f"powersource-{i} accepted a connection: packets are not dropped")
            except socket.timeout:
                pass
            except OSError as e:
                raise Failed(f"a connect to powersource-{i} failed at once ({e}): packets are refused, not dropped")
            print(f"faults: a connect to powersource-{i} ({ip}) hung {time.monotonic() - t0:.1f} s: the packet drop is in force")
        elif fault == "down":
            if state(c) == "running":
                raise Failed(f"powersource-{i} runs")
            print(f"faults: powersource-{i} is {state(c)}: down is in force")
        elif re.fullmatch(r"latency:\d+", fault):
            want = int(fault.split(":")[1])
            t0 = time.monotonic()
            got = http(self.base(i, c) + "/random", want / 1000 + 10)
            ms = (time.monotonic() - t0) * 1000
            if got != 200 or ms < want:
                raise Failed(f"powersource-{i} answered GET /random with {got} in {ms:.0f} ms: no latency of {want} ms in force")
            print(f"faults: powersource-{i} answered GET /random in {ms:.0f} ms (at least {want} ms): the latency is in force")
        elif fault == "errors":
            base, codes = self.base(i, c), []
            for _ in range(40):
                try:
                    with urllib.request.urlopen(base + "/random", timeout=5) as r:
                        codes.append(str(r.status))
                except urllib.error.HTTPError as e:
                    codes.append("injected" if e.code == 500 and e.headers.get("X-Powersource-Fault") == "error" else str(e.code))
                except OSError:
                    codes.append("none")
            if "injected" not in codes:
                raise Failed(f"powersource-{i}: no injected 500 in 40 GET /random ({', '.join(sorted(set(codes)))}): no error rate in force")
            print(f"faults: powersource-{i} answered {codes.count('injected')} of 40 GET /random with an injected 500, {codes.count('200')} with 200: the error rate is in force")
        else:
            raise Failed(f"unknown fault {fault!r}: down, frozen, unreachable, hanging, latency:MS or errors (experiments/vocabulary.yaml)")

    def frontend(self, cmd: str, index: str) -> None:
        """kill (SIGKILL), stop (the stop signal, SIGTERM: superpower drains and exits; SIGKILL
        after the grace period) or start superpower replica `index`, as the local fleet's
        deploy/local/frontend.sh does to a process."""
        if cmd not in ("kill", "stop", "start"):
            raise Failed(f"frontend {cmd!r}: kill, stop or start")
        if not re.fullmatch(r"\d", index) or int(index) >= self.replicas:
            raise Failed(f"no superpower replica {index!r}: 0 to {self.replicas - 1}")
        i, name = int(index), f"{PREFIX}superpower-{index}"
        st = state(name)
        if cmd in ("kill", "stop"):
            if st not in ("running", "paused"):
                say(f"superpower-{i} is {st}: nothing to {cmd}")
                return
            if st == "paused":
                engine("unpause", name)
            if cmd == "kill":
                engine("kill", "-s", "KILL", name)
                engine("wait", name)  # returns once the engine has seen it exit
                say(f"killed superpower-{i} (SIGKILL)")
            else:
                t0 = time.monotonic()
                engine("stop", "-t", str(self.superpower[i].stop_timeout), name)
                code = inspect(name)["State"].get("ExitCode")
                say(f"stopped superpower-{i} (SIGTERM) in {time.monotonic() - t0:.1f} s, exit code {code}")
        elif cmd == "start":
            if st == "running":
                say(f"superpower-{i} already runs")
            else:
                engine("start", name)
            self.ready_superpower(i)
            self.wait_rotation(i)
            say(f"started superpower-{i}: ready on {self.replica_url(i)}/, and in the balancer's rotation")

    def rss(self) -> None:
        out = engine("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", *self.containers()).stdout
        print(out.strip())


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    try:
        if cmd in ("plan", "up"):
            unknown = [a for a in rest if a not in ("--naive", "--own-cookie-keys")]
            if unknown:
                raise Failed(f"{cmd}: unknown option {unknown[0]} (--naive, --own-cookie-keys)")
            f = Fleet(naive="--naive" in rest, own_keys="--own-cookie-keys" in rest)
            if cmd == "plan":
                for a in f.plan():
                    print(shlex.join([ENGINE, *a]).replace(f.token, "$SUPERPOWER_ADMIN_TOKEN").replace(f.cookie_key, "$SUPERPOWER_COOKIE_KEY"))
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
            print("SUPERPOWER_REPLICA_URLS=" + ",".join(f.replica_url(i) + "/" for i in range(f.replicas)))
            print(f"PROMETHEUS_URL=http://127.0.0.1:{PROMETHEUS_PORT}")
            print(f"SUPERPOWER_ADMIN_TOKEN={f.token}")
        elif cmd == "prometheus-config":
            print(PROMETHEUS_HEADER + yaml.safe_dump(prometheus_config(f.docs, f.n), sort_keys=False), end="")
        elif cmd == "balancer-config":
            print(balancer_config(f.docs), end="")
        elif cmd == "rss":
            f.rss()
        elif cmd == "frontend":
            if len(rest) != 2:
                raise Failed(f"usage: frontend kill|stop|start N (N from 0 to {f.replicas - 1})")
            f.frontend(*rest)
        elif cmd in VERBS or cmd in ALIASES:
            if not rest:
                raise Failed(f"{cmd} needs a NAME: powersource-0 to powersource-{f.n - 1} (or the index){', or superpower-N' if cmd in ('kill', 'stop', 'start') else ''}")
            getattr(f, ALIASES.get(cmd, cmd))(*rest)
        else:
            print(f"unknown command {cmd!r} (deploy/containers/fleet.sh --help)", file=sys.stderr)
            return 2
    except Unsupported as e:
        print(f"[containers] unsupported on this engine: {e}", file=sys.stderr)
        return 3
    except Failed as e:
        print(f"[containers] error: {e}", file=sys.stderr)
        return 1
    except TypeError as e:
        print(f"[containers] error: bad arguments for {cmd}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
