"""The eval on a real local Ray cluster: `ray start --head` on 127.0.0.1 plus one worker node, the real
loop and judge on the workers, the scripted HTTP model server as the model. The worker node is killed
(SIGKILL to its whole process group) while one of its cells is mid-run: the report must equal a local
run's, with no cell lost or stored twice.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tfagent.agent.fake.server import ScriptedServer
from tfagent.evals.reporting.report import summary_for_run
from tfagent.evals.running.executors.ray import RayExecutor
from tfagent.evals.running.runner import EvalRunner
from tfagent.evals.running.store import Store

from test_eval_runner import make_plan, responder, write_config

# Token authentication, explicitly and the same for every node and the driver. Left unset, Ray
# (>= 2.59) switches a `ray start --head` to token mode whenever ~/.ray/auth_token exists (any
# earlier local `ray.init()` writes one), while a driver given an explicit address never does: the
# driver is then refused with InvalidAuthToken. Ray reads RAY_AUTH_MODE when it is imported and its
# C++ loader keeps the first token it reads for the life of the process, so both are set here, once,
# before `import ray` (or, if something imported it already, with the refresh Ray itself uses).
AUTH_ENV = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
_ray_imported_before = "ray" in sys.modules
os.environ.update(AUTH_ENV)
ray = pytest.importorskip("ray", reason="ray is not installed (CI installs it: pip install -e '.[ray]')")
if _ray_imported_before:
    from ray._raylet import Config

    Config.initialize("")

RAY_BIN = Path(sys.executable).with_name("ray")
CELL_TITLE = "ray::tfagent_eval_cell"  # the proctitle of a worker while it runs a cell


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_ports() -> list[str]:
    """Every listening port a node takes, free ones: two nodes share this machine."""
    return ["--node-manager-port", str(free_port()), "--object-manager-port", str(free_port()),
            "--dashboard-agent-listen-port", str(free_port()), "--dashboard-agent-grpc-port", str(free_port()),
            "--runtime-env-agent-port", str(free_port()), "--metrics-export-port", str(free_port()),
            "--min-worker-port", "0", "--max-worker-port", "0"]


def start_node(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--object-store-memory", str(100 * 1024 * 1024),
              "--disable-usage-stats", "--block", *node_ports()]
    return subprocess.Popen([str(RAY_BIN), "start", *args, *common], stdout=log.open("w"), stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def stop_nodes(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        kill_group(proc, signal.SIGTERM)  # `ray start --block` stops its node's processes on SIGTERM
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            proc.wait(timeout=10)


def descendants(root: int) -> dict[int, str]:
    """pid → command line of every process below ``root`` (Ray gives each worker its own group)."""
    parents, titles = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            titles[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError, IndexError):
            continue
    below, changed = {root}, True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in below and pid not in below:
                below.add(pid)
                changed = True
    return {pid: titles[pid] for pid in below - {root} if pid in titles}


def kill_node(proc: subprocess.Popen) -> None:
    """SIGKILL a node: its raylet and agents (the process group) and every worker process below it."""
    workers = descendants(proc.pid)
    kill_group(proc)
    for pid in workers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def cluster(monkeypatch):
    if not RAY_BIN.exists():
        pytest.fail(f"ray is importable but its CLI {RAY_BIN} is missing")
    for name in [n for n in os.environ if n.startswith("RAY_") and n not in AUTH_ENV]:
        monkeypatch.delenv(name)  # a developer's RAY_ADDRESS and the like
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    env = {**os.environ, **AUTH_ENV}  # both nodes share the driver's token
    temp = Path(tempfile.mkdtemp(prefix="tfray-", dir="/tmp"))  # Ray's socket paths must stay short
    port = free_port()
    head = start_node(["--head", "--port", str(port), "--include-dashboard", "false",
                       "--temp-dir", str(temp / "t")],
                      temp / "head.log", env)
    nodes = [head]
    try:
        address = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in (temp / "head.log").read_text(errors="replace"):
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray head did not start:\n{(temp / 'head.log').read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        worker = start_node(["--address", address], temp / "worker.log", env)
        nodes.append(worker)
        ray.init(address=address, log_to_driver=False, configure_logging=False)
        while sum(n["Alive"] for n in ray.nodes()) < 2:
            if worker.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray worker node did not join:\n{(temp / 'worker.log').read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        yield {"address": address, "worker": worker}
    finally:
        if ray.is_initialized():
            ray.shutdown()
        stop_nodes(list(reversed(nodes)))
        shutil.rmtree(temp, ignore_errors=True)


def without_timings(value):
    """The report minus what differs between any two runs: durations, speeds, the frontier (its
    third axis is seconds per solved task, so which points it keeps depends on timing) and cached
    tokens (the scripted server, like llama.cpp, reuses the previous request's prefix: order-dependent)."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items()
                if not re.search(r"second|time|per_s|speed|frontier|cached", k)}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def test_ray_run_survives_a_killed_worker_node_with_the_local_report(tmp_path, cluster):
    killed = threading.Event()
    worker = cluster["worker"]

    def killing_responder(body: dict) -> str:
        # The first time a cell is mid-run on the worker node (it is asking the model), kill that node.
        if not killed.is_set() and any(t.startswith(CELL_TITLE) for t in descendants(worker.pid).values()):
            kill_node(worker)
            worker.wait(timeout=20)
            killed.set()
        return responder(body)

    with ScriptedServer(responder=responder) as local_server:
        write_config(local_server.base_url)
        plan = make_plan(tmp_path)
        with Store(tmp_path / "local.db") as store:
            local = EvalRunner(plan, store).run()
            local_summary, _ = summary_for_run(store, local.run_id, reference="q4")
            local_rows = [(r["task_id"], r["endpoint"], r["sample"], r["attempt"], r["ok"]) for r in store.attempt_rows(local.run_id)]
    with ScriptedServer(responder=killing_responder) as ray_server:
        write_config(ray_server.base_url)
        plan = make_plan(tmp_path)
        with Store(tmp_path / "ray.db") as store:
            outcome = EvalRunner(plan, store, executor=RayExecutor(address=cluster["address"])).run()
            summary, meta = summary_for_run(store, outcome.run_id, reference="q4")
            rows = [(r["task_id"], r["endpoint"], r["sample"], r["attempt"], r["ok"]) for r in store.attempt_rows(outcome.run_id)]
            assert store.cell_errors(outcome.run_id) == []
    assert killed.is_set(), "no cell ever ran on the worker node, so nothing was killed"
    assert outcome.run_id == local.run_id
    assert (outcome.cells, outcome.completed, outcome.errors) == (16, 16, [])
    assert meta["complete"] == meta["cells"] == 16
    assert rows == local_rows  # every attempt of every cell, once (the store's UNIQUE key forbids twice)
    assert without_timings(summary) == without_timings(local_summary)
    assert [e["passed"] for e in summary["endpoints"][0]["pass_at_k"]] == [4, 8, 8]


