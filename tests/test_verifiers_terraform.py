"""hcl / fmt / validate / plan verifiers against real Terraform and the real aws 3.39.0 provider."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tfagent.verifiers.base import VerifyContext, VerifyOptions
from tfagent.verifiers.terraform.fmt import TerraformFmt
from tfagent.verifiers.terraform.hcl import HclSyntax, parse_folder
from tfagent.verifiers.terraform.plan import OVERRIDE_FILE, PROVIDER_FILE, TerraformPlan, offline_aws_files
from tfagent.verifiers.registry import build_chain, discover
from tfagent.verifiers.terraform.validate import TerraformValidate

PINNED = """terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "3.39.0" }
  }
}
"""  # 5 lines: the model's resources below start on line 6


@pytest.fixture(scope="module")
def tf_cache(tmp_path_factory) -> Path:
    """One provider/init cache for this module's tests (each test still gets a fresh folder)."""
    return tmp_path_factory.mktemp("tf-cache")


@pytest.fixture
def options(aws_mirror, tf_cache, tmp_path) -> VerifyOptions:
    return VerifyOptions(provider_mirror=aws_mirror, offline_aws=True, artifacts_dir=tmp_path / "artifacts",
                         terraform_cache_dir=str(tf_cache))


def folder_with(tmp_path: Path, text: str, name: str = "main.tf") -> Path:
    folder = tmp_path / "attempt"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


def run(verifier, folder: Path, options: VerifyOptions, artifacts: dict | None = None):
    ctx = VerifyContext(folder, options, artifacts if artifacts is not None else {})
    return verifier.verify(ctx), ctx


def test_entry_points_load_these_classes():
    found = discover()
    for name, cls in (("hcl", HclSyntax), ("fmt", TerraformFmt), ("validate", TerraformValidate), ("plan", TerraformPlan)):
        assert found[name].cls is cls, found[name].load_error
    chain = build_chain(["hcl", "fmt", "validate", "plan"], {"hcl", "fmt", "validate", "plan"})
    assert chain.names == ["hcl", "fmt", "validate", "plan"]


# ---- hcl ------------------------------------------------------------------------------------

def test_hcl_reports_syntax_error_with_file_line_and_expected_tokens(tmp_path, options):
    folder = folder_with(tmp_path, 'resource "aws_s3_bucket" "b" {\n  bucket = \n}\n')
    (folder / "ok.tf").write_text('variable "x" {}\n')
    verdict, _ = run(HclSyntax(), folder, options)
    assert not verdict.ok
    [diag] = verdict.diagnostics
    assert (diag.file, diag.line, diag.category, diag.source) == ("main.tf", 2, "syntax", "hcl")
    assert diag.column is not None and "expected a value" in diag.detail
    assert "2 |   bucket =" in diag.detail


def test_hcl_passes_valid_files_and_fails_an_empty_folder(tmp_path, options):
    verdict, _ = run(HclSyntax(), folder_with(tmp_path, PINNED), options)
    assert verdict.ok and verdict.note == "1 file(s) parsed"
    empty = tmp_path / "empty"
    empty.mkdir()
    verdict, _ = run(HclSyntax(), empty, options)
    assert not verdict.ok and verdict.diagnostics[0].category == "no_code"


# ---- fmt ------------------------------------------------------------------------------------

def test_fmt_rewrites_a_badly_indented_file_and_passes(tmp_path, options):
    folder = folder_with(tmp_path, 'resource "aws_s3_bucket" "b" {\nbucket = "x"\n      acl="private"\n}\n')
    verdict, _ = run(TerraformFmt(), folder, options)
    assert verdict.ok and verdict.note == "formatted: main.tf"
    assert (folder / "main.tf").read_text() == 'resource "aws_s3_bucket" "b" {\n  bucket = "x"\n  acl    = "private"\n}\n'
    verdict, _ = run(TerraformFmt(), folder, options)
    assert verdict.ok and verdict.note == "already formatted"


def test_fmt_on_unparsable_file_fails_with_location(tmp_path, options):
    folder = folder_with(tmp_path, 'resource "aws_s3_bucket" "b" {\n  bucket = \n}\n')
    verdict, _ = run(TerraformFmt(), folder, options)
    assert not verdict.ok
    diag = verdict.diagnostics[0]
    assert (diag.file, diag.line, diag.summary) == ("main.tf", 2, "Invalid expression")


