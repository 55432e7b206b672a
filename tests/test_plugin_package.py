"""One real, pip-installed third-party package adds a verifier, a forge and a server backend — each
one file plus an entry point, no edit to tfagent — and each is then used. It also registers one broken
entry point in each group: the one plugin loader reports each the same way and keeps the others."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from conftest import install_plugin_package
from test_plugins import PLUGIN as VERIFIER
from test_serving_backends import PLUGIN as BACKEND

FORGE = '''
import httpx

from tfagent.agent.publish.forge import ForgeError, PullRequest


class TinyForge:
    """A forge whose API is one POST /pulls answering {"number", "url"}."""

    name = "tinyforge"

    @classmethod
    def recognises(cls, remote, env):
        return remote.host.endswith(".tinyforge.test")

    @classmethod
    def credentials_problem(cls, env):
        return None if env.get("TINYFORGE_TOKEN") else "--pr on tinyforge needs TINYFORGE_TOKEN"

    @classmethod
    def from_env(cls, remote, env, timeout):
        return cls(remote, env["TINYFORGE_URL"], env["TINYFORGE_TOKEN"], timeout)

    def __init__(self, remote, url, token, timeout):
        self.remote, self.url = remote, url
        self.client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=timeout)

    def open_or_update(self, *, head, base, title, body, draft):
        response = self.client.post(f"{self.url}/pulls", json={"repo": self.remote.path, "head": head, "base": base,
                                                               "title": title, "body": body, "draft": draft})
        if response.status_code != 201:
            raise ForgeError(f"tinyforge answered HTTP {response.status_code}")
        data = response.json()
        return PullRequest(data["number"], data["url"], created=True)

    def close(self):
        self.client.close()
'''

BROKEN = "tfagent_extras_gone:Nothing"  # a module the package does not ship


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    # The verifier and the backend are the ones test_plugins / test_serving_backends install alone.
    return install_plugin_package(
        tmp_path_factory, "tfagent-extras", "0.2.0",
        {"tfagent_extras_verifier": VERIFIER, "tfagent_extras_forge": FORGE, "tfagent_extras_backend": BACKEND},
        {"tfagent.verifiers": {"no-todo": "tfagent_extras_verifier:NoTodo", "broken": BROKEN},
         "tfagent.forges": {"tinyforge": "tfagent_extras_forge:TinyForge", "broken": BROKEN},
         "tfagent.serving_backends": {"scripted": "tfagent_extras_backend:ScriptedBackend", "broken": BROKEN}})


def cli(plugin_path: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(plugin_path), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "tfagent.agent.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_packaged_verifier_runs_in_a_chain(plugin_path, tmp_path):
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "main.tf").write_text('# TODO: finish\nvariable "x" {}\n')
    proc = cli(plugin_path, "verify", str(folder), "--verify", "hcl,no-todo", "--json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    stage = json.loads(proc.stdout)["stages"][1]
    assert stage["verifier"] == "no-todo" and stage["diagnostics"][0]["summary"] == "TODO left in file"


class _Pulls(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 - the stdlib's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Pulls.received.append({**body, "auth": self.headers.get("Authorization")})
        data = json.dumps({"number": 7, "url": "https://team.tinyforge.test/infra/pulls/7"}).encode()
        self.send_response(201)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_the_packaged_forge_is_chosen_checked_and_opens_a_pull_request(plugin_path, monkeypatch):
    from tfagent.agent.publish.forge import RemoteInfo, check_credentials, choose_forge, forges, make_forge

    monkeypatch.syspath_prepend(str(plugin_path))
    assert {"github", "gitlab", "tinyforge"} <= set(forges())
    remote = RemoteInfo("code.tinyforge.test", "team/infra")
    assert choose_forge(remote, env={}) == "tinyforge"
    assert choose_forge(RemoteInfo("github.com", "o/r"), env={}) == "github"  # built-ins still chosen as before
    assert check_credentials("tinyforge", env={}) == "--pr on tinyforge needs TINYFORGE_TOKEN"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pulls)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {"TINYFORGE_TOKEN": "tf-token-abcdef", "TINYFORGE_URL": f"http://127.0.0.1:{server.server_address[1]}"}
        forge = make_forge(remote, "tinyforge", env=env)
        try:
            pull = forge.open_or_update(head="tfagent/x", base="main", title="t", body="b", draft=True)
        finally:
            forge.close()
    finally:
        server.shutdown()
        server.server_close()
    assert (pull.number, pull.created) == (7, True)
    assert _Pulls.received[-1]["repo"] == "team/infra" and _Pulls.received[-1]["auth"] == "Bearer tf-token-abcdef"


def test_the_packaged_backend_serves(plugin_path, tmp_path):
    from test_gguf_info import write_gguf

    model = write_gguf(tmp_path / "tiny.gguf")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = cli(plugin_path, "serve", str(model), "--backend", "scripted", "--name", "extras", "--alias", "echo-model",
                  "--port", str(port), "--detach", "--ready-timeout", "60", cwd=tmp_path)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        reply = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=10,
                           json={"model": "echo-model", "messages": [{"role": "user", "content": "hi"}]}).json()
        assert reply["choices"][0]["message"]["content"] == "hello from the plugin"
    finally:
        stopped = cli(plugin_path, "serve", "--stop", "extras", cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stderr


def test_a_broken_plugin_is_reported_the_same_way_in_every_group(plugin_path, monkeypatch):
    from tfagent.agent.publish.forge import forge_class, forges
    from tfagent.agent.serving.backends import base as backends
    from tfagent.verifiers import registry

    def message(group: str) -> str:
        return (f"plugin 'broken' ({BROKEN}, group {group}, from tfagent-extras 0.2.0) failed to load: "
                "ModuleNotFoundError: No module named 'tfagent_extras_gone'")

    monkeypatch.syspath_prepend(str(plugin_path))
    verifiers = registry._discover.__wrapped__()  # uncached: read with this test's sys.path
    assert verifiers["broken"].cls is None and verifiers["broken"].load_error == message("tfagent.verifiers")
    assert verifiers["no-todo"].cls is not None  # the others still load
    with pytest.raises(registry.VerifierUnavailable, match=re.escape(message("tfagent.verifiers"))):
        registry.build_chain(["broken"], requested={"broken"}, registry=verifiers)
    assert "broken" not in forges() and "tinyforge" in forges()
    with pytest.raises(ValueError, match=re.escape(message("tfagent.forges"))):
        forge_class("broken")
    assert "broken" not in backends.discover() and backends.load_errors["broken"] == message("tfagent.serving_backends")
