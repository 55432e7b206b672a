"""--candidates N on the scripted server + real Terraform (aws 3.39.0 mirror): N samples of the first
request — the first as one sample would be sent, the others at temperature > 0 with seeds of their own;
the first that verifies wins; otherwise the one with
the fewest errors continues with prefix-stable retries; every sample's tokens count; resumable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfagent.agent.core.defaults import CANDIDATE_TEMPERATURE
from tfagent.agent.core.types import Attempt, Endpoint
from tfagent.agent.loop.candidates import candidate_seed, total_usage
from tfagent.agent.loop.graph import run_agent
from tfagent.agent.loop.state import RunRequest
from tfagent.agent.core.types import Usage
from tfagent.agent.fake.server import ScriptedReply
from tfagent.verifiers.base import VerifyOptions

from conftest import OLD_STRATEGY

PROMPT = "create an AWS VPC"
PROVIDER = ('terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
            '      version = "3.39.0"\n    }\n  }\n}\n\nprovider "aws" {\n  region = "us-east-1"\n}\n\n')
GOOD = PROVIDER + 'resource "aws_vpc" "main" {\n  cidr_block = "10.0.0.0/16"\n}\n'
ONE_ERROR = PROVIDER + 'resource "aws_vpc" "main" {\n  vpc_name   = "main"\n  cidr_block = "10.0.0.0/16"\n}\n'
TWO_ERRORS = PROVIDER + ('resource "aws_vpc" "main" {\n  vpc_name   = "main"\n  subnet_size = 24\n'
                         '  cidr_block = "10.0.0.0/16"\n}\n')


def fence(body: str) -> str:
    return f'Here it is.\n```hcl title="main.tf"\n{body}```\n'


def by_seed(replies: list[str], seed: int = 0):
    """A responder answering candidate i with replies[i] — candidate 0 is the first request as a
    one-sample run sends it, the others are known by their derived seeds — and a retry (the conversation
    has a reply in it) with the last entry."""
    seeds = {candidate_seed(seed, i, PROMPT): i for i in range(1, len(replies) - 1)}

    def respond(body):
        index = None if len(body["messages"]) > 2 else seeds.get(body.get("seed"), 0)
        text = replies[index] if index is not None else replies[-1]
        return ScriptedReply(text, usage={"prompt_tokens": 100, "completion_tokens": 10 + (index or 0),
                                          "cached_tokens": 0})

    return respond


def tfagent(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "tfagent.agent.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def request(server, mirror, tmp_path, **kw) -> RunRequest:
    endpoint = Endpoint("m", server.base_url, "m", params=kw.pop("params", {}))
    kw = {**OLD_STRATEGY, **kw}  # the strategy before issue 19 (one sample, no cards, raw feedback), but what a test sets
    return RunRequest(prompt=PROMPT, endpoint=endpoint, chain=["hcl", "fmt", "validate"],
                      options=VerifyOptions(prompt=PROMPT, provider_mirror=mirror), artifacts_root=tmp_path / "art",
                      run_id="cand", ready_timeout=5, **kw)


def test_first_verified_candidate_wins_and_every_sample_is_paid_for(scripted_server, aws_mirror, tmp_path):
    scripted_server.responder = by_seed([fence(ONE_ERROR), fence(GOOD), fence(GOOD), "unused"])
    proc = tfagent(PROMPT, "--base-url", scripted_server.base_url, "--model", "m", "--candidates", "3",
                   "--grounding", "none", "--feedback", "raw", "--no-autofix",  # candidates alone
                   "--verify", "hcl,fmt,validate", "--provider-mirror", str(aws_mirror), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    requests = scripted_server.chat_requests()
    assert len(requests) == 3, "three samples of the first request, no retry"
    hot = [r for r in requests if "seed" in r]
    assert len(hot) == 2 and all(r["temperature"] == CANDIDATE_TEMPERATURE for r in hot)
    assert sorted(r["seed"] for r in hot) == sorted(candidate_seed(0, i, PROMPT) for i in (1, 2))
    assert [r for r in requests if "seed" not in r and "temperature" not in r], "candidate 0: as one sample is sent"
    assert all(r["messages"] == requests[0]["messages"] for r in requests)
    for i in (1, 2, 3):
        assert f"candidate {i}/3:" in proc.stderr, proc.stderr  # one line per candidate, live
    assert "candidate 2/3: verified" in proc.stderr and "(chosen)" in proc.stderr
    assert 'resource "aws_vpc" "main"' in (tmp_path / "infra" / "main.tf").read_text()

    stored = json.loads(tfagent("runs", "show", _only_run(tmp_path), "--json", cwd=tmp_path).stdout)["result"]
    assert len(stored["attempts"]) == 1
    attempt = Attempt.from_dict(stored["attempts"][0])
    assert attempt.ok and attempt.reply == fence(GOOD)
    assert [c["chosen"] for c in attempt.candidates] == [False, True, False]
    assert [c["ok"] for c in attempt.candidates] == [False, True, True]
    assert attempt.candidates[0]["errors"] == 1 and "Unsupported argument" in attempt.candidates[0]["first_errors"][0]
    # the attempt costs all three samples: 10 + 11 + 12 completion tokens, 3 × 100 prompt tokens
    assert attempt.usage.completion_tokens == 33 and attempt.usage.prompt_tokens == 300
    assert attempt.chosen_usage.completion_tokens == 11
    assert attempt.model_seconds == pytest.approx(sum(c["model_seconds"] for c in attempt.candidates), abs=1e-3)
    assert attempt.sampling == {"temperature": CANDIDATE_TEMPERATURE, "seed": candidate_seed(0, 1, PROMPT)}


def _only_run(cwd: Path) -> str:
    from tfagent.agent.loop.runs import RunStore

    rows = RunStore().list()
    assert len(rows) == 1
    return rows[0].run_id


def test_fewest_errors_continues_with_a_prefix_stable_retry_and_resume_never_reasks(scripted_server, aws_mirror,
                                                                                    tmp_path):
    # candidate 1: two errors, 2: one error, 3: no file at all; the retry (no candidate seed) fixes it
    scripted_server.responder = by_seed([fence(TWO_ERRORS), fence(ONE_ERROR), "I cannot do that.", fence(GOOD)])
    events: list[str] = []
    result = run_agent(request(scripted_server, aws_mirror, tmp_path, candidates=3, feedback="schema"),
                       on_event=lambda kind, data: events.append(kind))
    assert result.ok and len(result.attempts) == 2
    first, second = result.attempts
    assert [c["errors"] for c in first.candidates] == [2, 1, 1]
    assert [c["chosen"] for c in first.candidates] == [False, True, False], "files with the fewest errors win"
    assert first.reply == fence(ONE_ERROR) and 'has no argument or block "vpc_name"' in first.feedback
    requests = scripted_server.chat_requests()
    assert len(requests) == 4
    retry = requests[3]
    assert "seed" not in retry and "temperature" not in retry, "retries sample as the endpoint does"
    assert retry["messages"][:2] == requests[0]["messages"], "the retry extends the first request (prefix cache)"
    assert retry["messages"][2:] == [{"role": "assistant", "content": fence(ONE_ERROR)},
                                     {"role": "user", "content": first.feedback}]
    assert events.count("candidate_done") == 3 and events.count("attempt_done") == 2
    assert first.usage.completion_tokens == 10 + 11 + 12 and second.usage.completion_tokens == 10
    assert first.chosen_usage.completion_tokens == 11

    # Resume from the stored attempts (what the eval does): the finished first attempt is never re-asked
    stored = [Attempt.from_dict(json.loads(json.dumps(first.to_dict())))]
    assert stored[0].candidates == first.candidates
    again = run_agent(request(scripted_server, aws_mirror, tmp_path, candidates=3, feedback="schema"),
                      history=stored)
    assert again.ok and len(again.attempts) == 2
    assert len(scripted_server.chat_requests()) == 5, "one request: the retry, not three new candidates"
    assert scripted_server.chat_requests()[4]["messages"] == retry["messages"]


def test_endpoint_temperature_is_kept_and_the_endpoint_setting_wins(scripted_server, aws_mirror, tmp_path):
    scripted_server.responder = by_seed([fence(GOOD), fence(GOOD), "unused"], seed=7)
    req = request(scripted_server, aws_mirror, tmp_path, params={"temperature": 0.3, "seed": 7})
    req.endpoint.candidates = 2  # the endpoint's own setting wins over the run's 1 (request() pins it)
    result = run_agent(req)
    assert result.ok and len(result.attempts[0].candidates) == 2
    assert [r["temperature"] for r in scripted_server.chat_requests()] == [0.3, 0.3]
    assert result.attempts[0].candidates[0]["chosen"], "both verify: the lowest index wins"


def test_total_usage_sums_counts_and_timings():
    a = Usage(100, 10, 0, "server", {"predicted_n": 10, "predicted_ms": 500})
    b = Usage(100, 20, 50, "tokenize", {"predicted_n": 20, "predicted_ms": 500})
    total = total_usage([a, b])
    assert (total.prompt_tokens, total.completion_tokens, total.cached_tokens) == (200, 30, 50)
    assert total.prompt_source == "tokenize" and total.timings == {"predicted_ms": 1000, "predicted_n": 30}
    assert total.decode_tokens_per_second == pytest.approx(30.0)
