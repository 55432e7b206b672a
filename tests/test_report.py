"""The report renders metrics.summarize's figures: the table, report.json/.md and a self-contained HTML."""

from __future__ import annotations

import base64
import json

from rich.console import Console

from tfagent.evals.reporting.metrics import summarize
from tfagent.evals.reporting.report import render_table, table_rows, write_reports
from tfagent.evals.running.facts import AttemptFacts, CellFacts

META = {"run_id": "mini-abc", "suite": "mini", "samples": 1, "max_attempts": 2, "tasks": 4, "complete": 8, "cells": 8,
        "scoring": "run", "attribution": "IaC-Eval (CC-BY-4.0)"}


def _cell(endpoint: str, task: str, stops_at: int, judge_ok: bool) -> CellFacts:
    attempts = tuple(
        AttemptFacts(number=n, ok=(n == stops_at and judge_ok), well_formed=True, categories=() if n == stops_at else ("syntax",),
                     prompt_tokens=200, completion_tokens=50, seconds=2.0)
        for n in range(1, stops_at + 1)
    )
    return CellFacts(endpoint, task, 0, attempts, judge_ok)


def _summary() -> dict:
    # low (bpw 1.75): t1 first try, t2 and t3 on the retry, t4 never → 1/4 first try, 3/4 with retry.
    # ref (bpw 4.5): all four on the first try.
    cells = [_cell("low", "t1", 1, True), _cell("low", "t2", 2, True), _cell("low", "t3", 2, True), _cell("low", "t4", 2, False)]
    cells += [_cell("ref", t, 1, True) for t in ("t1", "t2", "t3", "t4")]
    return summarize(cells, endpoints={"low": 1.75, "ref": 4.5}, max_attempts=2, reference="ref")


def test_table_rows_show_the_hand_computed_figures():
    low, ref = table_rows(_summary())
    assert low[:2] == ["low", "1.75"]
    assert low[2].startswith("25.0% [") and low[2].endswith("(1/4)")
    assert low[3].startswith("75.0% [") and low[3].endswith("(3/4)")
    assert low[4].startswith("+50.0 [")
    assert low[5] == "66.7%"  # recovered 2 of the 3 first-try failures
    assert low[6] == "−1 / +0" and low[7] == "1"  # t4 lost vs ref; McNemar(1, 0) = 2·½ = 1
    # 7 attempts × 2 s = 14 s and 7 × 250 tokens = 1750 over 3 solved tasks.
    assert low[8] == "4.7" and low[9] == "583"
    assert ref[6] == "ref" and ref[8] == "2.0" and ref[9] == "250"


def test_terminal_table_renders_without_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    console = Console(record=True, width=220, force_terminal=False)
    render_table(_summary(), console, title="mini")
    text = console.export_text()
    assert "first try [95% CI]" in text and "25.0%" in text and "−1 / +0" in text
    assert "\x1b[" not in text


