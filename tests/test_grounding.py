"""--grounding schema: retrieval of the types a sentence needs (from the sentence and the real
hashicorp/aws 3.39.0 schema only), the cards (example values, references, under their budget), the
first request with the cards in the user turn (system prompt unchanged), and --dry-run printing it
without a model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfagent.agent.core.types import Endpoint
from tfagent.agent.core.verify_options import VerifySettings, build_verify_options
from tfagent.agent.loop.feedback import estimate_tokens
from tfagent.agent.loop.grounding import card_budget, cards, ground, reference_target, retrieve, sentence_words
from tfagent.agent.loop.nodes import first_messages
from tfagent.agent.loop.state import RunRequest
from tfagent.verifiers.terraform.schema_index import provider_index

PROVIDER = ('terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
            '      version = "3.39.0"\n    }\n  }\n}\n\nprovider "aws" {\n  region = "us-east-1"\n}\n\n')


@pytest.fixture(scope="module")
def index(aws_mirror, tmp_path_factory):
    os.environ.setdefault("CHECKPOINT_DISABLE", "1")
    return provider_index(build_verify_options("x", "terraform", None, VerifySettings(provider_mirror=aws_mirror)))


def types_of(index, sentence):
    return [r.type for r in retrieve(index, sentence)]


@pytest.mark.parametrize("sentence, wanted", [
    # how people name services: "Route 53" is aws_route53_*, and the record's zone_id brings the zone
    ("Set up a record that maps a domain name to an IPv4 address using Route 53 resources",
     {"aws_route53_record", "aws_route53_zone"}),
    ("create a private S3 bucket with versioning", {"aws_s3_bucket", "aws_s3_bucket_public_access_block"}),
    ("an application load balancer in front of two instances", {"aws_lb", "aws_lb_listener", "aws_lb_target_group"}),
    # a type written inside a longer one the sentence spells out is not retrieved on its own
    ("Create an AWS VPC with an Egress-Only Internet Gateway attached to it", {"aws_egress_only_internet_gateway", "aws_vpc"}),
    # references: the consumer's stream_arn brings the stream, vpc_id brings the VPC
    ("Generate a resource to manage a Kinesis Stream Consumer", {"aws_kinesis_stream_consumer", "aws_kinesis_stream"}),
    ("Create two AWS VPCs and establish a peering connection between them", {"aws_vpc_peering_connection", "aws_vpc"}),
    # a database named by its engine; a service named alone
    ("Create an AWS mySQL instance and a snapshot of the instance", {"aws_db_instance", "aws_db_snapshot"}),
    ("generate Basic Amazon Lightsail", {"aws_lightsail_instance"}),
    ("create Amazon Lightsail with static ipv4 IP",
     {"aws_lightsail_instance", "aws_lightsail_static_ip", "aws_lightsail_static_ip_attachment"}),
])
def test_retrieval_finds_the_types_a_sentence_needs(index, sentence, wanted):
    found = types_of(index, sentence)
    assert wanted <= set(found), found


def test_retrieval_keeps_ambiguous_words_apart(index):
    # "a Redis instance" is a cache cluster, not an EC2 instance; "egress-only" is not a plain gateway
    assert "aws_instance" not in types_of(index, "Provide a Redis Instance")
    assert "aws_elasticache_cluster" in types_of(index, "Provide a Redis Instance")
    assert "aws_internet_gateway" not in types_of(index, "Create an AWS VPC with an Egress-Only Internet Gateway")
    assert sentence_words("Route 53 records") == ["route53", "record"]


def test_reference_targets_follow_the_schema(index):
    assert reference_target(index, "aws_route53_record", "zone_id") == "aws_route53_zone"
    assert reference_target(index, "aws_subnet", "vpc_id") == "aws_vpc"
    assert reference_target(index, "aws_s3_bucket_public_access_block", "bucket") == "aws_s3_bucket"
    assert reference_target(index, "aws_sagemaker_image", "role_arn") == "aws_iam_role"
    assert reference_target(index, "aws_iam_user_ssh_key", "public_key") is None  # a value, not a reference


def test_cards_fill_required_arguments_with_values_and_references(index):
    found = ground(index, "Set up a record that maps a domain name to an IPv4 address using Route 53 resources")
    text = found.text
    assert 'resource "aws_route53_record" "example" {' in text and 'resource "aws_route53_zone" "example" {' in text
    assert "zone_id = aws_route53_zone.example.zone_id" in text  # a reference to the retrieved zone
    assert 'name    = "example"' in text and "<string>" not in text  # plausible values, never placeholders
    assert "# optional:" in text and "ttl" in text and "alias { … }" in text
    nested = ground(index, "create an aws_route53_zone").text
    assert "vpc { … }" in nested


def test_the_cards_written_verbatim_plan_offline(index, aws_mirror, tmp_path):
    """The cards are real HCL the provider accepts: the skeleton of a task, pasted, plans offline."""
    text = ground(index, "Create an AWS VPC resource with one public subnet and one private subnet").text
    (tmp_path / "main.tf").write_text(PROVIDER + text + "\n")
    proc = run_cli("verify", str(tmp_path), "--verify", "hcl,validate,plan", "--offline-aws", "--provider-mirror",
                   str(aws_mirror), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cards_stay_under_their_budget(index):
    sentence = ("Create an AWS VPC with a public subnet, a private subnet, an internet gateway, a NAT gateway, "
                "a route table, an application load balancer and a MySQL database")
    retrieved = retrieve(index, sentence)
    assert len(retrieved) == 8  # MAX_TYPES
    for context in (4096, 2048, 1024, 256):
        text = cards(index, retrieved, card_budget(context))
        assert estimate_tokens(text) <= card_budget(context)
    assert card_budget(4096) == 1024
    full, small = cards(index, retrieved, 1024), cards(index, retrieved, 160)
    assert full.count('resource "') > small.count('resource "') >= 1 or ("# optional" in full and "# optional" not in small)


def test_first_request_carries_cards_in_the_user_turn_and_the_system_prompt_is_unchanged(index):
    endpoint = Endpoint("e", "http://127.0.0.1:9/v1", "m")
    bare = first_messages(RunRequest(prompt="create a private S3 bucket", endpoint=endpoint))
    found = ground(index, "create a private S3 bucket")
    grounded = first_messages(RunRequest(prompt="create a private S3 bucket", endpoint=endpoint), found)
    assert grounded[0] == bare[0], "the system prompt never changes (prefix cache)"
    assert grounded[1]["content"].startswith(bare[1]["content"])
    assert "aws_s3_bucket_public_access_block" in grounded[1]["content"]
    assert "modules/net" not in bare[0]["content"] and "variables.tf" not in bare[0]["content"]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfagent.agent.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1"}, timeout=300)


def test_dry_run_prints_the_first_request_without_a_server(aws_mirror, tmp_path):
    # port 9 (discard): nothing listens; --dry-run must not try
    proc = run_cli("create a private S3 bucket with versioning", "--base-url", "http://127.0.0.1:9/v1", "--grounding",
                   "schema", "--constrain", "schema", "--provider-mirror", str(aws_mirror), "--dry-run", "--json",
                   "--seed", "5", "--temperature", "0.3", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    doc = json.loads(proc.stdout)
    assert doc["endpoint"]["params"] == {"seed": 5, "temperature": 0.3}  # the flags override the endpoint's
    assert doc["dry_run"] is True and [m["role"] for m in doc["messages"]] == ["system", "user"]
    assert 'resource "aws_s3_bucket_public_access_block" "example"' in doc["messages"][1]["content"]
    assert {"type": "aws_s3_bucket", "kind": "resource", "why": "named"} in doc["grounding"]
    assert doc["grammar"].startswith("root ::=") and '"aws_s3_bucket"' in doc["grammar"]
    assert not (tmp_path / "infra").exists()
    text = run_cli("create a private S3 bucket", "--base-url", "http://127.0.0.1:9/v1", "--provider-mirror",
                   str(aws_mirror), "--dry-run", cwd=tmp_path)
    assert text.returncode == 0 and "── user ──" in text.stdout and "not sent (--dry-run)" in text.stdout
    assert "The provider's own schema" in text.stdout  # grounding is the default (issue 19: the A/B's best arm)
    assert "sent 3 times (--candidates): 1 as shown; 2: temperature 0.7" in text.stdout  # so are 3 candidates
    assert [c["candidate"] for c in doc["candidates"]] == [1, 2, 3] and doc["candidates"][1]["temperature"] == 0.3
    plain = run_cli("create a private S3 bucket", "--base-url", "http://127.0.0.1:9/v1", "--provider-mirror",
                    str(aws_mirror), "--grounding", "none", "--dry-run", cwd=tmp_path)
    assert plain.returncode == 0 and "The provider's own schema" not in plain.stdout  # --grounding none: the sentence alone
    bare = run_cli("create a private S3 bucket", "--base-url", "http://127.0.0.1:9/v1", "--grounding", "schema",
                   "--dry-run", "--json", cwd=tmp_path)  # no mirror, no registry: said, not silently dropped
    assert bare.returncode == 0 and json.loads(bare.stdout)["notes"][0].startswith("--grounding schema: no provider schema")


def test_grounded_run_sends_the_cards_on_the_scripted_server(scripted_server, aws_mirror, tmp_path):
    good = PROVIDER + 'resource "aws_vpc" "main" {\n  cidr_block = "10.0.0.0/16"\n}\n'
    scripted_server.enqueue(f'```hcl title="main.tf"\n{good}```\n')
    proc = run_cli("create an AWS VPC", "--base-url", scripted_server.base_url, "--model", "m", "--grounding", "schema",
                   "--candidates", "1", "--feedback", "raw", "--no-autofix",  # grounding alone: one request
                   "--provider-mirror", str(aws_mirror), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    user = scripted_server.chat_requests()[0]["messages"][1]["content"]
    assert user.startswith("create an AWS VPC") and 'resource "aws_vpc" "example"' in user
    assert 'cidr_block = "10.0.0.0/16"' in user or "cidr_block" in user
