"""`tfagent --help` and `tfagent verify --help` import only what they need (goal: ≤ 0.35 s cold; the
measured ratio against `python -c pass` is in benchmarks/serving.py --parts startup)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from tfagent.agent.cli.main import LAZY_COMMANDS

HEAVY = ("git", "httpx", "openai", "langgraph", "rich", "tfagent.agent.serving.serve", "tfagent.agent.cli.eval_commands",
         "tfagent.agent.serving.bench", "tfagent.agent.serving.localmodel", "matplotlib")

PROBE = """
import json, sys
from tfagent.agent.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["verify", "--help"]])
def test_help_imports_no_heavy_module(args):
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60)
    assert "Usage:" in proc.stdout
    loaded = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    assert not [m for m in HEAVY if m in loaded], sorted(m for m in HEAVY if m in loaded)


def test_help_lines_of_lazy_commands_are_their_own_first_lines():
    for name, (module, attr, line) in LAZY_COMMANDS.items():
        command = getattr(importlib.import_module(module), attr)
        assert command.help.split("\n")[0].strip() == line, name


def test_help_lists_every_command():
    proc = subprocess.run([sys.executable, "-c", PROBE, "--help"], capture_output=True, text=True, timeout=60)
    for name in [*LAZY_COMMANDS, "run", "code", "verify", "verifiers", "endpoints", "runs"]:
        assert f"\n  {name} " in proc.stdout, name
