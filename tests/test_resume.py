"""An interrupted run (SIGKILL mid-generation) continues with --resume from its checkpoint: the
finished attempt is not redone and the resumed request repeats the interrupted one exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tfagent.agent.loop.runs import RunStore

from conftest import OLD_STRATEGY_FLAGS, kill_during_attempt  # one request per attempt (the loop before issue 19)

GOOD = 'variable "region" {\n  type = string\n}\n'
BAD = 'variable "region" {\n  type = string\n'


def fence(body: str) -> str:
    return f'```hcl title="main.tf"\n{body}```\n'


def test_kill_during_attempt_two_then_resume(scripted_server, tmp_path):
    scripted_server.enqueue(fence(BAD))
    scripted_server.enqueue_fault("delay", seconds=20)
    scripted_server.enqueue(fence(GOOD))
    scripted_server.enqueue(fence(GOOD))
    env = {**os.environ, "NO_COLOR": "1"}
    cmd = [sys.executable, "-m", "tfagent.agent.cli"]
    proc = subprocess.Popen([*cmd, "declare a region variable", "--base-url", scripted_server.base_url, "--verify", "hcl",
                             *OLD_STRATEGY_FLAGS],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    kill_during_attempt(proc, scripted_server, 2, timeout=60)

    [row] = RunStore().list()
    assert row.status == "running" and row.result is None
    done = subprocess.run([*cmd, "--resume", row.run_id, "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [a["number"] for a in doc["attempts"]] == [1, 2] and doc["attempts"][1]["ok"]
    requests = scripted_server.chat_requests()
    assert len(requests) == 3, "attempt 1 must not be asked again"
    assert requests[2]["messages"] == requests[1]["messages"]
    assert (tmp_path / "infra" / "main.tf").read_text() == GOOD
    assert RunStore().get(row.run_id).status == "verified"
