"""The eval's SQLite store: every attempt as it completes, every judge verdict, resumable after kill -9.

Why it is safe to kill at any moment: the database runs in WAL mode and every write is one
transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) behind one writer lock, so a row is either fully there
or not at all; ``UNIQUE(run, task, endpoint, sample, attempt)`` makes a second copy impossible. A cell
counts as complete only when its judge verdict is stored, which happens after its final attempt.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from tfagent.agent.core.types import Attempt
from tfagent.evals.judging.verdicts import NoFairVerdict, verdict_outcome
from tfagent.evals.running.facts import AttemptFacts, CellFacts

RUN_SCORING = "run"  # the judge verdicts written while the eval ran; rescoring adds other names

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, suite TEXT NOT NULL, spec TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (
    run_id TEXT NOT NULL, task_id TEXT NOT NULL, endpoint TEXT NOT NULL, sample INTEGER NOT NULL,
    attempt INTEGER NOT NULL, ok INTEGER NOT NULL, well_formed INTEGER NOT NULL, categories TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
    model_seconds REAL NOT NULL, verify_seconds REAL NOT NULL, data TEXT NOT NULL, created REAL NOT NULL,
    UNIQUE (run_id, task_id, endpoint, sample, attempt));
CREATE TABLE IF NOT EXISTS judgments (
    run_id TEXT NOT NULL, task_id TEXT NOT NULL, endpoint TEXT NOT NULL, sample INTEGER NOT NULL,
    scoring TEXT NOT NULL, attempt INTEGER NOT NULL, ok INTEGER NOT NULL, verdict TEXT NOT NULL,
    created REAL NOT NULL, UNIQUE (run_id, task_id, endpoint, sample, scoring));
CREATE TABLE IF NOT EXISTS scorings (
    run_id TEXT NOT NULL, scoring TEXT NOT NULL, spec TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (run_id, scoring));
CREATE TABLE IF NOT EXISTS cell_errors (
    run_id TEXT NOT NULL, task_id TEXT NOT NULL, endpoint TEXT NOT NULL, sample INTEGER NOT NULL,
    error TEXT NOT NULL, created REAL NOT NULL);
"""


def default_db() -> Path:
    """The store when no ``--db`` is given: ``evals.db`` in the user state dir (the CLI and MCP's default)."""
    from tfagent.agent.core.config import state_dir

    return state_dir() / "evals.db"


class StoreError(RuntimeError):
    """The database is not an eval store, a row would be stored twice, or a run is unknown."""


@dataclass(frozen=True, order=True)
class CellKey:
    task_id: str
    endpoint: str
    sample: int


@dataclass
class MergeReport:
    attempts_added: int = 0
    judgments_added: int = 0
    duplicates: int = 0  # identical rows already present (skipped)
    conflicts: list[str] = field(default_factory=list)  # same key, different content (first kept)


def attempt_categories(attempt: Attempt) -> list[str]:
    """Error categories of a failed attempt, each once, in first-seen order ("other" when unlabelled)."""
    if attempt.ok:
        return []
    seen: list[str] = []
    for diag in attempt.diagnostics:
        if diag.severity != "error":
            continue
        category = diag.category or "other"
        if category not in seen:
            seen.append(category)
    return seen or ["other"]


def is_well_formed(attempt: Attempt) -> bool:
    return bool(attempt.files) and attempt.finish_reason != "length"


