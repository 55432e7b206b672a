"""The intent audit: equivalent and wrong variants of each reference, judged for real (terraform plan with
the aws 3.39.0 provider, regopy) by the strict and the fair judge. The fair judge must pass its audit on
every task of the shipped suite; the strict judge's flags are IaC-Eval's and are reported, not fixed."""

from __future__ import annotations

import json
import textwrap

import pytest
import yaml
from click.testing import CliRunner

from tfagent.agent.cli.eval_commands import eval_group
from tfagent.evals.judging.audit import audit_task, fair_problems
from tfagent.evals.judging.audit_variants import blocks_of, reference_to_literal, variants
from tfagent.evals.tasks.suite import load_suite
from tfagent.verifiers.base import VerifyOptions

SUITE = load_suite("terraform-aws")
_IAC = [t.id for t in SUITE.tasks if t.id.startswith("iac-")]
_CORRECTED = [c["task"] for c in yaml.safe_load((SUITE.path / "corrections.yaml").read_text())["corrections"]]
# Every corrected task (where the fair judge differs), and every fourth other one: ~330 real plans for all 72
# cost CI ~10 minutes; `tfagent eval audit-intents terraform-aws` runs them all (docs/results/intent-audit/).
AUDITED = sorted(set(_CORRECTED) | set(_IAC[::4]))


@pytest.fixture(scope="module")
def aws_options(aws_mirror) -> VerifyOptions:
    return VerifyOptions(provider_mirror=aws_mirror, offline_aws=True, timeout=300)


# --- variants (pure) ----------------------------------------------------------------------------------


def test_variants_of_a_reference_equivalent_and_wrong():
    task = SUITE.task("iac-020-aws-s3-bucket")
    found = {v.name: v for v in variants(task.reference["main.tf"], task.prompt, ["aws_s3_bucket",
                                                                                   "aws_s3_bucket_public_access_block"])}
    assert {n: v.kind for n, v in found.items()} == {
        "rename": "equivalent", "reorder": "equivalent",
        "literal-to-reference:aws_s3_bucket_public_access_block.example.bucket=aws_s3_bucket.a.bucket": "equivalent",
        "literal-to-reference:aws_s3_bucket_public_access_block.example.bucket=aws_s3_bucket.a.id": "equivalent",
        "drop:aws_s3_bucket": "wrong", "drop:aws_s3_bucket_public_access_block": "wrong",
        "value:pike-680235478471": "wrong",
        "flip:aws_s3_bucket_public_access_block.example.block_public_acls": "wrong",
        "flip:aws_s3_bucket_public_access_block.example.restrict_public_buckets": "wrong"}
    assert 'resource "aws_s3_bucket" "audit_0"' in found["rename"].text
    assert "  bucket = aws_s3_bucket.a.id\n" in found[
        "literal-to-reference:aws_s3_bucket_public_access_block.example.bucket=aws_s3_bucket.a.id"].text
    changed = found["value:pike-680235478471"].text
    assert "pike-680235478471" not in changed and changed.count('"pike-680235478472"') == 2  # changed everywhere
    assert "aws_s3_bucket_public_access_block" not in found["drop:aws_s3_bucket_public_access_block"].text


def test_a_name_the_prompt_states_is_not_renamed():
    task = SUITE.task("iac-003-aws-route53-record")  # "… name the zone "reverse_zone""
    text = next(v for v in variants(task.reference["main.tf"], task.prompt, []) if v.name == "rename").text
    assert 'resource "aws_route53_zone" "reverse_zone"' in text and "aws_route53_zone.reverse_zone.zone_id" in text
    assert 'resource "aws_route53_record" "audit_0"' in text


def test_reorder_keeps_nested_blocks_and_comments_and_reference_becomes_literal():
    text = textwrap.dedent("""
        resource "aws_s3_bucket" "logs" {
          bucket = "logs-bucket" # the name
          acl    = "private"
          versioning {
            enabled = true
          }
        }

        resource "aws_s3_bucket_public_access_block" "p" {
          bucket            = aws_s3_bucket.logs.id
          block_public_acls = true
        }
    """)
    (logs, block) = blocks_of(text)
    assert logs.arguments == {"bucket": (2, '"logs-bucket"'), "acl": (3, '"private"')}
    assert (logs.start, logs.end, block.address) == (1, 7, "aws_s3_bucket_public_access_block.p")
    reorder = next(v for v in variants(text, "", []) if v.name == "reorder").text.split("\n")
    assert reorder[2].strip() == 'acl    = "private"' and reorder[3].strip().startswith('bucket = "logs-bucket"')
    assert reorder[4].strip() == "versioning {"
    (literal,) = reference_to_literal(text)
    assert literal.name == "reference-to-literal:aws_s3_bucket_public_access_block.p.bucket"
    assert 'bucket            = "logs-bucket"' in literal.text


# --- the audit on real plans ---------------------------------------------------------------------------


def test_audit_flags_the_strict_judge_and_not_the_fair_one_as_a_command(tmp_path, aws_mirror):
    result = CliRunner().invoke(eval_group, ["audit-intents", "terraform-aws", "--provider-mirror", str(aws_mirror),
                                             "--tasks", "iac-020-aws-s3-bucket", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "audit.json").read_text())
    (task,) = document["tasks"]
    assert [f["variant"] for f in task["flags"]["strict"]] == [
        "literal-to-reference:aws_s3_bucket_public_access_block.example.bucket=aws_s3_bucket.a.id"]
    assert task["flags"]["fair"] == []
    assert document["summary"]["strict"]["by_kind"] == {"rejects literal-to-reference": ["iac-020-aws-s3-bucket"]}
    assert "| strict | 1 of 1 |" in (tmp_path / "audit.md").read_text()


@pytest.mark.parametrize("task_id", AUDITED)
def test_the_fair_judge_passes_its_audit(aws_options, task_id):
    """The audit on every corrected task and a spread of the others: under the fair judge the reference and every equivalent variant pass, and
    every wrong variant the strict judge rejects is rejected too (a correction only relaxes what the prompt
    does not state; a policy too lenient to reject a wrong variant is the benchmark's, reported by the audit;
    so is one that requires a reference where a literal would drop the dependency)."""
    audit = audit_task(SUITE.task(task_id), aws_options)
    assert audit.outcomes[0].strict == "pass" and audit.outcomes[0].fair == "pass", audit.outcomes[0]
    assert fair_problems(audit) == []
    lenient = lambda judge: [f["variant"] for f in audit.flags(judge) if f["flaw"] == "accepts"]  # noqa: E731
    assert set(lenient("fair")) <= set(lenient("strict"))
