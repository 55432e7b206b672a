"""Offline plans past data sources that need the AWS API (opt-in ``defer_data_sources``), with real
Terraform and the real aws 3.39.0 provider."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tfagent.verifiers.base import VerifyContext, VerifyOptions
from tfagent.verifiers.terraform.hcl import iter_blocks, parse_folder
from tfagent.verifiers.terraform.plan import TerraformPlan
from tfagent.verifiers.terraform.plan_defer import (DEFER_ADDRESS, DEFER_FILE, _insert_depends_on, defer_data_sources,
                                          original_line, supports_deferral)

PINNED = """terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "3.39.0" }
  }
}
"""  # 5 lines


def test_depends_on_is_inserted_into_every_header_shape_and_lines_map_back(tmp_path):
    text = ('data "aws_ami" "a" {\n  most_recent = true\n}\n'
            'data "aws_availability_zones" "b" {}\n'
            'data "aws_caller_identity" "c" { }\n'
            'data "aws_region" "d" { name = "us-east-1" }\n'
            'data "aws_partition" "e" { # why\n}\n'
            'resource "aws_s3_bucket" "x" {\n  bucket = "after"\n}\n')
    (tmp_path / "main.tf").write_text(text)
    config = parse_folder(tmp_path)
    wanted = {"data.aws_ami.a", "data.aws_availability_zones.b", "data.aws_caller_identity.c",
              "data.aws_region.d", "data.aws_partition.e"}
    deferred, origins = defer_data_sources(tmp_path, config, wanted)
    assert deferred == wanted
    rewritten = parse_folder(tmp_path)
    assert rewritten.ok, rewritten.diagnostics
    bodies = {f"data.{t}.{n}": body for _, t, n, body in iter_blocks(rewritten, "data")}
    assert all(f"${{{DEFER_ADDRESS}}}" in str(bodies[a]["depends_on"]) for a in wanted)
    assert bodies["data.aws_region.d"]["name"] == '"us-east-1"'  # python-hcl2 keeps the quotes
    new_lines = (tmp_path / "main.tf").read_text().split("\n")
    bucket_line = next(i for i, line in enumerate(new_lines, 1) if 'bucket = "after"' in line)
    assert original_line(origins, "main.tf", bucket_line) == 10  # where the model wrote it
    assert original_line(origins, "other.tf", 3) == 3
    assert (tmp_path / DEFER_FILE).read_text().startswith('resource "terraform_data"')


def test_blocks_with_their_own_depends_on_or_not_asked_for_are_left_alone(tmp_path):
    text = 'data "aws_ami" "a" {\n  depends_on = [aws_s3_bucket.x]\n}\ndata "aws_ami" "b" {}\n'
    (tmp_path / "main.tf").write_text(text)
    deferred, _ = defer_data_sources(tmp_path, parse_folder(tmp_path), {"data.aws_ami.a"})
    assert deferred == set() and (tmp_path / "main.tf").read_text() == text
    assert not (tmp_path / DEFER_FILE).exists()
    out, origin, done = _insert_depends_on(text, [("aws_ami", "b")])
    assert done == [("aws_ami", "b")] and origin == [1, 2, 3, 4, 4, 4, 5]


def test_terraform_versions_without_terraform_data_are_not_deferred():
    assert supports_deferral("1.11.4") and supports_deferral("1.4.0") and not supports_deferral("1.3.9")
    assert not supports_deferral("unknown")


@pytest.fixture
def options(aws_mirror, tmp_path):
    return VerifyOptions(provider_mirror=aws_mirror, offline_aws=True, artifacts_dir=tmp_path / "artifacts",
                         terraform_cache_dir=str(tmp_path / "cache"), defer_data_sources=True)


def test_plan_reads_api_data_sources_at_apply_and_writes_a_clean_plan_json(tmp_path, options):
    folder = tmp_path / "attempt"
    folder.mkdir()
    (folder / "main.tf").write_text(
        PINNED + 'data "aws_ami" "ubuntu" {\n  most_recent = true\n  owners = ["099720109477"]\n}\n'
        'data "aws_availability_zones" "azs" {}\n'
        'resource "aws_instance" "web" {\n  ami = data.aws_ami.ubuntu.id\n  instance_type = "t2.micro"\n'
        '  availability_zone = data.aws_availability_zones.azs.names[0]\n}\n')
    before = (folder / "main.tf").read_text()
    ctx = VerifyContext(folder, options)
    verdict = TerraformPlan().verify(ctx)
    assert verdict.ok, verdict.diagnostics
    assert verdict.note == "plan ok: 3 resource change(s); 2 data source(s) read at apply (offline)"
    assert [(d.severity, d.rule, d.line) for d in verdict.diagnostics] == [
        ("warning", "offline_data_source", 6), ("warning", "offline_data_source", 10)]
    plan = json.loads(Path(ctx.artifacts["plan_json"]).read_text())
    changes = {c["address"]: c["change"] for c in plan["resource_changes"]}
    assert set(changes) == {"data.aws_ami.ubuntu", "data.aws_availability_zones.azs", "aws_instance.web"}
    assert changes["aws_instance.web"]["actions"] == ["create"]
    assert changes["aws_instance.web"]["after_unknown"]["ami"] is True  # known after apply
    assert changes["aws_instance.web"]["after"]["instance_type"] == "t2.micro"
    assert DEFER_ADDRESS not in json.dumps(plan)  # our helper is not part of the user's plan
    assert (folder / "main.tf").read_text() == before and os.listdir(folder) == ["main.tf"]
