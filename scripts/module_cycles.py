#!/usr/bin/env python3
"""Fails when the modules of a crate depend on each other in a cycle.

    python3 scripts/module_cycles.py [CRATE_DIR...]     (default: every workspace member)

A module's dependencies are the top-level modules of its crate that its code (not its comments
and doc links) names through `crate::NAME` (in `use` lines or paths) or `super::super::NAME` from
a child module; a module's children count as the module itself. Test modules (`#[cfg(test)] mod tests`) are skipped: a test may use
anything. The crate root (lib.rs, main.rs) is not a module of the graph.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USE = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
BRACED = re.compile(r"use\s+crate::\{([^}]*)\}", re.S)


def members():
    text = (ROOT / "Cargo.toml").read_text()
    m = re.search(r"members\s*=\s*\[([^\]]*)\]", text)
    return [ROOT / s.strip().strip('"') for s in m.group(1).split(",") if s.strip()]


def strip_tests(src):
    """The source without `#[cfg(test)] mod tests { ... }` blocks."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", src):
        if m.start() < i:
            continue
        out.append(src[i:m.start()])
        depth, j = 1, m.end()
        while j < len(src) and depth:
            depth += {"{": 1, "}": -1}.get(src[j], 0)
            j += 1
        i = j
    out.append(src[i:])
    return "".join(out)


def graph(crate):
    src = crate / "src"
    edges = {}
    for f in src.rglob("*.rs"):
        rel = f.relative_to(src).parts
        if rel[0] in ("main.rs", "lib.rs", "bin"):
            continue
        module = rel[0].removesuffix(".rs")
        text = re.sub(r"//[^\n]*", "", strip_tests(f.read_text()))
        deps = set(USE.findall(text))
        for group in BRACED.findall(text):
            deps |= {p.strip().split("::")[0] for p in group.split(",") if p.strip()}
        if len(rel) > 1:  # a child: super:: is its parent, super::super:: … go up
            deps |= set(re.findall(r"\bsuper::super::([a-z_][a-z0-9_]*)", text))
        edges.setdefault(module, set()).update(d for d in deps if d != module and d != "self")
    known = set(edges)
    return {m: {d for d in ds if d in known} for m, ds in edges.items()}


def cycle(edges):
    """One cycle as a list of modules, or None."""
    state = {}
    stack = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(edges[m]):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def main():
    crates = [Path(a).resolve() for a in sys.argv[1:]] or members()
    bad = 0
    for crate in crates:
        if not (crate / "src").is_dir():
            continue
        c = cycle(graph(crate))
        if c:
            bad += 1
            print(f"{crate.name}: module cycle: {' -> '.join(c)}")
    if bad:
        return 1
    print(f"no module cycles in {len(crates)} crates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
