"""The strict and fair judges, and "undecided" as a verdict: real terraform plan with the real aws 3.39.0
provider, real regopy. Strict is each task's own IaC-Eval intent, unchanged; fair only relaxes what the
prompt does not state, so every answer strict accepts, fair accepts too."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from tfagent.evals.judging.fair import bare_references
from tfagent.evals.judging.hcl import parse_blocks
from tfagent.evals.judging.judge import JudgeVerdict, judge_task
from tfagent.evals.tasks.corrections import load_corrections
from tfagent.evals.tasks.suite import SuiteError, load_suite, shipped_suites_dir
from tfagent.verifiers.base import VerifyOptions


@pytest.fixture(scope="module")
def aws_options(aws_mirror) -> VerifyOptions:
    return VerifyOptions(provider_mirror=aws_mirror, offline_aws=True, timeout=300)


@pytest.fixture(scope="module")
def suite():
    return load_suite("terraform-aws")


def failed(checks) -> dict[str, str]:
    return {c["name"]: c["detail"] for c in checks if not c["ok"]}


def both(verdict: JudgeVerdict) -> tuple[str, str]:
    return verdict.status("strict"), verdict.status("fair")


# --- corrections as data --------------------------------------------------------------------------------


def test_every_correction_names_a_task_a_kind_and_one_line_of_reason(suite):
    corrections = suite.corrections
    assert {"iac-001-aws-route53-record", "iac-020-aws-s3-bucket"} <= set(corrections)
    for task_id, correction in corrections.items():
        task = suite.task(task_id)
        assert task.judge.fair is correction
        assert correction.reason and "\n" not in correction.reason
        for policy in correction.rego:  # a fair policy lives beside the original, never replacing it
            assert policy.name.startswith("intents-fair/") and policy.text.lstrip().startswith("#")
            assert (suite.path / "intents" / Path(policy.name).name).is_file()
    assert suite.task("iac-020-aws-s3-bucket").judge.fair.rego == ()  # resolution alone corrects it
    assert suite.task("iac-005-aws-elastic-beanstalk-application").judge.fair is None


def _suite_copy(tmp_path: Path, corrections: str) -> Path:
    folder = tmp_path / "suite"
    shutil.copytree(shipped_suites_dir() / "terraform-aws", folder)
    (folder / "corrections.yaml").write_text(textwrap.dedent(corrections).lstrip(), encoding="utf-8")
    return folder


@pytest.mark.parametrize("entry,message", [
    ("- {task: iac-001-aws-route53-record, kind: nicer, reason: r}", r"corrections\[0\] \(iac-001.*'kind'.*nicer"),
    ("- {task: iac-999-nope, kind: unstated_value, reason: r}", r"task 'iac-999-nope' is not in the suite"),
    ("- {task: iac-001-aws-route53-record, kind: unstated_value, reason: \"two\\nlines\"}", r"'reason': expected one line"),
    ("- {task: iac-001-aws-route53-record, kind: unstated_value, reason: r, policy: intents-fair/missing.rego}",
     r"file 'intents-fair/missing.rego' not found"),
    ("- {task: iac-001-aws-route53-record, kind: unstated_value, reason: r, owner: me}", r"unknown field 'owner'"),
])
def test_a_bad_correction_is_an_error_naming_file_entry_and_field(tmp_path, entry, message):
    folder = _suite_copy(tmp_path, "corrections:\n" + entry + "\n")
    with pytest.raises(SuiteError, match=message) as info:
        load_suite(folder)
    assert "corrections.yaml" in str(info.value)


def test_no_corrections_file_means_no_corrections(tmp_path):
    folder = _suite_copy(tmp_path, "corrections: []\n")
    (folder / "corrections.yaml").unlink()
    assert load_corrections(folder) == {} and load_suite(folder).task("iac-001-aws-route53-record").judge.fair is None


def test_only_whole_value_references_are_resolvable():
    blocks = parse_blocks({"main.tf": textwrap.dedent("""
        resource "aws_s3_bucket" "a" { bucket = "x" }
        resource "aws_s3_bucket_public_access_block" "p" { bucket = aws_s3_bucket.a.id }
        resource "aws_s3_bucket_policy" "q" { bucket = "${aws_s3_bucket.a.id}-logs" }
    """)})
    assert bare_references(blocks) == {("aws_s3_bucket_public_access_block.p", "bucket"): "aws_s3_bucket.a.id"}


# --- the two judges on real plans -------------------------------------------------------------------------


def test_route53_answer_with_its_own_names_fails_strict_and_passes_fair(suite, aws_options):
    task = suite.task("iac-001-aws-route53-record")
    answer = textwrap.dedent("""
        resource "aws_route53_zone" "main" {
          name = "mydomain.org"
        }

        resource "aws_route53_record" "www" {
          zone_id = aws_route53_zone.main.id
          name    = "www.mydomain.org"
          type    = "A"
          ttl     = 300
          records = ["203.0.113.10"]
        }
    """)
    verdict = judge_task(task, {"main.tf": answer}, options=aws_options)
    assert both(verdict) == ("fail", "pass"), (failed(verdict.checks), verdict.fair)
    assert "is_valid_r53_zone" in failed(verdict.checks)[f"rego:intents/{task.id}.rego"]
    assert verdict.fair["correction"] == task.judge.fair.reason
    assert [c["name"] for c in verdict.fair["checks"]] == ["plan", f"rego:intents-fair/{task.id}.rego"]
    # what the prompt states stays required under both: an IPv4 record, and a zone it belongs to
    wrong_type = answer.replace('type    = "A"', 'type    = "AAAA"').replace("203.0.113.10", "2001:db8::1")
    assert both(judge_task(task, {"main.tf": wrong_type}, options=aws_options)) == ("fail", "fail")
    no_zone_link = answer.replace("zone_id = aws_route53_zone.main.id", 'zone_id = "Z0123456789"')
    assert both(judge_task(task, {"main.tf": no_zone_link}, options=aws_options)) == ("fail", "fail")


def test_bucket_by_reference_is_resolved_from_the_configuration(suite, aws_options):
    task = suite.task("iac-020-aws-s3-bucket")
    reference = task.reference["main.tf"]
    by_id = reference.replace('bucket = "pike-680235478471"\n\n  block', "bucket = aws_s3_bucket.a.id\n\n  block")
    assert by_id != reference
    verdict = judge_task(task, {"main.tf": by_id}, options=aws_options)
    assert both(verdict) == ("fail", "pass"), verdict.fair
    assert verdict.fair["resolved"] == ["aws_s3_bucket_public_access_block.example.bucket = aws_s3_bucket.a.id "
                                        "→ 'pike-680235478471'"]
    # a reference to a bucket of another name resolves to that name: still wrong under both
    other = by_id.replace('bucket = "pike-680235478471"', 'bucket = "pike-000000000000"')
    assert both(judge_task(task, {"main.tf": other}, options=aws_options)) == ("fail", "fail")


@pytest.mark.parametrize("task_id", ["iac-001-aws-route53-record", "iac-002-aws-route53-record",
                                     "iac-003-aws-route53-record", "iac-004-aws-route53-record",
                                     "iac-013-aws-route53-record", "iac-020-aws-s3-bucket"])
def test_every_corrected_reference_passes_both_judges(suite, aws_options, task_id):
    task = suite.task(task_id)
    verdict = judge_task(task, task.reference, options=aws_options)
    assert both(verdict) == ("pass", "pass"), (failed(verdict.checks), verdict.fair)


def test_strict_only_skips_the_fair_verdict(suite, aws_options):
    task = suite.task("iac-020-aws-s3-bucket")
    verdict = judge_task(task, task.reference, options=aws_options, judges=("strict",))
    assert verdict.ok and verdict.fair is None
    with pytest.raises(ValueError, match="unknown judge 'lenient'"):
        judge_task(task, task.reference, options=aws_options, judges=("lenient",))


# --- undecided: the environment, not the model ------------------------------------------------------------


KEY_PAIR = """
resource "aws_key_pair" "deployer" {
  key_name   = "deployer"
  public_key = file("~/.ssh/deployer_key.pub")
}
"""


def test_file_outside_the_configuration_is_undecided(suite, aws_options):
    task = suite.task("iac-020-aws-s3-bucket")
    verdict = judge_task(task, {"main.tf": task.reference["main.tf"] + KEY_PAIR}, options=aws_options)
    assert both(verdict) == ("undecided: reads ~/.ssh/deployer_key.pub, a file outside the configuration this "
                             "machine does not have",) * 2
    assert not verdict.ok
    # a file the configuration should ship itself is the model's miss: a plain failure
    inside = task.reference["main.tf"] + KEY_PAIR.replace("~/.ssh/deployer_key.pub", "${path.module}/deployer_key.pub")
    assert both(judge_task(task, {"main.tf": inside}, options=aws_options)) == ("fail", "fail")


def test_provider_the_mirror_lacks_is_undecided_a_hallucinated_type_is_not(suite, aws_options):
    task = suite.task("iac-020-aws-s3-bucket")
    reference = task.reference["main.tf"]
    random = judge_task(task, {"main.tf": reference + 'resource "random_id" "r" {\n  byte_length = 4\n}\n'},
                        options=aws_options)
    assert random.status() == random.status("fair") == (
        "undecided: provider hashicorp/random cannot be installed here (not in the provider mirror in a version "
        "the configuration accepts)")
    newer = judge_task(task, {"main.tf": 'terraform {\n  required_providers {\n    aws = {\n      source  = '
                              '"hashicorp/aws"\n      version = "~> 5.0"\n    }\n  }\n}\n' + reference},
                       options=aws_options)
    assert newer.status().startswith("undecided: provider hashicorp/aws cannot be installed here")
    hallucinated = judge_task(task, {"main.tf": reference + 'resource "s3_bucket" "x" {\n  bucket = "y"\n}\n'},
                              options=aws_options)
    assert both(hallucinated) == ("fail", "fail") and hallucinated.undecided is None
