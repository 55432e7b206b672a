"""Persistence of runs, kept apart from the loop: LangGraph's SQLite checkpointer (so an
interrupted run can ``--resume``) and a small index table for ``tfagent runs``."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver

from tfagent.agent.core.config import state_dir

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tfagent_runs (
    run_id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    prompt TEXT NOT NULL,
    request TEXT NOT NULL,      -- JSON: what --resume needs to rebuild the run (no secrets)
    status TEXT NOT NULL,       -- running | verified | failed | interrupted | unreachable | context_overflow | environment
    attempts INTEGER NOT NULL DEFAULT 0,
    result TEXT                 -- RunResult.to_dict() JSON when finished
)
"""


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


@dataclass
class RunRow:
    run_id: str
    created: float
    prompt: str
    request: dict[str, Any]
    status: str
    attempts: int
    result: dict[str, Any] | None


class RunStore:
    """One SQLite file (WAL) holding the checkpoints and the run index."""

    def __init__(self, path: Path | None = None):
        self.path = path or state_dir() / "runs.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(_SCHEMA)
        self.conn.commit()
        self.checkpointer = SqliteSaver(self.conn)

    def close(self) -> None:
        self.conn.close()

    def start(self, run_id: str, prompt: str, request: dict[str, Any]) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT OR IGNORE INTO tfagent_runs(run_id, created, prompt, request, status) VALUES (?,?,?,?,?)",
                (run_id, time.time(), prompt, json.dumps(request), "running"),
            )

    def finish(self, run_id: str, result: dict[str, Any]) -> None:
        status = "verified" if result["ok"] else "failed"
        with self.conn:
            self.conn.execute(
                "UPDATE tfagent_runs SET status=?, attempts=?, result=? WHERE run_id=?",
                (status, len(result["attempts"]), json.dumps(result), run_id),
            )

    def interrupted(self, run_id: str) -> None:
        with self.conn:
            self.conn.execute("UPDATE tfagent_runs SET status='interrupted' WHERE run_id=? AND status='running'", (run_id,))

    def ended(self, run_id: str, status: str) -> None:
        """A run that stopped without a result: 'unreachable' (never reached the server; nothing to
        resume) or 'context_overflow' (the request cannot fit; resuming would fail the same way)."""
        if status not in ("unreachable", "context_overflow", "interrupted", "environment"):
            raise ValueError(f"not an end status: {status!r}")
        with self.conn:
            self.conn.execute("UPDATE tfagent_runs SET status=? WHERE run_id=? AND status='running'", (status, run_id))

    def list(self, limit: int = 50) -> list[RunRow]:
        rows = self.conn.execute(
            "SELECT run_id, created, prompt, request, status, attempts, result FROM tfagent_runs ORDER BY created DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [self._row(r) for r in rows]

    def get(self, run_id: str) -> RunRow | None:
        row = self.conn.execute(
            "SELECT run_id, created, prompt, request, status, attempts, result FROM tfagent_runs WHERE run_id=?",
            (run_id,),
        ).fetchone()
        return self._row(row) if row else None

    @staticmethod
    def _row(r: tuple) -> RunRow:
        return RunRow(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], json.loads(r[6]) if r[6] else None)
