"""The built-in Rego pack (verifiers/policies) and intent selection, with real regopy; aws cases also
on real `terraform plan` JSON from the aws 3.39.0 provider (offline mirror)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hcl_samples import PUBLIC_ACCESS_BLOCK, STORAGE_ACCOUNT
from tfagent.verifiers.base import VerifyContext, VerifyOptions
from tfagent.verifiers.policy.intent import all_rules, select_rules
from tfagent.verifiers.terraform.plan import TerraformPlan
from tfagent.verifiers.policy.rego import RegoPolicy

AWS_PIN = """\
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "3.39.0" }
  }
}
provider "aws" {
  region = "us-east-1"
}
"""

PUBLIC_BUCKET_3X = AWS_PIN + """\
resource "aws_s3_bucket" "b" {
  bucket = "tfagent-public-demo"
  acl    = "public-read"
}
"""

PRIVATE_BUCKET_3X = AWS_PIN + """\
resource "aws_s3_bucket" "b" {
  bucket = "tfagent-private-demo"
  acl    = "private"
  versioning {
    enabled = true
  }
  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm = "AES256"
      }
    }
  }
}
""" + PUBLIC_ACCESS_BLOCK

PRIVATE_BUCKET_4X = """\
resource "aws_s3_bucket" "b" {
  bucket = "tfagent-private-demo"
}
""" + PUBLIC_ACCESS_BLOCK + """\
resource "aws_s3_bucket_versioning" "b" {
  bucket = "tfagent-private-demo"
  versioning_configuration {
    status = "Enabled"
  }
}
resource "aws_s3_bucket_server_side_encryption_configuration" "b" {
  bucket = aws_s3_bucket.b.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
  }
}
"""

NSG = """\
resource "azurerm_network_security_group" "nsg" {
  name                = "vm-nsg"
  location            = "westeurope"
  resource_group_name = "rg"
  security_rule {
    name                       = "ssh"
    priority                   = 100
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_range     = "22"
    source_address_prefix      = "%s"
    destination_address_prefix = "*"
  }
}
"""


@pytest.fixture(scope="module")
def tf_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tf-cache")


def folder_with(root: Path, text: str) -> Path:
    folder = root / "attempt"
    folder.mkdir(exist_ok=True)
    (folder / "main.tf").write_text(text)
    return folder


def check(root: Path, text: str, prompt: str, plan_options: VerifyOptions | None = None):
    """Run the rego verifier on the static view, or — given plan options — after a real plan."""
    folder = folder_with(root, text)
    options = plan_options or VerifyOptions()
    options.prompt = prompt
    ctx = VerifyContext(folder, options)
    if plan_options is not None:
        planned = TerraformPlan().verify(ctx)
        assert planned.ok, [d.summary for d in planned.diagnostics]
    return RegoPolicy().verify(ctx)


@pytest.fixture
def plan_options(aws_mirror, tf_cache, tmp_path) -> VerifyOptions:
    return VerifyOptions(provider_mirror=aws_mirror, offline_aws=True, artifacts_dir=tmp_path / "artifacts",
                         terraform_cache_dir=str(tf_cache))


@pytest.mark.parametrize("planned", [False, True], ids=["static", "real-plan"])
def test_public_bucket_fails_private_with_actionable_messages(planned, tmp_path, request):
    options = request.getfixturevalue("plan_options") if planned else None
    verdict = check(tmp_path, PUBLIC_BUCKET_3X, "a private S3 bucket for invoices", options)
    assert not verdict.ok
    assert {d.rule for d in verdict.diagnostics} == {"no_public_access"}
    summaries = sorted(d.summary for d in verdict.diagnostics)
    assert summaries[0].startswith('aws_s3_bucket.b: acl = "public-read" makes the bucket readable by anyone')
    assert summaries[1] == ("aws_s3_bucket.b: public access is not blocked — add an aws_s3_bucket_public_access_block "
                            "with bucket = aws_s3_bucket.b.id, block_public_acls = true, block_public_policy = true, "
                            "ignore_public_acls = true, restrict_public_buckets = true")
    assert all(d.file == "main.tf" and d.line == 9 and d.category == "intent" for d in verdict.diagnostics)
    assert "rules applied: no_public_access" in verdict.note


@pytest.mark.parametrize("planned", [False, True], ids=["static", "real-plan"])
def test_fixed_bucket_in_aws3_style_passes_private_versioned_encrypted(planned, tmp_path, request):
    options = request.getfixturevalue("plan_options") if planned else None
    verdict = check(tmp_path, PRIVATE_BUCKET_3X, "a private, versioned S3 bucket encrypted at rest", options)
    assert verdict.ok, [d.summary for d in verdict.diagnostics]
    assert "rules applied: no_public_access, encryption_at_rest, versioning" in verdict.note


def test_aws4_style_separate_resources_pass_and_a_suspended_versioning_fails(tmp_path):
    prompt = "a private, versioned S3 bucket encrypted at rest"
    assert check(tmp_path, PRIVATE_BUCKET_4X, prompt).ok
    suspended = check(tmp_path, PRIVATE_BUCKET_4X.replace('"Enabled"', '"Suspended"'), prompt)
    assert [d.rule for d in suspended.diagnostics] == ["versioning"]
    assert "add an aws_s3_bucket_versioning with bucket = aws_s3_bucket.b.id" in suspended.diagnostics[0].summary
    unlinked = PRIVATE_BUCKET_4X.replace("bucket                  = aws_s3_bucket.b.id", 'bucket = "another-bucket"')
    assert [d.rule for d in check(tmp_path, unlinked, prompt).diagnostics] == ["no_public_access"]


def test_public_storage_account_fails_private_and_the_fixed_one_passes(tmp_path):
    public = check(tmp_path, STORAGE_ACCOUNT % "", "a private storage account for backups")
    assert not public.ok
    text = " ".join(d.summary for d in public.diagnostics)
    assert "azurerm_storage_account.sa: the storage account accepts traffic from the internet" in text
    assert "public_network_access_enabled = false" in text and "allow_nested_items_to_be_public = false" in text
    fixed = STORAGE_ACCOUNT % "  public_network_access_enabled   = false\n  allow_nested_items_to_be_public = false\n"
    assert check(tmp_path, fixed, "a private storage account for backups").ok
    denied = STORAGE_ACCOUNT % ('  allow_nested_items_to_be_public = false\n'
                                '  network_rules {\n    default_action = "Deny"\n  }\n')
    assert check(tmp_path, denied, "a private storage account for backups").ok


def test_storage_account_tls_minimum_version(tmp_path):
    old = check(tmp_path, STORAGE_ACCOUNT % '  min_tls_version = "TLS1_0"\n', "a storage account that requires TLS 1.2")
    assert [d.rule for d in old.diagnostics] == ["tls_min_version"]
    assert 'set min_tls_version = "TLS1_2"' in old.diagnostics[0].summary
    assert check(tmp_path, STORAGE_ACCOUNT % '  min_tls_version = "TLS1_2"\n', "a storage account that requires TLS 1.2").ok


def test_nsg_with_ssh_open_to_everyone_fails_whatever_the_prompt(tmp_path):
    verdict = check(tmp_path, NSG % "*", "a network security group for my web VM")
    assert [d.rule for d in verdict.diagnostics] == ["admin_ports_closed"]
    assert verdict.diagnostics[0].summary.startswith(
        'azurerm_network_security_group.nsg security_rule "ssh": ingress from source_address_prefix "*" on port 22 (SSH)')
    assert verdict.diagnostics[0].line == 1
    assert check(tmp_path, NSG % "10.20.0.0/16", "a network security group for my web VM").ok
    separate = ('resource "azurerm_network_security_rule" "rdp" {\n  direction = "Inbound"\n  access = "Allow"\n'
                '  source_address_prefix = "Internet"\n  destination_port_ranges = ["443", "3380-3390"]\n}\n')
    found = check(tmp_path, separate, "a firewall rule").diagnostics
    assert [d.summary.split(" —")[0] for d in found] == [
        'azurerm_network_security_rule.rdp: ingress from source_address_prefix "Internet" on port 3389 (RDP) is open to the internet']


def test_security_group_on_a_real_plan(tmp_path, plan_options):
    sg = AWS_PIN + """\
