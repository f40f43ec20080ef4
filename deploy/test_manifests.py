"""The process fleets are held to the manifests: what the Kubernetes manifests pass to superpower
and powersource (`deploy/manifests.py process-args`), the native fleet passes too, or this file
says why not; and every flag the native fleet and the bench pass is one the binary has.

What it reads, as text (no build, no process started):
  - the manifests' flags and env names, from deploy/manifests.py;
  - the flags and env variables the binaries accept, from docs/CONTRACTS.md's flag tables, which
    testkit/tests/flags.rs holds to the binaries' clap definitions (the `rust` step);
  - the native fleet's launch code: deploy/local/lib.sh's start_superpower and start_powersource,
    their `--flag` tokens and the variables they `export`;
  - the bench's: bench/src/suite/fleet.rs's spawn_superpower and start_powersources, their
    `"--flag"` strings.

What it catches: a flag renamed or removed in a binary that a fleet still passes; a setting added
to the manifests (a flag, or an env variable of a flag: --lame-duck-ms, --cookie-key...) that the
native fleet does not pass and nobody wrote down as a deliberate difference; a difference listed
here that is no longer one (the list stays honest).

What it does not catch: values (the manifests' lame duck is 5000 ms, the native fleet's two
balancer checks); conditions (a flag the shell passes only in one branch counts as passed); flags
the launch code builds elsewhere (the bench's `extra` flags and `product_env`, a variable the
caller of up.sh exports); whether the process actually started with them. Run by
deploy/kubernetes/check.sh (the `kubernetes` step), or:

    var/venv/bin/python -m pytest deploy/test_manifests.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import manifests  # noqa: E402

# What the manifests pass that the native fleet deliberately does not, each with its reason. A
# flag stands for itself and for its env variable.
DIFFERENCES = {
    "superpower": {
        "--powersource-dns": "processes on fixed loopback ports: a fixed list (POWERSOURCE_URLS), no headless Service to resolve",
        "--peers-dns": "the replicas' fixed addresses as a fixed list (SUPERPOWER_PEERS), no headless Service to resolve",
        "--cookie-key-previous": "the Secret's optional key for rotating the cookie key; nobody rotates the native fleet's",
        "--otlp-endpoint": "no Jaeger in the native fleet by default; traces/check.sh starts one and sets it",
        "--traces-sampler": "the cluster's Jaeger keeps a share of the traces a long demo starts; the native fleet's traces (traces/check.sh) keep every one (the default)",
        "--traces-sampler-arg": "the ratio of the cluster's sampler, see --traces-sampler",
        "--workers": "without a CPU limit the pod would follow the node's cores; a native process already follows the cores it may use",
    },
    "powersource": {
        "--otlp-endpoint": "no Jaeger in the native fleet by default; traces/check.sh starts one and sets it",
        "--traces-sampler": "the cluster's Jaeger keeps a share of the traces a long demo starts; the native fleet's traces (traces/check.sh) keep every one (the default)",
        "--traces-sampler-arg": "the ratio of the cluster's sampler, see --traces-sampler",
    },
}
# Env variables of the manifests that set no flag of the binary.
NOT_SETTINGS = {
    "powersource": {
        "POD_NAME": "the pod's name, only expanded into --name $(POD_NAME)",
        "TOKIO_WORKER_THREADS": "tokio's own: the runtime's worker threads, set since the pod has no CPU limit to follow",
    },
    "superpower": {},
}
# Shell variables the launch code sets that are not the binary's.
SHELL_VARIABLES = {"IFS"}


def contracts(binary: str) -> dict[str, str | None]:
    """docs/CONTRACTS.md's table of `binary`'s flags: flag -> its env variable (None if it has none)."""
    text = (ROOT / "docs" / "CONTRACTS.md").read_text()
    m = re.search(rf"<!-- flags:{binary} -->\n(.*?)<!-- /flags:{binary} -->", text, re.S)
    assert m, f"docs/CONTRACTS.md has no flag table for {binary}"
    rows = re.findall(r"^\| `(--[a-z0-9-]+)` \| (?:`([A-Z0-9_]+)`|—) \|", m.group(1), re.M)
    assert rows, f"docs/CONTRACTS.md's {binary} table has no rows"
    return {flag: env or None for flag, env in rows}


def function_body(text: str, start: str, end: str) -> str:
    """The text from `start` (a function's opening) to the first `end` (its closing) after it."""
    i = text.index(start)
    return text[i : text.index(end, i)]


def shell_code(body: str) -> str:
    """The shell without comments and without the messages of die/say (their words are not flags)."""
    lines = []
    for line in body.splitlines():
        line = re.sub(r"(^|\s)#.*", "", line)
        line = re.split(r"\b(?:die|say)\s", line)[0]
        lines.append(line)
    return "\n".join(lines)


def native(binary: str) -> tuple[set[str], set[str]]:
    """The flags and the exported env variables of deploy/local/lib.sh's start_BINARY."""
    code = shell_code(function_body((ROOT / "deploy/local/lib.sh").read_text(), f"start_{binary}() {{", "\n}\n"))
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", code))
    env = set()
    for statement in re.findall(r"\bexport\s+([^;\n]+)", code):
        env |= set(re.findall(r"(?:^|\s)([A-Z][A-Z0-9_]*)=", statement))
    return flags, env - SHELL_VARIABLES


def bench(binary: str) -> set[str]:
    """The `"--flag"` strings of the bench's launch code for `binary`."""
    text = (ROOT / "bench/src/suite/fleet.rs").read_text()
    start = {"superpower": "fn spawn_superpower(", "powersource": "fn start_powersources("}[binary]
    return set(re.findall(r'"(--[a-z][a-z0-9-]*)', function_body(text, start, "\n}\n")))


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return manifests.render()


def manifest_settings(docs: list[dict], binary: str) -> set[str]:
    """The flags the manifests set for `binary`: on its command line or through their env variable."""
    by_env = {env: flag for flag, env in contracts(binary).items() if env}
    settings = set()
    for word in manifests.process_args(docs, binary):
        if word.startswith("--"):
            settings.add(word)
        elif word in by_env:
            settings.add(by_env[word])
        else:
            assert word in NOT_SETTINGS[binary], (
                f"the manifests give {binary} the env {word}, which is no flag's variable (docs/CONTRACTS.md): "
                "a typo, or list it in NOT_SETTINGS with what it is for"
            )
    return settings


@pytest.mark.parametrize("binary", ["superpower", "powersource"])
def test_the_manifests_pass_only_flags_the_binary_has(docs, binary):
    table = contracts(binary)
    for word in manifests.process_args(docs, binary):
        if word.startswith("--"):
            assert word in table, f"the manifests pass {binary} {word}, which it does not have"


@pytest.mark.parametrize("binary", ["superpower", "powersource"])
def test_the_native_fleet_and_the_bench_pass_only_flags_the_binary_has(binary):
    table = contracts(binary)
    flags, env = native(binary)
    assert "--listen" in flags, f"deploy/local/lib.sh's start_{binary} was not read (no --listen found)"
    assert not flags - set(table), f"deploy/local/lib.sh's start_{binary} passes flags {binary} does not have: {sorted(flags - set(table))}"
    envs = {e for e in table.values() if e}
    assert not env - envs, f"deploy/local/lib.sh's start_{binary} exports variables {binary} does not read: {sorted(env - envs)}"
    passed = bench(binary)
    assert "--listen" in passed, f"bench/src/suite/fleet.rs's {binary} launch was not read (no --listen found)"
    assert not passed - set(table), f"the bench passes {binary} flags it does not have: {sorted(passed - set(table))}"


@pytest.mark.parametrize("binary", ["superpower", "powersource"])
def test_the_native_fleet_passes_what_the_manifests_pass(docs, binary):
    """Each setting of the manifests is passed by the native fleet (as the flag or its variable),
    or is a deliberate difference listed above; and each listed difference is still one."""
    table = contracts(binary)
    flags, env = native(binary)
    passed = flags | {flag for flag, var in table.items() if var in env}
    settings = manifest_settings(docs, binary)
    missing = settings - passed - set(DIFFERENCES[binary])
    assert not missing, (
        f"the manifests set {sorted(missing)} for {binary}; deploy/local/lib.sh's start_{binary} does not: "
        "pass it there, or list it in DIFFERENCES with the reason"
    )
    stale = {f for f in DIFFERENCES[binary] if f in passed or f not in settings}
    assert not stale, f"listed as differences for {binary} but not different (passed natively, or not in the manifests): {sorted(stale)}"