def test_cli_runs_on_the_cluster_given_by_address(tmp_path, cluster):
    from click.testing import CliRunner

    from tfagent.agent.cli.eval_commands import eval_group
    from test_eval_runner import write_suite

    ray.shutdown()  # the CLI connects by itself, through --address
    with ScriptedServer(responder=responder) as server:
        write_config(server.base_url)
        args = ["run", str(write_suite(tmp_path)), "--endpoints", "iq2,q4", "--reference", "q4", "--tags", "odd",
                "--db", str(tmp_path / "eval.db"), "--executor", "ray", "--address", cluster["address"]]
        result = CliRunner().invoke(eval_group, args)
    assert result.exit_code == 0, result.output
    assert re.search(r"^\[iq2\] t1#0 solved \([12]/2\)$", result.output, re.M), result.output


def test_address_without_ray_executor_is_a_usage_error(tmp_path):
    from click.testing import CliRunner

    from tfagent.agent.cli.eval_commands import eval_group
    from test_eval_runner import write_suite

    write_config("http://127.0.0.1:9/v1")
    result = CliRunner().invoke(eval_group, ["run", str(write_suite(tmp_path)), "--endpoints", "iq2",
                                             "--address", "127.0.0.1:6379"])
    assert result.exit_code == 2 and "--address only applies to --executor ray" in result.output
