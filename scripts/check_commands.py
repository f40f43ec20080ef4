#!/usr/bin/env python3
"""Every external command the project's scripts run is installed by them, or is on a fresh machine.

A green run on a machine where a tool was installed by hand hides a missing install step (podman's
netavark needed iptables, which no script installed: CI failed on the first fresh machine). This
check makes that class of mistake fail in the lint step, on any machine:

1. It reads every tracked shell script (*.sh, .ci/run, files with a bash shebang), the commands
   Python scripts start (subprocess with a literal argv), and the process providers of the
   chaostoolkit experiments, and collects the command each simple command runs.
2. Each such command must have a row in scripts/commands.txt saying where it comes from: `base`
   (on a fresh machine of the project's kind), `apt:PKG`, `cargo:CRATE`, `venv`, `npm` or
   `rustup`. A command with no row fails, naming the file and line.
3. Every `apt:PKG` row must be installed by some `ensure_apt` call in the scripts, and every
   `cargo:CRATE` row by some `cargo install` of the scripts; a row of something no script installs
   fails (a package named only in the table would install nothing).
4. With --installed (after the tools step), each apt row whose command is on PATH must be owned by
   the package the row names (dpkg -S): the table cannot drift from what Debian ships.

Rows may name commands the scripts never run themselves but something they install does
(`iptables`, run by podman's netavark): those are marked `(indirect)` and are checked like the rest.

  scripts/check_commands.py [--installed] [--root DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BUILTINS = set(
    """
    . : [ alias bg bind break builtin caller cd command compgen complete continue declare dirs
    disown echo enable eval exec exit export false fc fg getopts hash help history jobs kill let
    local logout mapfile popd printf pushd pwd read readarray readonly return set shift shopt
    source suspend test times trap true type typeset ulimit umask unalias unset wait
    """.split()
)
KEYWORDS = set("if then else elif fi case esac for select while until do done in function time ! { } [[ ]]".split())
# prefixes whose next word is the command they run (after their own options)
PREFIXES = {"sudo", "exec", "command", "nohup", "env", "nice", "setsid", "stdbuf", "time", "xargs", "timeout"}
WORD = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")
RUST_PROGRAM = re.compile(r"""(?<!clap::)\bCommand::new\("([A-Za-z0-9_.+-]+)"\)|\bprogram: "([A-Za-z0-9_.+-]+)"\.into\(\)""")
SUBPROCESS = re.compile(
    r"""(?:subprocess\.|sp\.|\b)(?:run|Popen|check_output|check_call|call|exec\w*)\(\s*\[\s*["']([A-Za-z0-9_.+-]+)["']"""
)


@dataclass
class Found:
    """Where a command is run."""

    places: dict[str, list[str]] = field(default_factory=dict)

    def add(self, cmd: str, place: str) -> None:
        self.places.setdefault(cmd, []).append(place)


def strip_heredocs(text: str) -> str:
    """The script with every here-document's body blanked (line numbers kept): a body is data, or
    a program in another language (python3 - <<'PY')."""
    lines, out, pending = text.split("\n"), [], []
    for raw in lines:
        if pending:
            end, strip = pending[0]
            if (raw.lstrip("\t") if strip else raw) == end:
                pending.pop(0)
            out.append("")
            continue
        for m in re.finditer(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2", raw):
            if not raw[: m.start()].endswith("<") and not raw[m.end() :].startswith("<"):
                pending.append((m.group(3), m.group(1) == "-"))
        out.append(raw)
    return "\n".join(out)


def matching(text: str, i: int, open_: str = "(", close: str = ")") -> int:
    """The index just past the bracket that closes the one at text[i], quotes skipped."""
    depth, k, n = 0, i, len(text)
    while k < n:
        c = text[k]
        if c in "'\"":
            j = text.find(c, k + 1)
            k = n if j < 0 else j + 1
            continue
        if c == "\\":
            k += 2
            continue
        depth += 1 if c == open_ else -1 if c == close else 0
        k += 1
        if depth == 0:
            return k
    return n


def tokens(text: str, line: int = 1):
    """Shell tokens of a script: ('w', word, line) and ('op', operator, line); a newline is the
    operator ';'. Quotes stay inside words; a command substitution is opened as ('op', '$(') even
    inside double quotes; arithmetic, array literals, comments and redirection targets are
    dropped."""
    i, n = 0, len(text)
    word = ""
    out = []

    def flush():
        nonlocal word
        if word:
            out.append(("w", word, line))
            word = ""

    def sub(a, b):
        """tokens of text[a:b] (a command substitution's body), with their own line numbers"""
        out.append(("op", "$(", line))
        out.extend(tokens(text[a:b], line))
        out.append(("op", ")", line))

    while i < n:
        c = text[i]
        if c == "'":
            j = text.find("'", i + 1)
            j = n - 1 if j < 0 else j
            word += "'x'"
            line += text.count("\n", i, j + 1)
            i = j + 1
        elif c == '"':
            j, kept = i + 1, ""
            while j < n and text[j] != '"':
                if text[j] == "\\":
                    j += 2
                    continue
                if text.startswith("$(", j) and not text.startswith("$((", j):
                    k = matching(text, j + 1)
                    flush()
                    sub(j + 2, k - 1)
                    line += text.count("\n", j, k)
                    j = k
                    continue
                if text[j] == "\n":
                    line += 1
                kept += text[j]
                j += 1
            word += f'"{kept}"'
            i = j + 1
        elif c == "\\":
            if text.startswith("\\\n", i):
                line += 1
                flush()
            else:
                word += text[i : i + 2]
            i += 2
        elif c == "#" and not word:
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in " \t":
            flush()
            i += 1
        elif c == "\n":
            flush()
            out.append(("op", ";", line))
            line += 1
            i += 1
        elif text.startswith("$((", i) or (text.startswith("((", i) and not word):
            k = matching(text, i + (1 if c == "$" else 0))
            line += text.count("\n", i, k)
            word += "0"
            i = k
        elif text.startswith("$(", i):
            k = matching(text, i + 1)
            flush()
            sub(i + 2, k - 1)
            line += text.count("\n", i, k)
            i = k
        elif c == "(" and ASSIGN.match(word) and word.endswith("="):  # NAME=( array )
            k = matching(text, i)
            line += text.count("\n", i, k)
            word += "()"
            i = k
        elif text.startswith(("&&", "||", ";;", "|&"), i):
            flush()
            out.append(("op", text[i : i + 2], line))
            i += 2
        elif c in ";|&(){}" and not (c in "{}" and word):
            flush()
            out.append(("op", c, line))
            i += 1
        elif c in "<>":
            if word.isdigit():  # 2>&1: the fd is not a word
                word = ""
            flush()
            m = re.match(r"[<>]+&?-?", text[i:])
            i += m.end()
            if i < n and text[i] == "(":  # <( process substitution )
                out.append(("op", "(", line))
                i += 1
                continue
            while i < n and text[i] in " \t":
                i += 1
            m = re.match(r"""("[^"]*"|'[^']*'|[^\s;|&()<>])*""", text[i:])
            line += m.group(0).count("\n")
            i += m.end()
        else:
            word += c
            i += 1
    flush()
    return out


COMMAND_START = {"$(", "`", "(", ";", "&&", "||", "|", "|&", "&", ";;", "{", "}"}


def shell_commands(text: str, path: str, found: Found, functions: set[str]) -> None:
    """Adds the commands a shell script runs; function names it defines go to `functions`."""
    text = strip_heredocs(text)
    for m in re.finditer(r"(?m)^\s*(?:function\s+)?([A-Za-z_][A-Za-z0-9_-]*)\s*\(\)", text):
        functions.add(m.group(1))
    case_depth: list[str] = []  # per open `case`: 'head' (before `in`), 'pattern' or 'body'
    at_start, in_test, prefix_skip, after_for = True, False, 0, False
    for kind, val, no in tokens(text):
        if kind == "op":
            at_start, prefix_skip = val in COMMAND_START, 0
            if val == ";;" and case_depth:
                case_depth[-1] = "pattern"
            elif val == ")" and case_depth and case_depth[-1] == "pattern":
                case_depth[-1], at_start = "body", True
            after_for = after_for and val != ";"
            continue
        if case_depth and case_depth[-1] == "head":
            if val == "in":
                case_depth[-1] = "pattern"
            continue
        if case_depth and case_depth[-1] == "pattern":
            if val == "esac":
                case_depth.pop()
            continue
        if in_test:
            in_test = val != "]]"
            continue
        if after_for and val != "do":
            continue
        if val == "esac" and case_depth:
            case_depth.pop()
            continue
        if not at_start:
            continue
        if val == "case":
            case_depth.append("head")
            continue
        if val == "[[":
            in_test = True
            continue
        if val in ("for", "select"):
            after_for = True
            continue
        after_for = False
        if val in KEYWORDS or ASSIGN.match(val):
            continue
        if prefix_skip:  # an option or argument of a prefix command (timeout 5, nice -n 10, env -u X)
            if prefix_skip == 2 or val.startswith("-") or re.fullmatch(r"[0-9.]+[smhd]?", val):
                prefix_skip = 2 if val in ("-u", "-n", "-s", "-k") else 1
                continue
        if val in PREFIXES or val in ("$sudo", '"$sudo"'):
            if WORD.match(val):
                found.add(val, f"{path}:{no}")
            prefix_skip = 1
            continue
        at_start = False
        if WORD.match(val):
            found.add(val, f"{path}:{no}")


def tracked(root: Path) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    return [root / p for p in out.decode().split("\0") if p]


def collect(root: Path) -> tuple[Found, set[str], list[str]]:
    """The commands the tracked files run, the shell functions they define, and the text of every
    shell script (to find what they install)."""
    found, functions, shell_texts = Found(), set(), []
    for p in tracked(root):
        rel = str(p.relative_to(root))
        if rel.startswith("fuzz/corpus") or not p.is_file():
            continue
        try:
            text = p.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        if rel.endswith(".sh") or rel == ".ci/run" or text.startswith(("#!/usr/bin/env bash", "#!/bin/bash")):
            shell_commands(text, rel, found, functions)
            shell_texts.append(text)
        elif rel.endswith(".py"):
            for no, line in enumerate(text.split("\n"), 1):
                for m in SUBPROCESS.finditer(line):
                    found.add(m.group(1), f"{rel}:{no}")
        elif rel.endswith(".rs"):
            for no, line in enumerate(text.split("\n"), 1):
                for m in RUST_PROGRAM.finditer(line):
                    found.add(m.group(1) or m.group(2), f"{rel}:{no}")
        elif rel.startswith("experiments/") and rel.endswith(".json"):
            try:
                doc = json.loads(text)
            except ValueError:
                continue
            for prov in providers(doc):
                if prov.get("type") == "process" and WORD.match(str(prov.get("path", ""))):
                    found.add(prov["path"], rel)
    return found, functions, shell_texts


def providers(node):
    if isinstance(node, dict):
        if "type" in node and "path" in node:
            yield node
        for v in node.values():
            yield from providers(v)
    elif isinstance(node, list):
        for v in node:
            yield from providers(v)


def table(path: Path) -> dict[str, str]:
    rows = {}
    for no, line in enumerate(path.read_text().split("\n"), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2 or not re.fullmatch(r"base|venv|optional|rustup|(apt|cargo):[a-z0-9][a-z0-9.+-]*", parts[1]):
            raise SystemExit(f"{path}:{no}: a row is `COMMAND SOURCE [(indirect)]`, SOURCE one of base, apt:PKG, cargo:CRATE, venv, optional, rustup")
        rows[parts[0]] = parts[1]
    return rows


def installed_by_scripts(shell_texts: list[str]) -> tuple[set[str], set[str]]:
    """Debian packages named in ensure_apt calls, crates in cargo install / ensure_cargo_tool."""
    apt, cargo = set(), set()
    for text in shell_texts:
        joined = re.sub(r"\\\n", " ", text)
        for m in re.finditer(r"\bensure_apt\b([^\n;&|)]*)", joined):
            apt.update(w for w in m.group(1).split() if re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", w))
        for m in re.finditer(r"\bensure_cargo_tool\s+([a-z0-9_-]+)", joined):
            cargo.add(m.group(1))
        for m in re.finditer(r"\bcargo install\b([^\n;&|)]*)", joined):
            cargo.update(w for w in m.group(1).split() if re.fullmatch(r"[a-z][a-z0-9_-]+", w))
    return apt, cargo


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    ap.add_argument("--table", type=Path, help="default: ROOT/scripts/commands.txt")
    ap.add_argument("--installed", action="store_true", help="also hold apt rows to dpkg's owners")
    args = ap.parse_args()
    root = args.root.resolve()
    rows = table(args.table or root / "scripts/commands.txt")
    found, functions, shell_texts = collect(root)
    apt, cargo = installed_by_scripts(shell_texts)
    problems = []
    external = {c: p for c, p in found.places.items() if c not in BUILTINS | KEYWORDS | functions}
    for cmd, places in sorted(external.items()):
        if cmd in rows:
            continue
        where = ", ".join(places[:3]) + (f" (+{len(places) - 3} more)" if len(places) > 3 else "")
        problems.append(f"`{cmd}` is run ({where}) but scripts/commands.txt does not say where it comes from")
    for cmd, src in sorted(rows.items()):
        kind, _, name = src.partition(":")
        if kind == "apt" and name not in apt:
            problems.append(f"`{cmd}` comes from the Debian package {name}, which no ensure_apt call installs")
        if kind == "cargo" and name not in cargo:
            problems.append(f"`{cmd}` comes from the crate {name}, which no script installs with cargo")
        if kind == "optional" and not any(re.search(rf"(command -v|require) {re.escape(cmd)}\b", t) for t in shell_texts):
            problems.append(f"`{cmd}` is optional, but no script checks `command -v {cmd}` before it runs it")
        if args.installed and kind == "base" and not shutil.which(cmd) and cmd not in BUILTINS:
            problems.append(f"`{cmd}` is said to be on every machine, but it is not on this one")
        if args.installed and kind == "apt" and shutil.which(cmd):
            real = os.path.realpath(shutil.which(cmd))
            owners = set()
            # dpkg knows a file by the path its package ships (/bin/ip, not usrmerge's /usr/bin/ip)
            for path in dict.fromkeys([real, re.sub(r"^/usr(/s?bin/)", r"\1", real)]):
                owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
                if owner.returncode == 0:
                    owners |= {o.strip() for o in owner.stdout.split(":", 1)[0].split(",")}
            if name not in {o.split(":")[0] for o in owners}:
                problems.append(f"`{cmd}` ({real}) belongs to {sorted(owners) or 'no package'}, not {name}")
    for p in problems:
        print(f"commands: {p}", file=sys.stderr)
    print(f"commands: {len(external)} commands run by the scripts, {len(rows)} rows, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
