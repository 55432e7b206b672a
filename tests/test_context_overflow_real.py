"""Context overflow against a real llama-cpp-python server (SmolLM2, n_ctx 256): its streamed answer
to a too-long request is an empty HTTP 200 stream; the client must call that a ContextOverflow with
the server's own maximum, after one probe, not five transport retries."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from tfagent.agent.core.types import Endpoint
from tfagent.agent.model.client import ModelClient
from tfagent.agent.model.context import ContextOverflow

from test_serve import free_port, needs_real_server, smoke_gguf


@needs_real_server
def test_real_llama_cpp_python_overflow_is_recognised_from_its_empty_stream():
    port = free_port()
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(smoke_gguf()), "--model_alias", "smol",
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "256", "--n_threads", "1"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        client = ModelClient(Endpoint("smol", base, "smol", params={"max_tokens": 8}), backoff_seconds=0.01)
        started = time.monotonic()
        with pytest.raises(ContextOverflow) as info:
            client.complete([{"role": "user", "content": "word " * 600}])
        assert info.value.context_size == 256 and info.value.requested and info.value.requested > 256
        assert time.monotonic() - started < 10  # no backoff ladder of transport retries
        assert client.context_size() is None  # llama-cpp-python reports no context size
        client.close()
    finally:
        proc.kill()
        proc.wait(timeout=10)
