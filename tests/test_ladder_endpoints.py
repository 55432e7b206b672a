"""`tfagent eval ladder --endpoints`: the same experiment against servers that already run (a real
HTTP scripted server), the report's structure, and the HTML checked in a real headless Chromium."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tfagent.agent.cli.eval_commands import eval_group
from tfagent.agent.fake.server import ScriptedServer
from tfagent.evals.reporting.browser import check_page, find_chromium

from test_eval_runner import responder, write_config, write_suite


def test_ladder_on_running_endpoints_writes_the_research_table(tmp_path):
    suite = write_suite(tmp_path)
    out = tmp_path / "report"
    with ScriptedServer(responder=responder) as server:
        write_config(server.base_url)
        result = CliRunner().invoke(eval_group, ["ladder", "--endpoints", "iq2,q4", "--suite", str(suite),
                                                 "--out", str(out), "--max-attempts", "3"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    # The highest bpw (q4, 4.5) is the reference; iq2 fails t1 and t3 on the first try and fixes them.
    assert report["reference"] == "q4"
    iq2, q4 = report["endpoints"]
    assert [e["passed"] for e in iq2["pass_at_k"]] == [2, 4, 4] and [e["passed"] for e in q4["pass_at_k"]] == [4, 4, 4]
    assert [p["task"] for p in iq2["vs_reference"]["first_try"]["lost"]] == ["t1", "t3"]
    assert iq2["vs_reference"]["with_retry"]["lost"] == []
    # Break-even: iq2 with 1 retry solves every pair the reference solves on its first try.
    answer = report["break_even"]["answer"]
    assert (answer["endpoint"], answer["k"]) == ("iq2", 0) or (answer["endpoint"], answer["k"]) == ("iq2", 1)
    assert report["break_even"]["answer_at_least_as_good"]["k"] == 1
    assert iq2["category_fates"] and iq2["categories_by_attempt"]["1"]
    md = (out / "report.md").read_text()
    assert "flips vs ref, first try" in md and "−2 / +0" in md  # first-try flips in the Markdown too
    assert "## Break-even" in md and "## Pass rate after k retries" in md and "## Which errors the retries fix" in md
    html = (out / "report.html").read_text()
    assert "flips vs ref, first try" in html and html.count("<img ") == 3



@pytest.mark.skipif(find_chromium() is None, reason="no Chromium installed (scripts/setup.sh installs Debian's chromium as root)")
def test_the_html_report_renders_in_headless_chromium(tmp_path):
    suite = write_suite(tmp_path)
    out = tmp_path / "report"
    with ScriptedServer(responder=responder) as server:
        write_config(server.base_url)
        result = CliRunner().invoke(eval_group, ["ladder", "--endpoints", "iq2,q4", "--suite", str(suite), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = check_page(out / "report.html")
    assert page.title == "tfagent quant ladder: mini"
    assert len(page.figures) == 3, page.figures
    assert page.invisible_figures == [], page.figures
    assert page.console_errors == []
    assert page.screenshot.startswith(b"\x89PNG")


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium installed")
def test_the_browser_check_sees_broken_figures_and_console_errors(tmp_path):
    page_file = tmp_path / "bad.html"
    page_file.write_text("<!doctype html><html><head><title>bad</title></head><body>"
                         "<img alt='broken' src='data:image/png;base64,AAAA'>"
                         "<script>console.error('boom')</script></body></html>")
    page = check_page(page_file)
    assert [f["alt"] for f in page.invisible_figures] == ["broken"]
    assert any("boom" in e for e in page.console_errors)
