"""Only the model's mistakes cost an attempt (issue 19 §6): without a provider mirror and with the
registry unreachable (a dead proxy here, real Terraform), the run ends after one attempt with exit 6 and
no feedback to the model; the demo's mirror is offered as the fix; a hallucinated provider stays the
model's mistake; in the eval such a cell is an error, not a model failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfagent.agent.core.exits import EXIT_ENVIRONMENT
from tfagent.agent.loop.environment import environment_problem, is_environment
from tfagent.prompts import render_line
from tfagent.verifiers.base import Verdict, error

from conftest import OLD_STRATEGY_FLAGS, OLD_STRATEGY_TOML  # one request per attempt (the loop before issue 19)

AWS = ('terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n      version = "3.39.0"\n'
       '    }\n  }\n}\n\nresource "aws_s3_bucket" "b" {\n  bucket = "example-bucket"\n}\n')
HALLUCINATED = 'resource "s3_bucket" "b" {\n  bucket = "example-bucket"\n}\n'


def fence(body: str) -> str:
    return f'```hcl title="main.tf"\n{body}```\n'


def offline_env() -> dict[str, str]:
    """registry.terraform.io cannot be reached: every HTTP(S) request goes to a closed port."""
    dead = "http://127.0.0.1:9"
    return {**os.environ, "NO_COLOR": "1", "HTTPS_PROXY": dead, "HTTP_PROXY": dead, "https_proxy": dead,
            "http_proxy": dead, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def tfagent(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfagent.agent.cli", *args], cwd=cwd, env=offline_env(),
                          capture_output=True, text=True, timeout=300)


def test_unreachable_registry_ends_the_run_at_once_with_its_own_exit_code(scripted_server, tmp_path):
    for _ in range(3):
        scripted_server.enqueue(fence(AWS))
    proc = tfagent("create a private S3 bucket", "--base-url", scripted_server.base_url, "--model", "m",
                   "--verify", "hcl,validate", *OLD_STRATEGY_FLAGS, cwd=tmp_path)
    assert proc.returncode == EXIT_ENVIRONMENT, proc.stderr + proc.stdout
    assert len(scripted_server.chat_requests()) == 1, "one attempt: the model is never asked to fix the machine"
    assert all(m["role"] != "assistant" for m in scripted_server.chat_requests()[0]["messages"])
    error_text = " ".join(proc.stderr.split())
    assert "the environment failed, not the model" in error_text
    assert "Provider registry.terraform.io/hashicorp/aws is not available" in error_text or \
           "Provider hashicorp/aws is not available" in error_text
    assert "--provider-mirror DIR" in error_text and "stopped at attempt 1" in error_text
    runs = subprocess.run([sys.executable, "-m", "tfagent.agent.cli", "runs"], cwd=tmp_path, env=offline_env(),
                          capture_output=True, text=True, timeout=60)
    assert "environment" in runs.stdout


def test_the_demo_mirror_is_offered_as_the_fix(scripted_server, tmp_path):
    from tfagent.agent.serving.localmodel import mirror_aws

    demo = mirror_aws(Path(os.environ["XDG_CACHE_HOME"]) / "tfagent" / "mirror")  # where scripts/demo.sh lays it out
    scripted_server.enqueue(fence(AWS))
    proc = tfagent("create a private S3 bucket", "--base-url", scripted_server.base_url, "--model", "m",
                   "--verify", "hcl,validate", *OLD_STRATEGY_FLAGS, cwd=tmp_path)
    assert proc.returncode == EXIT_ENVIRONMENT, proc.stderr
    assert f"add --provider-mirror {demo}" in " ".join(proc.stderr.split())
    # resumed with it, the same reply verifies: the model is not asked again
    from tfagent.agent.loop.runs import RunStore

    (row,) = RunStore().list()
    assert row.status == "environment" and f"tfagent --resume {row.run_id}" in " ".join(proc.stderr.split())
    again = tfagent("--resume", row.run_id, "--provider-mirror", str(demo), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert len(scripted_server.chat_requests()) == 1 and RunStore().get(row.run_id).status == "verified"
    assert (tmp_path / "infra" / "main.tf").read_text() == AWS


def test_a_hallucinated_provider_is_the_models_mistake_and_stays_feedback(scripted_server, tmp_path):
    scripted_server.enqueue(fence(HALLUCINATED))
    scripted_server.enqueue(fence(AWS))
    proc = tfagent("create a private S3 bucket", "--base-url", scripted_server.base_url, "--model", "m",
                   "--verify", "hcl,validate", *OLD_STRATEGY_FLAGS, cwd=tmp_path)
    # attempt 1: hashicorp/s3 does not exist -> feedback; attempt 2: the real aws provider cannot be installed
    assert proc.returncode == EXIT_ENVIRONMENT, proc.stderr
    requests = scripted_server.chat_requests()
    assert len(requests) == 2
    assert 's3_bucket' in requests[1]["messages"][-1]["content"] and requests[1]["messages"][-2]["role"] == "assistant"
    assert "stopped at attempt 2" in " ".join(proc.stderr.split())


def test_which_diagnostics_are_the_environments():
    unreachable = error(render_line("diag_provider_unreachable", address="hashicorp/aws"), "", source="validate",
                        category="provider")
    invented = error(render_line("diag_provider_unreachable", address="hashicorp/s3"), "", source="validate",
                     category="provider")
    lacking = error(render_line("diag_provider_unavailable", address="hashicorp/aws"), "", source="validate",
                    category="provider")
    crashed = error(render_line("diag_verifier_crashed", name="validate"), "TerraformUnavailable: no terraform",
                    source="validate")
    timed_out = error(render_line("diag_command_failed", command="terraform plan"),
                      "terraform plan -json... timed out after 300 s", source="plan")
    model = error("Unsupported argument", 'An argument named "bukket" is not expected here.', source="validate",
                  category="unknown_argument")
    assert [is_environment(d) for d in (unreachable, invented, lacking, crashed, timed_out, model)] == \
           [True, False, False, True, True, False]
    assert environment_problem([Verdict("hcl", True), Verdict("validate", False, [model, crashed])]) == crashed
    assert environment_problem([Verdict("validate", False, [model])]) is None


def test_an_environment_failure_is_an_eval_cell_error_not_a_model_failure(tmp_path):
    from tfagent.agent.core.config import load_config, user_config_path
    from tfagent.agent.fake.server import ScriptedServer
    from tfagent.evals.running.runner import EvalPlan, EvalRunner
    from tfagent.evals.running.store import Store
    from tfagent.evals.tasks.suite import load_suite

    suite_file = tmp_path / "tf.yaml"
    suite_file.write_text("name: tf\ntasks:\n  - id: bucket\n    prompt: An S3 bucket.\n    mode: terraform\n"
                          "    verify: [hcl, validate]\n    judge:\n      hcl:\n        resources: [aws_s3_bucket]\n")
    proxies = {k: v for k, v in offline_env().items() if "proxy" in k.lower()}
    with pytest.MonkeyPatch.context() as mp, ScriptedServer(responder=lambda body: fence(AWS)) as srv, \
            Store(tmp_path / "e.db") as store:
        for key, value in proxies.items():
            mp.setenv(key, value)
        path = user_config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'[endpoints.q4]\nbase_url = "{srv.base_url}"\nmodel = "m"\n' + OLD_STRATEGY_TOML, encoding="utf-8")
        suite = load_suite(suite_file)
        plan = EvalPlan(suite=suite, tasks=suite.tasks, endpoints=[load_config().endpoints["q4"]], max_attempts=3)
        outcome = EvalRunner(plan, store).run()
        assert len(outcome.errors) == 1 and "EnvironmentFailure" in outcome.errors[0].error
        assert store.judgments(outcome.run_id) == {}, "not judged: not a model failure"
        assert len(srv.chat_requests()) == 1
