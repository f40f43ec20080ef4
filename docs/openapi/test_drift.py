"""The OpenAPI specs describe exactly the routes the code serves: no more, no fewer.

Each service's route table is read from its source, the one place it is stated:

- powersource: the `Route` enum of the contract module, service/src/api.rs: `fn template` gives
  every path, `fn allow` the methods of each (the `Allow` of its 405); the dispatch in
  powersource/src/routes.rs must call a handler for exactly those methods.
- superpower: the `Route` enum of superpower/src/routes.rs: `fn parse` gives the literal paths,
  `fn template` the templated ones (`/images/{id}`); the dispatch in `fn route` and
  `fn answer` gives the methods, and its 405 arms must allow exactly those.

A route added on one side only (code or spec) fails here. Run through docs/openapi/check.sh, or:

    var/venv/bin/python -m pytest docs/openapi/test_drift.py
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

Table = dict[str, set[str]]


def fn_body(source: str, name: str) -> str:
    """The text of `fn NAME` up to its closing brace (braces balanced; good enough for our code,
    which has no braces inside string literals of these functions)."""
    m = re.search(rf"\bfn {name}\b[^{{]*\{{", source)
    assert m, f"no fn {name}"
    depth, i = 1, m.end()
    while depth:
        c = source[i]
        depth += {"{": 1, "}": -1}.get(c, 0)
        i += 1
    return source[m.end() : i - 1]


def methods_of(allow: str) -> set[str]:
    return {m.strip().lower() for m in allow.split(",") if m.strip()}


def with_head(methods: set[str]) -> set[str]:
    """HEAD is answered wherever GET is, once for both services, by the shared server
    (service/src/http/server.rs, RFC 9110 §9.3.2): the dispatch and the specs name GET only."""
    return methods | {"head"} if "get" in methods else methods


def test_the_shared_server_answers_head_as_get() -> None:
    server = (ROOT / "service/src/http/server.rs").read_text()
    assert "Method::HEAD" in server and "head" in fn_body(server, "observe"), (
        "the shared server no longer answers HEAD as GET: the specs must list HEAD operations"
    )
    for name in ("powersource", "superpower"):
        spec = yaml.safe_load((HERE / f"{name}.yaml").read_text())
        assert "HEAD" in spec["info"]["description"], f"{name}.yaml does not say HEAD is answered as GET"


def spec_table(name: str) -> Table:
    spec = yaml.safe_load((HERE / f"{name}.yaml").read_text())
    assert spec["openapi"].startswith("3.1"), "the specs are OpenAPI 3.1"
    return {path: with_head({m for m in item if m in METHODS}) for path, item in spec["paths"].items()}


# ---------------------------------------------------------------------------------------------
# powersource: service/src/api.rs + powersource/src/routes.rs


def powersource_table(api: str, routes: str) -> Table:
    templates = dict(re.findall(r"Route::(\w+)(?:\(_\))?\s*=>\s*\"([^\"]+)\"", fn_body(api, "template")))
    assert len(templates) >= 8, f"parsed too few templates from api.rs: {templates}"
    allow_body = fn_body(api, "allow")
    special = {v: methods_of(a) for v, a in re.findall(r"Route::(\w+)(?:\(_\))?\s*=>\s*\"([^\"]+)\"", allow_body)}
    default = re.search(r"_\s*=>\s*\"([^\"]+)\"", allow_body)
    assert default, "fn allow has a default arm"
    allowed = {v: special.get(v, methods_of(default.group(1))) for v in templates}

    # the dispatch: `(&Method::GET, Route::Character(id))` arms, and the nested `Method::PUT =>`
    # arms of `(method, Route::AdminFaults)`
    dispatch: dict[str, set[str]] = {v: set() for v in templates}
    body = fn_body(routes, "routed")
    for method, variant in re.findall(r"\(&Method::(\w+),\s*Route::(\w+)", body):
        dispatch[variant].add(method.lower())
    for variant, inner in re.findall(r"\(method,\s*Route::(\w+)\)\s*=>(.*?)\n        \(", body, re.S):
        dispatch[variant] |= {m.lower() for m in re.findall(r"Method::(\w+)\s*=>", inner)}
    dispatch = {v: with_head(ms) for v, ms in dispatch.items()}
    for variant in templates:
        assert dispatch[variant] == allowed[variant], (
            f"powersource {variant}: routes.rs answers {sorted(dispatch[variant])} "
            f"but api.rs allow() says {sorted(allowed[variant])}"
        )
    return {templates[v]: allowed[v] for v in templates}


# ---------------------------------------------------------------------------------------------
# superpower: superpower/src/routes.rs


def superpower_table(routes: str) -> Table:
    parse = fn_body(routes, "parse")
    paths = {v: p for p, v in re.findall(r"\"(/[^\"]*)\"\s*=>\s*Route::(\w+)", parse)}
    variants = set(re.findall(r"Route::(\w+)", parse))
    templates = dict(re.findall(r"Route::(\w+)\(_\)\s*=>\s*\"([^\"]+)\"", fn_body(routes, "template")))
    for v in variants - paths.keys():
        assert v in templates, f"superpower Route::{v} has no literal path and no template"
        paths[v] = templates[v]
    assert len(paths) >= 11, f"parsed too few superpower routes: {paths}"

    methods: dict[str, set[str]] = {v: set() for v in paths}
    # `fn routed` (what `fn route` answers with): `route == Route::Index && parts.method == Method::GET` is answered by `index`
    for v, m in re.findall(r"route == Route::(\w+) && parts\.method == Method::(\w+)", fn_body(routes, "routed")):
        methods[v].add(m.lower())
    answer = fn_body(routes, "answer")
    for v, ms in re.findall(r"\(Route::(\w+)(?:\(\w+\))?,\s*((?:&Method::\w+\s*\|?\s*)+)\)\s*=>", answer):
        methods[v] |= {m.lower() for m in re.findall(r"Method::(\w+)", ms)}
    # the 405 arms must allow exactly the methods answered
    allow = {v: methods_of(a) for v, a in re.findall(r"\(Route::(\w+)(?:\(_\))?,\s*_\)\s*=>\s*method_not_allowed\(\"([^\"]+)\"\)", answer)}
    default = re.search(r"\n\s*_\s*=>\s*method_not_allowed\(\"([^\"]+)\"\)", answer)
    assert default, "fn answer has a default 405 arm"
    methods = {v: with_head(ms) for v, ms in methods.items()}
    for v in paths:
        assert methods[v], f"superpower Route::{v} answers no method"
        expected = allow.get(v, methods_of(default.group(1)))
        assert methods[v] == expected, (
            f"superpower {v}: answers {sorted(methods[v])} but its 405 allows {sorted(expected)}"
        )
    return {paths[v]: methods[v] for v in paths}


# ---------------------------------------------------------------------------------------------


def code_table(name: str) -> Table:
    if name == "powersource":
        return powersource_table(
            (ROOT / "service/src/api.rs").read_text(), (ROOT / "powersource/src/routes.rs").read_text()
        )
    return superpower_table((ROOT / "superpower/src/routes.rs").read_text())


def diff(code: Table, spec: Table) -> list[str]:
    problems = []
    for path in sorted(code.keys() | spec.keys()):
        c, s = code.get(path, set()), spec.get(path, set())
        for m in sorted(c - s):
            problems.append(f"{m.upper()} {path}: in the code, not in the spec")
        for m in sorted(s - c):
            problems.append(f"{m.upper()} {path}: in the spec, not in the code")
    return problems


@pytest.mark.parametrize("name", ["powersource", "superpower"])
def test_spec_paths_and_methods_match_the_route_table(name: str) -> None:
    problems = diff(code_table(name), spec_table(name))
    assert not problems, f"docs/openapi/{name}.yaml and the code disagree:\n" + "\n".join(problems)


def test_a_route_on_one_side_only_is_caught() -> None:
    """The parsers see a change: a route added to the code only, or to the spec only."""
    api = (ROOT / "service/src/api.rs").read_text()
    routes = (ROOT / "powersource/src/routes.rs").read_text()
    grown = api.replace(
        'Route::Random => "/random",', 'Route::Random => "/random",\n            Route::Extra => "/extra",'
    )
    assert grown != api, "the test's anchor moved: update this test"
    grown_routes = routes.replace(
        "(&Method::GET, Route::Random)", "(&Method::GET, Route::Extra) => x,\n        (&Method::GET, Route::Random)"
    )
    assert diff(powersource_table(grown, grown_routes), spec_table("powersource")) == [
        "GET /extra: in the code, not in the spec",
        "HEAD /extra: in the code, not in the spec",
    ]
    sp = (ROOT / "superpower/src/routes.rs").read_text()
    grown_sp = sp.replace('"/live" => Route::Live,', '"/live" => Route::Live,\n            "/ready" => Route::Ready,')
    grown_sp = grown_sp.replace(
        "(Route::Live, &Method::GET)", "(Route::Ready, &Method::GET) => x,\n        (Route::Live, &Method::GET)"
    )
    assert grown_sp != sp
    assert diff(superpower_table(grown_sp), spec_table("superpower")) == [
        "GET /ready: in the code, not in the spec",
        "HEAD /ready: in the code, not in the spec",
    ]
    spec = spec_table("superpower")
    spec["/admin/switches"].add("delete")
    assert diff(code_table("superpower"), spec) == ["DELETE /admin/switches: in the spec, not in the code"]
