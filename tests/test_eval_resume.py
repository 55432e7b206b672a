"""kill -9 mid-run, twice, then the same command again: the stored attempts equal a clean run's,
none duplicated, no completed attempt asked of the model again.

The killed eval runs as a real subprocess (`python -m tfagent.agent.cli eval …`); the model server
(scripted, real HTTP) and the clean reference run live in the test process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tfagent.agent.fake.server import ScriptedReply, ScriptedServer
from tfagent.evals.running.runner import EvalRunner
from tfagent.evals.running.store import Store

from conftest import stored_attempts
from test_eval_runner import make_plan, responder, write_config, write_suite

SLOW_REPLY_SECONDS = 0.1  # keeps a run long enough (~2 s of replies) to be killed in the middle


def slow_responder(body: dict) -> ScriptedReply:
    return ScriptedReply(responder(body), delay=SLOW_REPLY_SECONDS)


def eval_command(suite: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "tfagent.agent.cli", "eval", str(suite), "--endpoints", "iq2,q4", "--reference", "q4",
            "--samples", "2", "--concurrency", "2", "--db", str(db)]


def kill_when(command: list[str], db: Path, at_least: int, log: Path) -> None:
    """Start the eval and SIGKILL it (its whole process group) once ``at_least`` attempts are stored."""
    with log.open("a") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90
    while stored_attempts(db) < at_least:
        if proc.poll() is not None:
            pytest.fail(f"the eval ended (exit {proc.returncode}) before it could be killed:\n{log.read_text()}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("no progress within 90 s")
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def comparable(db: Path) -> tuple[list[tuple], int]:
    """Every stored attempt without its timings, plus the number of judged cells."""
    with Store(db) as store:
        (run,) = store.runs()
        rows = []
        for row in store.attempt_rows(run["run_id"]):
            data = json.loads(row["data"])
            verdicts = [(v["verifier"], v["ok"]) for v in data["verdicts"]]
            rows.append((row["task_id"], row["endpoint"], row["sample"], row["attempt"], bool(row["ok"]),
                         json.dumps(data["messages"]), data["reply"], json.dumps(data["files"]), data["feedback"],
                         json.dumps(verdicts)))
        return rows, len(store.judged_cells(run["run_id"]))


def test_sigkill_then_resume_equals_a_clean_run(tmp_path):
    suite = write_suite(tmp_path)
    env_log = tmp_path / "eval.log"
    with ScriptedServer(responder=slow_responder) as server:
        write_config(server.base_url)
        clean_db, killed_db = tmp_path / "clean.db", tmp_path / "killed.db"
        with Store(clean_db) as store:  # the clean run, in-process: the same plan the command builds
            clean = EvalRunner(make_plan(tmp_path), store).run()
        assert clean.completed == 16 and not clean.errors
        clean_requests = len(server.requests)

        kill_when(eval_command(suite, killed_db), killed_db, 4, env_log)
        kill_when(eval_command(suite, killed_db), killed_db, 11, env_log)
        resumed = subprocess.run(eval_command(suite, killed_db), capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        resumed_requests = len(server.requests) - clean_requests

    clean_rows, clean_cells = comparable(clean_db)
    killed_rows, killed_cells = comparable(killed_db)
    assert clean_cells == killed_cells == 16
    assert len(clean_rows) == 20  # 16 cells + a retry of A on t1 and t3 in each of the 2 samples
    assert killed_rows == clean_rows
    keys = [r[:4] for r in killed_rows]
    assert len(keys) == len(set(keys))
    # Only requests in flight at a kill (≤ concurrency 2 per kill) may have been asked twice.
    assert clean_requests <= resumed_requests <= clean_requests + 2 * 2
