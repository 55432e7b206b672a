"""`tfagent code` end to end: scripted model, real pytest in the sandbox, the user's tests untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import OLD_STRATEGY_FLAGS  # one request per attempt (the loop before issue 19)

def fence(body: str, name: str = "solution.py") -> str:
    return f'```python title="{name}"\n{body}```\n'


WRONG = "def add(a, b):\n    return a - b\n"
RIGHT = "def add(a, b):\n    return a + b\n"
TESTS = "from solution import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def test_failing_test_is_fed_back_then_fixed(scripted_server, tmp_path):
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_add.py").write_text(TESTS)
    scripted_server.enqueue(fence(WRONG) + fence("def test_add():\n    pass\n", name="test_add.py"))
    scripted_server.enqueue(fence(RIGHT))
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "tfagent.agent.cli", "code", "write add(a, b)", "--lang", "python", "--tests", str(tests),
         "--base-url", scripted_server.base_url, "--out", "src", "--json", *OLD_STRATEGY_FLAGS],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    doc = json.loads(proc.stdout)
    first, second = doc["attempts"]
    assert not first["ok"] and second["ok"]
    diags = [d for v in first["verdicts"] for d in v["diagnostics"]]
    assert any(d["category"] == "test" and "test_add" in (d["rule"] or d["summary"]) for d in diags), diags
    feedback = scripted_server.chat_requests()[1]["messages"][-1]["content"]
    assert "test_add" in feedback
    assert (tmp_path / "src" / "solution.py").read_text() == RIGHT
    assert (tests / "test_add.py").read_text() == TESTS  # the model never edits the user's tests
