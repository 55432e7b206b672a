"""The repair loop on the scripted server + real Terraform: schema feedback keeps the prefix-stable
retry, repeats escalate with hotter sampling (a request parameter), grammars are sent and a server
that rejects them gets the request again without one and a note."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tfagent.agent.fake.server import ScriptedReply

from conftest import OLD_STRATEGY_FLAGS

# The feedback alone: one request per attempt, no cards, no renames (the loop before issue 19, but --feedback).
ONE_SAMPLE = ("--candidates", "1", "--grounding", "none", "--no-autofix")

PROVIDER = ('terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
            '      version = "3.39.0"\n    }\n  }\n}\n\nprovider "aws" {\n  region = "us-east-1"\n}\n\n')
BAD = PROVIDER + 'resource "aws_vpc" "main" {\n  vpc_name   = "main"\n  cidr_block = "10.0.0.0/16"\n}\n'
GOOD = PROVIDER + 'resource "aws_vpc" "main" {\n  cidr_block = "10.0.0.0/16"\n}\n'


def fence(body: str, name: str = "main.tf") -> str:
    return f'Here it is.\n```hcl title="{name}"\n{body}```\n'


def tfagent(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "tfagent.agent.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_schema_feedback_retry_extends_the_prefix_and_names_the_fix(scripted_server, aws_mirror, tmp_path):
    scripted_server.enqueue(fence(BAD))
    scripted_server.enqueue(fence(GOOD))
    proc = tfagent("create an AWS VPC", "--base-url", scripted_server.base_url, "--model", "m", "--feedback", "schema",
                   *ONE_SAMPLE, "--provider-mirror", str(aws_mirror), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    m1, m2 = (r["messages"] for r in scripted_server.chat_requests())
    assert m2[: len(m1)] == m1, "retry must extend the first request byte-for-byte (prefix cache)"
    feedback = m2[-1]["content"]
    assert 'has no argument or block "vpc_name"' in feedback and "cidr_block (required)" in feedback
    assert feedback.count('vpc_name   = "main"') == 1, "the code is shown once"


def test_repeated_reply_escalates_and_samples_hotter_keeping_the_prefix(scripted_server, aws_mirror, tmp_path):
    for _ in range(3):
        scripted_server.enqueue(fence(BAD))
    proc = tfagent("create an AWS VPC", "--base-url", scripted_server.base_url, "--model", "m", "--feedback", "schema",
                   *ONE_SAMPLE, "--provider-mirror", str(aws_mirror), "--json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    attempts = json.loads(proc.stdout)["attempts"]
    assert [a["repeat"] for a in attempts] == [None, "same_reply", "same_reply"]
    requests = scripted_server.chat_requests()
    assert "temperature" not in requests[1] and requests[2]["temperature"] >= 0.8
    assert requests[2]["seed"] != requests[1].get("seed")
    assert requests[2]["messages"][: len(requests[1]["messages"])] == requests[1]["messages"]
    assert "repeated the previous files unchanged" in requests[2]["messages"][-1]["content"]



def test_restate_answers_a_byte_identical_reply_with_one_fresh_turn(scripted_server, aws_mirror, tmp_path):
    # A small model copies its own previous turn (docs/results/repair-ab-0.5b-40): after a repeat,
    # `--feedback restate` quotes the failed reply inside one user turn instead of extending the chat.
    for _ in range(3):
        scripted_server.enqueue(fence(BAD))
    scripted_server.enqueue(fence(GOOD))
    proc = tfagent("create an AWS VPC", "--base-url", scripted_server.base_url, "--model", "m", "--feedback", "restate",
                   *ONE_SAMPLE, "--max-attempts", "4", "--provider-mirror", str(aws_mirror), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    attempts = json.loads(proc.stdout)["attempts"]
    assert [a["repeat"] for a in attempts] == [None, "same_reply", "same_reply", None]
    r1, r2, r3, r4 = (r["messages"] for r in scripted_server.chat_requests())
    assert r2[: len(r1)] == r1, "the first retry still extends the conversation (no repeat yet)"
    assert [m["role"] for m in r3] == ["system", "user"] and r3[0] == r1[0]
    turn = r3[1]["content"]
    assert turn.startswith(r1[1]["content"]) and 'vpc_name   = "main"' in turn
    assert turn.endswith(r2[-1]["content"].strip()[-200:]) and 'has no argument or block "vpc_name"' in turn
    assert r3[1]["content"].count(r2[-2]["content"].strip()) == 1, "the failed reply is quoted once"
    assert any("restates it in one fresh turn" in n for n in attempts[2]["notes"])
    assert [m["role"] for m in r4] == ["system", "user"], "a second repeat restates again"
    assert ["restates" in " ".join(a["notes"]) for a in attempts] == [False, False, True, True]
    assert all(req.get("temperature", 0) >= 0.8 for req in scripted_server.chat_requests()[2:])


def test_escalation_seeds_differ_per_task_and_attempt_and_are_reproducible():
    from tfagent.agent.loop.nodes import escalation_seed

    seeds = {escalation_seed(0, n, p) for n in (2, 3) for p in ("create a VPC", "create a bucket")}
    assert len(seeds) == 4 and all(0 <= s < 2**31 for s in seeds)
    assert escalation_seed(0, 3, "create a VPC") == escalation_seed(0, 3, "create a VPC")


def test_grammar_is_sent_and_a_rejecting_server_gets_the_fallback(scripted_server, aws_mirror, tmp_path):
    scripted_server.enqueue(fence(GOOD))
    proc = tfagent("create an AWS VPC", "--base-url", scripted_server.base_url, "--model", "m", "--constrain", "schema",
                   *OLD_STRATEGY_FLAGS, "--provider-mirror", str(aws_mirror), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    grammar = scripted_server.chat_requests()[0]["grammar"]
    assert grammar.startswith("root ::=") and '"aws_vpc"' in grammar and "title=" in grammar

    rejecting = []

    def responder(body):
        if "grammar" in body:
            rejecting.append(body)
            return ScriptedReply("failed to parse grammar", fault="400")
        return ScriptedReply(fence(GOOD))

    scripted_server.responder = responder
    proc = tfagent("create an AWS VPC", "--base-url", scripted_server.base_url, "--model", "m", "--constrain", "format",
                   *OLD_STRATEGY_FLAGS, "--provider-mirror", str(aws_mirror), "--out", "second", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    doc = json.loads(proc.stdout)
    assert len(rejecting) == 1 and "grammar" not in scripted_server.chat_requests()[-1]
    assert any("rejected the grammar" in n for n in doc["attempts"][0]["notes"])
