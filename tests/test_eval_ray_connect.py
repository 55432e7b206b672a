"""`tfagent eval run --executor ray` against Ray's front door, the CLI in a real subprocess each time:
a token-mode head (`ray start --head`) refuses a driver without its token, and tfagent says which
address and what to set, within seconds (Ray alone retries for 20 s); an address where nothing listens
fails at once (Ray alone: minutes); and the local instance tfagent starts when no cluster is given
listens on 127.0.0.1 only, with no dashboard — read with `ss -ltnp` while a cell runs on it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tfagent.agent.fake.server import ScriptedServer

# First: it skips without ray, and sets the auth environment before anything imports ray.
from test_eval_ray import AUTH_ENV, descendants, free_port, start_node, stop_nodes
from test_eval_runner import responder, write_config, write_suite

LOOPBACK = ("127.0.0.1", "[::ffff:127.0.0.1]", "[::1]")


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment (the test's XDG dirs, so the CLI finds its config) without any RAY_*
    and with its own HOME, so no ~/.ray/auth_token of the machine is read or written."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    home.mkdir(parents=True, exist_ok=True)
    return {**env, "HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0", **extra}


def cli(args: list[str], env: dict[str, str], timeout: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tfagent.agent.cli", "eval", "run", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - started


@pytest.fixture
def token_head(tmp_path):
    temp = Path(tempfile.mkdtemp(prefix="tfray-", dir="/tmp"))  # Ray's socket paths must stay short
    port = free_port()
    env = clean_env(tmp_path / "head-home", **AUTH_ENV)
    head = start_node(["--head", "--port", str(port), "--include-dashboard", "false", "--temp-dir", str(temp / "t")],
                      temp / "head.log", env)
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in (temp / "head.log").read_text(errors="replace"):
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray head did not start:\n{(temp / 'head.log').read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        stop_nodes([head])
        shutil.rmtree(temp, ignore_errors=True)


def test_refused_token_and_dead_address_fail_fast_naming_address_and_fix(tmp_path, token_head):
    with ScriptedServer(responder=responder) as server:
        write_config(server.base_url)
        suite = str(write_suite(tmp_path))
        base = [suite, "--endpoints", "q4", "--tasks", "t1", "--executor", "ray"]
        # No token at all (RAY_AUTH_MODE unset, an empty HOME): the head refuses with InvalidAuthToken.
        refused, seconds = cli([*base, "--address", token_head, "--db", str(tmp_path / "a.db")], clean_env(tmp_path / "h1"))
        assert refused.returncode == 2, refused.stderr
        assert f"--address {token_head}: the Ray cluster refused this driver's authentication" in refused.stderr
        for name in ("RAY_AUTH_MODE=token", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "~/.ray/auth_token"):
            assert name in refused.stderr
        assert "Traceback" not in refused.stderr and seconds < 30, (seconds, refused.stderr[-2000:])
        # Token mode asked for, but no token anywhere: refused by Ray before any connection.
        missing, _ = cli([*base, "--address", token_head, "--db", str(tmp_path / "b.db")],
                         clean_env(tmp_path / "h2", RAY_AUTH_MODE="token"))
        assert missing.returncode == 2 and "RAY_AUTH_TOKEN_PATH" in missing.stderr, missing.stderr
        # The right token: it runs.
        ok, _ = cli([*base, "--address", token_head, "--db", str(tmp_path / "c.db")], clean_env(tmp_path / "h3", **AUTH_ENV))
        assert ok.returncode == 0, ok.stderr[-3000:]
        assert re.search(r"^\[q4\] t1#0 solved", ok.stderr + ok.stdout, re.M), ok.stderr[-3000:]
        dead = f"127.0.0.1:{free_port()}"
        gone, seconds = cli([*base, "--address", dead, "--db", str(tmp_path / "d.db")], clean_env(tmp_path / "h4"))
        assert gone.returncode == 2 and f"--address {dead}: nothing accepts connections" in gone.stderr, gone.stderr
        assert seconds < 20, seconds


def listeners(pids: set[int]) -> list[tuple[str, str]]:
    """(local address:port, process name) of every listening TCP socket owned by one of ``pids``."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        owners = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if owners & pids:
            found.append((line.split()[3], ",".join(re.findall(r'\("([^"]+)"', line))))
    return found


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2) to read the listening sockets")
def test_a_local_instance_listens_on_loopback_only_without_dashboard(tmp_path):
    seen: list[list[tuple[str, str]]] = []
    procs: list[subprocess.Popen] = []
    lock = threading.Lock()

    def watching_responder(body: dict) -> str:
        # A cell is mid-run on a Ray worker: every Ray process of the CLI is up now.
        with lock:
            if procs and not seen:
                seen.append(listeners({procs[0].pid, *descendants(procs[0].pid)}))
        return responder(body)

    temp = Path(tempfile.mkdtemp(prefix="tfray-", dir="/tmp"))
    try:
        with ScriptedServer(responder=watching_responder) as server:
            write_config(server.base_url)
            args = [str(write_suite(tmp_path)), "--endpoints", "q4", "--tasks", "t1", "--executor", "ray",
                    "--db", str(tmp_path / "eval.db")]
            # RAY_TMPDIR: no `ray start` of anyone else on this machine is found and joined.
            env = clean_env(tmp_path / "home", RAY_TMPDIR=str(temp))
            with lock:
                procs.append(subprocess.Popen([sys.executable, "-m", "tfagent.agent.cli", "eval", "run", *args], env=env,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            out, err = procs[0].communicate(timeout=180)
    finally:
        if procs and procs[0].poll() is None:
            procs[0].kill()
        shutil.rmtree(temp, ignore_errors=True)
    assert procs[0].returncode == 0, err[-3000:]
    assert seen, "the model was never asked: no cell ran"
    names = {name for _, name in seen[0]}
    assert {"gcs_server", "raylet"} <= names, seen[0]  # the instance was up while the cell ran
    assert not any("dashboard" in name for name in names) and not any(a.endswith(":8265") for a, _ in seen[0])
    outside = [(a, n) for a, n in seen[0] if not a.rpartition(":")[0] in LOOPBACK]
    assert outside == [], outside
