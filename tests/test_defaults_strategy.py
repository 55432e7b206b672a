"""Issue 19: the rescue A/B's best arm ("full", docs/results/rescue-ab-1.5b-40) is the default for users
and for the ladder — schema cards in the first request, 3 first samples the verifier picks from, schema
feedback, Terraform's renames applied; BASELINE_STRATEGY keeps the default before it, written out. A run
with no strategy flag (scripted server, real aws 3.39.0 mirror) sends three first requests carrying the
cards; an eval endpoint that pins the old strategy keeps the run id it had before the defaults changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tfagent.agent.core import defaults
from tfagent.agent.core.config import load_config
from tfagent.agent.core.defaults import BASELINE_STRATEGY, LADDER_STRATEGY
from tfagent.agent.core.types import Endpoint
from tfagent.agent.fake.server import ScriptedReply
from tfagent.agent.loop.candidates import candidate_seed
from tfagent.agent.loop.state import RunRequest
from tfagent.evals.running.runner import EvalPlan, run_id_of, run_spec
from tfagent.evals.tasks.suite import load_suite

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "create an AWS VPC"
PROVIDER = ('terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
            '      version = "3.39.0"\n    }\n  }\n}\n\nprovider "aws" {\n  region = "us-east-1"\n}\n\n')
GOOD = PROVIDER + 'resource "aws_vpc" "main" {\n  cidr_block = "10.0.0.0/16"\n}\n'
FULL_ARM = {"grounding": "schema", "feedback": "schema", "constrain": "off", "verify": ("hcl", "fmt", "validate", "plan"),
            "candidates": 3, "autofix": True}
BEFORE_ISSUE_19 = {"grounding": "none", "feedback": "raw", "constrain": "off", "verify": ("hcl", "fmt", "validate"),
                   "candidates": 1, "autofix": False}


def fence(body: str) -> str:
    return f'Here it is.\n```hcl title="main.tf"\n{body}```\n'


def tfagent(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfagent.agent.cli", *args], cwd=cwd, env={**os.environ, "NO_COLOR": "1"},
                          capture_output=True, text=True, timeout=300)


def test_the_defaults_are_the_rescue_ab_best_arm():
    assert (defaults.DEFAULT_GROUNDING, defaults.DEFAULT_FEEDBACK, defaults.DEFAULT_CANDIDATES, defaults.DEFAULT_AUTOFIX,
            defaults.DEFAULT_CONSTRAIN) == ("schema", "schema", 3, True, "off")
    assert LADDER_STRATEGY == FULL_ARM
    request = RunRequest(prompt="x", endpoint=Endpoint("e", "http://127.0.0.1:9/v1", "m"))  # nothing set: the defaults
    assert (request.grounding_mode, request.feedback_style, request.candidate_count, request.autofix_enabled,
            request.constrain_mode) == ("schema", "schema", 3, True, "off")
    # plan stays opt-in for users (cloud credentials) except offline: the CLI's default chain is unchanged
    assert defaults.default_chain("terraform") == ["hcl", "fmt", "validate", "rego"]
    assert defaults.offline_chain("terraform") == ["hcl", "fmt", "validate", "plan", "rego"]


def test_the_baseline_is_the_default_before_issue_19_written_out():
    assert BASELINE_STRATEGY == BEFORE_ISSUE_19
    source = Path(defaults.__file__).read_text(encoding="utf-8")
    baseline = source[source.index("BASELINE_STRATEGY: dict"):]
    baseline = baseline[:baseline.index("}") + 1]
    assert "DEFAULT_" not in baseline, "literal values: the DEFAULT_* names hold the best arm now"


def test_a_run_without_strategy_flags_sends_three_first_requests_with_the_schema_cards(scripted_server, aws_mirror,
                                                                                       tmp_path):
    scripted_server.responder = lambda body: ScriptedReply(fence(GOOD))
    proc = tfagent(PROMPT, "--base-url", scripted_server.base_url, "--model", "m", "--verify", "hcl,fmt,validate",
                   "--provider-mirror", str(aws_mirror), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    requests = scripted_server.chat_requests()
    assert len(requests) == 3, "three samples of the first request; all verify, so no retry"
    user = requests[0]["messages"][1]["content"]
    assert user.startswith(PROMPT) and "The provider's own schema" in user and 'resource "aws_vpc" "example"' in user
    assert all(r["messages"] == requests[0]["messages"] for r in requests), "every candidate carries the same cards"
    hot = [r for r in requests if "seed" in r]
    assert sorted(r["seed"] for r in hot) == sorted(candidate_seed(0, i, PROMPT) for i in (1, 2))
    assert [r for r in requests if "seed" not in r and "temperature" not in r], "candidate 0: the endpoint's own request"
    doc = json.loads(proc.stdout)
    assert doc["ok"] and len(doc["attempts"]) == 1 and len(doc["attempts"][0]["candidates"]) == 3
    # the run stores its strategy, so `--resume` continues with it
    stored = json.loads(tfagent("runs", "show", doc["run_id"], "--json", cwd=tmp_path).stdout)["request"]
    assert (stored["grounding"], stored["feedback"], stored["candidates"], stored["autofix"]) == ("schema", "schema", 3, True)


def test_the_old_strategy_is_one_flag_set_away(scripted_server, aws_mirror, tmp_path):
    scripted_server.enqueue(fence(GOOD))
    proc = tfagent(PROMPT, "--base-url", scripted_server.base_url, "--model", "m", "--verify", "hcl,fmt,validate",
                   "--provider-mirror", str(aws_mirror), "--json", "--grounding", "none", "--feedback", "raw",
                   "--candidates", "1", "--no-autofix", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    [request] = scripted_server.chat_requests()
    assert "The provider's own schema" not in request["messages"][1]["content"]
    stored = json.loads(tfagent("runs", "show", json.loads(proc.stdout)["run_id"], "--json", cwd=tmp_path).stdout)["request"]
    assert (stored["grounding"], stored["feedback"], stored["candidates"], stored["autofix"]) == ("none", "raw", 1, False)


def test_eval_run_ids_keep_the_old_strategy_apart_and_the_rescue_ab_resumes_under_its_id():
    folder = ROOT / "docs" / "results" / "rescue-ab-1.5b-40"
    config = load_config(folder)
    suite = load_suite("terraform-aws")
    tasks = suite.select((folder / "tasks.txt").read_text().strip().split(","), [])
    arms = [config.endpoints[n] for n in ("default", "grounded", "full")]
    plan = EvalPlan(suite=suite, tasks=tasks, endpoints=arms, max_attempts=3, reference="default")
    # the id its store.sqlite holds (README: `tfagent eval report terraform-aws-a5ede4531b32`), computed
    # before issue 19 with candidates/autofix unset on the default and grounded arms
    assert run_id_of(plan) == "terraform-aws-a5ede4531b32"
    specs = {e["name"]: e for e in run_spec(plan)["endpoints"]}
    assert (specs["default"]["candidates"], specs["default"]["autofix"]) == (1, False)  # the report still names them
    # an endpoint that sets nothing now gets the best arm: its spec (and id) says so
    bare = EvalPlan(suite=suite, tasks=tasks[:1], endpoints=[Endpoint("q", "http://127.0.0.1:9/v1", "m")], max_attempts=3)
    spec = run_spec(bare)["endpoints"][0]
    assert {k: spec.get(k) for k in ("grounding", "feedback", "candidates", "autofix", "constrain")} == \
           {"grounding": "schema", "feedback": "schema", "candidates": 3, "autofix": True, "constrain": None}
    pinned = EvalPlan(suite=suite, tasks=tasks[:1], max_attempts=3, endpoints=[
        Endpoint("q", "http://127.0.0.1:9/v1", "m", grounding="none", feedback="raw", candidates=1, autofix=False)])
    assert run_id_of(pinned) != run_id_of(bare)
