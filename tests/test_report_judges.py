"""Reports with both judges from a real SQLite store: strict and fair rows per quant, the corrected tasks
and the cells whose verdict differs, undecided cells listed and left out of the rates; stores judged
before the fair judge existed still report (strict), and say how to add the fair verdicts."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tfagent.agent.cli.eval_commands import eval_group
from tfagent.agent.core.types import Attempt, Usage
from tfagent.evals.reporting.report import markdown, summary_for_run, table_rows, write_reports
from tfagent.evals.running.store import CellKey, Store, StoreError
from tfagent.verifiers.base import Verdict

SPEC = {"suite": "s", "tasks": [{"id": "t1"}, {"id": "t2"}, {"id": "t3"}], "max_attempts": 2, "samples": 1,
        "endpoints": [{"name": "A", "bpw": 4.0}]}


def _attempt(number: int) -> Attempt:
    return Attempt(number=number, messages=[], reply="r", finish_reason="stop", files={"main.tf": "x"},
                   verdicts=[Verdict("hcl", True)], ok=True, usage=Usage(10, 5), model_seconds=1.0, verify_seconds=0.1)


def _verdict(strict: bool, fair: bool | None, undecided: str | None = None, correction: str | None = None) -> dict:
    verdict = {"ok": strict, "checks": [], "undecided": undecided, "seconds": 0.1}
    if fair is not None:
        verdict["fair"] = {"ok": fair, "checks": [], "undecided": undecided, "correction": correction, "resolved": []}
    return verdict


def _store(path, verdicts: dict[str, dict]) -> Store:
    store = Store(path)
    store.ensure_run("r", "s", SPEC)
    for task, verdict in verdicts.items():
        key = CellKey(task, "A", 0)
        store.add_attempt("r", key, _attempt(1))
        store.add_judgment("r", key, 1, verdict["ok"], verdict)
    return store


def test_both_judges_side_by_side_with_corrections_flips_and_undecided(tmp_path):
    verdicts = {"t1": _verdict(True, True),
                "t2": _verdict(False, True, correction="zone name not stated in the prompt"),
                "t3": _verdict(False, False, undecided="reads ~/.ssh/id_rsa.pub, a file outside the configuration")}
    with _store(tmp_path / "e.db", verdicts) as store:
        summary, meta = summary_for_run(store, "r")
        assert meta["judges"] == ["strict", "fair"]
        strict, fair = summary["endpoints"][0], summary["fair"]["endpoints"][0]
        # the undecided cell is in neither rate
        assert (strict["first_try"]["passed"], strict["first_try"]["n"], strict["undecided"]) == (1, 2, 1)
        assert (fair["first_try"]["passed"], fair["first_try"]["n"], fair["undecided"]) == (2, 2, 1)
        rows = table_rows(summary)
        assert [r[:2] for r in rows] == [["A", "strict"], ["A", "fair"]]
        assert "(1/2)" in rows[0][3] and "(2/2)" in rows[1][3]
        comparison = summary["judge_comparison"]
        assert comparison["corrections"] == [{"task": "t2", "reason": "zone name not stated in the prompt"}]
        assert comparison["flips"] == [{"endpoint": "A", "task": "t2", "sample": 0, "strict": "fail", "fair": "pass",
                                        "why": "zone name not stated in the prompt"}]
        text = markdown(summary, meta)
        assert "| quant | judge | bpw |" in text
        assert "- `t2`: zone name not stated in the prompt" in text
        assert "- A `t2`#0: fail → pass — zone name not stated in the prompt" in text
        assert "- strict: A `t3`#0: undecided: reads ~/.ssh/id_rsa.pub" in text
        paths = write_reports(summary, tmp_path / "out", meta)
        document = json.loads(paths["json"].read_text())
        assert document["fair"]["endpoints"][0]["with_retry"]["passed"] == 2
        assert "Strict and fair judges" in paths["html"].read_text()

        only_fair, _ = summary_for_run(store, "r", judge="fair")
        assert only_fair["judge"] == "fair" and "fair" not in only_fair and len(table_rows(only_fair)[0]) == 11


def test_a_store_judged_before_the_fair_judge_reports_strict_and_says_how_to_add_fair(tmp_path):
    with _store(tmp_path / "e.db", {"t1": _verdict(True, None), "t2": _verdict(False, None)}) as store:
        summary, meta = summary_for_run(store, "r")
        assert meta["judges"] == ["strict"] and "fair" not in summary
        assert "tfagent eval rescore r" in meta["judge_note"]
        with pytest.raises(StoreError, match=r"t1 \(A\) has no fair verdict.*tfagent eval rescore r"):
            summary_for_run(store, "r", judge="fair")
    result = CliRunner().invoke(eval_group, ["report", "r", "--db", str(tmp_path / "e.db"), "--judge", "fair"])
    assert result.exit_code == 2 and "has no fair verdict" in result.output
    result = CliRunner().invoke(eval_group, ["report", "r", "--db", str(tmp_path / "e.db"), "--judge", "lenient"])
    assert result.exit_code == 2 and "'lenient' is not one of 'strict', 'fair', 'both'" in result.output
