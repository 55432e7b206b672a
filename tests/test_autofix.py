"""--autofix on the scripted server + real Terraform validate (aws 3.39.0 mirror): the renames Terraform
("Did you mean") or the schema (one close argument) names are applied in the right block, re-verified
once and recorded; nothing is deleted or invented; the better version is kept for the feedback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tfagent.agent.core.types import Endpoint, fix_change
from tfagent.agent.loop.autofix import Fix, apply_fixes, block_arguments, propose
from tfagent.agent.loop.graph import run_agent
from tfagent.agent.loop.state import RunRequest
from tfagent.agent.publish.prbody import autofix_section
from tfagent.verifiers.base import VerifyOptions, error

from conftest import OLD_STRATEGY

PROMPT = "a Route 53 zone with a record, a bucket and a DynamoDB table"
PROVIDER = ('terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
            '      version = "3.39.0"\n    }\n  }\n}\n\nprovider "aws" {\n  region = "us-east-1"\n}\n\n')
# Every error here names one replacement: Terraform's "Did you mean" (a type with a reference to it,
# an argument, a block) and the schema's only close argument (table_name -> name).
FIXABLE = PROVIDER + '''resource "aws_route_53_zone" "main" {
  name = "example.com"
}

resource "aws_route53_record" "www" {
  zone_id = aws_route_53_zone.main.zone_id
  name    = "www.example.com"
  type    = "A"
  ttl     = 300
  records = ["10.0.0.1"]
}

resource "aws_s3_bucket" "b" {
  bukket = "example-bucket"
  versionin {
    enabled = true
  }
}

resource "aws_dynamodb_table" "t" {
  table_name   = "t"
  hash_key     = "id"
  billing_mode = "PAY_PER_REQUEST"
  attribute {
    name = "id"
    type = "S"
  }
}
'''
# One rename, and a nested-block error no rename fixes (iac-013: vpc { } without vpc_id).
PARTLY = PROVIDER + '''resource "aws_route_53_zone" "private" {
  name = "example.internal"
  vpc {
    vpc_region = "us-east-1"
  }
}
'''
GOOD_ZONE = PROVIDER + '''resource "aws_vpc" "main" {
  cidr_block = "10.0.0.0/16"
}

resource "aws_route53_zone" "private" {
  name = "example.internal"
  vpc {
    vpc_id = aws_vpc.main.id
  }
}
'''


def fence(body: str) -> str:
    return f'Here it is.\n```hcl title="main.tf"\n{body}```\n'


def request(server, mirror, tmp_path, **kw) -> RunRequest:
    kw = {**OLD_STRATEGY, **kw}  # the strategy before issue 19 (no autofix, one sample, no cards), but what a test sets
    return RunRequest(prompt=PROMPT, endpoint=Endpoint("m", server.base_url, "m"), chain=["hcl", "fmt", "validate"],
                      options=VerifyOptions(prompt=PROMPT, provider_mirror=mirror), artifacts_root=tmp_path / "art",
                      run_id="fix", ready_timeout=5, **kw)


def tfagent(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfagent.agent.cli", *args], cwd=cwd, env={**os.environ, "NO_COLOR": "1"},
                          capture_output=True, text=True, timeout=300)


def test_renames_are_applied_reverified_and_recorded(scripted_server, aws_mirror, tmp_path):
    scripted_server.enqueue(fence(FIXABLE))
    proc = tfagent(PROMPT, "--base-url", scripted_server.base_url, "--model", "m", "--autofix", "--verify",
                   "hcl,fmt,validate", "--candidates", "1", "--grounding", "none", "--feedback", "raw",  # autofix alone
                   "--provider-mirror", str(aws_mirror), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert len(scripted_server.chat_requests()) == 1, "fixed without asking the model again"
    assert "verified with autofix" in proc.stdout and "autofix (verified):" in proc.stderr
    written = (tmp_path / "infra" / "main.tf").read_text()
    for fixed in ('resource "aws_route53_zone" "main"', "zone_id = aws_route53_zone.main.zone_id",
                  'bucket = "example-bucket"', "versioning {", 'name         = "t"'):
        assert fixed in written, f"{fixed!r} not in\n{written}"
    assert "route_53" not in written and "bukket" not in written and "table_name" not in written
    # nothing deleted or invented: the same lines, the same values
    assert written.count("\n") == FIXABLE.count("\n")
    assert [line.split("=")[-1].strip() for line in written.splitlines() if "=" in line] == \
           [line.split("=")[-1].strip() for line in FIXABLE.replace("route_53", "route53").splitlines() if "=" in line]

    from tfagent.agent.loop.runs import RunStore

    run_id = RunStore().list()[0].run_id
    stored = json.loads(tfagent("runs", "show", run_id, "--json", cwd=tmp_path).stdout)["result"]["attempts"][0]
    renames = {(f["from"], f["to"], f["kind"]) for f in stored["autofix"]}
    assert renames == {("aws_route_53_zone", "aws_route53_zone", "type"),
                       ("aws_route_53_zone", "aws_route53_zone", "reference"), ("bukket", "bucket", "argument"),
                       ("versionin", "versioning", "block"), ("table_name", "name", "argument")}
    by_from = {f["from"]: f for f in stored["autofix"]}
    assert by_from["bukket"]["why"] == 'Terraform: Did you mean "bucket"?' and by_from["bukket"]["line"] == 27
    assert "aws_dynamodb_table" in by_from["table_name"]["why"]
    shown = tfagent("runs", "show", run_id, cwd=tmp_path).stdout
    assert "verified with autofix" in shown and "autofix: main.tf:27 bukket → bucket" in shown


def test_a_partial_fix_is_kept_and_told_and_the_nested_block_gets_its_hint(scripted_server, aws_mirror, tmp_path):
    scripted_server.enqueue(fence(PARTLY))
    scripted_server.enqueue(fence(GOOD_ZONE))
    result = run_agent(request(scripted_server, aws_mirror, tmp_path, autofix=True, feedback="schema"))
    assert result.ok and len(result.attempts) == 2
    first, second = result.attempts
    assert not first.ok and [(f["from"], f["to"]) for f in first.autofix] == [("aws_route_53_zone", "aws_route53_zone")]
    assert 'resource "aws_route53_zone" "private"' in first.files["main.tf"], "the better (fixed) files are kept"
    feedback = first.feedback
    assert feedback.startswith("tfagent applied these renames to your files")
    assert '- main.tf:14: "aws_route_53_zone" -> "aws_route53_zone" (Terraform: Did you mean "aws_route53_zone"?)' in feedback
    assert "Add the required argument to aws_route53_zone > vpc: vpc_id = <string>" in feedback
    retry = scripted_server.chat_requests()[1]["messages"]
    assert retry[-1]["content"] == feedback and retry[-2]["content"] == fence(PARTLY), "the model's own reply stays"
    assert not second.autofix and not second.autofixed, "solved by the model, not by autofix"


def test_without_autofix_nothing_is_renamed(scripted_server, aws_mirror, tmp_path):
    scripted_server.enqueue(fence(FIXABLE))
    result = run_agent(request(scripted_server, aws_mirror, tmp_path, max_attempts=1))
    assert not result.ok and not result.attempts[0].autofix and "bukket" in result.attempts[0].files["main.tf"]


def test_no_rename_where_the_name_is_not_or_the_target_is_set_already():
    files = {"main.tf": 'resource "aws_s3_bucket" "b" {\n  bucket = "x"\n  bukket = "y"\n  tags = {\n    bukket = "z"\n  }\n}\n'}
    said = 'An argument named "bukket" is not expected here. Did you mean "bucket"?'
    twice = error("Unsupported argument", said, file="main.tf", line=3, column=3)
    assert propose([twice], files, None) == [], "bucket is set already: renaming would define it twice"
    assert block_arguments(files["main.tf"], 3) == ["bucket", "bukket", "tags"]
    assert block_arguments(files["main.tf"], 5) == ["bukket"]
    # a rename is made only where its text is: the wrong line changes nothing
    fixed, made = apply_fixes(files, [Fix("main.tf", 2, "bukket", "bucket", "why")])
    assert made == [] and fixed == files
    fixed, made = apply_fixes(files, [Fix("main.tf", 5, "bukket", "bucket", "why")])
    assert made and fixed["main.tf"].splitlines()[4] == '    bucket = "z"' and 'bukket = "y"' in fixed["main.tf"]


def test_a_type_of_no_provider_gets_the_real_prefixed_type_the_schema_has(scripted_server, aws_mirror, tmp_path):
    # the 0.5B's `resource "s3_bucket"`: init looks for hashicorp/s3; aws_s3_bucket is in the aws schema
    body = ('resource "s3_bucket" "logs" {\n  bucket = "example-logs"\n}\n\n'
            'output "arn" {\n  value = s3_bucket.logs.arn\n}\n')
    scripted_server.enqueue(fence(body))
    result = run_agent(request(scripted_server, aws_mirror, tmp_path, autofix=True, max_attempts=1))
    assert result.ok and result.attempts[0].autofixed
    assert [(f["from"], f["to"], f["kind"]) for f in result.attempts[0].autofix] == [
        ("s3_bucket", "aws_s3_bucket", "type"), ("s3_bucket", "aws_s3_bucket", "reference")]
    assert 'resource "aws_s3_bucket" "logs"' in result.files["main.tf"] and "aws_s3_bucket.logs.arn" in result.files["main.tf"]
    assert "belongs to no provider" in result.attempts[0].autofix[0]["why"]


def test_a_block_written_as_an_argument_becomes_the_block_terraform_names(scripted_server, aws_mirror, tmp_path):
    """The 0.5B's `versioning = { enabled = true }` (demo, seed 1): Terraform says "Did you mean to define a
    block of type "versioning"?" — the same content, written as a block, verifies."""
    body = ('resource "aws_s3_bucket" "example" {\n  bucket = "example-bucket"\n  versioning = {\n    enabled = true\n  }\n'
            '  tags = {\n    Name = "x"\n  }\n}\n')
    scripted_server.enqueue(fence(body))
    result = run_agent(request(scripted_server, aws_mirror, tmp_path, autofix=True, max_attempts=1))
    assert result.ok and result.attempts[0].autofixed, result.attempts[0].feedback
    assert [(f["from"], f["to"], f["kind"], f["line"]) for f in result.attempts[0].autofix] == [
        ("versioning", "versioning", "block_syntax", 3)]
    fixed = result.files["main.tf"]
    assert "versioning {" in fixed and "versioning =" not in fixed
    assert "tags = {" in fixed, "an argument that is a map stays an argument"
    assert fixed.count("\n") == body.count("\n") and "enabled = true" in fixed
    # Shown as the change it is (the demo printed "versioning → versioning"): CLI, PR body and feedback.
    assert fix_change(result.attempts[0].autofix[0]) == ("versioning = {", "versioning {")
    assert "`versioning = {` → `versioning {`" in autofix_section(result)
