"""The eval store on a real SQLite file: WAL, uniqueness, facts for the metrics, merging shards."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from tfagent.agent.core.types import Attempt, Usage
from tfagent.evals.running.store import CellKey, Store, StoreError
from tfagent.verifiers.base import Verdict, error

SPEC = {"suite": "s", "tasks": [{"id": "t1"}], "endpoints": [{"name": "A", "bpw": 2.0}], "samples": 1, "max_attempts": 3}


def _attempt(number: int, ok: bool, *, files=None, finish="stop", category="syntax") -> Attempt:
    verdicts = [Verdict("hcl", ok, [] if ok else [error("bad", category=category), error("worse", category=category)])]
    return Attempt(number=number, messages=[{"role": "user", "content": f"ask {number}"}], reply=f"reply {number}",
                   finish_reason=finish, files={"main.tf": "x"} if files is None else files, verdicts=verdicts, ok=ok,
                   usage=Usage(120, 30, 40 if number > 1 else None), model_seconds=1.5, verify_seconds=0.5)


def test_wal_mode_and_attempt_round_trip(tmp_path):
    with Store(tmp_path / "e.db") as store:
        store.ensure_run("r1", "s", SPEC)
        store.ensure_run("r1", "s", SPEC)  # idempotent
        key = CellKey("t1", "A", 0)
        store.add_attempt("r1", key, _attempt(1, False))
        store.add_attempt("r1", key, _attempt(2, True))
        assert [a.number for a in store.attempts("r1", key)] == [1, 2]
        assert store.attempts("r1", key)[0].reply == "reply 1"
        assert store.run("r1")["spec"] == SPEC
    mode = sqlite3.connect(tmp_path / "e.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_an_attempt_cannot_be_stored_twice(tmp_path):
    with Store(tmp_path / "e.db") as store:
        key = CellKey("t1", "A", 0)
        store.add_attempt("r1", key, _attempt(1, False))
        with pytest.raises(StoreError, match="attempt 1 of .*t1.* already stored"):
            store.add_attempt("r1", key, _attempt(1, True))
        store.add_judgment("r1", key, 1, False, {"ok": False})
        with pytest.raises(StoreError, match="already stored"):
            store.add_judgment("r1", key, 1, True, {"ok": True})
        assert len(store.attempt_rows("r1")) == 1


def test_cell_facts_for_the_metrics(tmp_path):
    with Store(tmp_path / "e.db") as store:
        store.ensure_run("r1", "s", SPEC)
        done, open_cell = CellKey("t1", "A", 0), CellKey("t2", "A", 0)
        store.add_attempt("r1", done, _attempt(1, False, finish="length", category="cutoff"))
        store.add_attempt("r1", done, _attempt(2, False, files={}, category="no_code"))
        store.add_attempt("r1", done, _attempt(3, True))
        store.add_judgment("r1", done, 3, True, {"ok": True, "unsupported": None})
        store.add_attempt("r1", open_cell, _attempt(1, False))  # no judgment yet: not a complete cell
        (cell,) = store.cell_facts("r1")
        assert (cell.endpoint, cell.task_id, cell.stop, cell.judge_ok, cell.undecided) == ("A", "t1", 3, True, False)
        assert [a.well_formed for a in cell.attempts] == [False, False, True]
        assert [a.categories for a in cell.attempts] == [("cutoff",), ("no_code",), ()]
        assert [a.cached_tokens for a in cell.attempts] == [0, 40, 40]
        assert cell.attempts[0].seconds == pytest.approx(2.0)
        assert store.judged_cells("r1") == {done}
        ((key, final),) = list(store.final_attempts("r1"))
        assert key == done and final.number == 3 and final.files == {"main.tf": "x"}


def test_concurrent_writers_lose_nothing(tmp_path):
    store = Store(tmp_path / "e.db")

    def write(worker: int) -> None:
        for n in range(1, 21):
            store.add_attempt("r1", CellKey(f"t{worker}", "A", 0), _attempt(n, n == 20))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.attempt_rows("r1")) == 120
    store.close()


def test_merge_joins_shards_and_reports_conflicts(tmp_path):
    a, b, out = Store(tmp_path / "a.db"), Store(tmp_path / "b.db"), Store(tmp_path / "out.db")
    for store in (a, b):
        store.ensure_run("r1", "s", SPEC)
    a.add_attempt("r1", CellKey("t1", "A", 0), _attempt(1, True))
    a.add_judgment("r1", CellKey("t1", "A", 0), 1, True, {"ok": True})
    b.add_attempt("r1", CellKey("t2", "A", 0), _attempt(1, True))
    b.add_judgment("r1", CellKey("t2", "A", 0), 1, True, {"ok": True})
    first = out.merge_from(a)
    assert (first.attempts_added, first.judgments_added, first.conflicts) == (1, 1, [])
    again = out.merge_from(a)  # the same shard twice: nothing new, nothing doubled
    assert (again.attempts_added, again.duplicates, again.conflicts) == (0, 3, [])
    second = out.merge_from(b)
    assert (second.attempts_added, second.judgments_added) == (1, 1)
    assert len(out.attempt_rows("r1")) == 2 and len(out.cell_facts("r1")) == 2
    clash = Store(tmp_path / "c.db")
    clash.add_attempt("r1", CellKey("t1", "A", 0), _attempt(1, False))
    report = out.merge_from(clash)
    assert report.attempts_added == 0 and len(report.conflicts) == 1
    assert "task_id=t1" in report.conflicts[0] and "differs" in report.conflicts[0]
    assert out.attempt_rows("r1")[0]["ok"] == 1  # the first copy is kept


def test_unknown_run_and_bad_file_are_named(tmp_path):
    with Store(tmp_path / "e.db") as store:
        store.ensure_run("r1", "s", SPEC)
        with pytest.raises(StoreError, match="no run 'nope'.*r1"):
            store.run("nope")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="junk.db: not a usable eval database"):
        Store(junk)