resource "aws_security_group" "web" {
  name = "web"
  ingress {
    from_port   = %d
    to_port     = %d
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"""
    open_ssh = check(tmp_path, sg % (22, 22), "a security group for a web server", plan_options)
    assert [d.rule for d in open_ssh.diagnostics] == ["admin_ports_closed"] and "port 22 (SSH)" in open_ssh.diagnostics[0].summary
    https_only = check(tmp_path, sg % (443, 443), "a security group for a web server", plan_options)
    assert https_only.ok and "admin_ports_closed" in https_only.note


def test_key_vault_and_database_rules(tmp_path):
    vault = 'resource "azurerm_key_vault" "kv" {\n  name = "kv"\n  sku_name = "standard"\n%s}\n'
    prompt = "a private key vault with purge protection"
    failing = check(tmp_path, vault % "", prompt)
    assert sorted(d.rule for d in failing.diagnostics) == ["deletion_protection", "no_public_access"]
    fixed = vault % '  purge_protection_enabled = true\n  network_acls {\n    default_action = "Deny"\n    bypass = "AzureServices"\n  }\n'
    assert check(tmp_path, fixed, prompt).ok
    rds = 'resource "aws_db_instance" "db" {\n  engine = "postgres"\n  publicly_accessible = true\n}\n'
    found = check(tmp_path, rds, "a private postgres database, encrypted").diagnostics
    assert sorted(d.rule for d in found) == ["encryption_at_rest", "no_public_access"]
    mssql = 'resource "azurerm_mssql_server" "sql" {\n  name = "sql"\n  minimum_tls_version = "1.2"\n}\n'
    assert [d.rule for d in check(tmp_path, mssql, "a private SQL server").diagnostics] == ["no_public_access"]
    closed = mssql.replace("}\n", "  public_network_access_enabled = false\n}\n")
    assert check(tmp_path, closed, "a private SQL server with TLS 1.2").ok


@pytest.mark.parametrize("prompt, types, expected", [
    ("a private S3 bucket", {"aws_s3_bucket"}, ["no_public_access"]),
    ("an S3 bucket that is not public, with versioning", {"aws_s3_bucket"}, ["no_public_access", "versioning"]),
    ("Create a S3 bucket with versioning disabled.", {"aws_s3_bucket", "aws_s3_bucket_versioning"}, []),
    ("encrypt the storage account and require HTTPS", {"azurerm_storage_account"}, ["encryption_at_rest", "tls_min_version"]),
    ("a private VPC with a public and a private subnet", {"aws_vpc", "aws_subnet"}, []),
    ("an elastic beanstalk app running a version of Go", {"aws_elastic_beanstalk_application"}, []),
    ("a web VM", {"azurerm_network_security_group", "azurerm_linux_virtual_machine"}, ["admin_ports_closed"]),
    ("a key vault with soft delete and purge protection", {"azurerm_key_vault"}, ["deletion_protection"]),
    ("a database whose master password is kept in Secrets Manager with a KMS key", {"aws_db_instance"}, []),
])
def test_select_rules(prompt, types, expected):
    assert [r.name for r in select_rules(prompt, types)] == expected


def test_every_rule_set_file_exists_and_declares_its_package():
    for rule in all_rules():
        assert f"package {rule.package}\n" in rule.path.read_text(), rule.path
