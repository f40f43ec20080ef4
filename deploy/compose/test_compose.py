"""compose.yaml runs every container as the rendered Kubernetes manifests do.

The container fleet (deploy/containers/fleet.py) derives its engine arguments from the rendered
manifests through deploy/manifests.py (the one reader of them); this test holds compose.yaml to
the same derivation, so that the two cannot drift:
command lines, user, read-only root, capabilities, privilege escalation, the tmpfs /tmp and its
size, memory and CPU limits, the stop grace period, the env each container gets, the superpower
replicas (as many as the Deployment's, named as its pods, members of the peers' headless
Service, one cookie key), their health check (the readiness probe's), the balancer (the
superpower Service: its port, its alias, the HAProxy config manifests.py makes, the same hardening
as the fleet's balancer), the Prometheus config (the file compose mounts is the one manifests.py
makes), Grafana's image and settings, and the visitors (Locust: image, command line, the
locustfile mounted where the ConfigMap is, the web UI's port). Run by deploy/compose/test.sh, or:

    var/venv/bin/python -m pytest deploy/compose/test_compose.py
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "deploy"))
import manifests  # noqa: E402  (deploy/manifests.py)

_spec = importlib.util.spec_from_file_location("fleet", ROOT / "deploy/containers/fleet.py")
fleet = importlib.util.module_from_spec(_spec)
sys.modules["fleet"] = fleet
_spec.loader.exec_module(fleet)


@pytest.fixture(scope="module")
def fl():
    return fleet.Fleet(naive=False)


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((HERE / "compose.yaml").read_text())["services"]


def tmpfs_size(service: dict) -> int:
    (entry,) = [t for t in service["tmpfs"] if t.startswith("/tmp")]
    m = re.search(r"size=(\d+)", entry)
    assert m, f"the tmpfs /tmp has no size: {entry}"
    return int(m.group(1))


def mem_bytes(v: str) -> int:
    m = re.fullmatch(r"(\d+)([kmg])", str(v))
    assert m, v
    return int(m.group(1)) << {"k": 10, "m": 20, "g": 30}[m.group(2)]


def same_security(service: dict, spec) -> None:
    assert service["user"] == spec.user
    assert service.get("read_only") is spec.read_only
    assert service.get("cap_drop") == spec.cap_drop
    assert ("no-new-privileges" in service.get("security_opt", [])) is spec.no_new_privileges
    assert mem_bytes(service["mem_limit"]) == spec.memory
    if spec.cpus is None:
        assert "cpus" not in service, "no CPU limit in the manifests (throttling would distort the experiments)"
    else:
        assert float(service["cpus"]) == float(spec.cpus)


def test_the_powersources_and_their_init_containers(fl, compose):
    assert len(fl.powersource) == 3
    for i, (ingest, ps) in enumerate(zip(fl.ingest, fl.powersource)):
        c = compose[f"powersource-{i}"]
        assert c["command"] == ps.command + ps.args, "the command line of the StatefulSet, with $(POD_NAME) expanded"
        same_security(c, ps)
        assert tmpfs_size(c) == int(re.search(r"size=(\d+)", " ".join(ps.mounts)).group(1))
        assert c["stop_grace_period"] == f"{ps.stop_timeout}s"
        assert set(c["environment"]) == set(ps.env) - {"POD_NAME"}, "POD_NAME is only used to expand --name"
        assert c["hostname"] == ps.pod_name
        assert "powersource" in c["networks"]["default"]["aliases"]
        assert c["volumes"] == [f"store-{i}:/data"] and "/data" in " ".join(ps.mounts)
        ic = compose[f"ingest-{i}"]
        assert ic["command"] == ingest.command + ingest.args
        same_security(ic, ingest)
        assert ic["volumes"] == c["volumes"]
        assert c["depends_on"] == {f"ingest-{i}": {"condition": "service_completed_successfully"}}
        # the health check asks what the readiness probe asks, as often and as patiently
        same_check(c["healthcheck"], ps.readiness)


def replica_services(compose: dict) -> list[str]:
    return sorted(name for name in compose if re.fullmatch(r"superpower-\d+", name))


def test_the_superpower_replicas(fl, compose):
    """One service per replica of the Deployment, each run as its pod superpower-N: the command
    line, hardening, env (the pod's name, the peers' headless Service, the cookie key, the
    powersources' Service, the tokens), a member of the peers' alias."""
    assert fl.replicas == 2
    assert replica_services(compose) == [f"superpower-{i}" for i in range(fl.replicas)]
    for i, sp in enumerate(fl.superpower):
        c = compose[f"superpower-{i}"]
        assert c["command"] == sp.command + sp.args
        same_security(c, sp)
        assert tmpfs_size(c) == int(re.search(r"size=(\d+)", " ".join(sp.mounts)).group(1))
        assert c["stop_grace_period"] == f"{sp.stop_timeout}s"
        env = c["environment"]
        assert set(env) == set(sp.env), "the same variables; SUPERPOWER_COOKIE_KEY_PREVIOUS only when the Secret has it"
        assert c["hostname"] == sp.pod_name == env["SUPERPOWER_REPLICA_NAME"] == sp.env["SUPERPOWER_REPLICA_NAME"]
        host, port = env["POWERSOURCE_DNS"].rsplit(":", 1)
        assert port == sp.env["POWERSOURCE_DNS"].rsplit(":", 1)[1] == str(fl.powersource[0].ports["http"])
        assert host in fl.aliases, "the alias every powersource has, as the headless Service's name"
        host, port = env["SUPERPOWER_PEERS_DNS"].rsplit(":", 1)
        assert port == sp.env["SUPERPOWER_PEERS_DNS"].rsplit(":", 1)[1] == str(sp.ports["http"])
        assert host in fl.peer_aliases, "the peers' headless Service's name"
        assert host in c["networks"]["default"]["aliases"], "every replica answers to the peers' name"
        # one key for every replica: the user's, passed through (unset: each its own, with a warning)
        assert env["SUPERPOWER_COOKIE_KEY"] is None and sp.env["SUPERPOWER_COOKIE_KEY"] == fl.cookie_key
        assert env["SUPERPOWER_ADMIN_TOKEN"] == env["POWERSOURCE_ADMIN_TOKEN"] == "${SUPERPOWER_ADMIN_TOKEN:-}"
        assert env["SUPERPOWER_LAME_DUCK_MS"] == sp.env["SUPERPOWER_LAME_DUCK_MS"], "the Deployment's lame duck"
        assert "ports" not in c, "users reach the replicas through the balancer"
        assert c["depends_on"] == {f"powersource-{j}": {"condition": "service_healthy"} for j in range(fl.n)}


def test_superpower_health_check(fl, compose):
    """The health check (which the visitors wait for) asks what the readiness probe asks, as
    often and as patiently."""
    for name in replica_services(compose):
        same_check(compose[name]["healthcheck"], fl.superpower[0].readiness)


def same_check(hc: dict, r: dict) -> None:
    """A compose health check that is the readiness probe `r`: `superpower probe health` at its
    path and port, with its period, timeout and failure threshold."""
    assert hc["test"][:4] == ["CMD", "superpower", "probe", "health"]
    assert flag(hc["test"], "--url") == f"http://127.0.0.1:{r['port']}{r['path']}"
    assert int(flag(hc["test"], "--timeout-ms")) == r["timeout"] * 1000
    assert hc["interval"] == f"{r['period']}s" and hc["timeout"] == f"{r['timeout']}s"
    assert hc["retries"] == r["failures"]


def test_the_balancer(fl, compose):
    """The superpower Service: HAProxy (the official image of Debian 12's branch) with the
    config manifests.py makes, on the Service's port under its name, hardened as the container
    fleet's balancer."""
    c = compose["balancer"]
    assert c["image"] == "haproxy:2.6"
    assert c["volumes"] == [f"./haproxy.cfg:{manifests.BALANCER_CONFIG_PATH}:ro"]
    assert (HERE / "haproxy.cfg").read_text() == manifests.balancer_config(fl.docs), (
        "deploy/compose/haproxy.cfg is stale: deploy/containers/fleet.sh balancer-config > deploy/compose/haproxy.cfg"
    )
    assert "user" not in c, "the image's own user (haproxy)"
    assert c["read_only"] is True and c["cap_drop"] == ["ALL"] and c["security_opt"] == ["no-new-privileges"]
    assert mem_bytes(c["mem_limit"]) == manifests.BALANCER_MEMORY and str(c["cpus"]) == manifests.BALANCER_CPUS
    assert tmpfs_size(c) == manifests.BALANCER_TMP
    svc = manifests.find(fl.docs, "Service", "superpower")
    (port,) = svc["spec"]["ports"]
    # published where the overlays publish superpower on the nodes
    (node,) = manifests.find(fl.docs, "Service", "superpower-external")["spec"]["ports"]
    assert c["ports"] == [f"127.0.0.1:${{SUPERPOWER_PORT:-{node['nodePort']}}}:{port['port']}"]
    assert c["networks"]["default"]["aliases"] == [svc["metadata"]["name"]]
    assert c["depends_on"] == {name: {"condition": "service_healthy"} for name in replica_services(compose)}


def test_the_balancer_config(fl):
    """What the config says, read back: TCP, round robin over each replica of the Deployment,
    checked with the readiness probe's request, period and thresholds; at most 4000 connections."""
    cfg = manifests.balancer_config(fl.docs)
    lines = [line.strip() for line in cfg.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    r = fl.superpower[0].readiness
    port = fl.superpower[0].ports["http"]
    assert "mode tcp" in lines and "balance roundrobin" in lines
    assert int(next(line.split()[1] for line in lines if line.startswith("maxconn "))) <= 4000
    assert f"bind :{port}" in lines
    assert f"http-check send meth GET uri {r['path']}" in lines and "http-check expect status 200" in lines
    assert f"timeout check {r['timeout']}s" in lines
    (default,) = [line for line in lines if line.startswith("default-server ")]
    assert f" check inter {r['period']}s fall {r['failures']} rise 1 " in default + " "
    assert [line for line in lines if line.startswith("server ")] == [
        f"server superpower-{i} superpower-{i}:{port}" for i in range(fl.replicas)
    ]


def test_prometheus(fl, compose):
    c = compose["prometheus"]
    pr = fl.prometheus
    assert c["command"] == pr.args, "the Deployment's args (the image's entrypoint is /bin/prometheus)"
    assert c["user"] == pr.user and c["read_only"] is pr.read_only and c["cap_drop"] == pr.cap_drop
    deploy = manifests.find(fl.docs, "Deployment", "prometheus")
    image = deploy["spec"]["template"]["spec"]["containers"][0]["image"]
    assert c["image"] == f"${{PROMETHEUS_IMAGE:-{image}}}"
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in c["volumes"]
    assert any(v.endswith(":/etc/prometheus-rules:ro") for v in c["volumes"])
    made = yaml.safe_load(manifests.PROMETHEUS_HEADER + yaml.safe_dump(manifests.prometheus_config(fl.docs, fl.n)))
    assert yaml.safe_load((HERE / "prometheus.yml").read_text()) == made, (
        "deploy/compose/prometheus.yml is stale: deploy/containers/fleet.sh prometheus-config > deploy/compose/prometheus.yml"
    )


def test_grafana(fl, compose):
    c = compose["grafana"]
    g = manifests.find(fl.docs, "Deployment", "grafana")["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == g["image"]
    literal = {e["name"]: e["value"] for e in g["env"] if "value" in e}
    assert {k: v for k, v in c["environment"].items() if k in literal} == literal
    assert set(literal) <= set(c["environment"])


def test_jaeger(fl, compose):
    """Jaeger runs as the Deployment jaeger does: its image, its env, its hardening and limits;
    superpower and the powersources send their traces to it as in the manifests."""
    c = compose["jaeger"]
    j = manifests.find(fl.docs, "Deployment", "jaeger")["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == j["image"]
    assert c["environment"] == {e["name"]: e["value"] for e in j["env"]}
    # the manifests' configuration file (the ConfigMap jaeger-config is made from it), where the
    # Deployment mounts it, and the same argument
    (mount,) = [m for m in j["volumeMounts"] if m["name"] == "config"]
    assert c["command"] == j["args"]
    assert c["volumes"] == [f"../kubernetes/base/jaeger/config.yaml:{mount['mountPath']}/config.yaml:ro"]
    assert c["read_only"] is j["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["cap_drop"] == j["securityContext"]["capabilities"]["drop"]
    assert c["mem_limit"] == j["resources"]["limits"]["memory"].replace("Mi", "m")
    ports = {p["name"]: p["containerPort"] for p in j["ports"]}
    assert c["expose"] == [str(ports["otlp-http"])]
    (node,) = manifests.find(fl.docs, "Service", "jaeger-external")["spec"]["ports"]
    assert c["ports"] == [f"127.0.0.1:${{JAEGER_PORT:-{node['nodePort']}}}:{ports['ui']}"], "the UI only, where the overlays publish it"
    for name in replica_services(compose) + [f"powersource-{i}" for i in range(fl.n)]:
        assert compose[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://jaeger:{ports['otlp-http']}"


def flag(args: list[str], name: str) -> str:
    """The value after `name` in a command line."""
    assert args.count(name) == 1, f"{name} once in {args}"
    return args[args.index(name) + 1]


def test_visitors(fl, compose):
    """The visitors run as the Deployment visitors does: its image, its command line, the
    locustfile of visitors/ where the ConfigMap is mounted, its user and hardening, its env and
    limits, the web UI's port; superpower healthy first."""
    dep = manifests.find(fl.docs, "Deployment", "visitors")
    (k,) = dep["spec"]["template"]["spec"]["containers"]
    mount = next(m for m in k["volumeMounts"] if m["name"] == "locustfile")
    spec = manifests.Spec(dep, k, "visitors", fl.secrets, {"locustfile": f"../../visitors:{'ro' if mount.get('readOnly') else 'rw'}"})
    c = compose["visitors"]
    assert c["image"] == k["image"]
    assert c["entrypoint"] + c["command"] == spec.command + spec.args, "compose's entrypoint + command is the container's command"
    same_security(c, spec)
    assert tmpfs_size(c) == int(re.search(r"size=(\d+)", " ".join(spec.mounts)).group(1))
    assert c["environment"] == spec.env
    assert c["volumes"] == [f"../../visitors:{mount['mountPath']}:ro"]
    assert flag(c["command"], "-f") == f"{mount['mountPath']}/locustfile.py"
    # the superpower Service by its name (the balancer's alias), on its port
    sp = manifests.find(fl.docs, "Service", "superpower")
    assert flag(c["command"], "--host") == f"http://superpower:{sp['spec']['ports'][0]['port']}"
    assert "superpower" in compose["balancer"]["networks"]["default"]["aliases"]
    assert f"bind :{sp['spec']['ports'][0]['port']}" in manifests.balancer_config(fl.docs), "the balancer listens there"
    web = spec.ports["web"]
    assert int(flag(c["command"], "--web-port")) == web
    assert re.fullmatch(rf"127\.0\.0\.1:\$\{{VISITORS_PORT:-\d+\}}:{web}", c["ports"][0]) and len(c["ports"]) == 1
    assert c["depends_on"] == {
        **{name: {"condition": "service_healthy"} for name in replica_services(compose)},
        "balancer": {"condition": "service_started"},
    }
    assert all("healthcheck" in compose[name] for name in replica_services(compose))


def test_the_local_override_uses_the_stand_ins():
    lib = (ROOT / "deploy/containers/lib.sh").read_text()
    names = dict(re.findall(r'^(\w+_STANDIN|PROMETHEUS_IMAGE)="\$STANDIN/([^"]+)"', lib, re.M))
    assert "LOCUST_STANDIN" in names, "lib.sh names the Locust stand-in"
    assert "HAPROXY_STANDIN" in names, "lib.sh names the HAProxy stand-in"
    local = yaml.safe_load((HERE / "compose.local.yaml").read_text())["services"]
    upstream_services = yaml.safe_load((HERE / "compose.yaml").read_text())["services"]
    for name in replica_services(upstream_services):
        assert local[name]["image"] == "localhost/superpower:latest"
    args = local["superpower-0"]["build"]["args"]
    assert args["RUST_IMAGE"] == f"localhost/superpower-standin/{names['RUST_STANDIN']}"
    assert args["RUNTIME_IMAGE"] == f"localhost/superpower-standin/{names['RUNTIME_STANDIN']}"
    assert local["prometheus"]["image"] == f"localhost/superpower-standin/{names['PROMETHEUS_IMAGE']}"
    assert local["visitors"]["image"] == f"localhost/superpower-standin/{names['LOCUST_STANDIN']}"
    # the stand-in's Locust is the upstream image's version
    upstream = yaml.safe_load((HERE / "compose.yaml").read_text())["services"]["visitors"]["image"]
    assert names["LOCUST_STANDIN"].rsplit(":", 1)[1] == upstream.rsplit(":", 1)[1]
    # the balancer: Debian 12's HAProxy (image.sh checks its version) for the official image of that branch
    assert local["balancer"]["image"] == f"localhost/superpower-standin/{names['HAPROXY_STANDIN']}"
    assert names["HAPROXY_STANDIN"].rsplit(":", 1)[1] == upstream_services["balancer"]["image"].rsplit(":", 1)[1]
    assert fleet.BALANCER_IMAGE == local["balancer"]["image"], "the container fleet runs the same stand-in"
    assert "grafana" not in local
    assert "jaeger" not in local


def test_operations_on_every_service(compose):
    """Every service's logs are rotated and its processes limited; every service whose image can
    ask has a health check, and what depends on it waits for it to be healthy."""
    for name, c in compose.items():
        assert c["logging"]["options"]["max-size"], f"{name}: logs not rotated"
        assert 0 < int(c["pids_limit"]) <= 1024, f"{name}: pids_limit"
    checked = {name for name, c in compose.items() if "healthcheck" in c}
    assert checked == {"powersource-0", "powersource-1", "powersource-2", "superpower-0", "superpower-1", "prometheus", "grafana", "visitors"}
    for name, c in compose.items():
        deps = c.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on without conditions"
        for dep, cond in deps.items():
            if dep in checked:
                assert cond == {"condition": "service_healthy"}, f"{name} -> {dep}: {cond}"


def host_port_defaults(compose: dict) -> dict[str, int]:
    out = {}
    for name, c in compose.items():
        for entry in c.get("ports", []):
            m = re.fullmatch(r"127\.0\.0\.1:\$\{(\w+):-(\d+)\}:\d+", entry)
            assert m, f"{name}: {entry} is not loopback with an overridable default"
            out[m.group(1)] = int(m.group(2))
    return out


def test_compose_runs_beside_the_native_fleet_and_the_container_fleet(compose):
    """No default host port of compose is one the native fleet (deploy/local/lib.sh) or the
    container fleet (deploy/containers/fleet.py) listens on."""
    lib = (ROOT / "deploy/local/lib.sh").read_text()
    native = {int(p) for p in re.findall(r'^\w+_ADDR="127\.0\.0\.1:(\d+)"', lib, re.M)}
    assert 30280 in native and 9090 in native, "deploy/local/lib.sh's addresses were not read"
    containers = {fleet.SUPERPOWER_PORT, fleet.PROMETHEUS_PORT} | {fleet.REPLICA_PORT + i for i in range(2)}
    defaults = host_port_defaults(compose)
    assert set(defaults) == {"SUPERPOWER_PORT", "PROMETHEUS_PORT", "GRAFANA_PORT", "VISITORS_PORT", "JAEGER_PORT"}
    taken = set(defaults.values()) & (native | containers)
    assert not taken, f"compose's default host ports {sorted(taken)} are the native or container fleet's"
