"""experiments/vocabulary.yaml, the fault vocabulary, and the container engine held to it.

Offline (nothing runs, nothing is rendered): the file's shape; every verb the container engine
implements there (a fault, its undo, the lifecycle, expect) is in deploy/containers/fleet.py's
command table, and the table has nothing the vocabulary lacks; every container experiment's
fleet.sh actions use only the vocabulary's verbs and expect tokens (not the old aliases). Run by
scripts/test.sh's lint step, or:

    var/venv/bin/python -m pytest experiments/test_vocabulary.py

The process engine (deploy/local, chunk D1) is not held here yet: it is checked when it has a
command table of its own.
"""

from __future__ import annotations

import glob
import importlib.util
import inspect
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
FAULTS = ["kill", "freeze", "partition", "drop", "flap", "slow", "fail"]
ENGINES = {"process", "container", "kubernetes"}


@pytest.fixture(scope="module")
def vocabulary() -> dict:
    return yaml.safe_load((ROOT / "experiments" / "vocabulary.yaml").read_text())


@pytest.fixture(scope="module")
def fleet():
    spec = importlib.util.spec_from_file_location("fleet", ROOT / "deploy/containers/fleet.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fleet", module)
    spec.loader.exec_module(module)
    return module


def implemented(entry: dict, engine: str) -> bool:
    how = entry["engines"][engine]
    assert set(how) in ({"implements"}, {"refuses"}), f"{engine}: implements or refuses, with a reason: {how}"
    assert str(next(iter(how.values()))).strip(), f"{engine}: say how, or why not"
    return "implements" in how


def test_the_vocabulary_has_the_seven_faults_each_with_undo_expect_and_every_engine(vocabulary):
    assert list(vocabulary["faults"]) == FAULTS
    for verb, f in vocabulary["faults"].items():
        assert set(f) == {"argument", "undo", "expect", "engines"}, verb
        assert f["undo"] in vocabulary["undo"], verb
        assert re.fullmatch(r"[a-z]+(:[A-Z]+)?", f["expect"]), verb
        assert set(f["engines"]) == ENGINES, verb
        for engine in ENGINES:
            implemented(f, engine)
    assert set(vocabulary["undo"]) == {f["undo"] for f in vocabulary["faults"].values()}
    assert set(vocabulary["lifecycle"]) == {"stop", "start"}
    for entry in vocabulary["lifecycle"].values():
        assert set(entry["engines"]) == ENGINES
        for engine in ENGINES:
            implemented(entry, engine)


def container_verbs(vocabulary: dict) -> set[str]:
    """What the container engine must answer: each fault it implements and its undo, the
    lifecycle it implements, and expect."""
    verbs = {"expect"}
    for verb, f in vocabulary["faults"].items():
        if implemented(f, "container"):
            verbs |= {verb, f["undo"]}
    return verbs | {v for v, e in vocabulary["lifecycle"].items() if implemented(e, "container")}


def test_the_container_engine_has_every_verb_it_implements_and_no_other(vocabulary, fleet):
    table = set(fleet.VERBS)
    wanted = container_verbs(vocabulary)
    assert not wanted - table, f"deploy/containers/fleet.py's VERBS lacks {sorted(wanted - table)}"
    assert not table - wanted, f"deploy/containers/fleet.py's VERBS has verbs the vocabulary lacks: {sorted(table - wanted)}"
    for verb in fleet.VERBS:
        assert callable(getattr(fleet.Fleet, verb, None)), f"fleet.py's table names {verb}, but Fleet has no such method"
    assert set(fleet.ALIASES.values()) <= table and not set(fleet.ALIASES) & table


def test_the_container_engine_knows_every_expect_token(vocabulary, fleet):
    source = inspect.getsource(fleet.Fleet.expect)
    for verb, f in vocabulary["faults"].items():
        if implemented(f, "container"):
            token = f["expect"].split(":")[0]
            assert f'"{token}"' in source or f"{token}:" in source, f"fleet.py's expect does not check {f['expect']} ({verb})"


def fleet_actions(experiment: dict):
    """The argument lists of every process activity that runs deploy/containers/fleet.sh."""
    for activity in experiment.get("method", []) + experiment.get("rollbacks", []) + experiment.get(
        "steady-state-hypothesis", {}
    ).get("probes", []):
        provider = activity.get("provider", {})
        if provider.get("type") == "process" and provider.get("path", "").endswith("containers/fleet.sh"):
            yield activity["name"], provider.get("arguments", [])


def test_the_container_experiments_use_only_the_vocabulary(vocabulary, fleet):
    verbs = container_verbs(vocabulary)
    tokens = {f["expect"].split(":")[0] for f in vocabulary["faults"].values()}
    paths = sorted(glob.glob(str(ROOT / "experiments" / "containers" / "*.json")))
    assert paths
    seen = set()
    for path in paths:
        for name, args in fleet_actions(json.loads(Path(path).read_text())):
            where = f"{Path(path).name}: {name}: fleet.sh {' '.join(args)}"
            verb, rest = args[0], args[1:]
            if verb == "frontend":  # `frontend kill|stop|start N`: that verb on superpower-N
                verb, rest = rest[0], rest[1:]
                assert verb in vocabulary["lifecycle"] or verb == "kill", where
            assert verb in verbs, f"{where}: not a verb of experiments/vocabulary.yaml" + (
                f" (the old name of {fleet.ALIASES[verb]})" if verb in fleet.ALIASES else ""
            )
            if verb == "expect":
                assert rest[1].split(":")[0] in tokens, f"{where}: not an expect token of the vocabulary"
            seen.add(verb)
    assert {"kill", "start", "freeze", "partition", "drop", "flap", "expect"} <= seen, "the experiments were read"
