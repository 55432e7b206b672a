"""The IaC-Eval importer on a small slice of the real CSV, references checked with real Terraform and the
real aws 3.39.0 provider (offline mirror).

test_importer_iac_eval_slice.csv holds rows 1, 2 and 8 of IaC-Eval's iac-eval-difficulty-1-2.csv (IaC-Eval,
NeurIPS 2024 Datasets and Benchmarks, autoiac-project; dataset CC-BY-4.0), unchanged."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tfagent.agent.cli.eval_import import import_iac_eval_command
from tfagent.evals.importers.iac_eval import (
    IacEvalImportError,
    import_iac_eval,
    read_rows,
    task_id,
)
from tfagent.evals.tasks.suite import load_suite

SLICE_CSV = Path(__file__).with_name("test_importer_iac_eval_slice.csv")  # real rows 1, 2 and 8
COLUMNS = ["Resource", "Prompt", "Rego intent", "Difficulty", "Reference output", "Intent"]


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return read_rows(SLICE_CSV)


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def slice_csv(tmp_path, rows) -> Path:
    """Row 1 (route53: plans and passes), row 8 (kinesis stream_mode_details: newer than aws 3.39.0),
    row 1 with a reference that breaks its intent, and row 2 without a reference."""
    wrong = dict(rows[0], **{"Reference output": rows[0]["Reference output"].replace('"A"', '"AAAA"')
                             .replace("192.0.2.1", "2001:db8::1")})
    empty = dict(rows[1], **{"Reference output": "  "})
    return write_csv(tmp_path / "slice.csv", [rows[0], rows[2], wrong, empty])


def test_check_references_keeps_only_passing_tasks_and_says_why_others_left(tmp_path, slice_csv, aws_mirror, rows):
    out = tmp_path / "suite"
    report = import_iac_eval(slice_csv, out, check_references=True, mirror=aws_mirror)
    assert report.total == 4 and report.checked
    assert report.kept == ["iac-001-aws-route53-record"]
    reasons = {e["id"]: e["reason"] for e in report.excluded}
    assert "stream_mode_details" in reasons["iac-002-aws-kinesis-stream"]
    assert reasons["iac-002-aws-kinesis-stream"].startswith("reference does not plan offline")
    assert reasons["iac-003-aws-route53-record"].startswith("reference fails its intent")
    assert "is_valid_r53_record" in reasons["iac-003-aws-route53-record"]
    assert reasons["iac-004-aws-route53-record"] == "empty 'Reference output' column"

    on_disk = yaml.safe_load((out / "excluded.yaml").read_text())["excluded"]
    assert {e["id"]: e["reason"] for e in on_disk} == reasons
    suite = load_suite(out)
    (task,) = suite.tasks
    assert task.prompt == rows[0]["Prompt"].strip()
    assert task.judge.plan_required and task.judge.rego[0].name == "intents/iac-001-aws-route53-record.rego"
    assert "aws_route53_zone" in task.reference["main.tf"] and "aws_route53_zone" in task.tags
    assert "CC-BY-4.0" in suite.attribution and "CC-BY-4.0" in (out / "README.md").read_text()


def test_without_checking_every_well_formed_row_is_kept(tmp_path, slice_csv, rows):
    report = import_iac_eval(slice_csv, tmp_path / "s")
    assert len(report.kept) == 3 and [e["id"] for e in report.excluded] == ["iac-004-aws-route53-record"]
    suite = load_suite(tmp_path / "s")
    assert [t.prompt for t in suite.tasks] == [rows[0]["Prompt"].strip(), rows[2]["Prompt"].strip(),
                                               rows[0]["Prompt"].strip()]
    assert suite.tasks[0].judge.rego[0].text.strip() == rows[0]["Rego intent"].strip()
    assert suite.tasks[0].description.startswith('Has one "aws_route53_zone" resource')


def test_task_ids_are_stable_and_safe():
    assert task_id(1, "aws_route53_record, aws_route53_zone") == "iac-001-aws-route53-record"
    assert task_id(140, "") == "iac-140-task"


def test_refuses_bad_inputs(tmp_path, slice_csv):
    bad = tmp_path / "bad.csv"
    bad.write_text("Prompt,Other\nx,y\n")
    with pytest.raises(IacEvalImportError, match="missing column.*Rego intent"):
        import_iac_eval(bad, tmp_path / "o1")
    with pytest.raises(IacEvalImportError, match="needs --provider-mirror"):
        import_iac_eval(slice_csv, tmp_path / "o2", check_references=True)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(IacEvalImportError, match="not empty"):
        import_iac_eval(slice_csv, tmp_path / "full")
    with pytest.raises(IacEvalImportError, match="not a suite folder"):
        import_iac_eval(slice_csv, tmp_path / "full", force=True)
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_force_replaces_an_existing_suite(tmp_path, slice_csv):
    import_iac_eval(slice_csv, tmp_path / "s", limit=1)
    report = import_iac_eval(slice_csv, tmp_path / "s", force=True)
    assert len(load_suite(tmp_path / "s").tasks) == len(report.kept) == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def test_cli_command(tmp_path, slice_csv):
    runner = CliRunner()
    ok = runner.invoke(import_iac_eval_command, [str(slice_csv), str(tmp_path / "out"), "--limit", "2"])
    assert ok.exit_code == 0, ok.output
    assert "2 of 2 tasks kept" in ok.output and len(load_suite(tmp_path / "out").tasks) == 2
    again = runner.invoke(import_iac_eval_command, [str(slice_csv), str(tmp_path / "out")])
    assert again.exit_code == 2 and "not empty" in again.output
    no_mirror = runner.invoke(import_iac_eval_command, [str(slice_csv), str(tmp_path / "o"), "--check-references"])
    assert no_mirror.exit_code == 2 and "--provider-mirror" in no_mirror.output
