"""Tests of experiments/settled.py: the queries it waits on, and when a check holds."""

import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import settled  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return json.load(f)


def test_every_prometheus_query_of_the_runners_experiments_is_found_and_substituted():
    paths = glob.glob(os.path.join(ROOT, "experiments/local/*.json"))
    paths += glob.glob(os.path.join(ROOT, "experiments/containers/*.json"))
    assert paths
    for path in paths:
        checks = settled.prometheus_checks(load(path))
        names = [name for name, _, _ in checks]
        assert "p99-of-superpower-requests-under-1s-in-prometheus" in names, path
        if "/local/" in path:
            assert "no-superpower-changed-in-prometheus" in names, path
        for name, query, want in checks:
            assert "${" not in query, (path, name, query)
            assert want == "1", (path, name)


def test_the_environment_overrides_a_default(monkeypatch):
    experiment = load("experiments/local/lose-half-of-powersources.json")
    monkeypatch.setenv("IDENTITY_WINDOW", "17s")
    queries = [q for n, q, _ in settled.prometheus_checks(experiment) if "identity" in q]
    assert queries and all("[17s]" in q for q in queries)
    monkeypatch.delenv("IDENTITY_WINDOW")
    queries = [q for n, q, _ in settled.prometheus_checks(experiment) if "identity" in q]
    assert all("[1m]" in q for q in queries)


def answers(table):
    return lambda base, query: table.get(query, "no data")


def test_a_check_holds_on_its_expected_value_only(monkeypatch):
    monkeypatch.setattr(settled, "value", answers({"changes == bool 0": "1"}))
    assert settled.holds("", "changes == bool 0", "1") is None
    monkeypatch.setattr(settled, "value", answers({"changes == bool 0": "0"}))
    assert settled.holds("", "changes == bool 0", "1") == "0"


def test_a_latency_bound_holds_without_traffic_but_not_over_the_bound(monkeypatch):
    query = "histogram_quantile(0.99, x) < bool 1"
    monkeypatch.setattr(settled, "value", answers({query: "0", "histogram_quantile(0.99, x)": "NaN"}))
    assert settled.holds("", query, "1") is None
    monkeypatch.setattr(settled, "value", answers({query: "0", "histogram_quantile(0.99, x)": "4.5"}))
    assert settled.holds("", query, "1") == "0"


def test_an_unreachable_prometheus_never_holds(monkeypatch):
    monkeypatch.setattr(settled, "value", lambda base, query: "unreachable (refused)")
    assert settled.holds("", "changes == bool 0", "1") == "unreachable (refused)"


def test_a_file_that_is_not_an_experiment_exits_2(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    monkeypatch.setattr(sys, "argv", ["settled.py", str(bad)])
    assert settled.main() == 2
    assert "not an experiment file" in capsys.readouterr().err
