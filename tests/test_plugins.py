"""Verifiers are plugins: a separate, really-installed package adds one through the entry-point
group `tfagent.verifiers`, exactly as the built-ins do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import install_plugin_package

from tfagent.verifiers.registry import UnknownVerifier, VerifierUnavailable, build_chain, discover

PLUGIN = textwrap.dedent('''
    from tfagent.verifiers.base import Verdict, Verifier, error


    class NoTodo(Verifier):
        """Fails when a file still says TODO."""

        name = "no-todo"
        description = "no TODO left in any file"

        def check(self, ctx):
            bad = [p for p in sorted(ctx.workdir.rglob("*.tf")) if "TODO" in p.read_text()]
            return Verdict(self.name, ok=not bad, diagnostics=[
                error("TODO left in file", file=p.relative_to(ctx.workdir).as_posix(), line=1, source=self.name) for p in bad
            ])
''')


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    return install_plugin_package(tmp_path_factory, "tfagent-no-todo", "1.2.3", {"tfagent_no_todo": PLUGIN},
                                  {"tfagent.verifiers": {"no-todo": "tfagent_no_todo:NoTodo"}})


def run(plugin_path: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(plugin_path), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "tfagent.agent.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_external_verifier_is_listed_and_used(plugin_path, tmp_path):
    listing = run(plugin_path, "verifiers", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    line = next(x for x in listing.stdout.splitlines() if "no-todo" in x)
    assert "tfagent-no-todo 1.2.3" in line and "yes" in line
    builtin = next(x for x in listing.stdout.splitlines() if x.startswith("│ validate"))
    assert "tfagent 0.1.0" in builtin

    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "main.tf").write_text('# TODO: finish\nvariable "x" {}\n')
    proc = run(plugin_path, "verify", str(folder), "--verify", "hcl,no-todo", "--json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    stages = json.loads(proc.stdout)["stages"]
    assert stages[1]["verifier"] == "no-todo" and stages[1]["diagnostics"][0]["summary"] == "TODO left in file"


def test_builtins_are_entry_points_and_unavailable_ones_are_handled():
    found = discover()
    assert {"hcl", "fmt", "validate", "plan", "rego", "checkov", "python", "compile", "tests"} <= set(found)
    assert all(info.origin.startswith("tfagent ") for name, info in found.items() if name in ("hcl", "validate"))
    with pytest.raises(UnknownVerifier, match="unknown verifier 'nope'"):
        build_chain(["hcl", "nope"])

    class Missing:
        name = "missing-tool"

        def available(self):
            return False, "missing-tool: not found on PATH"

    from tfagent.verifiers.registry import VerifierInfo

    registry = {**found, "missing-tool": VerifierInfo("missing-tool", Missing, "test 0", "x:y")}
    chain = build_chain(["hcl", "missing-tool"], requested=set(), registry=registry)
    assert chain.names == ["hcl"] and chain.skipped == {"missing-tool": "missing-tool: not found on PATH"}
    with pytest.raises(VerifierUnavailable, match="not found on PATH"):
        build_chain(["hcl", "missing-tool"], requested={"missing-tool"}, registry=registry)


def test_a_verifier_of_the_other_mode_is_a_usage_error():
    """`Verifier.modes` is a contract: `tfagent code --verify hcl` is refused before any model call."""
    from tfagent.verifiers.registry import WrongMode, build_chain, check_modes

    with pytest.raises(WrongMode, match="'hcl' does not apply to code mode"):
        check_modes(["hcl"], "code")
    with pytest.raises(WrongMode, match="'python' does not apply to terraform mode"):
        build_chain(["hcl", "python"], mode="terraform")
    check_modes(["python", "tests"], "code")  # the right mode passes


def test_tfagent_code_with_a_terraform_verifier_exits_2(tmp_path):
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "tfagent.agent.cli", "code", "write add(a, b)", "--lang", "python",
                             "--verify", "hcl", "--base-url", "http://127.0.0.1:9/v1"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "does not apply to code mode" in result.stderr


def test_a_diagnostic_category_outside_the_table_is_refused():
    """CATEGORIES is a contract: the eval's error table groups by it, so a typo must fail loudly."""
    from tfagent.verifiers.base import CATEGORIES, Diagnostic

    assert Diagnostic("error", "ok", category="syntax").category in CATEGORIES
    with pytest.raises(ValueError, match="'sintax' is not one of"):
        Diagnostic("error", "typo", category="sintax")
