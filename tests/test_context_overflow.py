"""Context overflow as its own fault: recognised in every server's dialect, never retried blindly,
handled by dropping the least useful text (with a note) or by ending the run with exit code 5.

The scripted server plays each real server's answer (agent/fake/context.py); the
llama-cpp-python behaviour it plays (HTTP 200 + an empty stream when streamed, the OpenAI-style 400
unstreamed) was measured on llama-cpp-python 0.3.36 with n_ctx 256."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tfagent.agent.core.types import Endpoint
from tfagent.agent.model.client import ModelClient
from tfagent.agent.model.context import ContextOverflow, overflow_from_error
from tfagent.agent.fake.server import ScriptedServer

from conftest import OLD_STRATEGY_FLAGS  # one request per attempt (the loop before issue 19)

GOOD = 'resource "aws_s3_bucket" "b" {\n  bucket = "tfagent-demo"\n}\n'
STYLES = ("llama-server", "vllm", "llama-cpp-python")


def fence(body: str) -> str:
    return f'```hcl title="main.tf"\n{body}```\n'


def tfagent(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "40"}  # a narrow "terminal": nothing may wrap
    return subprocess.run([sys.executable, "-m", "tfagent.agent.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_each_servers_overflow_message_is_recognised_with_its_numbers():
    llama = overflow_from_error("u", 400, "the request exceeds the available context size, try increasing it",
                                {"error": {"type": "exceed_context_size_error", "n_prompt_tokens": 5000, "n_ctx": 4096}})
    vllm = overflow_from_error("u", 400, "This model's maximum context length is 4096 tokens. However, you requested "
                               "5000 tokens (4000 in the messages, 1000 in the completion).", None)
    new_vllm = overflow_from_error("u", 400, "'max_tokens' is too large: 4000. This model's maximum context length is "
                                   "4096 tokens and your request has 200 input tokens (4000 > 4096 - 200).", None)
    assert (llama.context_size, llama.requested) == (4096, 5000)
    assert (vllm.context_size, vllm.requested) == (4096, 5000)
    assert new_vllm.context_size == 4096 and new_vllm.requested == 200
    assert overflow_from_error("u", 400, "unknown model", None) is None
    assert overflow_from_error("u", 500, "maximum context length is 10 tokens", None) is None


@pytest.mark.parametrize("style", STYLES)
def test_client_raises_context_overflow_at_once_without_transport_retries(style):
    with ScriptedServer(context_size=64, context_style=style) as server:
        server.enqueue("never served")
        client = ModelClient(Endpoint("e", server.base_url, "m"), backoff_seconds=0.01)
        with pytest.raises(ContextOverflow) as info:
            client.complete([{"role": "user", "content": "word " * 400}])
        assert info.value.context_size == 64
        # llama-cpp-python: the empty stream, then one unstreamed probe; the others: one request.
        assert len(server.chat_requests()) == (2 if style == "llama-cpp-python" else 1)
        assert server.pending() == 1  # no reply was consumed
        assert client.context_size() == (None if style == "llama-cpp-python" else 64)
        client.close()


@pytest.mark.parametrize("style", STYLES)
def test_cut_off_reply_that_overflows_the_retry_is_left_out_with_a_note(style, tmp_path):
    with ScriptedServer(context_size=3000, context_style=style) as server:
        server.enqueue("resource " * 3000, finish_reason="length")  # ~7000 tokens: the retry cannot fit
        server.enqueue(fence(GOOD))
        proc = tfagent("a bucket", "--base-url", server.base_url, "--model", "m", "--verify", "hcl", "--json",
                       *OLD_STRATEGY_FLAGS, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        first, second = doc["attempts"]
        assert first["reply_diagnostics"][0]["category"] == "cutoff"
        assert any("left the previous reply" in note for note in second["notes"]), second["notes"]
        sent = second["messages"]
        assert "resource resource" not in json.dumps(sent) and "left out" in sent[2]["content"]
        assert sent[:2] == first["messages"][:2]  # system prompt and task never dropped
        assert sent[-1]["content"] == first["feedback"]  # the feedback the model must act on is kept
        # llama-server and vLLM report their context: the oversized retry is never sent.
        expected = {"llama-server": 2, "vllm": 2, "llama-cpp-python": 4}[style]
        assert len(server.chat_requests()) == expected


def test_first_request_too_large_ends_the_run_with_exit_5_and_no_resume_advice(tmp_path):
    with ScriptedServer(context_size=32, context_style="llama-server") as server:
        server.enqueue(fence(GOOD))
        proc = tfagent("a bucket " * 50, "--base-url", server.base_url, "--model", "m", "--verify", "hcl",
                       *OLD_STRATEGY_FLAGS, cwd=tmp_path)
        assert len(server.chat_requests()) == 1
    assert proc.returncode == 5, proc.stderr
    assert "Traceback" not in proc.stderr and "--resume" not in proc.stderr
    assert "context of 32 tokens" in proc.stderr and "larger context" in proc.stderr
    assert _error_line(proc.stderr).endswith("resuming would fail the same way.")  # unwrapped at COLUMNS=40
    listing = tfagent("runs", cwd=tmp_path)
    assert "context_overflow" in listing.stdout


def test_server_never_reached_is_recorded_unreachable_not_interrupted(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    proc = tfagent("a bucket", "--base-url", f"http://127.0.0.1:{port}/v1", "--ready-timeout", "0.3", *OLD_STRATEGY_FLAGS,
                   cwd=tmp_path)
    assert proc.returncode == 3
    assert "nothing was sent" in proc.stderr and "--resume" not in proc.stderr
    assert _error_line(proc.stderr).endswith("then run the command again.")
    run_id = json.loads(tfagent("runs", "show", "--json", _last_run_id(tmp_path), cwd=tmp_path).stdout)
    assert run_id["status"] == "unreachable"


def test_endpoints_hint_keeps_its_brackets(tmp_path):
    proc = tfagent("endpoints", cwd=tmp_path)
    assert "[endpoints.NAME]" in proc.stdout, proc.stdout


def _last_run_id(cwd: Path) -> str:
    from tfagent.agent.loop.runs import RunStore

    rows = RunStore().list(limit=1)
    assert rows, "no run was stored"
    return rows[0].run_id


def _error_line(stderr: str) -> str:
    """The one line starting with "error:"; its sentence must end on it (nothing wrapped)."""
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]
