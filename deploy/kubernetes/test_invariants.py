"""Invariants of the Kubernetes deployment that a schema cannot see.

Each overlay is rendered with `kubectl kustomize` (no cluster: KUBECONFIG=/dev/null), through
deploy/manifests.py, the one reader of the manifests, and checked against docs/CONTRACTS.md, the
Dockerfile, the code's drain timeout, dashboards/ and the Kubernetes chaos experiments. Run through deploy/kubernetes/check.sh, or directly:

    var/venv/bin/python -m pytest deploy/kubernetes/test_invariants.py
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "deploy"))
# `kubectl kustomize PATH`, parsed: the one reader of the manifests (deploy/manifests.py)
from manifests import render  # noqa: E402
OVERLAYS = {
    "minikube": {"pull": "Never"},
    "microk8s": {"pull": "IfNotPresent"},
}
# The components every overlay adds to the base.
OVERLAY_COMPONENTS = ["node-ports", "network-policies"]
# How long a terminating pod takes to leave DNS answers: the EndpointSlice marks it not ready
# (about a second), then CoreDNS's answers live their TTL (the kubernetes plugin's default, 5 s).
ENDPOINTS_PROPAGATION_S = 1
COREDNS_TTL_S = 5
# The static band of the default NodePort range 30000-32767 (KEP-3668, Kubernetes 1.29+):
# min(max(16, 2768 / 32), 128) = 86 ports, 30000-30085, which automatic NodePorts avoid.
STATIC_NODE_PORTS = range(30000, 30086)
# The image user (distroless "nonroot"); the Dockerfile and the pods must agree.
IMAGE_UID = 65532
BINARIES = {"powersource", "superpower", "loader"}


# ---------------------------------------------------------------------------------------------
# Rendering and lookup helpers


def render_with_dataset(overlay: str) -> list[dict]:
    """The overlay plus the marvel-dataset component, as deploy.sh --data renders it."""
    with tempfile.TemporaryDirectory(dir=ROOT / "var") as tmp:
        rel = os.path.relpath(HERE, tmp)
        Path(tmp, "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            f"resources: [{rel}/overlays/{overlay}]\ncomponents: [{rel}/components/marvel-dataset]\n"
        )
        return render(Path(tmp))


def one(docs: list[dict], kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected exactly one {kind}/{name}, found {len(found)}"
    return found[0]


def configmap(docs: list[dict], prefix: str) -> dict:
    """A generated ConfigMap (its name carries a content hash suffix)."""
    found = [
        d for d in docs if d["kind"] == "ConfigMap" and re.fullmatch(rf"{prefix}-[a-z0-9]{{10}}", d["metadata"]["name"])
    ]
    assert len(found) == 1, f"expected one generated ConfigMap {prefix}-<hash>, found {len(found)}"
    return found[0]


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def all_containers(workload: dict) -> list[dict]:
    spec = pod_spec(workload)
    return spec.get("initContainers", []) + spec["containers"]


def container(workload: dict, name: str) -> dict:
    found = [c for c in all_containers(workload) if c["name"] == name]
    assert len(found) == 1, f"{workload['metadata']['name']}: no container {name}"
    return found[0]


def workloads(docs: list[dict]) -> list[dict]:
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")]


def selects(selector: dict, labels: dict) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against a label set."""
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def parse_selector_string(s: str) -> dict:
    """A kubectl-style label selector string (`a=b,c!=d,e in (f,g),h`) as a LabelSelector."""
    exprs = []
    for part in re.findall(r"[^,(]+(?:\([^)]*\))?", s):
        part = part.strip()
        if not part:
            continue
        if m := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", part):
            values = [v.strip() for v in m.group(3).split(",")]
            exprs.append({"key": m.group(1), "operator": "In" if m.group(2) == "in" else "NotIn", "values": values})
        elif m := re.fullmatch(r"([\w./-]+)\s*!=\s*([\w.-]*)", part):
            exprs.append({"key": m.group(1), "operator": "NotIn", "values": [m.group(2)]})
        elif m := re.fullmatch(r"([\w./-]+)\s*==?\s*([\w.-]*)", part):
            exprs.append({"key": m.group(1), "operator": "In", "values": [m.group(2)]})
        elif m := re.fullmatch(r"!([\w./-]+)", part):
            exprs.append({"key": m.group(1), "operator": "DoesNotExist"})
        elif m := re.fullmatch(r"([\w./-]+)", part):
            exprs.append({"key": m.group(1), "operator": "Exists"})
        else:
            raise ValueError(f"cannot parse label selector part {part!r} of {s!r}")
    return {"matchExpressions": exprs}


def flag(command: list[str], name: str) -> str:
    """The value after `name` in a container command."""
    assert name in command, f"{name} missing from {command}"
    return command[command.index(name) + 1]


def env_value(c: dict, name: str) -> str:
    found = [e for e in c.get("env", []) if e["name"] == name]
    assert len(found) == 1, f"container {c['name']}: env {name} missing"
    return found[0].get("value")


def port_number(c: dict, port) -> int:
    if isinstance(port, int):
        return port
    found = [p["containerPort"] for p in c.get("ports", []) if p.get("name") == port]
    assert found, f"container {c['name']}: no port named {port}"
    return found[0]


# ---------------------------------------------------------------------------------------------
# The contract, read from docs/CONTRACTS.md so that a change there shows up here


@pytest.fixture(scope="session")
def contract() -> dict:
    text = (ROOT / "docs" / "CONTRACTS.md").read_text()
    section = text.split("## Kubernetes", 1)[1].split("\n## ", 1)[0]
    dns = re.search(r"POWERSOURCE_DNS=([^`\s]+)", section).group(1)
    fleet = text.split("## The local fleet", 1)[0]
    return {
        "namespace": re.search(r"Namespace `([^`]+)`", section).group(1),
        "headless": re.search(r"Headless Service `([^`]+)` \(port (\d+)\)", section).group(1),
        "powersource_port": int(re.search(r"Headless Service `[^`]+` \(port (\d+)\)", section).group(1)),
        "nodeport": int(re.search(r"NodePort (\d+)", section).group(1)),
        "dns": dns,
        "image": re.search(r"One image, `([^`]+)`", section).group(1),
        # superpower's default listen port is the original demo's, which the NodePort keeps.
        "superpower_port": int(re.search(r"`SUPERPOWER_LISTEN` \(default `[\d.]+:(\d+)`\)", fleet).group(1)),
    }


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict]]:
    return {name: render(HERE / "overlays" / name) for name in OVERLAYS}


@pytest.fixture(scope="session", params=list(OVERLAYS))
def docs(request, rendered) -> list[dict]:
    return rendered[request.param]


@pytest.fixture(scope="session")
def base() -> list[dict]:
    return render(HERE / "base")


# ---------------------------------------------------------------------------------------------
# Namespace, labels, selectors


