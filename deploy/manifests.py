#!/usr/bin/env python3
"""The rendered Kubernetes manifests, read once for every other way of running the fleet.

The manifests (deploy/kubernetes, rendered with `kubectl kustomize overlays/minikube`) are the
one description of the fleet. This module reads them; everything else is derived from it or
held to it:
  - deploy/containers/fleet.py runs each container as the manifests say (Spec: command line,
    env, user, hardening, limits, probes, ports) and writes Prometheus's and the balancer's
    config from them (prometheus_config, balancer_config);
  - deploy/compose/test_compose.py holds compose.yaml to the same Spec, and compose's
    prometheus.yml and haproxy.cfg to the same two functions;
  - deploy/kubernetes/test_invariants.py renders every overlay through render();
  - deploy/test_manifests.py holds the process fleets (deploy/local's launch code, the bench's)
    to the flags and env the manifests pass (process-args below).

    deploy/manifests.py process-args superpower|powersource
        the container's command-line flags (--listen ...) and env variable names
        (SUPERPOWER_LAME_DUCK_MS ...), one a line: what the manifests pass to the binary

Needs PyYAML (the project's venv has it) and kubectl (rendering only: KUBECONFIG=/dev/null, no
cluster).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OVERLAY = ROOT / "deploy" / "kubernetes" / "overlays" / "minikube"
# The workload and container that run each binary, as the manifests name them.
BINARY_CONTAINERS = {
    "superpower": ("Deployment", "superpower", "superpower"),
    "powersource": ("StatefulSet", "powersource", "powersource"),
}
PROMETHEUS_HEADER = """\
# Prometheus for the containers (the container fleet, deploy/compose): the in-cluster config,
# deploy/kubernetes/base/prometheus/prometheus.yml, with its kubernetes_sd job as static targets
# labelled as its relabelling labels the pods. Made by `deploy/containers/fleet.sh
# prometheus-config`; do not edit (deploy/compose/test.sh checks that it is current).
"""
BALANCER_HEADER = """\
# The superpower Service for the containers (the container fleet, deploy/compose): HAProxy in TCP
# mode spreading connections round robin over the replicas of the Deployment superpower, each
# checked as its readiness probe checks it, as kube-proxy spreads a Service's connections over its
# ready endpoints. Made by `deploy/containers/fleet.sh balancer-config` from the rendered
# manifests; do not edit (deploy/compose/test_compose.py checks that it is current).
"""
# The balancer stands for kube-proxy, which no manifest describes: its container's settings are
# written here once; compose's balancer service is held to them by deploy/compose/test_compose.py.
BALANCER_MAXCONN = 4000
BALANCER_MEMORY = 256 << 20
BALANCER_CPUS = "1"
BALANCER_TMP = 64 << 20
# where the official image reads its configuration
BALANCER_CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg"
# HAProxy's stats page (/stats;csv): which replicas are in rotation
BALANCER_STATS_PORT = 8404


class Failed(Exception):
    """The manifests are not what this module can read (or a fleet command failed, in
    fleet.py, which uses the same exception): its message is printed, the exit status is 1."""


def render(path: Path = OVERLAY) -> list[dict]:
    """`kubectl kustomize PATH` (the minikube overlay by default), parsed; no cluster needed."""
    env = dict(os.environ, KUBECONFIG="/dev/null")
    out = subprocess.run(
        ["kubectl", "kustomize", str(path)], env=env, check=True, capture_output=True, text=True
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

    def __init__(self, workload: dict, container: dict, pod_name: str, secrets: dict[str, dict[str, str]], volumes: dict[str, str]):
        """secrets: the Secrets this fleet has, by name, each a dict of its keys' values."""
        pod = workload["spec"]["template"]["spec"]
        sc = pod.get("securityContext", {})
        csc = container.get("securityContext", {})
        self.name = container["name"]
        self.pod_name = pod_name
        self.user = f"{csc.get('runAsUser', sc['runAsUser'])}:{csc.get('runAsGroup', sc['runAsGroup'])}"
        self.env: dict[str, str] = {}
        for e in container.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if "value" in e:
                self.env[e["name"]] = e["value"]
            elif e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
                self.env[e["name"]] = pod_name
            elif ref is not None:
                value = secrets.get(ref["name"], {}).get(ref["key"])
                if value is not None:
                    self.env[e["name"]] = value
                elif not ref.get("optional"):
                    raise Failed(f"{self.name}: env {e['name']} needs the Secret {ref['name']} key {ref['key']}, which this fleet does not make")
                # an optional key the Secret does not have sets nothing, as the kubelet does
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


def superpower_replicas(docs: list[dict]) -> int:
    return find(docs, "Deployment", "superpower")["spec"]["replicas"]


def headless_names(docs: list[dict], env: str = "POWERSOURCE_DNS", service: str = "powersource", workload: tuple[str, str] = ("StatefulSet", "powersource")) -> list[str]:
    """The DNS names a headless Service gives the pods it selects: the name superpower's env
    `env` names (its host part) and the Service's short name; the Service must select the pods
    of `workload` (kind, name). The powersources' by default; see peer_names for superpower's."""
    sp = find(docs, "Deployment", "superpower")["spec"]["template"]["spec"]["containers"][0]
    dns = next(e["value"] for e in sp["env"] if e["name"] == env)
    svc = find(docs, "Service", service)
    if svc["spec"].get("clusterIP") != "None":
        raise Failed(f"the {service} Service is not headless")
    labels = find(docs, *workload)["spec"]["template"]["metadata"]["labels"]
    if not svc["spec"]["selector"].items() <= labels.items():
        raise Failed(f"the {service} Service does not select the pods of {workload[0]} {workload[1]}")
    return [dns.rsplit(":", 1)[0], svc["metadata"]["name"]]