class Store:
    """One SQLite file; safe to share between the runner's threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against a killed process in WAL mode (only power loss can drop the tail).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable eval database ({exc})") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, sql: str, params: tuple) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(sql, params)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._db.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    # ------------------------------------------------------------ runs

    def ensure_run(self, run_id: str, suite: str, spec: dict[str, Any]) -> None:
        with self._lock:
            if not self._rows("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)):
                self._write("INSERT INTO runs VALUES (?, ?, ?, ?)", (run_id, suite, json.dumps(spec, sort_keys=True), time.time()))

    def run(self, run_id: str) -> dict[str, Any]:
        rows = self._rows("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            known = ", ".join(r["run_id"] for r in self.runs()) or "none"
            raise StoreError(f"{self.path}: no run {run_id!r} (runs stored: {known})")
        row = rows[0]
        return {"run_id": row["run_id"], "suite": row["suite"], "created": row["created"], "spec": json.loads(row["spec"])}

    def runs(self) -> list[dict[str, Any]]:
        return self._rows("SELECT run_id, suite, created FROM runs ORDER BY created")

    # ------------------------------------------------------------ attempts and judgments

    def add_attempt(self, run_id: str, key: CellKey, attempt: Attempt) -> None:
        usage = attempt.usage
        row = (
            run_id, key.task_id, key.endpoint, key.sample, attempt.number, int(attempt.ok),
            int(is_well_formed(attempt)), json.dumps(attempt_categories(attempt)), usage.prompt_tokens,
            usage.cached_tokens or 0, usage.completion_tokens, attempt.model_seconds, attempt.verify_seconds,
            json.dumps(attempt.to_dict(), sort_keys=True), time.time(),
        )
        try:
            self._write("INSERT INTO attempts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"attempt {attempt.number} of {key} in run {run_id} is already stored") from exc

    def add_judgment(self, run_id: str, key: CellKey, attempt: int, ok: bool, verdict: dict[str, Any], scoring: str = RUN_SCORING) -> None:
        row = (run_id, key.task_id, key.endpoint, key.sample, scoring, attempt, int(ok), json.dumps(verdict, sort_keys=True), time.time())
        try:
            self._write("INSERT INTO judgments VALUES (?,?,?,?,?,?,?,?,?)", row)
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"judgment {scoring!r} of {key} in run {run_id} is already stored") from exc

    def add_cell_error(self, run_id: str, key: CellKey, error: str) -> None:
        self._write("INSERT INTO cell_errors VALUES (?,?,?,?,?,?)", (run_id, key.task_id, key.endpoint, key.sample, error, time.time()))

    def cell_errors(self, run_id: str) -> list[dict[str, Any]]:
        return self._rows("SELECT task_id, endpoint, sample, error, created FROM cell_errors WHERE run_id = ? ORDER BY created", (run_id,))

    def attempts(self, run_id: str, key: CellKey) -> list[Attempt]:
        rows = self._rows(
            "SELECT data FROM attempts WHERE run_id=? AND task_id=? AND endpoint=? AND sample=? ORDER BY attempt",
            (run_id, key.task_id, key.endpoint, key.sample),
        )
        return [Attempt.from_dict(json.loads(r["data"])) for r in rows]

    def judged_cells(self, run_id: str, scoring: str = RUN_SCORING) -> set[CellKey]:
        rows = self._rows("SELECT task_id, endpoint, sample FROM judgments WHERE run_id=? AND scoring=?", (run_id, scoring))
        return {CellKey(r["task_id"], r["endpoint"], r["sample"]) for r in rows}

    def judgments(self, run_id: str, scoring: str = RUN_SCORING) -> dict[CellKey, dict[str, Any]]:
        rows = self._rows("SELECT * FROM judgments WHERE run_id=? AND scoring=?", (run_id, scoring))
        return {
            CellKey(r["task_id"], r["endpoint"], r["sample"]): {"attempt": r["attempt"], "ok": bool(r["ok"]), "verdict": json.loads(r["verdict"])}
            for r in rows
        }

    def attempt_rows(self, run_id: str) -> list[dict[str, Any]]:
        """Every stored attempt's key columns and content, in key order (what tests and merges compare)."""
        return self._rows(
            "SELECT task_id, endpoint, sample, attempt, ok, data FROM attempts WHERE run_id=? ORDER BY task_id, endpoint, sample, attempt",
            (run_id,),
        )

    def attempt_ends(self, run_id: str) -> list[dict[str, Any]]:
        """Each stored attempt's endpoint, the time it was stored (as it completed) and its content."""
        return self._rows("SELECT endpoint, created, data FROM attempts WHERE run_id=? ORDER BY created", (run_id,))

    # ------------------------------------------------------------ scorings

    def add_scoring(self, run_id: str, scoring: str, spec: dict[str, Any]) -> None:
        self._write("INSERT OR REPLACE INTO scorings VALUES (?,?,?,?)", (run_id, scoring, json.dumps(spec, sort_keys=True), time.time()))

    def clear_scoring(self, run_id: str, scoring: str) -> None:
        if scoring == RUN_SCORING:
            raise StoreError("the verdicts written during the run cannot be cleared; rescore under another name")
        self._write("DELETE FROM judgments WHERE run_id=? AND scoring=?", (run_id, scoring))

    def scorings(self, run_id: str) -> list[str]:
        rows = self._rows("SELECT DISTINCT scoring FROM judgments WHERE run_id=? ORDER BY scoring", (run_id,))
        return [r["scoring"] for r in rows]

    # ------------------------------------------------------------ what the metrics read

    def cell_facts(self, run_id: str, scoring: str = RUN_SCORING, judge: str = "strict") -> list[CellFacts]:
        """Complete cells (judged under ``scoring``) with their attempts up to where the loop stopped,
        with the verdict of ``judge`` ("strict" or "fair"; StoreError if the fair one was never stored)."""
        judged = self.judgments(run_id, scoring)
        by_cell: dict[CellKey, list[AttemptFacts]] = {}
        for row in self._rows("SELECT * FROM attempts WHERE run_id=? ORDER BY attempt", (run_id,)):
            key = CellKey(row["task_id"], row["endpoint"], row["sample"])
            if key in judged and row["attempt"] <= judged[key]["attempt"]:
                by_cell.setdefault(key, []).append(_attempt_facts(row))
        cells = []
        for key, verdict in sorted(judged.items(), key=lambda kv: (kv[0].endpoint, kv[0].task_id, kv[0].sample)):
            attempts = by_cell.get(key)
            if not attempts:
                raise StoreError(f"run {run_id}: {key} has a judgment but no stored attempts")
            ok, undecided = self._outcome(run_id, scoring, key, verdict["verdict"], judge)
            cells.append(CellFacts(key.endpoint, key.task_id, key.sample, tuple(attempts), ok, bool(undecided)))
        return cells

    def undecided_cells(self, run_id: str, scoring: str = RUN_SCORING, judge: str = "strict") -> list[dict[str, Any]]:
        """{endpoint, task, sample, reason} of each cell ``judge`` could not decide, in key order."""
        out = []
        for key, verdict in sorted(self.judgments(run_id, scoring).items()):
            _, undecided = self._outcome(run_id, scoring, key, verdict["verdict"], judge)
            if undecided:
                out.append({"endpoint": key.endpoint, "task": key.task_id, "sample": key.sample, "reason": undecided})
        return out

    def has_judge(self, run_id: str, scoring: str, judge: str) -> bool:
        """Whether every verdict of ``scoring`` carries ``judge``'s (older stores have only the strict one)."""
        judged = self.judgments(run_id, scoring)
        return bool(judged) and (judge == "strict" or all(isinstance(v["verdict"].get("fair"), dict) for v in judged.values()))

    @staticmethod
    def _outcome(run_id: str, scoring: str, key: CellKey, verdict: dict[str, Any], judge: str) -> tuple[bool, str | None]:
        try:
            return verdict_outcome(verdict, judge)
        except NoFairVerdict:
            raise StoreError(f"run {run_id}, scoring {scoring!r}: {key.task_id} ({key.endpoint}) has no fair verdict "
                             f"(judged before the fair judge existed): `tfagent eval rescore {run_id}` adds it") from None

    def final_attempts(self, run_id: str) -> Iterator[tuple[CellKey, Attempt]]:
        """The attempt each complete cell stopped at (what the judge ruled on)."""
        for key, judged in sorted(self.judgments(run_id).items(), key=lambda kv: (kv[0].endpoint, kv[0].task_id, kv[0].sample)):
            stored = [a for a in self.attempts(run_id, key) if a.number == judged["attempt"]]
            if not stored:
                raise StoreError(f"run {run_id}: final attempt {judged['attempt']} of {key} is missing")
            yield key, stored[0]

    # ------------------------------------------------------------ merging shards

    def merge_from(self, other: "Store") -> MergeReport:
        report = MergeReport()
        with self._lock:
            for run in other._rows("SELECT * FROM runs"):
                # The run id is a hash of the matrix: same id, same run (shards may record other base_urls).
                self._merge_row("runs", run, ("run_id",), report, compare=())
            for row in other._rows("SELECT * FROM attempts"):
                if self._merge_row("attempts", row, ("run_id", "task_id", "endpoint", "sample", "attempt"), report, compare=("ok", "data")):
                    report.attempts_added += 1
            for row in other._rows("SELECT * FROM judgments"):
                if self._merge_row("judgments", row, ("run_id", "task_id", "endpoint", "sample", "scoring"), report, compare=("attempt", "ok", "verdict")):
                    report.judgments_added += 1
            for row in other._rows("SELECT * FROM scorings"):
                self._merge_row("scorings", row, ("run_id", "scoring"), report, compare=("spec",))
        return report

    def _merge_row(self, table: str, row: dict[str, Any], key: tuple[str, ...], report: MergeReport, compare: tuple[str, ...] = ("spec",)) -> bool:
        """Insert ``row`` unless its key exists; count identical copies, report differing ones."""
        where = " AND ".join(f"{k}=?" for k in key)
        existing = self._rows(f"SELECT * FROM {table} WHERE {where}", tuple(row[k] for k in key))
        if existing:
            if all(existing[0][c] == row[c] for c in compare):
                report.duplicates += 1
            else:
                label = ", ".join(f"{k}={row[k]}" for k in key)
                report.conflicts.append(f"{table}: {label} differs between databases (kept the first)")
            return False
        columns = list(row)
        self._write(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", tuple(row.values()))
        return True


def _attempt_facts(row: dict[str, Any]) -> AttemptFacts:
    return AttemptFacts(
        number=row["attempt"],
        ok=bool(row["ok"]),
        well_formed=bool(row["well_formed"]),
        categories=tuple(json.loads(row["categories"])),
        prompt_tokens=row["prompt_tokens"],
        cached_tokens=row["cached_tokens"],
        completion_tokens=row["completion_tokens"],
        seconds=row["model_seconds"] + row["verify_seconds"],
        repeat=json.loads(row["data"]).get("repeat") if row.get("data") else None,
        autofixed=bool(row["ok"]) and bool(json.loads(row["data"]).get("autofix")) if row.get("data") else False,
    )
