"""`tfagent eval` results as JUnit XML: one test case per task × endpoint (× sample), the failure text
being the final attempt's diagnostics. Real loop, real judge, a real HTTP model server (scripted)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import junitparser
from click.testing import CliRunner

from tfagent.agent.cli.eval_commands import eval_group
from tfagent.agent.core.config import load_config, user_config_path
from tfagent.agent.fake.server import ScriptedServer
from tfagent.evals.reporting.junit_report import run_junit
from tfagent.evals.running.runner import EvalPlan, EvalRunner
from tfagent.evals.running.store import CellKey, Store
from tfagent.evals.tasks.suite import load_suite

from conftest import OLD_STRATEGY_TOML  # the eval's cells as before issue 19: one sample, no cards, raw feedback

GOOD = '```hcl title="main.tf"\nresource "aws_s3_bucket" "{name}" {{\n  bucket = "{name}-bucket"\n}}\n```\n'
BROKEN = '```hcl title="main.tf"\nresource "aws_s3_bucket" "{name}" {{\n  bucket = \n```\n'


def respond(body: dict) -> str:
    task = re.search(r"task (t\d+)", next(m["content"] for m in body["messages"] if m["role"] == "user")).group(1)
    return BROKEN.format(name=task) if body["model"] == "quant-a" and task == "t2" else GOOD.format(name=task)


def test_eval_run_as_junit(tmp_path: Path):
    suite_path = tmp_path / "mini.yaml"
    suite_path.write_text(
        "name: mini\ndescription: three buckets\nattribution: test data\n"
        "defaults:\n  mode: terraform\n  verify: [hcl]\n  judge:\n    hcl:\n      resources: [aws_s3_bucket]\n"
        "tasks:\n" + "".join(f"  - id: {t}\n    prompt: Create an S3 bucket for task {t}.\n" for t in ("t1", "t2", "t3")),
        encoding="utf-8")
    with ScriptedServer(responder=respond) as srv:
        config = user_config_path()
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f'[endpoints.iq2]\nbase_url = "{srv.base_url}"\nmodel = "quant-a"\nbpw = 2.0\n{OLD_STRATEGY_TOML}\n'
                          f'[endpoints.q4]\nbase_url = "{srv.base_url}"\nmodel = "quant-b"\nbpw = 4.5\n{OLD_STRATEGY_TOML}',
                          encoding="utf-8")
        suite = load_suite(suite_path)
        endpoints = load_config().endpoints
        plan = EvalPlan(suite=suite, tasks=suite.tasks, endpoints=[endpoints["iq2"], endpoints["q4"]],
                        samples=1, max_attempts=2, concurrency=2, reference="q4")
        db = tmp_path / "eval.db"
        with Store(db) as store:
            outcome = EvalRunner(plan, store).run()
            assert outcome.completed == 6
            store.add_cell_error("other-run-is-not-mixed-in", CellKey("t1", "iq2", 0), "boom")
            xml = run_junit(store, outcome.run_id)
    root = ET.fromstring(xml.encode())
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("6", "1", "0", "0")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"mini/iq2", "mini/q4"}
    failed = suites["mini/iq2"].find("testcase[@name='t2']/failure")
    assert failed is not None and suites["mini/iq2"].find("testcase[@name='t2']").get("classname") == "mini.iq2"
    # The failure text is the last attempt's diagnostics (file:line, rule) and then the judge's reason.
    assert "main.tf:" in failed.text and "[hcl/syntax]" in failed.text and "judge" in failed.text
    path = tmp_path / "junit.xml"
    path.write_text(xml, encoding="utf-8")
    read = {(s.name, c.name): c.is_passed for s in junitparser.JUnitXml.fromfile(str(path)) for c in s}
    assert read == {("mini/iq2", "t1"): True, ("mini/iq2", "t2"): False, ("mini/iq2", "t3"): True,
                    ("mini/q4", "t1"): True, ("mini/q4", "t2"): True, ("mini/q4", "t3"): True}
    # The same document from the CLI, written atomically to a file.
    out = tmp_path / "reports" / "eval-junit.xml"
    result = CliRunner().invoke(eval_group, ["report", outcome.run_id, "--db", str(db), "--format", "junit", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert ET.parse(out).getroot().get("failures") == "1"
