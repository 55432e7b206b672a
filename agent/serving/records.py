"""The records of running servers and stopping their process groups.

Each server `tfagent serve` starts has a record `<state_dir>/servers/NAME.json` (pid, process group,
kernel start time, URL, model, log) and, while it runs, an endpoint in the user config. A record is
alive only while its pid still has the recorded start time (a recycled pid is not our server).
Stopping signals the whole group, so nothing the server started is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tfagent.agent.core import config

STOP_GRACE_SECONDS = 10.0


def servers_dir() -> Path:
    path = config.state_dir() / "servers"
    path.mkdir(parents=True, exist_ok=True)
    return path


def start_time(pid: int) -> str | None:
    """Kernel start time of pid (guards against a recycled pid), None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]


def read_record(name: str) -> dict | None:
    path = servers_dir() / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def write_record(record: dict) -> None:
    (servers_dir() / f"{record['name']}.json").write_text(json.dumps(record, indent=2))


def record_alive(record: dict) -> bool:
    return start_time(record["pid"]) == record["start_time"]


def stop_group(pgid: int, pid: int, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM the whole process group, SIGKILL it if the leader outlives the grace period, then
    SIGKILL whatever else is left in the group (a helper the leader started and did not stop)."""
    _signal_group(pgid, signal.SIGTERM)
    if not _wait_gone(pid, grace):
        _signal_group(pgid, signal.SIGKILL)
        _wait_gone(pid, grace)
    _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return  # the group is already empty: nothing left to signal


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _reap(pid)
        if start_time(pid) is None:
            return True
        time.sleep(0.05)
    return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return  # not our child (detached earlier): init reaps it


def forget(name: str) -> None:
    (servers_dir() / f"{name}.json").unlink(missing_ok=True)
    config.unregister_endpoint(name)
