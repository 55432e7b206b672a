"""Schema feedback on real Terraform runs (aws 3.39.0 from the offline mirror): for each failure class
the feedback must name the fix — the valid argument, the required one, the real resource type."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfagent.agent.loop.schema_feedback import (SAME_ERRORS, SAME_REPLY, build_schema_feedback, caret_excerpt,
                                                enclosing, repeat_kind)
from tfagent.verifiers.base import VerifyContext, VerifyOptions, error
from tfagent.verifiers.registry import build_chain
from tfagent.verifiers.terraform.schema_index import SCHEMA_ARTIFACT, load_index

HEAD = ('terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
        '      version = "3.39.0"\n    }\n  }\n}\n\n')

# failure class -> (broken body, strings the feedback must contain)
CASES = {
    "unknown_argument": ('resource "aws_vpc" "main" {\n  vpc_name   = "main"\n  cidr_block = "10.0.0.0/16"\n}\n',
                         ['has no argument or block "vpc_name"', "cidr_block (required)", "enable_dns_support"]),
    "missing_argument": ('resource "aws_route53_record" "www" {\n  name    = "www.example.com"\n  type    = "A"\n'
                         '  ttl     = 300\n  records = ["1.2.3.4"]\n}\n', ["zone_id = <string>"]),
    # iac-013: Terraform points at the nested block's "{"; the hint must name the block's own argument
    "nested_missing_argument": ('resource "aws_route53_zone" "private" {\n  name = "example.internal"\n  vpc {\n'
                                '    vpc_region = "us-east-1"\n  }\n}\n',
                                ["Add the required argument to aws_route53_zone > vpc: vpc_id = <string>"]),
    "hallucinated_type": ('resource "s3_bucket" "b" {\n  bucket = "x"\n}\n',
                          ['no resource type "s3_bucket"', "aws_s3_bucket,"]),
    "unknown_type": ('resource "aws_s3_bucket_publicaccess" "b" {\n  bucket = "x"\n}\n',
                     ["aws_s3_bucket_public_access_block"]),
    "block_as_attribute": ('resource "aws_s3_bucket" "b" {\n  bucket = "x"\n  versioning = {\n    enabled = true\n  }\n}\n',
                           ["write `versioning { … }` without \"=\"", "enabled"]),
    "attribute_as_block": ('resource "aws_s3_bucket" "b" {\n  bucket = "x"\n  tags {\n    Name = "x"\n  }\n}\n',
                           ["(type map(string)), not a block", "`tags = <value>`"]),
    "wrong_type": ('resource "aws_route53_record" "www" {\n  zone_id = "Z1"\n  name    = "www.example.com"\n'
                   '  type    = "A"\n  ttl     = 300\n  records = [{ value = "1.2.3.4" }]\n}\n',
                   ['"records" of aws_route53_record takes a value of type set(string)']),
    "syntax": ('resource "aws_s3_bucket" "b" {\n  bucket "x"\n}\n', ["HCL rule: an argument is `name = value`", "^"]),
    "undeclared_reference": ('resource "aws_subnet" "a" {\n  vpc_id     = aws_vpc.main.id\n  cidr_block = "10.0.1.0/24"\n}\n',
                             ["Declared in your files: aws_subnet.a.",
                              'declare it: `resource "aws_vpc" "main" { … }`; aws_vpc takes: cidr_block (required)']),
    "wrong_attribute_reference": ('resource "aws_vpc" "main" {\n  cidr_block = "10.0.0.0/16"\n}\n'
                                  'resource "aws_subnet" "a" {\n  vpc_id     = aws_vpc.main.vpc_id\n'
                                  '  cidr_block = "10.0.1.0/24"\n}\n', ["aws_vpc exports:", " id,"]),
}


def verify(body: str, mirror: Path, tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    (work / "main.tf").write_text(HEAD + body)
    options = VerifyOptions(provider_mirror=mirror, schema_index=True)
    verdicts = build_chain(["hcl", "fmt", "validate"], set()).run(VerifyContext(work, options), fail_fast=True)
    files = {"main.tf": (work / "main.tf").read_text()}
    index = next((load_index(v.artifacts[SCHEMA_ARTIFACT]) for v in verdicts if SCHEMA_ARTIFACT in v.artifacts), None)
    return verdicts, files, index, [d for v in verdicts for d in v.diagnostics]


@pytest.mark.parametrize("case", sorted(CASES))
def test_feedback_names_the_fix(case, aws_mirror, tmp_path):
    body, expected = CASES[case]
    verdicts, files, index, diagnostics = verify(body, aws_mirror, tmp_path)
    assert not all(v.ok for v in verdicts), f"{case}: the broken file passed"
    text = build_schema_feedback(diagnostics, files, index, stage="validate")
    for needle in expected:
        assert needle in text, f"{case}: {needle!r} missing from\n{text}"
    assert text == build_schema_feedback(diagnostics, files, index, stage="validate"), "not byte-stable"
    # the code is shown once: Terraform's own snippet is not repeated after our excerpt
    line = next(d.line for d in diagnostics if d.line)
    assert text.count(f"{line} | ") == 1, text


def test_feedback_stays_within_its_budget(aws_mirror, tmp_path):
    body = "".join(f'resource "aws_vpc" "v{i}" {{\n  vpc_name   = "n{i}"\n  cidr_block = "10.{i}.0.0/16"\n}}\n'
                   for i in range(30))
    _, files, index, diagnostics = verify(body, aws_mirror, tmp_path)
    text = build_schema_feedback(diagnostics, files, index, budget_tokens=400)
    assert len(text) <= 400 * 4 + 200 and "more problem(s) not shown" in text


def test_repeats_are_detected_and_escalated():
    d = error("Missing required argument", 'The argument "zone_id" is required, but no definition was found.',
              file="main.tf", line=3)
    files = {"main.tf": "a\n"}
    assert repeat_kind(files, dict(files), [d], [d]) == SAME_REPLY
    assert repeat_kind(files, {"main.tf": "b\n"}, [d], [d]) == SAME_ERRORS
    assert repeat_kind(files, {"main.tf": "b\n"}, [], [d]) is None
    assert repeat_kind(None, files, None, [d]) is None
    text = build_schema_feedback([d], files, None, repeat=SAME_REPLY)
    assert "repeated the previous files unchanged" in text


def test_enclosing_block_and_caret():
    files = {"main.tf": 'resource "aws_instance" "a" {\n  ebs_block_device {\n    size = 1\n  }\n  ami = "x"\n}\n'}
    assert enclosing(files, "main.tf", 3) == ("resource", "aws_instance", ["ebs_block_device"])
    assert enclosing(files, "main.tf", 5) == ("resource", "aws_instance", [])
    assert caret_excerpt(files, "main.tf", 5, 3) == '5 |   ami = "x"\n      ^'
    # on a nested block's header line: its name (column 3) is the parent's business, its "{" (column 20) its own
    assert enclosing(files, "main.tf", 2, 3) == ("resource", "aws_instance", [])
    assert enclosing(files, "main.tf", 2, 20) == ("resource", "aws_instance", ["ebs_block_device"])


def test_a_variable_nobody_sets_gets_a_default_hint():
    """plan's 'No value for required variable' (the 1.5B declares credential variables without
    defaults: docs/results/rescue-ab-1.5b-40): the fix needs no schema."""
    files = {"variables.tf": 'variable "aws_access_key_id" {}\n'}
    diag = error("No value for required variable", file="variables.tf", line=1, column=1, source="plan",
                 detail='The root module input variable "aws_access_key_id" is not set, and has no default value.')
    text = build_schema_feedback([diag], files, None, stage="plan", budget_tokens=1500)
    assert 'Fix: give `variable "aws_access_key_id"` a `default = …`' in text
    assert "Never declare credentials" in text