def peer_names(docs: list[dict]) -> list[str]:
    """The names every superpower replica has as a member of the headless Service superpower-peers."""
    return headless_names(docs, "SUPERPOWER_PEERS_DNS", "superpower-peers", ("Deployment", "superpower"))


def prometheus_config(docs: list[dict], n: int) -> dict:
    """The in-cluster Prometheus config with each pod-discovery job as static targets, labelled
    job (the app label) and instance (the pod name) as its relabelling labels them. Jobs of the
    cluster itself (node discovery: the kubelets' cAdvisor) are left out: no engine here has
    kubelets."""
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("prometheus-config-"))
    cfg = yaml.safe_load(cm["data"]["prometheus.yml"])
    sp_port = find(docs, "Deployment", "superpower")["spec"]["template"]["spec"]["containers"][0]["ports"][0]
    ps_port = find(docs, "StatefulSet", "powersource")["spec"]["template"]["spec"]["containers"][0]["ports"][0]
    cfg["scrape_configs"] = [
        j for j in cfg["scrape_configs"] if all(sd["role"] == "pod" for sd in j.get("kubernetes_sd_configs", []))
    ]
    for job in cfg["scrape_configs"]:
        if job.pop("kubernetes_sd_configs", None) is None:
            continue
        keep = next(r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep")
        apps = keep.split("|")
        assert apps == ["superpower", "powersource"], apps
        job["static_configs"] = [
            {"targets": [f"superpower-{i}:{sp_port['containerPort']}"], "labels": {"job": "superpower", "instance": f"superpower-{i}", "namespace": "superpower"}}
            for i in range(superpower_replicas(docs))
        ] + [
            {"targets": [f"powersource-{i}:{ps_port['containerPort']}"], "labels": {"job": "powersource", "instance": f"powersource-{i}", "namespace": "superpower"}}
            for i in range(n)
        ]
        # the relabelling of SD metadata has nothing to act on: the labels above are its result
        job.pop("relabel_configs")
    return cfg


def balancer_config(docs: list[dict]) -> str:
    """HAProxy's configuration of the superpower Service: the Service's port, round robin over
    the Deployment's replicas (superpower-N, names the engine's DNS answers and HAProxy's
    resolvers ask again every second, so a replica that restarts at a new address comes back),
    each checked with its readiness probe's path, period, timeout and thresholds. TCP mode:
    HAProxy passes bytes, as kube-proxy does."""
    dep = find(docs, "Deployment", "superpower")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    (svc_port,) = find(docs, "Service", "superpower")["spec"]["ports"]
    target = svc_port["targetPort"]
    port = ports[target] if isinstance(target, str) else target
    r = c["readinessProbe"]
    probe_port = r["httpGet"]["port"]
    if (ports[probe_port] if isinstance(probe_port, str) else probe_port) != port:
        raise Failed("superpower's readiness probe asks another port than the Service's")
    servers = "".join(f"  server superpower-{i} superpower-{i}:{port}\n" for i in range(superpower_replicas(docs)))
    return BALANCER_HEADER + f"""global
  maxconn {BALANCER_MAXCONN}

# the container engine's DNS server (aardvark-dns; Docker's 127.0.0.11), from /etc/resolv.conf
resolvers engine
  parse-resolv-conf

defaults
  mode tcp
  timeout connect 500ms
  timeout client 60s
  timeout server 60s
  timeout check {r.get("timeoutSeconds", 1)}s
  # a connection that cannot reach its replica is tried again at once on another
  retries 2
  option redispatch 1

frontend superpower
  bind :{svc_port["port"]}
  default_backend replicas

# which replicas are in rotation (`fleet.sh frontend start` waits for its replica here); on the
# engine's network only, never published
frontend stats
  mode http
  bind :{BALANCER_STATS_PORT}
  stats enable
  stats uri /stats

backend replicas
  balance roundrobin
  option httpchk
  http-check send meth GET uri {r["httpGet"]["path"]}
  http-check expect status 200
  # the readiness probe's schedule; a connection that fails takes the replica out at once (as a
  # pod that dies leaves its Service's endpoints), its next good check brings it back
  default-server check inter {r.get("periodSeconds", 10)}s fall {r.get("failureThreshold", 3)} rise {r.get("successThreshold", 1)} observe layer4 error-limit 1 on-error mark-down resolvers engine resolve-prefer ipv4 init-addr libc,none
{servers}"""



def process_args(docs: list[dict], binary: str) -> list[str]:
    """What the manifests pass to `binary` (superpower or powersource): the flags of its
    container's command line (`--name`, without their values), then its env variable names, in
    the manifests' order."""
    kind, workload, container = BINARY_CONTAINERS[binary]
    (c,) = [c for c in find(docs, kind, workload)["spec"]["template"]["spec"]["containers"] if c["name"] == container]
    words = c.get("command", []) + c.get("args", [])
    flags = [w.split("=", 1)[0] for w in words if w.startswith("--")]
    return flags + [e["name"] for e in c.get("env", [])]


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "process-args" and argv[1] in BINARY_CONTAINERS:
        try:
            print("\n".join(process_args(render(), argv[1])))
        except (Failed, subprocess.CalledProcessError) as e:
            print(f"[manifests] error: {e}", file=sys.stderr)
            return 1
        return 0
    print(__doc__ if argv[:1] in (["-h"], ["--help"]) else "usage: deploy/manifests.py process-args superpower|powersource",
          file=sys.stdout if argv[:1] in (["-h"], ["--help"]) else sys.stderr)
    return 0 if argv[:1] in (["-h"], ["--help"]) else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
