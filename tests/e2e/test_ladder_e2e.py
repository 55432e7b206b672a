"""`tfagent eval ladder` end to end on a real model (SmolLM2-135M, two quants, two tasks): quantize,
serve each quant with the real server, run the real loop and judge, SIGKILL it mid-ladder, run the
same command again, and check the report, the store and that no server is left running.

Opt out with TFAGENT_SKIP_REAL_MODEL=1 (as the other real-model tests).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import stored_attempts
from tfagent.agent.serving.localmodel import fetch
from tfagent.agent.serving.records import read_record, record_alive, servers_dir
from tfagent.evals.ladder.quant import make_rung

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(os.environ.get("TFAGENT_SKIP_REAL_MODEL") == "1", reason="TFAGENT_SKIP_REAL_MODEL=1"),
]

_REAL_CACHE_HOME = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
TASKS = "iac-012-aws-route53-zone,iac-020-aws-s3-bucket"


@pytest.fixture
def smollm2(monkeypatch) -> Path:
    with monkeypatch.context() as m:
        m.setenv("XDG_CACHE_HOME", _REAL_CACHE_HOME)
        return fetch("smollm2")


def ladder_command(model: Path, out: Path, quants: Path, mirror: Path) -> list[str]:
    return [sys.executable, "-m", "tfagent.agent.cli", "eval", "ladder", str(model), "--types", "Q4_1,Q4_0",
            "--suite", "terraform-aws", "--tasks", TASKS, "--max-attempts", "2", "--parallel", "1", "--ctx", "2048",
            "--max-tokens", "160", "--provider-mirror", str(mirror), "--out", str(out), "--quant-dir", str(quants),
            "--ready-timeout", "120",
            "--candidates", "1", "--no-autofix"]  # kill and resume, not the strategy: one sample per cell, as before issue 19


def test_a_killed_partial_quant_is_redone(smollm2, tmp_path):
    where = tmp_path / "quants"
    where.mkdir()
    partial = where / f".{smollm2.stem}-Q4_0.partial.gguf"
    partial.write_bytes(b"GGUF half written by a killed run")
    rung = make_rung(smollm2, "Q4_0", where, threads=2, imatrix=None, log=lambda m: None)
    assert not partial.exists() and rung.path.is_file() and rung.requantized and 4.0 < rung.bpw < 6.0
    again = make_rung(smollm2, "Q4_0", where, threads=2, imatrix=None, log=lambda m: None)
    assert again == rung  # marker found: not quantized twice
    source = make_rung(smollm2, "Q4_1", where, threads=2, imatrix=None, log=lambda m: None)
    assert source.made_by == "source" and source.path == smollm2.resolve()


def test_ladder_end_to_end_with_a_sigkill_mid_ladder(smollm2, aws_mirror, tmp_path):
    out, quants = tmp_path / "ladder", tmp_path / "quants"
    command = ladder_command(smollm2, out, quants, aws_mirror)
    log = tmp_path / "ladder.log"
    with log.open("a") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 600
    while stored_attempts(out / "ladder.db") < 1:
        if proc.poll() is not None:
            pytest.fail(f"the ladder ended (exit {proc.returncode}) before it could be killed:\n{log.read_text()}")
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    killed_at = stored_attempts(out / "ladder.db")
    leftovers = [p.stem for p in servers_dir().glob("ladder-*.json")]
    assert leftovers, "the killed run's server record should still be there (its server runs in its own session)"

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert resumed.returncode == 0, log.read_text() + resumed.stdout + resumed.stderr
    assert "stopping the server a previous (killed) run left" in resumed.stderr

    report = json.loads((out / "report.json").read_text())
    assert report["meta"]["complete"] == report["meta"]["cells"] == 4
    assert [e["endpoint"] for e in report["endpoints"]] == ["Q4_1", "Q4_0"]
    assert report["reference"] == "Q4_1"  # the highest bpw
    assert len(report["endpoints"][0]["pass_at_k"]) == 2
    versus = report["endpoints"][1]["vs_reference"]
    assert set(versus) == {"first_try", "with_retry"}
    assert {r["k"] for r in report["break_even"]["rows"]} == {0, 1}
    rungs = {r["qtype"]: r for r in report["meta"]["ladder"]["rungs"]}
    assert rungs["Q4_1"]["made_by"] == "source" and rungs["Q4_0"]["requantized"]
    assert any(n.startswith("re-quantized from an already quantized source") for n in report["notes"])
    assert len(json.loads((out / "ladder-state.json").read_text())["invocations"]) == 2
    assert "flips vs ref, first try" in (out / "report.md").read_text()
    with sqlite3.connect(out / "ladder.db") as conn:
        keys = conn.execute("SELECT task_id, endpoint, sample, attempt FROM attempts").fetchall()
    assert len(keys) == len(set(keys)) >= max(killed_at, 4)
    for name in leftovers:  # nothing left running or recorded
        record = read_record(name)
        assert record is None or not record_alive(record)
