"""Server backends are plugins: a separate, really-installed package adds one through the entry-point
group `tfagent.serving_backends`, exactly as llama-server and llama-cpp-python are registered."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from conftest import install_plugin_package

from tfagent.agent.serving.backends.base import BUILTINS, ServerBackend, discover

PLUGIN = textwrap.dedent('''
    import json
    import sys
    from pathlib import Path

    from tfagent.agent.serving.backends.base import ServerBackend


    class ScriptedBackend(ServerBackend):
        """Serves the scripted OpenAI-compatible server (a real HTTP server) under the model's alias."""

        name = "scripted"
        preference = 99

        def available(self):
            return True, ""

        def origin(self):
            return "tfagent.agent.fake.cli"

        def argv(self, model, alias, opts):
            replies = Path(str(model) + ".replies.json")
            replies.write_text(json.dumps(["hello from the plugin"]))
            return [sys.executable, "-m", "tfagent.agent.fake.cli", "--host", opts.host,
                    "--port", str(opts.port), "--model", alias, "--reply-file", str(replies)]

        def notes(self, opts):
            return ["the scripted backend ignores --ctx"]
''')


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    return install_plugin_package(tmp_path_factory, "tfagent-scripted-backend", "0.1.0",
                                  {"tfagent_scripted_backend": PLUGIN},
                                  {"tfagent.serving_backends": {"scripted": "tfagent_scripted_backend:ScriptedBackend"}})


def test_builtins_are_registered_backends():
    found = discover()
    assert set(BUILTINS) <= set(found)
    assert all(isinstance(b, ServerBackend) for b in found.values())
    assert list(found)[:2] == ["llama-server", "llama-cpp-python"]  # auto prefers llama-server


def test_an_external_backend_serves_registers_and_stops(plugin_path, tmp_path):
    from test_gguf_info import write_gguf

    model = write_gguf(tmp_path / "tiny.gguf")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(plugin_path)}
    cli = [sys.executable, "-m", "tfagent.agent.cli", "serve"]
    started = subprocess.run([*cli, str(model), "--backend", "scripted", "--name", "plug", "--alias", "plug-model",
                              "--port", str(port), "--detach", "--ready-timeout", "60"],
                             env=env, capture_output=True, text=True, timeout=120)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "backend scripted (tfagent.agent.fake.cli)" in started.stderr
        assert "note: the scripted backend ignores --ctx" in started.stderr
        reply = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=10,
                           json={"model": "plug-model", "messages": [{"role": "user", "content": "hi"}]}).json()
        assert reply["choices"][0]["message"]["content"] == "hello from the plugin"
    finally:
        stopped = subprocess.run([*cli, "--stop", "plug"], env=env, capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    unknown = subprocess.run([*cli, str(model), "--backend", "nosuch"], env=env, capture_output=True, text=True,
                             timeout=60)
    assert unknown.returncode == 2 and "'nosuch' is not a registered server backend" in unknown.stderr
    assert "scripted" in unknown.stderr  # the message lists what is registered
