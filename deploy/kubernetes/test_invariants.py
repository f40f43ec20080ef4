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
    "minikube": {"pull": "Never", "storage": "standard"},
    "microk8s": {"pull": "IfNotPresent", "storage": "microk8s-hostpath"},
}
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
        if d["kind"] != "Namespace":
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
        # a Service or budget is named after its workload (superpower-peers: superpower's peers)
        name = d["metadata"]["name"].removesuffix("-peers")
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
    assert svc["spec"]["type"] == "NodePort"
    (port,) = svc["spec"]["ports"]
    assert port["nodePort"] == contract["nodeport"] == 30280
    dep = one(docs, "Deployment", "superpower")
    assert dep["spec"]["replicas"] == 2
    c = container(dep, "superpower")
    listen_port = int(flag(c["command"], "--listen").rsplit(":", 1)[1])
    assert listen_port == contract["superpower_port"]
    assert port_number(c, port["targetPort"]) == listen_port


def test_jaeger_takes_otlp_and_shows_its_ui_on_nodeport_30141(docs, base):
    svc = one(docs, "Service", "jaeger")
    assert svc["spec"]["type"] == "NodePort"
    ports = {p["name"]: p for p in svc["spec"]["ports"]}
    assert ports["ui"]["nodePort"] == 30141
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
    (vct,) = sts["spec"]["volumeClaimTemplates"]
    for c in (init, container(sts, "powersource")):
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        assert mounts[vct["metadata"]["name"]] == "/data"


def test_pods_meet_pod_security_restricted(docs):
    ns = next(d for d in docs if d["kind"] == "Namespace")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
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
            res = c["resources"]
            for k in ("cpu", "memory"):
                assert k in res["requests"] and k in res["limits"], f"{name}/{c['name']} resources.{k}"


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
def test_overlay_pull_policy_and_storage_class(rendered, overlay, contract):
    docs = rendered[overlay]
    want = OVERLAYS[overlay]
    for w in workloads(docs):
        for c in all_containers(w):
            if c["image"] == contract["image"]:
                assert c["imagePullPolicy"] == want["pull"], f"{overlay}: {c['name']}"
    (vct,) = one(docs, "StatefulSet", "powersource")["spec"]["volumeClaimTemplates"]
    assert vct["spec"]["storageClassName"] == want["storage"]


def test_overlays_differ_only_in_what_they_declare(rendered):
    """Everything but pull policy and storage class is the same on both clusters."""

    def normalise(docs):
        text = yaml.safe_dump(docs, sort_keys=True)
        for o in OVERLAYS.values():
            text = text.replace(f"imagePullPolicy: {o['pull']}", "imagePullPolicy: X")
            text = text.replace(f"storageClassName: {o['storage']}", "storageClassName: X")
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
    (pods,) = [j for j in k8s["scrape_configs"] if "kubernetes_sd_configs" in j]
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
    binding = one(base, "RoleBinding", "prometheus")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": "superpower"}]
    role = one(base, "Role", binding["roleRef"]["name"])
    (rule,) = role["rules"]
    assert set(rule["resources"]) == {"pods", "endpoints", "services"}
    assert set(rule["verbs"]) == {"get", "list", "watch"}
    assert not [d for d in base if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]


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


def test_kubernetes_experiments_reach_what_port_forward_exposes(base, contract):
    """The experiments' default URLs are the ports port-forward.sh opens on 127.0.0.1."""
    script = (HERE / "port-forward.sh").read_text()
    forwards = dict(re.findall(r"^forward (\w+) (\d+):\d+", script, re.MULTILINE))
    assert forwards["superpower"] == str(contract["nodeport"])
    assert forwards["prometheus"] == str(one(base, "Service", "prometheus")["spec"]["ports"][0]["port"])
    files = sorted((ROOT / "experiments" / "kubernetes").glob("*.json"))
    if not files:
        pytest.skip("no experiments/kubernetes/*.json yet")
    for p in files:
        config = experiment_config(json.loads(p.read_text()))
        for key, value in config.items():
            if m := re.fullmatch(r"https?://127\.0\.0\.1:(\d+)/?", value):
                assert m.group(1) in forwards.values(), f"{p.name}: {key} = {value} is not forwarded"


def test_selector_parser():
    sel = parse_selector_string("app=powersource,tier in (a, b),!gone,x!=y")
    assert selects(sel, {"app": "powersource", "tier": "a", "x": "z"})
    assert not selects(sel, {"app": "superpower", "tier": "a"})
    assert not selects(sel, {"app": "powersource", "tier": "c"})
    assert not selects(sel, {"app": "powersource", "tier": "a", "gone": "1"})
    assert not selects(sel, {"app": "powersource", "tier": "a", "x": "y"})
