"""End to end: the real `tfagent` CLI, the scripted OpenAI-compatible server on 127.0.0.1, real
Terraform and the real hashicorp/aws 3.39.0 provider from an offline filesystem mirror."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import OLD_STRATEGY_FLAGS  # the loop before issue 19: these tests count one request per attempt

PROVIDER = 'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n      version = "3.39.0"\n    }\n  }\n}\n\nprovider "aws" {\n  region = "us-east-1"\n}\n\n'
BAD = PROVIDER + 'resource "aws_s3_bucket" "b" {\n  bukket = "tfagent-demo"\n}\n'
GOOD = PROVIDER + 'resource "aws_s3_bucket" "b" {\n  bucket = "tfagent-demo"\n}\n'


def fence(body: str, name: str = "main.tf") -> str:
    return f'Here is the configuration.\n```hcl title="{name}"\n{body}```\n'


def tfagent(*args: str, cwd: Path, env_extra: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "tfagent.agent.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_bad_then_good_reply_is_verified_in_two_attempts(scripted_server, aws_mirror, tmp_path):
    scripted_server.enqueue(fence(BAD))
    scripted_server.enqueue(fence(GOOD))
    proc = tfagent("create an S3 bucket", "--base-url", scripted_server.base_url, "--model", "m",
                   "--provider-mirror", str(aws_mirror), "--out", "infra", "--json", *OLD_STRATEGY_FLAGS, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    doc = json.loads(proc.stdout)
    assert doc["ok"] is True and len(doc["attempts"]) == 2
    first, second = doc["attempts"]
    assert not first["ok"] and second["ok"]
    summaries = [d["summary"] for v in first["verdicts"] for d in v["diagnostics"]]
    assert "Unsupported argument" in summaries
    requests = scripted_server.chat_requests()
    assert len(requests) == 2
    m1, m2 = requests[0]["messages"], requests[1]["messages"]
    assert m2[: len(m1)] == m1, "retry must extend the first request byte-for-byte (prefix cache)"
    assert m2[len(m1)]["role"] == "assistant" and m2[len(m1)]["content"] == fence(BAD)
    assert m2[-1]["role"] == "user" and "bukket" in m2[-1]["content"] and "Unsupported argument" in m2[-1]["content"]
    assert len(m2) == len(m1) + 2
    on_disk = (tmp_path / "infra" / "main.tf").read_text()
    assert on_disk == second["files"]["main.tf"]
    assert 'bucket = "tfagent-demo"' in on_disk
    assert first["usage"]["completion_tokens"] > 0 and second["verify_seconds"] > 0


def test_out_of_attempts_exits_1_after_exactly_n_requests_and_writes_nothing(scripted_server, aws_mirror, tmp_path):
    for _ in range(2):
        scripted_server.enqueue(fence(BAD))
    proc = tfagent("bucket", "--base-url", scripted_server.base_url, "--provider-mirror", str(aws_mirror),
                   "--max-attempts", "2", *OLD_STRATEGY_FLAGS, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert len(scripted_server.chat_requests()) == 2
    assert not (tmp_path / "infra").exists()
    assert "not verified" in proc.stdout


def test_unreachable_server_exits_3_quickly_with_one_line(tmp_path):
    start = time.monotonic()
    proc = tfagent("bucket", "--base-url", "http://127.0.0.1:9/v1", "--ready-timeout", "2", *OLD_STRATEGY_FLAGS, cwd=tmp_path)
    assert proc.returncode == 3
    assert time.monotonic() - start < 15
    assert "127.0.0.1:9" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_cut_off_and_fileless_and_hostile_replies_are_failed_attempts_with_feedback(scripted_server, tmp_path):
    scripted_server.enqueue("```hcl title=\"main.tf\"\nresource \"aws_s3_bucket\" \"b\" {\n", finish_reason="length")
    scripted_server.enqueue("Sorry, I can't.")
    scripted_server.enqueue(fence('variable "x" {}\n', name="../../etc/evil.tf"))
    proc = tfagent("bucket", "--base-url", scripted_server.base_url, "--verify", "hcl", "--json", *OLD_STRATEGY_FLAGS,
                   cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    attempts = json.loads(proc.stdout)["attempts"]
    cats = [[d["category"] for d in a["reply_diagnostics"]] for a in attempts]
    assert cats == [["cutoff"], ["no_code"], ["unsafe_path"]]
    feedback_turns = [r["messages"][-1]["content"] for r in scripted_server.chat_requests()[1:]]
    assert "cut off" in feedback_turns[0] and "no file" in feedback_turns[1]
    assert not (tmp_path / "etc").exists() and not (tmp_path.parent / "etc" / "evil.tf").exists()


def test_existing_files_are_not_overwritten_without_force(scripted_server, tmp_path):
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "main.tf").write_text("# mine\n")
    scripted_server.enqueue(fence('variable "x" {}\n'))
    proc = tfagent("x", "--base-url", scripted_server.base_url, "--verify", "hcl", *OLD_STRATEGY_FLAGS, cwd=tmp_path)
    assert proc.returncode == 2 and "--force" in proc.stderr
    assert (tmp_path / "infra" / "main.tf").read_text() == "# mine\n"


def test_runs_are_listed_and_shown(scripted_server, tmp_path):
    scripted_server.enqueue(fence('variable "x" {}\n'))
    proc = tfagent("make a variable", "--base-url", scripted_server.base_url, "--verify", "hcl", "--json",
                   *OLD_STRATEGY_FLAGS, cwd=tmp_path)
    run_id = json.loads(proc.stdout)["run_id"]
    listing = tfagent("runs", cwd=tmp_path)
    assert run_id in listing.stdout and "verified" in listing.stdout
    shown = tfagent("runs", "show", run_id, "--json", cwd=tmp_path)
    assert json.loads(shown.stdout)["result"]["attempts"][0]["ok"] is True


def test_transport_faults_are_retried_and_never_count_as_attempts(scripted_server, tmp_path):
    for kind in ("429", "500", "cut", "refuse"):
        scripted_server.enqueue_fault(kind)
    scripted_server.enqueue(fence('variable "x" {}\n'))
    proc = tfagent("x", "--base-url", scripted_server.base_url, "--verify", "hcl", "--json", *OLD_STRATEGY_FLAGS,
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    [attempt] = json.loads(proc.stdout)["attempts"]
    assert attempt["ok"] and attempt["number"] == 1 and attempt["transport_retries"] == 4


def test_endpoints_lists_configured_endpoints_and_whether_each_answers(scripted_server, tmp_path):
    (tmp_path / "tfagent.toml").write_text(
        f'[endpoints.up]\nbase_url = "{scripted_server.base_url}"\nmodel = "m"\nbpw = 1.56\n'
        '[endpoints.down]\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n'
    )
    proc = tfagent("endpoints", "--timeout", "1", cwd=tmp_path, env_extra={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    up = next(line for line in proc.stdout.splitlines() if "│ up" in line)
    down = next(line for line in proc.stdout.splitlines() if "│ down" in line)
    assert "yes" in up and "1.56" in up and "no" in down


def test_verify_command_runs_the_chain_without_a_model(aws_mirror, tmp_path):
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir(), bad.mkdir()
    (good / "main.tf").write_text(GOOD)
    (bad / "main.tf").write_text(BAD)
    ok = tfagent("verify", str(good), "--provider-mirror", str(aws_mirror), "--json", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert [s["verifier"] for s in json.loads(ok.stdout)["stages"]] == ["hcl", "fmt", "validate", "rego"]
    ko = tfagent("verify", str(bad), "--provider-mirror", str(aws_mirror), "--json", cwd=tmp_path)
    assert ko.returncode == 1
    stages = json.loads(ko.stdout)["stages"]
    assert stages[-1]["verifier"] == "validate" and not stages[-1]["ok"]
    assert stages[-1]["diagnostics"][0]["line"] == 15
    assert (bad / "main.tf").read_text() == BAD  # the user's files are never rewritten
    unknown = tfagent("verify", str(good), "--verify", "hcl,nope", cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown verifier 'nope'" in unknown.stderr


def test_unusable_terraform_is_a_usage_error_before_any_model_call(scripted_server, tmp_path):
    proc = tfagent("x", "--base-url", scripted_server.base_url, "--terraform", str(tmp_path / "no-such-terraform"), cwd=tmp_path)
    assert proc.returncode == 2 and "terraform" in proc.stderr
    assert scripted_server.chat_requests() == []


def test_plan_and_builtin_intent_rules_reach_the_model(scripted_server, aws_mirror, tmp_path):
    public = GOOD
    private = GOOD + (
        '\nresource "aws_s3_bucket_public_access_block" "b" {\n  bucket                  = aws_s3_bucket.b.id\n'
        "  block_public_acls       = true\n  block_public_policy     = true\n  ignore_public_acls      = true\n"
        "  restrict_public_buckets = true\n}\n"
    )
    scripted_server.enqueue(fence(public))
    scripted_server.enqueue(fence(private))
    proc = tfagent("create a private S3 bucket", "--base-url", scripted_server.base_url, "--provider-mirror", str(aws_mirror),
                   "--offline-aws", "--verify", "hcl,fmt,validate,plan,rego", "--json", *OLD_STRATEGY_FLAGS, cwd=tmp_path,
                   timeout=400)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    first, second = json.loads(proc.stdout)["attempts"]
    rego = first["verdicts"][-1]
    assert rego["verifier"] == "rego" and not rego["ok"] and "no_public_access" in rego["note"]
    assert "public access" in scripted_server.chat_requests()[1]["messages"][-1]["content"]
    assert second["ok"] and "plan_json" in second["verdicts"][3]["artifacts"]


def test_bad_policy_is_a_usage_error(scripted_server, tmp_path):
    bad = tmp_path / "bad.rego"
    bad.write_text("package x\n deny[msg { \n")
    proc = tfagent("x", "--base-url", scripted_server.base_url, "--verify", "hcl,rego", "--policy", str(bad), cwd=tmp_path)
    assert proc.returncode == 2 and "bad.rego" in proc.stderr
    assert scripted_server.chat_requests() == []


def test_default_chain_checks_the_stated_intent(scripted_server, aws_mirror, tmp_path):
    """The demo's "private S3 bucket" never ends verified while public access is not blocked."""
    for _ in range(2):
        scripted_server.enqueue(fence(GOOD))
    proc = tfagent("create a private S3 bucket", "--base-url", scripted_server.base_url, "--provider-mirror",
                   str(aws_mirror), "--max-attempts", "2", *OLD_STRATEGY_FLAGS, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr + proc.stdout
    out = " ".join(proc.stdout.split())  # the console wraps long lines
    assert "not verified" in out and "rules applied: no_public_access)" in out
    assert "public access" in scripted_server.chat_requests()[1]["messages"][-1]["content"]
