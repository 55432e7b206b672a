"""The rego verifier with real regopy, real IaC-Eval policies and real `terraform plan` JSON.

IaC-Eval (NeurIPS 2024 Datasets & Benchmarks, autoiac-project; dataset CC-BY-4.0) tasks are read from
tests/data/iac_eval_rego_tasks.csv (five rows of it, attribution in tests/data/README.md): their reference configurations are planned with
the real aws 3.39.0 provider from an offline mirror, and their intent policies run unchanged.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from tfagent.verifiers.base import VerifyContext, VerifyOptions
from tfagent.verifiers.policy.hcl_plan_shape import HclParseError, parse_workdir, plan_shape
from tfagent.verifiers.policy.hcl_values import references
from tfagent.verifiers.terraform.plan import TerraformPlan
from tfagent.verifiers.policy.rego import (
    PolicyError,
    RegoPolicy,
    check_policies,
    collect_policy_files,
    evaluate_policy,
    load_input,
)

IAC_EVAL = Path(__file__).resolve().parent / "data" / "iac_eval_rego_tasks.csv"  # shipped: no ../shared needed

# Row numbers of tasks whose reference plans with aws 3.39.0, one per policy style: configuration
# expressions (0: route53), planned values / resource_changes (44: dynamodb, `package main`),
# `net.cidr_is_valid` through the stand-in (60: vpc), a count of resources (63: subnets), references
# inside an "attributes as blocks" route (65: route table).
TASKS = [0, 44, 60, 63, 65]


@pytest.fixture(scope="module")
def iac_eval_rows() -> dict[int, dict[str, str]]:
    """The shipped IaC-Eval rows by their row number in the original CSV."""
    with IAC_EVAL.open(newline="", encoding="utf-8") as fh:
        return {int(row["Row"]): row for row in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def tf_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tf-cache")


@pytest.fixture
def plan_options(aws_mirror, tf_cache, tmp_path) -> VerifyOptions:
    return VerifyOptions(provider_mirror=aws_mirror, offline_aws=True, artifacts_dir=tmp_path / "artifacts",
                         builtin_policies=False, terraform_cache_dir=str(tf_cache))


def write_folder(root: Path, text: str, name: str = "main.tf") -> Path:
    folder = root / "attempt"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


def real_plan(folder: Path, options: VerifyOptions) -> VerifyContext:
    """Run the real plan verifier; the context then holds plan_json for the rego stage."""
    ctx = VerifyContext(folder, options)
    verdict = TerraformPlan().verify(ctx)
    assert verdict.ok, [d.summary for d in verdict.diagnostics]
    assert Path(ctx.artifacts["plan_json"]).exists()
    return ctx


def policy_file(root: Path, text: str, name: str = "intent.rego") -> Path:
    path = root / "policies" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("row", TASKS)
def test_iac_eval_reference_passes_its_own_intent_on_a_real_plan(row, iac_eval_rows, plan_options, tmp_path):
    task = iac_eval_rows[row]
    folder = write_folder(tmp_path, task["Reference output"])
    ctx = real_plan(folder, plan_options)
    plan_options.policies = [policy_file(tmp_path, task["Rego intent"])]

    verdict = RegoPolicy().verify(ctx)

    assert verdict.ok, [(d.summary, d.detail) for d in verdict.diagnostics]
    assert "input: plan JSON" in verdict.note and "intent.rego" in verdict.note
    # The pure helper the eval judge uses agrees, on the plan and on the static view of the HCL.
    assert evaluate_policy(task["Rego intent"], load_input(folder, ctx.artifacts["plan_json"])).ok
    assert evaluate_policy(task["Rego intent"], load_input(folder)).ok


def test_broken_reference_fails_naming_the_false_rules(iac_eval_rows, plan_options, tmp_path):
    task = iac_eval_rows[0]  # a route53 zone plus an "A" record pointing at it
    broken = task["Reference output"].replace('type    = "A"', 'type    = "CNAME"')
    assert broken != task["Reference output"]
    folder = write_folder(tmp_path, broken)
    ctx = real_plan(folder, plan_options)
    plan_options.policies = [policy_file(tmp_path, task["Rego intent"])]

    verdict = RegoPolicy().verify(ctx)

    assert not verdict.ok
    rules = sorted(d.rule for d in verdict.diagnostics)
    assert rules == ["is_configuration_valid", "is_valid_r53_record"]
    record = next(d for d in verdict.diagnostics if d.rule == "is_valid_r53_record")
    assert record.category == "intent" and record.summary == "intent rule is_valid_r53_record is not satisfied"
    assert 'resource.expressions.type.constant_value == "A"' in record.detail  # the model sees what is checked
    outcome = evaluate_policy(task["Rego intent"], load_input(folder, ctx.artifacts["plan_json"]))
    assert not outcome.ok and set(outcome.failed_rules) == {"is_configuration_valid", "is_valid_r53_record"}


def test_missing_resource_fails_on_the_static_view_without_a_plan(iac_eval_rows, tmp_path):
    task = iac_eval_rows[44]  # dynamodb table with on-demand billing, checked through resource_changes
    assert "PAY_PER_REQUEST" in task["Reference output"]
    folder = write_folder(tmp_path, task["Reference output"].replace("PAY_PER_REQUEST", "PROVISIONED"))
    outcome = evaluate_policy(task["Rego intent"], load_input(folder))
    assert not outcome.ok and outcome.failed_rules == ["allow"] and outcome.error is None


def test_unsupported_builtin_is_its_own_verdict_not_a_failure(tmp_path):
    policy = 'package terraform.validation\nimport rego.v1\ndefault valid := false\n' \
             'valid if { some r in input.resource_changes; net.cidr_contains("10.0.0.0/8", r.change.after.cidr_block) }\n'
    folder = write_folder(tmp_path, 'resource "aws_vpc" "v" {\n  cidr_block = "10.0.0.0/16"\n}\n')
    outcome = evaluate_policy(policy, load_input(folder))
    assert outcome.unsupported_builtin == "net.cidr_contains" and outcome.error is None and not outcome.ok

    options = VerifyOptions(policies=[policy_file(tmp_path, policy)], builtin_policies=False)
    verdict = RegoPolicy().verify(VerifyContext(folder, options))
    assert verdict.ok and [d.severity for d in verdict.diagnostics] == ["warning"]
    assert "net.cidr_contains" in verdict.diagnostics[0].summary and "unsupported builtin" in verdict.note


def test_cidr_is_valid_stand_in_matches_opa_semantics():
    policy = "package terraform.validation\nimport rego.v1\ndefault valid := false\nvalid if net.cidr_is_valid(input.c)\n"
    verdicts = {c: evaluate_policy(policy, {"c": c}).ok for c in
                ["10.0.0.0/16", "0.0.0.0/0", "2001:db8::/32", "::/0", "10.0.0.0/33", "256.1.1.1/8", "10.0.0.0", "x"]}
    assert verdicts == {"10.0.0.0/16": True, "0.0.0.0/0": True, "2001:db8::/32": True, "::/0": True,
                        "10.0.0.0/33": False, "256.1.1.1/8": False, "10.0.0.0": False, "x": False}


def test_deny_style_user_policies_in_old_and_v1_syntax_report_their_messages(tmp_path):
    folder = write_folder(tmp_path, 'resource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n')
    old = 'package team.old\ndeny[msg] {\n  r := input.resource_changes[_]\n  not r.change.after.tags\n' \
          '  msg := sprintf("%s: add tags", [r.address])\n}\n'
    new = 'package team.new\nimport rego.v1\ndeny contains msg if {\n  some r in input.resource_changes\n' \
          '  r.change.after.bucket == "logs"\n  msg := concat("", [r.address, ": bucket names must start with the team prefix"])\n}\n'
    policy_dir = policy_file(tmp_path, old, "old.rego").parent
    policy_file(tmp_path, new, "new.rego")
    verdict = RegoPolicy().verify(VerifyContext(folder, VerifyOptions(policies=[policy_dir], builtin_policies=False)))
    assert not verdict.ok
    assert sorted(d.summary for d in verdict.diagnostics) == [
        "aws_s3_bucket.logs: add tags", "aws_s3_bucket.logs: bucket names must start with the team prefix"]
    assert {d.rule for d in verdict.diagnostics} == {"team.old", "team.new"}


def test_bad_policies_are_named_with_file_and_line(tmp_path):
    broken = policy_file(tmp_path, "package terraform.validation\n\nvalid {\n  input.x ==\n", "broken.rego")
    outcome = evaluate_policy(broken.read_text(), {})
    assert not outcome.ok and outcome.error and "line" in outcome.error
    with pytest.raises(PolicyError, match="broken.rego"):
        check_policies([broken])
    with pytest.raises(PolicyError, match="no such file or directory"):
        collect_policy_files([tmp_path / "nope.rego"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(PolicyError, match="holds no .rego file"):
        collect_policy_files([tmp_path / "empty"])
    assert "undefined" in evaluate_policy("package other\nx := 1\n", {}, query="data.missing").error


def test_unparsable_hcl_is_a_syntax_diagnostic_with_location(tmp_path):
    folder = write_folder(tmp_path, 'resource "aws_s3_bucket" "b" {\n  bucket = \n}\n')
    with pytest.raises(HclParseError) as caught:
        load_input(folder)
    assert caught.value.file == "main.tf" and caught.value.line is not None
    verdict = RegoPolicy().verify(VerifyContext(folder, VerifyOptions(prompt="a private bucket")))
    assert not verdict.ok and verdict.diagnostics[0].category == "syntax" and verdict.diagnostics[0].file == "main.tf"


SHAPE_CONFIG = """\
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "3.39.0" }
  }
}
provider "aws" {
  region = "us-east-1"
}
variable "prefix" {
  default = "team"
}
locals {
  owner = "ops"
}
resource "aws_kms_key" "k" {
  description = "bucket key"
}
resource "aws_s3_bucket" "b" {
  bucket        = "${var.prefix}-data"
  acl           = "private"
  force_destroy = true
  tags          = { Name = "data", Owner = local.owner }
  versioning {
    enabled = true
  }
  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm     = "aws:kms"
        kms_master_key_id = aws_kms_key.k.arn
      }
    }
  }
  policy = jsonencode({ Version = "2012-10-17" })
}
resource "aws_s3_bucket" "copies" {
  count  = 2
  bucket = "${var.prefix}-copy-${count.index}"
}
resource "aws_s3_bucket_public_access_block" "b" {
  bucket              = aws_s3_bucket.copies[0].id
  block_public_acls   = true
  block_public_policy = true
  depends_on          = [aws_s3_bucket.b]
}
resource "aws_s3_bucket" "named" {
  for_each = toset(["p", "q"])
  bucket   = "team-${each.key}"
}
data "aws_iam_policy_document" "read" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.b.arn}/*"]
  }
}
"""


def test_static_view_matches_a_real_plans_configuration_and_values(plan_options, tmp_path):
    folder = write_folder(tmp_path, SHAPE_CONFIG)
    ctx = real_plan(folder, plan_options)
    real = json.loads(Path(ctx.artifacts["plan_json"]).read_text())
    static = plan_shape(parse_workdir(folder))

    def by_address(doc, *path):
        for key in path:
            doc = doc[key]
        return {r["address"]: r for r in doc}

    real_config = by_address(real, "configuration", "root_module", "resources")
    static_config = by_address(static, "configuration", "root_module", "resources")
    assert static_config.keys() == real_config.keys()
    for address, resource in real_config.items():
        for key in ("mode", "type", "name", "provider_config_key", "expressions", "count_expression", "depends_on"):
            assert static_config[address].get(key) == resource.get(key), (address, key)

    real_values = by_address(real, "planned_values", "root_module", "resources")
    static_values = by_address(static, "planned_values", "root_module", "resources")
    managed = {a for a in real_values if not a.startswith("data.")}
    assert static_values.keys() == managed
    for address in managed:  # what the static view knows must be what the plan says
        known = static_values[address]["values"]
        assert {k: real_values[address]["values"].get(k) for k in known if k not in ("versioning", "server_side_encryption_configuration")} == \
            {k: v for k, v in known.items() if k not in ("versioning", "server_side_encryption_configuration")}, address
    assert static_values["aws_s3_bucket.copies[1]"]["values"]["bucket"] == "team-copy-1"
    assert static_values['aws_s3_bucket.named["q"]']["values"]["bucket"] == "team-q"
    assert [c["change"]["actions"] for c in static["resource_changes"]] == [["create"]] * len(managed)


@pytest.mark.parametrize("expression, expected", [
    ("aws_kms_key.k.arn", ["aws_kms_key.k.arn", "aws_kms_key.k"]),
    ("aws_s3_bucket.c[0].id", ["aws_s3_bucket.c[0].id", "aws_s3_bucket.c[0]", "aws_s3_bucket.c"]),
    ('"${var.n}-c-${count.index}"', ["var.n", "count.index"]),
    ("data.aws_iam_policy_document.p.json", ["data.aws_iam_policy_document.p.json", "data.aws_iam_policy_document.p"]),
    ('file("~/.ssh/id_rsa.pub")', []),
    ("[for s in aws_subnet.private : s.id]", ["aws_subnet.private"]),
    ("module.net.vpc_id", ["module.net.vpc_id", "module.net"]),
])
def test_references_follow_terraforms_format(expression, expected):
    assert references(expression) == expected


def test_verdict_note_names_rules_and_policies(tmp_path):
    folder = write_folder(tmp_path, 'resource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n')
    policy = policy_file(tmp_path, "package terraform.validation\nimport rego.v1\nvalid if count(input.resource_changes) == 1\n")
    verdict = RegoPolicy().verify(VerifyContext(folder, VerifyOptions(prompt="a versioned bucket", policies=[policy])))
    assert re.search(r"rules applied: versioning; policies: intent.rego; input: parsed HCL", verdict.note)
    assert [d.rule for d in verdict.diagnostics] == ["versioning"]


def test_library_packages_are_not_judged_and_all_undefined_rules_fail(tmp_path):
    folder = write_folder(tmp_path, 'resource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n')
    policy_file(tmp_path, "package team.lib\nimport rego.v1\nis_bucket(r) if r.type == \"aws_s3_bucket\"\n", "lib.rego")
    uses_lib = policy_file(tmp_path, "package team.intent\nimport rego.v1\nimport data.team.lib\n"
                                     "has_bucket if { some r in input.resource_changes; lib.is_bucket(r) }\n", "intent.rego")
    options = VerifyOptions(policies=[uses_lib.parent], builtin_policies=False)
    verdict = RegoPolicy().verify(VerifyContext(folder, options))
    assert verdict.ok and verdict.diagnostics == []

    uses_lib.write_text(uses_lib.read_text().replace("lib.is_bucket(r)", "lib.is_bucket(r)\n  r.name == \"other\""))
    verdict = RegoPolicy().verify(VerifyContext(folder, options))
    assert not verdict.ok and [d.summary for d in verdict.diagnostics] == [
        "no rule of policy team.intent (intent.rego) holds: every rule is undefined for this configuration"]