def test_fmt_through_the_embedded_engine(tmp_path, options):
    options.terraform = "embedded"
    folder = folder_with(tmp_path, 'variable "x" {\ndefault = 1\n}\n')
    verdict, _ = run(TerraformFmt(), folder, options)
    assert verdict.ok and verdict.note == "formatted: main.tf"
    assert (folder / "main.tf").read_text() == 'variable "x" {\n  default = 1\n}\n'
    (folder / "main.tf").write_text('variable "x" {\n  default = \n}\n')
    verdict, _ = run(TerraformFmt(), folder, options)
    assert not verdict.ok
    assert [(d.file, d.line, d.summary) for d in verdict.diagnostics] == [("main.tf", 2, "Invalid expression")]


# ---- validate -------------------------------------------------------------------------------

def test_validate_typo_is_unsupported_argument_with_suggestion(tmp_path, options):
    folder = folder_with(tmp_path, PINNED + 'resource "aws_s3_bucket" "b" {\n  bukket = "x"\n}\n')
    verdict, _ = run(TerraformValidate(), folder, options)
    assert not verdict.ok
    [diag] = verdict.diagnostics
    assert (diag.summary, diag.file, diag.line, diag.column) == ("Unsupported argument", "main.tf", 7, 3)
    assert diag.category == "unknown_argument" and 'Did you mean "bucket"?' in diag.detail
    assert '7 |   bukket = "x"' in diag.detail


def test_validate_wrong_type_and_missing_argument_are_sorted_by_position(tmp_path, options):
    folder = folder_with(tmp_path, PINNED + 'resource "aws_iam_role" "r" {\n  name = "r"\n}\n')
    (folder / "a.tf").write_text('resource "aws_s3_bucket" "b" {\n  bucket = "x"\n  tags   = "not-a-map"\n}\n')
    verdict, _ = run(TerraformValidate(), folder, options)
    assert [(d.file, d.line, d.summary, d.category) for d in verdict.diagnostics] == [
        ("a.tf", 3, "Incorrect attribute value type", "type"),
        ("main.tf", 6, "Missing required argument", "missing_argument"),
    ]
    assert "assume_role_policy" in verdict.diagnostics[1].detail


def test_validate_hallucinated_type_gets_an_actionable_diagnostic(tmp_path, options):
    folder = folder_with(tmp_path, 'provider "aws" {\n  region = "us-east-1"\n}\n\nresource "s3_bucket" "private" {\n  bucket = "x"\n}\n')
    verdict, _ = run(TerraformValidate(), folder, options)
    assert not verdict.ok
    [diag] = verdict.diagnostics
    assert (diag.summary, diag.file, diag.line, diag.category) == ('Unknown resource type "s3_bucket"', "main.tf", 5, "unknown_resource")
    assert 'start with "aws_"' in diag.detail and '"aws_s3_bucket"' in diag.detail


def test_validate_provider_missing_from_the_mirror_is_a_provider_diagnostic(tmp_path, options, aws_mirror):
    folder = folder_with(tmp_path, 'provider "azurerm" {\n  features {}\n}\nresource "azurerm_resource_group" "rg" {\n'
                                   '  name     = "rg"\n  location = "westeurope"\n}\n')
    verdict, _ = run(TerraformValidate(), folder, options)
    assert not verdict.ok
    [diag] = verdict.diagnostics
    assert diag.category == "provider" and "hashicorp/azurerm" in diag.summary
    assert f"mirror {aws_mirror} does not hold it" in diag.detail
    assert (diag.file, diag.line) == ("main.tf", 4)


def test_validate_version_the_mirror_lacks_names_the_versions_it_has(tmp_path, options):
    folder = folder_with(tmp_path, PINNED.replace('"3.39.0"', '"~> 5.0"') + 'resource "aws_s3_bucket" "b" {}\n')
    verdict, _ = run(TerraformValidate(), folder, options)
    [diag] = verdict.diagnostics
    assert diag.category == "provider" and "holds only versions 3.39.0" in diag.detail


def test_validate_on_unparsable_files_reports_syntax_not_a_crash(tmp_path, options):
    folder = folder_with(tmp_path, PINNED + 'resource "aws_s3_bucket" "b" {\n  bucket = \n}\n')
    verdict, _ = run(TerraformValidate(), folder, options)
    assert not verdict.ok
    assert ("main.tf", 7, "syntax") in {(d.file, d.line, d.category) for d in verdict.diagnostics}



