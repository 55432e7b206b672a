#!/usr/bin/env python3
"""Fail on an import cycle in the tfagent package or an import that points up between rooms.

Reads every module's imports with `ast` (module-level and function-level alike: a lazy import is
still a dependency) and checks three rules:
  1. no cycle between modules;
  2. rooms only import rooms below them (see docs/design.md, the map):
       core      → nothing of tfagent but prompts (plain types, defaults, paths, secrets, files, plugins)
       model     → core, prompts
       fake      → model, core (the scripted model server: only tests, benchmarks and users' tests import it)
       verifiers → core, prompts (and verifiers)
       loop, serving, publish → model, verifiers, core, prompts
       evals     → loop, serving, model, verifiers, core, prompts (never cli)
       cli       → anything but fake (console, click groups and every `tfagent eval` command live here)
     and inside evals, each room only imports the rooms before it:
       tasks → judging → importers, running → reporting → ladder
     (importers and running are side by side: neither imports the other); every evals module is in a room;
  3. no command-line code below the cli: core imports neither click nor rich, evals never imports click.
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
    "fake": {"model", "core"},
    "verifiers": {"core", "prompts"},
    "loop": {"model", "verifiers", "core", "prompts"},
    "serving": {"model", "verifiers", "core", "prompts"},
    "publish": {"model", "verifiers", "core", "prompts"},
    "evals": {"loop", "model", "verifiers", "core", "prompts", "serving"},
    "cli": {"loop", "model", "verifiers", "core", "prompts", "serving", "publish", "evals"},
}
# evals' rooms -> the evals rooms each may import (besides itself); outside evals they all count as "evals"
EVALS_ALLOWED = {
    "tasks": set(),
    "judging": {"tasks"},
    "importers": {"tasks", "judging"},
    "running": {"tasks", "judging"},
    "reporting": {"tasks", "judging", "running"},
    "ladder": {"tasks", "judging", "running", "reporting"},
}
# third-party packages a room must not import: command-line code lives in agent/cli
NOT_IMPORTED = {"core": {"click", "rich"}, "evals": {"click"}}
# folders of data, not code (a suite may hold Python files of its tasks)
DATA = {"evals": {"suites", "calibration"}}


def modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            if rel.parts[0] in DATA.get(folder, ()):
                continue
            parts = [p for p in rel.parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


# The verifier seam (Diagnostic, Verdict, Verifier) imports only core's defaults and sits at the bottom with core:
# plugin authors import it, and the shared run types carry its verdicts.
SEAM = {"tfagent.verifiers.base"}


def room(module: str) -> str:
    """``core``, ``loop``, … for agent's rooms; ``evals/tasks``, ``evals/judging``, … for evals' rooms."""
    if module in SEAM:
        return "core"
    parts = module.split(".")
    if parts[1] == "agent":
        return parts[2] if len(parts) > 2 else "core"
    if parts[1] == "evals" and len(parts) > 2:
        return f"evals/{parts[2]}"
    return parts[1]


def allowed(src: str, dst: str) -> bool:
    """May a module of room ``src`` import one of room ``dst``?"""
    if src == dst:
        return True
    (outer_src, _, inner_src), (outer_dst, _, inner_dst) = src.partition("/"), dst.partition("/")
    if outer_src == outer_dst == "evals":
        return inner_dst in EVALS_ALLOWED.get(inner_src, set())
    return outer_src == outer_dst or outer_dst in ALLOWED.get(outer_src, set())


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


def packages_of(path: Path) -> set[str]:
    """Top-level names of every absolute import (``click``, ``rich``, ``tfagent``, …)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.partition(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.partition(".")[0])
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
        src = room(m)
        if src.startswith("evals/") and src.partition("/")[2] not in EVALS_ALLOWED:
            problems.append(f"outside a room: {m} (evals' rooms: {', '.join(EVALS_ALLOWED)})")
        for d in sorted(deps):
            dst = room(d)
            if not allowed(src, dst):
                problems.append(f"upward import: {m} ({src}) imports {d} ({dst})")
        banned = NOT_IMPORTED.get(src.partition("/")[0], set()) & packages_of(mods[m])
        for name in sorted(banned):
            problems.append(f"command-line code: {m} ({src}) imports {name} (it belongs in agent/cli)")
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