def test_report_files_are_complete_and_self_contained(tmp_path):
    summary = _summary()
    paths = write_reports(summary, tmp_path / "out", META)
    document = json.loads(paths["json"].read_text())
    assert document["meta"] == META
    assert document["endpoints"] == json.loads(json.dumps(summary["endpoints"]))
    assert document["frontier"] and document["methods"]["uplift_interval"].startswith("newcombe")
    md = paths["md"].read_text()
    assert "| low | 1.75 | 25.0%" in md and "**low** lost: t4#0; gained: none" in md and "IaC-Eval (CC-BY-4.0)" in md
    assert "**low** on the first try lost: " in md  # first-try flips: in the Markdown, not only in report.json
    page = paths["html"].read_text()
    assert page.startswith("<!doctype html>") and "On the first try (before any retry)" in page
    images = page.split('src="data:image/png;base64,')[1:]
    assert len(images) == 4
    for chunk in images:
        assert base64.b64decode(chunk.split('"', 1)[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "t4#0" in page and "&lt;" not in META["suite"]


def test_html_escapes_untrusted_names(tmp_path):
    cells = [_cell("<b>x</b>", "t1", 1, True)]
    summary = summarize(cells, endpoints={"<b>x</b>": None}, max_attempts=1)
    page = write_reports(summary, tmp_path, {**META, "suite": "<script>alert(1)</script>"})["html"].read_text()
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_an_endpoint_that_solves_nothing_still_gets_a_full_report(tmp_path):
    # 0 % everywhere: interval bounds at 0 must not turn into negative error bars.
    cells = [_cell(e, t, 2, False) for e in ("low", "ref") for t in ("t1", "t2", "t3")]
    summary = summarize(cells, endpoints={"low": 1.75, "ref": 4.5}, max_attempts=2, reference="ref")
    paths = write_reports(summary, tmp_path / "out", META)
    assert paths["html"].read_text().count('src="data:image/png;base64,') == 4
    assert "| low | 1.75 | 0.0%" in paths["md"].read_text()


def test_tasks_solved_with_autofix_are_counted_apart_from_the_model_alone():
    def cell(task: str, autofixed: bool, ok: bool = True) -> CellFacts:
        return CellFacts("e", task, 0, (AttemptFacts(number=1, ok=ok, well_formed=True, autofixed=autofixed),), ok)

    summary = summarize([cell("t1", True), cell("t2", False), cell("t3", True), cell("t4", False, ok=False)],
                        endpoints={"e": None}, max_attempts=2)
    fig = summary["endpoints"][0]
    assert fig["autofix"]["with_retry"] == {"solved": 3, "with_autofix": 2}
    assert fig["autofix"]["first_try"] == {"solved": 3, "with_autofix": 2}
    assert table_rows(summary)[0][-1] == "2 of 3"
    assert table_rows(_summary())[0][-1] == "-", "no autofix, no count"


def test_store_reads_autofix_and_candidate_costs_from_the_attempt(tmp_path):
    from tfagent.agent.core.types import Attempt, Usage
    from tfagent.evals.running.store import CellKey, Store

    attempt = Attempt(number=1, messages=[], ok=True, files={"main.tf": "x"}, usage=Usage(300, 33, 0),
                      model_seconds=3.0, autofix=[{"file": "main.tf", "line": 2, "from": "a", "to": "b", "why": "w"}],
                      candidates=[{"index": i, "chosen": i == 1, "usage": Usage(100, 10 + i, 0).to_dict()} for i in range(3)])
    with Store(tmp_path / "e.db") as store:
        store.ensure_run("r", "mini", {})
        store.add_attempt("r", CellKey("t1", "e", 0), attempt)
        store.add_judgment("r", CellKey("t1", "e", 0), 1, True, {"ok": True})
        facts = store.cell_facts("r")
    (cell,) = facts
    assert cell.attempts[0].autofixed and cell.attempts[0].completion_tokens == 33 and cell.attempts[0].prompt_tokens == 300


def test_arms_section_names_each_strategy_and_solved_per_thousand_tokens():
    from tfagent.evals.reporting.report import arms_markdown, strategy_text

    spec = {"name": "full", "params": {"temperature": 0.0, "seed": 0}, "grounding": "schema",
            "verify": ["hcl", "fmt", "validate", "plan"], "feedback": "schema", "candidates": 3, "autofix": True}
    assert strategy_text(spec) == ("grounding schema; verify hcl,fmt,validate,plan; feedback schema; candidates 3; "
                                   "autofix true; temperature 0.0; seed 0")
    assert strategy_text({"name": "x"}) == "the run's defaults"
    summary = {"max_attempts": 3, "endpoints": [
        {"endpoint": "full", "cost": {"2": {"prompt_tokens": 30000, "completion_tokens": 10000, "solved": 8}}},
        {"endpoint": "none", "cost": {"2": {"prompt_tokens": 0, "completion_tokens": 0, "solved": 0}}}]}
    lines = arms_markdown(summary, {"endpoints": [spec, {"name": "none"}]})
    assert "| full | grounding schema;" in lines[-2] and "| 40,000 | 10,000 | 8 | 0.200 |" in lines[-2]
    assert lines[-1].endswith("| 0 | 0 | 0 | – |")
    assert arms_markdown(summary, {}) == []