@pytest.mark.parametrize("engine", ["default", "embedded"])
@pytest.mark.parametrize("block, summary, line", [
    ('provider "hashicorp/aws" {\n  region = "us-east-1"\n}\n', "Invalid provider local name", 1),
    ('terraform {\n  required_providers {\n    aws = { source = "hashicorp//aws" }\n  }\n}\n', "Invalid provider source string", 3),
])
def test_validate_a_provider_name_terraform_rejects_is_reported_where_the_model_wrote_it(tmp_path, options, engine,
                                                                                      block, summary, line):
    # The demo's 0.5B model wrote `provider "hashicorp/aws"`. Init runs on a requirements file tfagent
    # writes; copying the bad name into it made init fail on that file ("requirements.tf line 4"), a
    # place the model never saw. The name is left out of init, and validate reports it in main.tf.
    if engine == "embedded":
        options.terraform = "embedded"
    folder = folder_with(tmp_path, block + '\nresource "aws_s3_bucket" "b" {\n  bucket = "x"\n}\n')
    verdict, _ = run(TerraformValidate(), folder, options)
    assert not verdict.ok
    assert [(d.summary, d.file, d.line, d.category) for d in verdict.diagnostics] == [(summary, "main.tf", line, "provider")]


# ---- plan -----------------------------------------------------------------------------------

def test_plan_of_a_valid_bucket_offline_saves_plan_json(tmp_path, options):
    folder = folder_with(tmp_path, PINNED + 'resource "aws_s3_bucket" "b" {\n  bucket = "my-private-bucket"\n  acl    = "private"\n}\n')
    verdict, ctx = run(TerraformPlan(), folder, options)
    assert verdict.ok, verdict.diagnostics
    plan_path = Path(ctx.artifacts["plan_json"])
    assert plan_path == tmp_path / "artifacts" / "plan.json"
    plan = json.loads(plan_path.read_text())
    [change] = plan["resource_changes"]
    assert change["address"] == "aws_s3_bucket.b" and change["change"]["actions"] == ["create"]
    assert change["change"]["after"]["acl"] == "private"
    assert sorted(os.listdir(folder)) == ["main.tf"], "no override or lock file left in the model's folder"


def test_plan_merges_offline_settings_into_the_models_provider_block_and_reads_home_keys(tmp_path, options):
    folder = folder_with(tmp_path, PINNED + 'provider "aws" {\n  region = "eu-west-1"\n}\n'
                                            'resource "aws_key_pair" "k" {\n  key_name   = "k"\n'
                                            '  public_key = file("~/.ssh/id_rsa.pub")\n}\n')
    verdict, ctx = run(TerraformPlan(), folder, options)
    assert verdict.ok, verdict.diagnostics
    plan = json.loads(Path(ctx.artifacts["plan_json"]).read_text())
    after = plan["resource_changes"][0]["change"]["after"]
    assert after["public_key"].startswith("ssh-ed25519 ")
    assert plan["configuration"]["provider_config"]["aws"]["expressions"]["region"]["constant_value"] == "eu-west-1"


def test_offline_files_override_existing_blocks_and_add_one_when_missing(tmp_path):
    with_block = folder_with(tmp_path, 'provider "aws" {\n  region = "eu-west-1"\n}\nprovider "aws" {\n  alias = "us"\n}\n')
    files = offline_aws_files(parse_folder(with_block), aws_major=3)
    assert set(files) == {OVERRIDE_FILE}
    assert files[OVERRIDE_FILE].count('provider "aws"') == 2 and 'alias = "us"' in files[OVERRIDE_FILE]
    assert "skip_get_ec2_platforms = true" in files[OVERRIDE_FILE]
    (with_block / "main.tf").write_text('resource "aws_s3_bucket" "b" {}\n')
    files = offline_aws_files(parse_folder(with_block), aws_major=5)
    assert set(files) == {PROVIDER_FILE} and "skip_get_ec2_platforms" not in files[PROVIDER_FILE]


def test_plan_errors_are_plan_diagnostics(tmp_path, options):
    folder = folder_with(tmp_path, PINNED + 'resource "aws_s3_bucket" "b" {\n  bukket = "x"\n}\n')
    verdict, ctx = run(TerraformPlan(), folder, options)
    assert not verdict.ok and "plan_json" not in ctx.artifacts
    [diag] = verdict.diagnostics
    assert (diag.summary, diag.line, diag.category) == ("Unsupported argument", 7, "plan")


def test_plan_data_source_needing_aws_is_reported_as_offline_not_as_a_model_error(tmp_path, options):
    folder = folder_with(tmp_path, PINNED + 'data "aws_ami" "ubuntu" {\n  most_recent = true\n  owners = ["099720109477"]\n}\n'
                                            'resource "aws_instance" "web" {\n  ami = data.aws_ami.ubuntu.id\n'
                                            '  instance_type = "t2.micro"\n}\n')
    verdict, _ = run(TerraformPlan(), folder, options)
    assert verdict.ok and "AWS API" in verdict.note
    [diag] = verdict.diagnostics
    assert diag.severity == "warning" and diag.rule == "offline_data_source"
    assert diag.summary == "data.aws_ami.ubuntu needs the AWS API; cannot plan offline" and diag.line == 6
