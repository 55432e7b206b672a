#!/usr/bin/env python3
"""Fail on an import cycle in the tfagent package or an import that points up between rooms.

Reads every module's imports with `ast` (module-level and function-level alike: a lazy import is
still a dependency) and checks two rules:
  1. no cycle between modules;
  2. rooms only import rooms below them (see docs/design.md):
       core      → nothing of tfagent but prompts
       model     → core
       verifiers → core, prompts (and verifiers)
       loop, serving, publish → model, verifiers, core, prompts
       evals     → loop, model, verifiers, core, prompts (never cli)
       cli       → anything
Run: python scripts/check_imports.py   (exit 1 and one line per problem when a rule is broken)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"agent": "tfagent.agent", "verifiers": "tfagent.verifiers", "evals": "tfagent.evals", "prompts": "tfagent.prompts"}

# room -> rooms it may import (besides itself)
ALLOWED = {
    "core": {"prompts"},
    "prompts": set(),
    "model": {"core", "prompts"},
    "verifiers": {"core", "prompts"},
    "loop": {"model", "verifiers", "core", "prompts"},
    "serving": {"model", "verifiers", "core", "prompts"},
    "publish": {"model", "verifiers", "core", "prompts"},
    "evals": {"loop", "model", "verifiers", "core", "prompts", "serving"},
    "cli": {"loop", "model", "verifiers", "core", "prompts", "serving", "publish", "evals"},
}


def modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


# The verifier seam (Diagnostic, Verdict, Verifier) imports only core's defaults and sits at the bottom with core:
# plugin authors import it, and the shared run types carry its verdicts.
SEAM = {"tfagent.verifiers.base"}


def room(module: str) -> str:
    if module in SEAM:
        return "core"
    parts = module.split(".")
    if parts[1] == "agent":
        return parts[2] if len(parts) > 2 else "core"
    return parts[1]


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for name in names:
            # the longest known module this name refers to
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module and name.startswith("tfagent."):
                out.add(name)
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def main() -> int:
    mods = modules()
    known = set(mods) | {"tfagent"}
    graph = {m: imports_of(m, p, known) for m, p in mods.items()}
    # a package's __init__ re-exporting its own submodules is not a dependency between rooms or a cycle
    for m in graph:
        graph[m] = {d for d in graph[m] if not d.startswith(m + ".") and not m.startswith(d + ".")}
    problems = []
    for m, deps in sorted(graph.items()):
        for d in sorted(deps):
            src, dst = room(m), room(d)
            if src != dst and dst not in ALLOWED.get(src, set()):
                problems.append(f"upward import: {m} ({src}) imports {d} ({dst})")
    cycle = find_cycle(graph)
    if cycle:
        problems.append("import cycle: " + " -> ".join(cycle))
    for line in problems:
        print(line)
    if not problems:
        print(f"imports ok: {len(graph)} modules, no cycle, every arrow points down")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