def test_everything_lives_in_the_contract_namespace(docs, contract):
    ns = contract["namespace"]
    one(docs, "Namespace", ns)
    for d in docs:
        if d["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            # cluster-scoped: named after the namespace, so undeploy.sh finds them
            name = d["metadata"]["name"]
            assert "namespace" not in d["metadata"] and name.startswith(f"{ns}-")
            assert f'"$NAMESPACE-{name.removeprefix(ns + "-")}"' in (HERE / "undeploy.sh").read_text()
        elif d["kind"] != "Namespace":
            assert d["metadata"].get("namespace") == ns, f"{d['kind']}/{d['metadata']['name']} not in {ns}"


@pytest.mark.parametrize("app", ["powersource", "superpower"])
def test_pods_carry_the_labels_the_experiments_and_dashboards_select(docs, app):
    kind = "StatefulSet" if app == "powersource" else "Deployment"
    w = one(docs, kind, app)
    labels = w["spec"]["template"]["metadata"]["labels"]
    assert labels["app"] == app
    assert labels["app.kubernetes.io/name"] == app
    assert labels["app.kubernetes.io/part-of"] == "superpower"
    assert selects(w["spec"]["selector"], labels)
    # The selector of another workload must not capture these pods.
    for other in workloads(docs):
        if other is not w:
            assert not selects(other["spec"]["selector"], labels), f"{other['metadata']['name']} selects {app} pods"


def test_services_and_budgets_select_exactly_their_pods(docs):
    for d in docs:
        if d["kind"] == "Service":
            sel = {"matchLabels": d["spec"]["selector"]}
        elif d["kind"] == "PodDisruptionBudget":
            sel = d["spec"]["selector"]
        else:
            continue
        matched = [w["metadata"]["name"] for w in workloads(docs) if selects(sel, w["spec"]["template"]["metadata"]["labels"])]
        # a Service or budget is named after its workload (superpower-peers: superpower's peers;
        # NAME-external: NAME published on the nodes)
        name = d["metadata"]["name"].removesuffix("-peers").removesuffix("-external")
        assert matched == [name], f"{d['kind']}/{d['metadata']['name']} selects {matched}"
    for app in ("powersource", "superpower"):
        one(docs, "PodDisruptionBudget", app)


# ---------------------------------------------------------------------------------------------
# Ports, probes, DNS discovery


def test_powersource_headless_service_and_listen_port(docs, contract):
    svc = one(docs, "Service", contract["headless"])
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"].get("publishNotReadyAddresses", False) is False
    sts = one(docs, "StatefulSet", "powersource")
    assert sts["spec"]["serviceName"] == contract["headless"]
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    c = container(sts, "powersource")
    listen = flag(c["command"], "--listen")
    assert listen == f"0.0.0.0:{contract['powersource_port']}"
    (port,) = svc["spec"]["ports"]
    assert port["port"] == contract["powersource_port"]
    assert port_number(c, port["targetPort"]) == contract["powersource_port"]
    # Each pod reports its own pod name (downward API), which Prometheus also uses as instance.
    assert flag(c["command"], "--name") == "$(POD_NAME)"
    (pod_name,) = [e for e in c["env"] if e["name"] == "POD_NAME"]
    assert pod_name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert flag(c["command"], "--store") == "/data/store"


def test_superpower_nodeport_and_listen_port(docs, contract):
    svc = one(docs, "Service", "superpower")
    assert svc["spec"]["type"] == "ClusterIP"
    (inside,) = svc["spec"]["ports"]
    ext = one(docs, "Service", "superpower-external")
    assert ext["spec"]["type"] == "NodePort"
    (port,) = ext["spec"]["ports"]
    assert port["nodePort"] == contract["nodeport"]
    assert port["port"] == inside["port"] == contract["superpower_port"]
    dep = one(docs, "Deployment", "superpower")
    assert dep["spec"]["replicas"] == 2
    c = container(dep, "superpower")
    listen_port = int(flag(c["command"], "--listen").rsplit(":", 1)[1])
    assert listen_port == contract["superpower_port"]
    assert port_number(c, port["targetPort"]) == port_number(c, inside["targetPort"]) == listen_port


def test_the_base_publishes_nothing_and_the_overlays_only_the_front_end_and_jaegers_ui(base, docs):
    """The frontend / frontend-external pattern: every Service of the base is ClusterIP (or
    headless); the overlays publish superpower and Jaeger's UI, on NodePorts of the static band,
    and never Jaeger's OTLP intake (anyone reaching a node could write traces)."""
    for d in base:
        if d["kind"] == "Service":
            assert d["spec"].get("type", "ClusterIP") == "ClusterIP", f"the base publishes {d['metadata']['name']}"
    published = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service" and d["spec"].get("type", "ClusterIP") != "ClusterIP"}
    assert set(published) == {"superpower-external", "jaeger-external"}
    for name, svc in published.items():
        assert svc["spec"]["type"] == "NodePort", name
        w = next(w for w in workloads(docs) if selects({"matchLabels": svc["spec"]["selector"]}, w["spec"]["template"]["metadata"]["labels"]))
        for port in svc["spec"]["ports"]:
            assert port["nodePort"] in STATIC_NODE_PORTS, f"{name}: NodePort {port['nodePort']} outside the static band"
            number = port_number(container(w, w["metadata"]["name"]), port["targetPort"])
            assert number != 4318, f"{name} publishes Jaeger's OTLP intake"
    (ui,) = published["jaeger-external"]["spec"]["ports"]
    assert port_number(container(one(docs, "Deployment", "jaeger"), "jaeger"), ui["targetPort"]) == 16686


def test_jaeger_takes_otlp_and_shows_its_ui_inside_the_cluster(docs, base):
    svc = one(docs, "Service", "jaeger")
    assert svc["spec"].get("type", "ClusterIP") == "ClusterIP"
    ports = {p["name"]: p for p in svc["spec"]["ports"]}
    dep = one(docs, "Deployment", "jaeger")
    c = container(dep, "jaeger")
    assert port_number(c, ports["ui"]["targetPort"]) == 16686
    assert port_number(c, ports["otlp-http"]["targetPort"]) == 4318
    # both services export to it, at the Service's OTLP/HTTP port
    endpoint = f"http://jaeger:{ports['otlp-http']['port']}"
    for kind, name in (("Deployment", "superpower"), ("StatefulSet", "powersource")):
        env = {e["name"]: e.get("value") for e in container(one(docs, kind, name), name)["env"]}
        assert env.get("OTEL_EXPORTER_OTLP_ENDPOINT") == endpoint, name
    # Grafana's Jaeger datasource points at the UI port of the Service
    grafana = {e["name"]: e.get("value") for e in container(one(base, "Deployment", "grafana"), "grafana")["env"]}
    assert grafana.get("JAEGER_URL") == f"http://jaeger:{ports['ui']['port']}"
    datasources = [
        ds
        for text in configmap(base, "grafana-datasources")["data"].values()
        for ds in yaml.safe_load(text)["datasources"]
    ]
    (jaeger,) = [ds for ds in datasources if ds["type"] == "jaeger"]
    assert expand(jaeger["url"], grafana) == grafana["JAEGER_URL"]


def test_superpower_resolves_the_headless_service(docs, contract):
    c = container(one(docs, "Deployment", "superpower"), "superpower")
    dns = env_value(c, "POWERSOURCE_DNS")
    svc = one(docs, "Service", contract["headless"])
    expected = f"{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc.cluster.local:{svc['spec']['ports'][0]['port']}"
    assert dns == expected == contract["dns"]
    # The headless Service selects exactly the powersource pods.
    sts = one(docs, "StatefulSet", "powersource")
    assert selects({"matchLabels": svc["spec"]["selector"]}, sts["spec"]["template"]["metadata"]["labels"])
    # No static list competes with DNS membership.
    assert "--powersource" not in c["command"]
    assert all(e["name"] != "POWERSOURCE_URLS" for e in c.get("env", []))


def test_superpower_replicas_find_each_other_and_share_the_cookie_key(docs):
    dep = one(docs, "Deployment", "superpower")
    assert dep["spec"]["replicas"] >= 2, "the front end runs as replicas"
    c = container(dep, "superpower")
    env = {e["name"]: e for e in c["env"]}
    # the peers: every ready superpower pod behind a headless Service, on the listen port
    svc = one(docs, "Service", "superpower-peers")
    assert svc["spec"]["clusterIP"] == "None"
    assert selects({"matchLabels": svc["spec"]["selector"]}, dep["spec"]["template"]["metadata"]["labels"])
    (port,) = svc["spec"]["ports"]
    listen = int(c["command"][c["command"].index("--listen") + 1].rsplit(":", 1)[1])
    (cport,) = [p for p in c["ports"] if p["name"] == port["targetPort"]]
    assert port["port"] == cport["containerPort"] == listen
    ns = svc["metadata"]["namespace"]
    assert env["SUPERPOWER_PEERS_DNS"]["value"] == f"superpower-peers.{ns}.svc.cluster.local:{port['port']}"
    assert "SUPERPOWER_PEERS" not in env, "no static list beside DNS"
    # one cookie key for every replica (and a previous one for rotation), from a Secret
    for var, key in (("SUPERPOWER_COOKIE_KEY", "key"), ("SUPERPOWER_COOKIE_KEY_PREVIOUS", "previous")):
        ref = env[var]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == ("superpower-cookie", key)
    # the peer calls carry the admin token; each replica shows its pod's name
    assert env["SUPERPOWER_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "superpower-admin"
    assert env["SUPERPOWER_REPLICA_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_deploy_makes_the_secrets_the_front_end_needs():
    text = (HERE / "common.sh").read_text() + (HERE / "deploy.sh").read_text()
    assert "ensure_secrets" in (HERE / "deploy.sh").read_text()
    for secret, key in (("superpower-admin", "token"), ("superpower-cookie", "key")):
        assert re.search(rf"create secret generic {secret} \\\n\s*--from-literal={key}=", text), secret


@pytest.mark.parametrize("kind,name", [("StatefulSet", "powersource"), ("Deployment", "superpower")])
def test_probes_hit_health_and_live_on_the_listen_port(docs, kind, name):
    w = one(docs, kind, name)
    c = container(w, name)
    listen_port = int(flag(c["command"], "--listen").rsplit(":", 1)[1])
    for probe, path in (("readinessProbe", "/health"), ("livenessProbe", "/live")):
        get = c[probe]["httpGet"]
        assert get["path"] == path, f"{name} {probe}"
        assert port_number(c, get["port"]) == listen_port, f"{name} {probe} port"
        # A probe must answer faster than the period it runs at.
        assert c[probe].get("timeoutSeconds", 1) < c[probe].get("periodSeconds", 10)


def test_termination_fits_prestop_and_drain(docs):
    """A pod is still serving while it leaves its Service: powersource's preStop sleep, superpower's
    own lame duck (SUPERPOWER_LAME_DUCK_MS: readiness fails, each answer closes its connection),
    at least as long as the readiness probe needs to see it; the grace period covers that and the
    drain."""
    src = (ROOT / "service" / "src" / "http" / "server.rs").read_text()
    drain = int(re.search(r"drain_timeout: Duration::from_secs\((\d+)\)", src).group(1))
    for kind, name in (("StatefulSet", "powersource"), ("Deployment", "superpower")):
        w = one(docs, kind, name)
        c = container(w, name)
        if name == "superpower":
            assert "lifecycle" not in c, "superpower's lame duck replaces a preStop sleep"
            env = {e["name"]: e.get("value") for e in c["env"]}
            sleep = int(env["SUPERPOWER_LAME_DUCK_MS"]) / 1000
            probe = c["readinessProbe"]
            noticed = probe["periodSeconds"] * probe["failureThreshold"] + probe["timeoutSeconds"]
            assert sleep >= noticed, f"lame duck {sleep}s < readiness probe's {noticed}s"
        else:
            sleep = c["lifecycle"]["preStop"]["sleep"]["seconds"]
            # sized to outlast the pod's way out of superpower's ring: the EndpointSlice update,
            # CoreDNS's TTL, then superpower's next resolution of the headless name
            interval = int(re.search(r'dns-interval-ms".*default_value = "(\d+)"', (ROOT / "superpower/src/config.rs").read_text()).group(1)) / 1000
            assert sleep >= ENDPOINTS_PROPAGATION_S + COREDNS_TTL_S + interval, f"preStop {sleep}s < the DNS path"
        assert 1 <= sleep <= 10
        grace = pod_spec(w)["terminationGracePeriodSeconds"]
        assert grace > sleep + drain, f"{name}: grace {grace}s < preStop {sleep}s + drain {drain}s"
        assert grace <= sleep + drain + 15, f"{name}: grace {grace}s needlessly long"


# ---------------------------------------------------------------------------------------------
# Images, Dockerfile, hardening


def dockerfile_stages() -> list[dict]:
    stages: list[dict] = []
    lines = (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instr, _, rest = line.partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest.strip(), re.IGNORECASE)
            stages.append({"from": m.group(1), "name": m.group(2), "lines": []})
        elif stages:
            stages[-1]["lines"].append((instr, rest.strip()))
    return stages


def test_dockerfile_is_multi_stage_non_root_and_builds_the_three_binaries():
    stages = dockerfile_stages()
    assert len(stages) >= 2
    names = {s["name"] for s in stages}
    final = stages[-1]
    builder = next(s for s in stages if s["name"] == "builder")
    runs = " ".join(rest for instr, rest in builder["lines"] if instr == "RUN")
    assert "cargo chef cook --release --locked" in runs, "dependencies are not built in their own cached layer"
    assert "cargo build --release --locked" in runs
    for b in BINARIES:
        assert f"--bin {b}" in runs
    # Every workspace member is in the build context the builder copies.
    members = re.search(r"members\s*=\s*\[([^\]]*)\]", (ROOT / "Cargo.toml").read_text()).group(1)
    copies = [rest for instr, rest in builder["lines"] if instr == "COPY"]
    for member in re.findall(r'"([^"]+)"', members):
        assert any(c.split()[0] == member for c in copies), f"the builder does not COPY workspace member {member}"
    # The runtime stage: no toolchain, a numeric non-root user, only the binaries (and an empty
    # /data owned by that user, where compose and docker mount the store volume).
    assert final["from"] not in names
    assert "rust" not in final["from"]
    users = [rest for instr, rest in final["lines"] if instr == "USER"]
    assert users and users[-1].split(":")[0] == str(IMAGE_UID)
    copied = [rest for instr, rest in final["lines"] if instr == "COPY"]
    assert all(c.startswith("--from=builder ") for c in copied)
    binaries = [c for c in copied if c.endswith(" /usr/local/bin/")]
    assert len(binaries) == 1
    others = [c for c in copied if c not in binaries]
    assert others == [f"--from=builder --chown={IMAGE_UID}:{IMAGE_UID} /out/data /data"], others
    files = binaries[0].split()[1:-1]
    assert {Path(f).name for f in files} == BINARIES
    assert not any(instr == "ENTRYPOINT" for instr, _ in final["lines"]), "each container picks its binary"
    exposed = {p for instr, rest in final["lines"] if instr == "EXPOSE" for p in rest.split()}
    assert {"6061", "30280"} <= exposed


def test_dockerignore_keeps_the_context_small():
    ignored = {l.strip().rstrip("/") for l in (ROOT / ".dockerignore").read_text().splitlines() if l.strip() and not l.startswith("#")}
    assert {"target", "var", ".git"} <= ignored


def test_app_containers_run_the_image_dockerfile_builds(docs, contract):
    seen = set()
    for w in workloads(docs):
        for c in all_containers(w):
            if c["image"].split(":")[0] == contract["image"].split(":")[0]:
                assert c["image"] == contract["image"]
                assert c["command"][0] in BINARIES, f"{c['name']} runs {c['command'][0]}, not a binary of the image"
                seen.add(c["command"][0])
                assert c.get("imagePullPolicy") != "Always"
            else:
                # Third-party images are pinned to a version.
                assert re.fullmatch(r"[\w./-]+:v?\d+(\.\d+)+", c["image"]), f"unpinned image {c['image']}"
    assert seen == BINARIES


def test_powersource_store_is_filled_by_an_ingest_init_container(docs):
    sts = one(docs, "StatefulSet", "powersource")
    (init,) = pod_spec(sts)["initContainers"]
    assert init["command"][:2] == ["loader", "ingest"]
    assert flag(init["command"], "--store") == "/data/store"
    assert "--data" not in init["command"], "the base ingests the built-in sample dataset"
    # the store is ephemeral: the dataset is re-ingested on every start, so no claim pins a pod
    # to a node (docs/kubernetes.md, "Storage")
    assert "volumeClaimTemplates" not in sts["spec"]
    (store,) = [v for v in pod_spec(sts)["volumes"] if v["name"] == "store"]
    assert "sizeLimit" in store["emptyDir"]
    for c in (init, container(sts, "powersource")):
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        assert mounts["store"] == "/data"


def test_pods_meet_pod_security_restricted(docs):
    ns = next(d for d in docs if d["kind"] == "Namespace")
    labels = ns["metadata"]["labels"]
    # enforced, warned and audited, each pinned to the oldest supported version (check.sh)
    oldest = re.search(r"K8S_VERSIONS=\((\d+\.\d+)", (HERE / "check.sh").read_text()).group(1)
    for mode in ("enforce", "warn", "audit"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted", mode
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == f"v{oldest}", mode
    for w in workloads(docs):
        spec = pod_spec(w)
        name = w["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC"), name
        for v in spec.get("volumes", []):
            assert set(v) - {"name"} <= {"emptyDir", "configMap", "secret", "persistentVolumeClaim", "projected", "downwardAPI"}, f"{name}: volume {v}"
        for c in all_containers(w):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, f"{name}/{c['name']}"
            assert sc["capabilities"]["drop"] == ["ALL"], f"{name}/{c['name']}"
            assert sc["readOnlyRootFilesystem"] is True, f"{name}/{c['name']}"
            assert not sc.get("privileged")


def test_app_pods_run_as_the_image_user(docs):
    for kind, name in (("StatefulSet", "powersource"), ("Deployment", "superpower")):
        sc = pod_spec(one(docs, kind, name))["securityContext"]
        assert sc["runAsUser"] == IMAGE_UID and sc["runAsGroup"] == IMAGE_UID
        # The app pods never talk to the API server.
        assert pod_spec(one(docs, kind, name))["automountServiceAccountToken"] is False
    assert pod_spec(one(docs, "StatefulSet", "powersource"))["securityContext"]["fsGroup"] == IMAGE_UID


def test_admin_token_comes_from_an_optional_secret(docs):
    # superpower's own token, and the powersources' token (which superpower sends them): one
    # Secret key for all, so the control room can set faults.
    for kind, name, var in (
        ("StatefulSet", "powersource", "POWERSOURCE_ADMIN_TOKEN"),
        ("Deployment", "superpower", "SUPERPOWER_ADMIN_TOKEN"),
        ("Deployment", "superpower", "POWERSOURCE_ADMIN_TOKEN"),
    ):
        (e,) = [e for e in container(one(docs, kind, name), name)["env"] if e["name"] == var]
        ref = e["valueFrom"]["secretKeyRef"]
        assert ref["optional"] is True and ref["name"] == "superpower-admin" and ref["key"] == "token"
    env = container(one(docs, "StatefulSet", "powersource"), "powersource")["env"]
    assert not [e for e in env if e["name"] == "SUPERPOWER_ADMIN_TOKEN"], "powersource reads POWERSOURCE_ADMIN_TOKEN"


# ---------------------------------------------------------------------------------------------
# Overlays and the dataset component


@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_overlay_pull_policy_and_components(rendered, overlay, contract):
    docs = rendered[overlay]
    want = OVERLAYS[overlay]
    for w in workloads(docs):
        for c in all_containers(w):
            if c["image"] == contract["image"]:
                assert c["imagePullPolicy"] == want["pull"], f"{overlay}: {c['name']}"
    kustomization = yaml.safe_load((HERE / "overlays" / overlay / "kustomization.yaml").read_text())
    assert kustomization["components"] == [f"../../components/{c}" for c in OVERLAY_COMPONENTS]


def test_overlays_differ_only_in_what_they_declare(rendered):
    """Everything but the pull policy is the same on both clusters."""

    def normalise(docs):
        text = yaml.safe_dump(docs, sort_keys=True)
        for o in OVERLAYS.values():
            text = text.replace(f"imagePullPolicy: {o['pull']}", "imagePullPolicy: X")
        return text

    a, b = (normalise(rendered[o]) for o in OVERLAYS)
    assert a == b


@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_dataset_component_swaps_in_a_mounted_dataset(overlay):
    docs = render_with_dataset(overlay)
    pvc = one(docs, "PersistentVolumeClaim", "superpower-dataset")
    assert pvc["metadata"]["namespace"] == "superpower"
    sts = one(docs, "StatefulSet", "powersource")
    init = container(sts, "ingest")
    assert flag(init["command"], "--data") == "/dataset"
    assert flag(init["command"], "--store") == "/data/store"
    (mount,) = [m for m in init["volumeMounts"] if m["mountPath"] == "/dataset"]
    assert mount["readOnly"] is True
    (vol,) = [v for v in pod_spec(sts)["volumes"] if v["name"] == mount["name"]]
    assert vol["persistentVolumeClaim"]["claimName"] == "superpower-dataset"
    # The overlay's settings survive the component.
    assert init["imagePullPolicy"] == OVERLAYS[overlay]["pull"]


# ---------------------------------------------------------------------------------------------
# Prometheus and Grafana match dashboards/


def test_prometheus_scrapes_like_the_local_config(base):
    local = yaml.safe_load((ROOT / "dashboards" / "prometheus" / "prometheus.yml").read_text())
    k8s = yaml.safe_load(configmap(base, "prometheus-config")["data"]["prometheus.yml"])
    assert k8s["global"] == local["global"]
    local_jobs = {j["job_name"] for j in local["scrape_configs"]}
    (pods,) = [j for j in k8s["scrape_configs"] if [sd["role"] for sd in j.get("kubernetes_sd_configs", [])] == ["pod"]]
    (sd,) = pods["kubernetes_sd_configs"]
    assert sd["role"] == "pod" and sd["namespaces"]["names"] == ["superpower"]
    assert pods.get("honor_labels", False) == any(j.get("honor_labels", False) for j in local["scrape_configs"])
    relabel = pods["relabel_configs"]
    (keep,) = [r for r in relabel if r.get("action") == "keep" and r["source_labels"] == ["__meta_kubernetes_pod_label_app"]]
    assert set(keep["regex"].split("|")) == local_jobs
    (job,) = [r for r in relabel if r.get("target_label") == "job"]
    assert job["source_labels"] == ["__meta_kubernetes_pod_label_app"]
    (inst,) = [r for r in relabel if r.get("target_label") == "instance"]
    assert inst["source_labels"] == ["__meta_kubernetes_pod_name"]
    (port,) = [r for r in relabel if r["source_labels"] == ["__meta_kubernetes_pod_container_port_name"]]
    assert port["action"] == "keep"
    # The port name Prometheus keeps is the app containers' port name.
    for kind, name in (("StatefulSet", "powersource"), ("Deployment", "superpower")):
        names = [p["name"] for p in container(one(base, kind, name), name)["ports"]]
        assert re.fullmatch(port["regex"], names[0])


def test_prometheus_rules_are_dashboards_rules(base):
    rules = configmap(base, "prometheus-rules")["data"]
    source = {p.name: p.read_text() for p in (ROOT / "dashboards" / "prometheus" / "rules").glob("*.yml")}
    assert source and rules == source
    dep = one(base, "Deployment", "prometheus")
    c = container(dep, "prometheus")
    vols = {v["name"]: v for v in pod_spec(dep)["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    (rules_vol,) = [n for n, v in vols.items() if v.get("configMap", {}).get("name", "").startswith("prometheus-rules-")]
    k8s = yaml.safe_load(configmap(base, "prometheus-config")["data"]["prometheus.yml"])
    assert k8s["rule_files"] == [f"{mounts[rules_vol]}/*.yml"]
    (config_vol,) = [n for n, v in vols.items() if v.get("configMap", {}).get("name", "").startswith("prometheus-config-")]
    assert f"--config.file={mounts[config_vol]}/prometheus.yml" in c["args"]


def test_prometheus_may_discover_pods_and_nothing_more(base):
    dep = one(base, "Deployment", "prometheus")
    sa = pod_spec(dep)["serviceAccountName"]
    one(base, "ServiceAccount", sa)
    subject = [{"kind": "ServiceAccount", "name": sa, "namespace": "superpower"}]
    binding = one(base, "RoleBinding", "prometheus")
    assert binding["subjects"] == subject
    role = one(base, "Role", binding["roleRef"]["name"])
    jobs = yaml.safe_load(configmap(base, "prometheus-config")["data"]["prometheus.yml"])["scrape_configs"]
    roles = sorted(sd["role"] for j in jobs for sd in j.get("kubernetes_sd_configs", []))
    assert roles == ["node", "pod"]
    # role pod lists and watches this namespace's pods, and needs nothing else
    (rule,) = role["rules"]
    assert rule["apiGroups"] == [""]
    assert rule["resources"] == ["pods"]
    assert sorted(rule["verbs"]) == ["list", "watch"]
    # role node and the kubelet's metrics: one ClusterRole, bound to Prometheus alone, with
    # nodes list/watch and nodes/metrics get (not nodes/proxy: the kubelet's whole API)
    (cluster_binding,) = [d for d in base if d["kind"] == "ClusterRoleBinding"]
    assert cluster_binding["subjects"] == subject
    (cluster_role,) = [d for d in base if d["kind"] == "ClusterRole"]
    assert cluster_binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role["metadata"]["name"]}
    grants = sorted((r["apiGroups"] == [""], res, tuple(sorted(r["verbs"]))) for r in cluster_role["rules"] for res in r["resources"])
    assert grants == [(True, "nodes", ("list", "watch")), (True, "nodes/metrics", ("get",))]


def test_prometheus_sees_oom_kills_and_throttling(base):
    # cAdvisor on every node's kubelet, with the ServiceAccount's token, this namespace only
    jobs = yaml.safe_load(configmap(base, "prometheus-config")["data"]["prometheus.yml"])["scrape_configs"]
    (job,) = [j for j in jobs if [sd["role"] for sd in j.get("kubernetes_sd_configs", [])] == ["node"]]
    assert job["scheme"] == "https" and job["metrics_path"] == "/metrics/cadvisor"
    assert job["authorization"]["credentials_file"] == "/var/run/secrets/kubernetes.io/serviceaccount/token"
    assert {"source_labels": ["namespace"], "regex": "superpower", "action": "keep"} in job["metric_relabel_configs"]
    dep = one(base, "Deployment", "prometheus")
    sa = one(base, "ServiceAccount", pod_spec(dep)["serviceAccountName"])
    assert sa.get("automountServiceAccountToken", True) and pod_spec(dep).get("automountServiceAccountToken", True)


def test_grafana_is_provisioned_from_dashboards(base):
    dashboards = configmap(base, "grafana-dashboards")["data"]
    source = {p.name: p.read_text() for p in (ROOT / "dashboards" / "grafana").glob("*.json")}
    assert source and dashboards == source
    for text in dashboards.values():
        json.loads(text)
    dep = one(base, "Deployment", "grafana")
    c = container(dep, "grafana")
    vols = {v["name"]: v["configMap"]["name"] for v in pod_spec(dep)["volumes"] if "configMap" in v}
    mounts = {vols[m["name"]]: m["mountPath"] for m in c["volumeMounts"] if m["name"] in vols}

    def mount_of(prefix):
        (path,) = [p for n, p in mounts.items() if n.startswith(prefix + "-")]
        return path

    assert mount_of("grafana-datasources") == "/etc/grafana/provisioning/datasources"
    assert mount_of("grafana-dashboard-providers") == "/etc/grafana/provisioning/dashboards"
    # The provisioning files are dashboards/' own, byte for byte.
    for prefix, folder in (("grafana-datasources", "datasources"), ("grafana-dashboard-providers", "dashboards")):
        source = {p.name: p.read_text() for p in (ROOT / "dashboards" / "grafana" / "provisioning" / folder).glob("*.y*ml")}
        assert source and configmap(base, prefix)["data"] == source, prefix
    # They read ${VARS} that Grafana expands from its environment: every one must be set, the
    # dashboards folder to where the dashboards are mounted, the datasource to the in-cluster
    # Prometheus Service.
    env = {e["name"]: e.get("value") for e in c["env"]}
    svc = one(base, "Service", "prometheus")
    url = f"http://{svc['metadata']['name']}:{svc['spec']['ports'][0]['port']}"
    for text in configmap(base, "grafana-datasources")["data"].values():
        for ds in yaml.safe_load(text)["datasources"]:
            if ds["type"] == "prometheus":
                assert expand(ds["url"], env) == url
    providers = [p for text in configmap(base, "grafana-dashboard-providers")["data"].values() for p in yaml.safe_load(text)["providers"]]
    assert providers
    for p in providers:
        assert expand(p["options"]["path"], env) == mount_of("grafana-dashboards")
        assert not p["options"].get("foldersFromFilesStructure"), "a ConfigMap is a flat folder"


def expand(value: str, env: dict) -> str:
    """Grafana's provisioning expansion ($VAR / ${VAR}); an unset variable fails the test."""

    def sub(m):
        name = m.group(1) or m.group(2)
        assert env.get(name), f"{value!r} needs {name} in the Grafana container's env"
        return env[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", sub, value)


# ---------------------------------------------------------------------------------------------
# The returning visitors run the local fleet's locustfile against the superpower Service


def test_visitors_run_the_locustfile_of_the_local_fleet(docs):
    """The ConfigMap is visitors/locustfile.py byte for byte, mounted where Locust reads it."""
    cm = configmap(docs, "visitors-locustfile")
    assert cm["data"] == {"locustfile.py": (ROOT / "visitors" / "locustfile.py").read_text()}
    dep = one(docs, "Deployment", "visitors")
    assert dep["spec"]["replicas"] == 1, "a second Locust would double the population"
    c = container(dep, "locust")
    vols = {v["name"]: v for v in pod_spec(dep)["volumes"]}
    (mount,) = [m for m in c["volumeMounts"] if vols[m["name"]].get("configMap", {}).get("name") == cm["metadata"]["name"]]
    assert flag(c["command"], "-f") == f"{mount['mountPath']}/locustfile.py"
    # Locust's version is the one the suite tests (scripts/requirements.txt).
    pinned = re.search(r"^locust==([\d.]+)$", (ROOT / "scripts" / "requirements.txt").read_text(), re.MULTILINE).group(1)
    assert c["image"] == f"locustio/locust:{pinned}"
    # It visits superpower through its Service, and starts at once with its web UI on.
    svc = one(docs, "Service", "superpower")
    assert flag(c["command"], "--host") == f"http://{svc['metadata']['name']}:{svc['spec']['ports'][0]['port']}"
    assert "--autostart" in c["command"] and "--headless" not in c["command"]
    web = one(docs, "Service", "visitors")
    assert port_number(c, web["spec"]["ports"][0]["targetPort"]) == int(flag(c["command"], "--web-port"))
    forwards = dict(re.findall(r"^forward (\w+) (\d+):\d+", (HERE / "port-forward.sh").read_text(), re.MULTILINE))
    assert forwards["visitors"] == str(web["spec"]["ports"][0]["port"])


# ---------------------------------------------------------------------------------------------
# The Kubernetes chaos experiments select what is deployed


def experiment_config(doc: dict) -> dict[str, str]:
    """chaostoolkit's configuration block as the experiment sees it with no env overrides."""
    out = {}
    for key, v in (doc.get("configuration") or {}).items():
        if isinstance(v, dict) and v.get("type") == "env":
            if "default" in v:
                out[key] = str(v["default"])
        else:
            out[key] = str(v)
    return out


def substitute(value: str, config: dict[str, str]) -> str:
    """chaostoolkit's ${key} substitution."""
    return re.sub(r"\$\{(\w+)\}", lambda m: config[m.group(1)], value)


def experiment_selectors() -> list[tuple[str, str, str | None]]:
    """(experiment file, label selector, namespace) of every provider that selects pods."""
    found = []

    def walk(node, name, config):
        if isinstance(node, dict):
            args = node.get("arguments")
            if isinstance(args, dict) and "label_selector" in args:
                ns = args.get("ns", args.get("namespace"))
                found.append(
                    (name, substitute(args["label_selector"], config), substitute(ns, config) if ns else None)
                )
            for v in node.values():
                walk(v, name, config)
        elif isinstance(node, list):
            for v in node:
                walk(v, name, config)

    for p in sorted((ROOT / "experiments" / "kubernetes").glob("*.json")):
        doc = json.loads(p.read_text())
        walk(doc, p.name, experiment_config(doc))
    return found


def test_kubernetes_experiments_select_deployed_pods(rendered, contract):
    selectors = experiment_selectors()
    if not selectors:
        pytest.skip("no experiments/kubernetes/*.json with a label_selector yet")
    docs = rendered["minikube"]
    for name, selector, ns in selectors:
        assert ns == contract["namespace"], f"{name}: namespace {ns!r}"
        sel = parse_selector_string(selector)
        matched = [w["metadata"]["name"] for w in workloads(docs) if selects(sel, w["spec"]["template"]["metadata"]["labels"])]
        assert matched, f"{name}: selector {selector!r} matches no deployed pod"
        if "powersource" in selector:
            assert matched == ["powersource"], f"{name}: {selector!r} selects {matched}"


def test_kubernetes_experiments_reach_what_port_forward_or_the_nodeports_expose(base, rendered, contract):
    """The experiments' default URLs are the ports port-forward.sh opens on 127.0.0.1, or a
    NodePort of the overlays (microk8s publishes them on this host); superpower's is the NodePort,
    so load and probe are spread over the replicas by kube-proxy, not pinned to one pod by a
    port-forward."""
    script = (HERE / "port-forward.sh").read_text()
    forwards = dict(re.findall(r"^forward (\w+) (\d+):\d+", script, re.MULTILINE))
    assert forwards["superpower"] == str(contract["superpower_port"])
    assert forwards["prometheus"] == str(one(base, "Service", "prometheus")["spec"]["ports"][0]["port"])
    node_ports = {str(p["nodePort"]) for d in rendered["minikube"] if d["kind"] == "Service" for p in d["spec"]["ports"] if "nodePort" in p}
    files = sorted((ROOT / "experiments" / "kubernetes").glob("*.json"))
    assert files
    for p in files:
        config = experiment_config(json.loads(p.read_text()))
        for key, value in config.items():
            if m := re.fullmatch(r"https?://127\.0\.0\.1:(\d+)/?", value):
                assert m.group(1) in set(forwards.values()) | node_ports, f"{p.name}: {key} = {value} is neither forwarded nor a NodePort"
        assert config["superpower_url"] == f"http://127.0.0.1:{contract['nodeport']}/", f"{p.name}: superpower_url"


def providers(node) -> list[dict]:
    """Every activity (probe or action) of an experiment, steady state, method and rollbacks."""
    found = []
    if isinstance(node, dict):
        if node.get("type") in ("probe", "action") and "provider" in node:
            found.append(node)
        for v in node.values():
            found += providers(v)
    elif isinstance(node, list):
        for v in node:
            found += providers(v)
    return found


def kubernetes_experiments() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted((ROOT / "experiments" / "kubernetes").glob("*.json"))}


@pytest.mark.parametrize("name", sorted(kubernetes_experiments()))
def test_kubernetes_experiments_cannot_wedge_the_statefulset(name):
    """No force-delete (grace 0 removes the pod object while its container still runs: the
    replacement can start beside it); a steady state that waits for the StatefulSet and the
    Deployment to be whole again, before and after; one named kube context for every call."""
    doc = kubernetes_experiments()[name]
    secret = doc["secrets"]["kubernetes"]["KUBERNETES_CONTEXT"]
    assert secret == {"type": "env", "key": "KUBERNETES_CONTEXT"}, "the context is named by the user, no default"
    for a in providers(doc):
        prov = a["provider"]
        if prov["type"] == "python" and prov["module"].startswith("chaosk8s"):
            assert prov.get("secrets") == ["kubernetes"], f"{a['name']} uses the current context"
            grace = prov["arguments"].get("grace_period", -1)
            assert grace != 0, f"{a['name']}: grace_period 0 force-deletes the pod"
        if prov["type"] == "process" and prov["path"] == "kubectl":
            assert prov["arguments"][:2] == ["--context", "${kube_context}"], a["name"]
            assert doc["configuration"]["kube_context"] == {"type": "env", "key": "KUBERNETES_CONTEXT"}
    probes = {(p["provider"]["func"], p["provider"]["arguments"]["name"]) for p in doc["steady-state-hypothesis"]["probes"] if p["provider"]["type"] == "python" and p["provider"]["module"].startswith("chaosk8s")}
    assert ("statefulset_fully_available", "powersource") in probes
    assert ("deployment_fully_available", "superpower") in probes
    if "app=powersource" in json.dumps(doc["method"]):
        assert "Deployment replaces" not in doc["description"], "powersource is a StatefulSet"


def test_kubernetes_experiments_kill_a_replica_and_drain_a_node():
    docs = kubernetes_experiments()
    kills = [n for n, d in docs.items() for a in providers(d["method"]) if a["provider"].get("func") == "terminate_pods" and a["provider"]["arguments"]["label_selector"] == "app=superpower"]
    assert kills, "no experiment loses a superpower replica"
    drains = [(n, d) for n, d in docs.items() for a in providers(d["method"]) if a["provider"].get("path") == "kubectl" and "drain" in a["provider"]["arguments"]]
    (name, drain), = drains
    # kubectl drain evicts (PDBs count, a refusal is retried); the rollback uncordons the node
    assert not any("--disable-eviction" in a["provider"]["arguments"] or "--force" in a["provider"]["arguments"] for a in providers(drain["method"]))
    (undo,) = providers(drain["rollbacks"])
    assert undo["provider"]["arguments"][2:] == ["uncordon", "${drain_node}"]


def test_every_kubernetes_experiment_is_in_the_docs():
    text = (ROOT / "docs" / "kubernetes.md").read_text()
    for name in kubernetes_experiments():
        assert f"experiments/kubernetes/{name}" in text, f"docs/kubernetes.md does not list {name}"


def test_selector_parser():
    sel = parse_selector_string("app=powersource,tier in (a, b),!gone,x!=y")
    assert selects(sel, {"app": "powersource", "tier": "a", "x": "z"})
    assert not selects(sel, {"app": "superpower", "tier": "a"})
    assert not selects(sel, {"app": "powersource", "tier": "c"})
    assert not selects(sel, {"app": "powersource", "tier": "a", "gone": "1"})
    assert not selects(sel, {"app": "powersource", "tier": "a", "x": "y"})


# ---------------------------------------------------------------------------------------------
# Sizing: memory limits follow the dataset, CPU is requested, never throttled where measured


def mib(q: str) -> int:
    m = re.fullmatch(r"(\d+)(Mi|Gi)", str(q))
    assert m, f"memory {q!r} not in Mi or Gi"
    return int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1)


def memory_rule() -> dict[str, int]:
    """The per-character memory rule of common/src/memory.rs (docs/kubernetes.md, "Sizing")."""
    src = (ROOT / "common" / "src" / "memory.rs").read_text()

    def const(name):
        return int(re.search(rf"pub const {name}: \w+ = ([\d_]+)", src).group(1).replace("_", ""))

    base = re.search(r"pub const BASE_BYTES: u64 = (\d+) \* MIB", src).group(1)
    return {"base": int(base) << 20, "per_character": const("BYTES_PER_CHARACTER"), "image_percent": const("IMAGE_PERCENT"), "default_mib": const("DOCUMENTED_LIMIT_MIB")}


# The containers whose CPU an experiment measures: a CPU limit would throttle them (CFS), and
# the heavy-load experiment would measure the throttling. Each sets its thread count instead.
UNTHROTTLED = {"superpower": "SUPERPOWER_WORKERS", "powersource": "TOKIO_WORKER_THREADS"}


def check_sizing(docs: list[dict]) -> None:
    for w in workloads(docs):
        for c in all_containers(w):
            who = f"{w['metadata']['name']}/{c['name']}"
            res = c["resources"]
            assert "cpu" in res["requests"] and "memory" in res["requests"], f"{who}: requests"
            assert "memory" in res["limits"], f"{who}: no memory limit"
            if c["name"] in UNTHROTTLED:
                assert "cpu" not in res["limits"], f"{who}: a CPU limit throttles what the experiments measure"
                # its memory is reserved whole: a node never holds more than it can serve
                assert res["requests"]["memory"] == res["limits"]["memory"], who
                threads = int(env_value(c, UNTHROTTLED[c["name"]]))
                assert 1 <= threads <= 4, f"{who}: {threads} threads"
    # powersource's limit is the one it (and the loader) warn against: the default of the flag,
    # or POWERSOURCE_MEMORY_LIMIT_MIB in both containers
    sts = one(docs, "StatefulSet", "powersource")
    limit = mib(container(sts, "powersource")["resources"]["limits"]["memory"])
    for c in all_containers(sts):
        told = {e["name"]: e.get("value") for e in c.get("env", [])}.get("POWERSOURCE_MEMORY_LIMIT_MIB")
        assert int(told or memory_rule()["default_mib"]) == limit, f"{c['name']} warns against {told}, the limit is {limit}Mi"


def test_sizing_the_base(docs):
    check_sizing(docs)


def requested(docs: list[dict]) -> tuple[int, int]:
    """The namespace's CPU (millicores) and memory (MiB) requests while it runs: each workload's
    replicas times its containers' (an init container's only where it is larger: it runs alone)."""
    def cpu(q):
        q = str(q)
        return int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)

    total_cpu = total_mem = 0
    for w in workloads(docs):
        spec = pod_spec(w)
        main = [c["resources"]["requests"] for c in spec["containers"]]
        inits = [c["resources"]["requests"] for c in spec.get("initContainers", [])]
        c = max([sum(cpu(r["cpu"]) for r in main)] + [cpu(r["cpu"]) for r in inits])
        m = max([sum(mib(r["memory"]) for r in main)] + [mib(r["memory"]) for r in inits])
        total_cpu += c * w["spec"].get("replicas", 1)
        total_mem += m * w["spec"].get("replicas", 1)
    return total_cpu, total_mem


# What the demo may request in all: the docs' `minikube start --cpus 2 --memory 4g` less
# kube-system's own requests (about 1 CPU and 0.5 GiB with Calico) and room.
NAMESPACE_CPU_M = 1000
NAMESPACE_MEMORY_MIB = 3 * 1024


@pytest.mark.parametrize("with_dataset", [False, True])
def test_the_demo_fits_the_documented_minikube(with_dataset):
    docs = render_with_dataset("minikube") if with_dataset else render(HERE / "overlays" / "minikube")
    cpu, memory = requested(docs)
    assert cpu <= NAMESPACE_CPU_M, f"the pods request {cpu}m CPU: they would stay Pending on the documented minikube"
    assert memory <= NAMESPACE_MEMORY_MIB, f"the pods request {memory} MiB"
    assert "minikube start --cpus 2 --memory 4g" in (ROOT / "docs" / "kubernetes.md").read_text()


@pytest.mark.parametrize("overlay", list(OVERLAYS))
def test_sizing_the_dataset_component_raises_memory_to_its_dataset(overlay):
    docs = render_with_dataset(overlay)
    check_sizing(docs)
    text = (HERE / "components" / "marvel-dataset" / "kustomization.yaml").read_text()
    m = re.search(r"(\d+)Mi is sized for ([\d,]+) characters with (\d+) KiB answers and (\d+) KiB images", text)
    assert m, "the component says which dataset its limit is sized for"
    said, characters, answer_kib, image_kib = int(m.group(1)), int(m.group(2).replace(",", "")), int(m.group(3)), int(m.group(4))
    rule = memory_rule()
    need = rule["base"] + characters * (rule["per_character"] + answer_kib * 1024 + image_kib * 1024 * rule["image_percent"] // 100)
    limit = mib(container(one(docs, "StatefulSet", "powersource"), "powersource")["resources"]["limits"]["memory"])
    assert said == limit
    assert need <= limit << 20, f"{characters} characters need {need >> 20} MiB, over the component's {limit}Mi"
    base_limit = mib(container(one(render(HERE / "overlays" / overlay), "StatefulSet", "powersource"), "powersource")["resources"]["limits"]["memory"])
    assert limit > base_limit, "the component does not raise the limit"


# ---------------------------------------------------------------------------------------------
# Availability: spread, budgets, accounts


@pytest.mark.parametrize("kind,name", [("StatefulSet", "powersource"), ("Deployment", "superpower")])
def test_replicas_spread_over_nodes_without_ever_staying_pending(docs, kind, name):
    w = one(docs, kind, name)
    (spread,) = pod_spec(w)["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
    assert spread["maxSkew"] == 1
    assert selects(spread["labelSelector"], w["spec"]["template"]["metadata"]["labels"])
    budget = one(docs, "PodDisruptionBudget", name)
    assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow", "a pod stuck in ingest would block drains"
    assert budget["spec"]["maxUnavailable"] == 1


def test_every_workload_runs_as_its_own_service_account(docs):
    for w in workloads(docs):
        name = w["metadata"]["name"]
        sa = pod_spec(w).get("serviceAccountName", "default")
        assert sa == name, f"{name} runs as {sa}"
        account = one(docs, "ServiceAccount", sa)
        if name != "prometheus":
            assert pod_spec(w)["automountServiceAccountToken"] is False, name
            assert account.get("automountServiceAccountToken") is False, name


# ---------------------------------------------------------------------------------------------
# Traces: Jaeger's store capped, samplers parent-based


def test_jaeger_keeps_a_bounded_number_of_traces(docs):
    dep = one(docs, "Deployment", "jaeger")
    c = container(dep, "jaeger")
    cm = configmap(docs, "jaeger-config")
    vols = {v["name"]: v for v in pod_spec(dep)["volumes"]}
    (mount,) = [m for m in c["volumeMounts"] if vols[m["name"]].get("configMap", {}).get("name") == cm["metadata"]["name"]]
    assert c["args"] == [f"--config={mount['mountPath']}/config.yaml"]
    assert cm["data"]["config.yaml"] == (HERE / "base" / "jaeger" / "config.yaml").read_text()
    cfg = yaml.safe_load(cm["data"]["config.yaml"])
    (backend,) = cfg["extensions"]["jaeger_storage"]["backends"].values()
    max_traces = backend["memory"]["max_traces"]
    # at most 8 KiB a trace (10 spans) in half the container's memory
    assert max_traces * 8 * 1024 <= (mib(c["resources"]["limits"]["memory"]) << 20) // 2
    # only the OTLP/HTTP intake listens, on the container port the services export to
    receivers = cfg["receivers"]["otlp"]["protocols"]
    assert set(receivers) == {"http"}
    assert receivers["http"]["endpoint"].endswith(f":{port_number(c, 'otlp-http')}")
    # the UI where the container port `ui` says, on the interface JAEGER_LISTEN_HOST names
    ui = cfg["extensions"]["jaeger_query"]["http"]["endpoint"]
    assert ui == f"${{env:JAEGER_LISTEN_HOST:-localhost}}:{port_number(c, 'ui')}"
    assert env_value(c, "JAEGER_LISTEN_HOST") == "0.0.0.0"


@pytest.mark.parametrize("kind,name", [("StatefulSet", "powersource"), ("Deployment", "superpower")])
def test_traces_are_sampled_parent_based(docs, kind, name):
    """A request whose caller sampled it (the experiments' probe) is traced whole; of the traces
    that start here, a share, so a long demo does not fill Jaeger."""
    c = container(one(docs, kind, name), name)
    assert env_value(c, "OTEL_TRACES_SAMPLER") == "parentbased_traceidratio"
    assert 0 < float(env_value(c, "OTEL_TRACES_SAMPLER_ARG")) < 1


# ---------------------------------------------------------------------------------------------
# Network policies, evaluated flow by flow


def named_port(w: dict, port) -> int:
    if isinstance(port, int):
        return port
    found = [p["containerPort"] for c in all_containers(w) for p in c.get("ports", []) if p.get("name") == port]
    assert found, f"{w['metadata']['name']}: no port named {port}"
    return found[0]


def admitted(docs: list[dict], src: tuple[str, dict] | None, dst: str, port: int) -> bool:
    """Whether the NetworkPolicies admit a TCP connection to `port` of the pods of workload `dst`
    from `src`: (namespace, pod labels), or None for a client outside the cluster (a NodePort's).
    Kubernetes' semantics: a pod selected by no Ingress policy admits everything; otherwise a
    connection needs one rule of one selecting policy whose peers and ports both match."""
    w = next(w for w in workloads(docs) if w["metadata"]["name"] == dst)
    labels = w["spec"]["template"]["metadata"]["labels"]
    ns = w["metadata"]["namespace"]
    policies = [
        d for d in docs
        if d["kind"] == "NetworkPolicy" and selects(d["spec"]["podSelector"], labels)
        and "Ingress" in d["spec"].get("policyTypes", ["Ingress"])
    ]
    if not policies:
        return True

    def peer_matches(peer: dict) -> bool:
        if src is None:
            return "ipBlock" in peer
        src_ns, src_labels = src
        if "ipBlock" in peer:
            return False
        if "namespaceSelector" in peer:
            ns_ok = selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": src_ns})
        else:
            ns_ok = src_ns == ns
        return ns_ok and selects(peer.get("podSelector", {}), src_labels)

    for pol in policies:
        for rule in pol["spec"].get("ingress", []):
            peers = rule.get("from")
            if peers and not any(peer_matches(p) for p in peers):
                continue
            ports = rule.get("ports")
            if ports and not any(p.get("protocol", "TCP") == "TCP" and named_port(w, p["port"]) == port for p in ports):
                continue
            return True
    return False


def pod_of(docs, name):
    w = next(w for w in workloads(docs) if w["metadata"]["name"] == name)
    return (w["metadata"]["namespace"], w["spec"]["template"]["metadata"]["labels"])


def test_network_policies_admit_exactly_the_demos_flows(docs):
    ns = one(docs, "Namespace", "superpower")["metadata"]["name"]
    apps = [w["metadata"]["name"] for w in workloads(docs)]
    stranger = ("elsewhere", {"app": "superpower"})  # a pod of another namespace, even one named like ours
    ps = named_port(one(docs, "StatefulSet", "powersource"), "http")
    sp = named_port(one(docs, "Deployment", "superpower"), "http")
    jaeger = one(docs, "Deployment", "jaeger")
    otlp, ui = named_port(jaeger, "otlp-http"), named_port(jaeger, "ui")
    web = named_port(one(docs, "Deployment", "prometheus"), "web")
    allowed = {
        ("powersource", ps): {"superpower", "prometheus"},
        ("jaeger", otlp): {"superpower", "powersource"},
        ("prometheus", web): {"grafana"},
        ("superpower", sp): set(apps) | {"outside", "elsewhere"},
        ("jaeger", ui): set(apps) | {"outside", "elsewhere"},
        ("grafana", named_port(one(docs, "Deployment", "grafana"), "web")): set(),
        ("visitors", named_port(one(docs, "Deployment", "visitors"), "web")): set(),
    }
    for (dst, port), who in allowed.items():
        for src in apps + ["outside", "elsewhere"]:
            origin = None if src == "outside" else stranger if src == "elsewhere" else pod_of(docs, src)
            got = admitted(docs, origin, dst, port)
            assert got == (src in who), f"{src} -> {dst}:{port} {'admitted' if got else 'refused'} (namespace {ns})"
    # no other port of any pod is open
    for w in workloads(docs):
        for c in all_containers(w):
            for p in c.get("ports", []):
                if (w["metadata"]["name"], p["containerPort"]) not in allowed:
                    assert not admitted(docs, pod_of(docs, "visitors"), w["metadata"]["name"], p["containerPort"])


def test_network_policies_deny_by_default(docs):
    (deny,) = [d for d in docs if d["kind"] == "NetworkPolicy" and d["spec"]["podSelector"] == {}]
    assert deny["spec"]["policyTypes"] == ["Ingress"] and not deny["spec"].get("ingress")
    one(render(HERE / "base"), "Namespace", "superpower")
    assert not [d for d in render(HERE / "base") if d["kind"] == "NetworkPolicy"], "the policies are a component"


def test_the_policy_evaluator():
    """admitted() itself, on a tiny namespace: no policy admits all; a policy limits by peer and port."""
    def wl(name):
        return {"kind": "Deployment", "metadata": {"name": name, "namespace": "n"}, "spec": {"selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": name, "ports": [{"name": "http", "containerPort": 80}]}]}}}}

    docs = [wl("a"), wl("b")]
    assert admitted(docs, ("n", {"app": "b"}), "a", 80)
    docs.append({"kind": "NetworkPolicy", "metadata": {"name": "a"}, "spec": {"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "b"}}}], "ports": [{"port": "http"}]}]}})
    assert admitted(docs, ("n", {"app": "b"}), "a", 80)
    assert not admitted(docs, ("n", {"app": "b"}), "a", 81)
    assert not admitted(docs, ("other", {"app": "b"}), "a", 80)
    assert not admitted(docs, None, "a", 80)
    assert admitted(docs, None, "b", 80)
