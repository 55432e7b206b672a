"""The PR body, title and commit message: pure functions of a RunResult."""

from __future__ import annotations

import json

from tfagent.agent.publish import prbody
from tfagent.agent.core.types import Attempt, RunResult
from tfagent.verifiers.base import Diagnostic, Verdict, error, warning

SECRET = "AKIAsecret/value+1234567890"


def unsupported(name: str, line: int) -> Diagnostic:
    return error("Unsupported argument", f'An argument named "{name}" is not expected here.', file="main.tf",
                 line=line, source="validate", category="unknown_argument")


def make_result(ok: bool = True, plan_json: str | None = None, secret_in_detail: str = "") -> RunResult:
    first = Attempt(number=1, messages=[], files={"main.tf": "x"}, ok=False, verdicts=[
        Verdict("hcl", True, seconds=0.01),
        Verdict("fmt", True, seconds=0.05),
        Verdict("validate", False, [unsupported("bukket", 3), unsupported("acl_x", 4),
                                    warning("Deprecated", source="validate")], seconds=0.8),
    ])
    second_diags = [] if ok else [unsupported("acl_x", 5),
                                  error("Missing required argument", secret_in_detail or "needs bucket",
                                        file="main.tf", line=2, source="validate")]
    artifacts = {"plan_json": plan_json} if plan_json else {}
    second = Attempt(number=2, messages=[], files={"main.tf": "y"}, ok=ok, verdicts=[
        Verdict("hcl", True, seconds=0.01),
        Verdict("fmt", True, seconds=0.04, note="reformatted main.tf"),
        Verdict("validate", ok, second_diags, seconds=0.7),
        *([Verdict("plan", True, seconds=1.3, artifacts=artifacts)] if ok else []),
    ])
    return RunResult(
        run_id="run-42", prompt="a private S3 bucket | with versioning", mode="terraform",
        endpoint={"name": "glm-1bit", "base_url": "http://user:pw@127.0.0.1:8080/v1", "model": "glm-4.5-air-IQ1_S",
                  "bpw": 1.56, "params": {}, "api_key_env": "TFAGENT_API_KEY"},
        chain=["hcl", "fmt", "validate", "plan"], ok=ok, attempts=[first, second],
        files={"main.tf": "y"}, max_attempts=3, skipped_verifiers={"checkov": "not on PATH"},
    )


PLAN = {"resource_changes": [
    {"address": "aws_s3_bucket.b", "change": {"actions": ["create"]}},
    {"address": "aws_s3_bucket_versioning.v", "change": {"actions": ["create"]}},
    {"address": "aws_iam_role.r", "change": {"actions": ["update"]}},
    {"address": "aws_instance.old", "change": {"actions": ["delete"]}},
    {"address": "aws_instance.web", "change": {"actions": ["delete", "create"]}},
    {"address": "data.aws_caller_identity.me", "change": {"actions": ["read"]}},
    {"address": "aws_vpc.main", "change": {"actions": ["no-op"]}},
]}


def test_summarize_plan_classifies_actions():
    summary = prbody.summarize_plan(PLAN)
    assert summary.add == ["aws_s3_bucket.b", "aws_s3_bucket_versioning.v"]
    assert summary.change == ["aws_iam_role.r"]
    assert summary.destroy == ["aws_instance.old"]
    assert summary.replace == ["aws_instance.web"]
    assert summary.counts() == "3 to add, 1 to change, 2 to destroy"  # Terraform counts a replace as both


def test_body_of_a_verified_run(tmp_path):
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(PLAN))
    result = make_result(ok=True, plan_json=str(plan_path))
    plan = prbody.read_plan_summary(prbody.plan_json_path(result))
    body = prbody.render_pr_body(result, [("added", "infra/main.tf")], plan=plan, env={})
    assert "> a private S3 bucket | with versioning" in body
    assert "`glm-1bit` — model `glm-4.5-air-IQ1_S`, 1.56 bpw, http://127.0.0.1:8080/v1" in body
    assert "user:pw" not in body
    # attempts table: attempt 2 fixed both errors of attempt 1; the warning is not an error
    assert "| attempt | verdict | errors | what it fixed |" in body
    row1 = next(line for line in body.splitlines() if line.startswith("| 1 |"))
    row2 = next(line for line in body.splitlines() if line.startswith("| 2 |"))
    assert row1 == ('| 1 | failed: validate | 2: validate: Unsupported argument — An argument named "bukket" is '
                    'not expected here. (main.tf:3)<br>validate: Unsupported argument — An argument named "acl_x" '
                    'is not expected here. (main.tf:4) | — |')
    assert row2.startswith('| 2 | verified | 0 | validate: Unsupported argument — An argument named "bukket"')
    assert row2.count("<br>") == 1 and "acl_x" in row2
    # final stages, skipped verifiers, plan, files
    assert "| fmt | yes | 0.04 | reformatted main.tf |" in body
    assert "| plan | yes | 1.30 | — |" in body
    assert "| checkov | skipped | — | not on PATH |" in body
    assert "**3 to add, 1 to change, 2 to destroy**" in body
    assert "- add `aws_s3_bucket.b`" in body and "- replace `aws_instance.web`" in body
    assert "- destroy `aws_instance.old`" in body and "- change `aws_iam_role.r`" in body
    assert "- added `infra/main.tf`" in body
    assert "Failing diagnostics" not in body
    assert "verified after 2 of 3 attempt(s)" in body


def test_pipe_in_prompt_does_not_break_the_table():
    assert prbody.cell("a | b\nc") == "a \\| b c"


def test_fixed_errors_ignores_line_shifts():
    first, second = make_result(ok=False).attempts
    # "acl_x" moved from line 4 to 5 but is still there; "bukket" is gone; "Missing required" is new.
    fixed = prbody.fixed_errors(first, second)
    assert [(d.detail, d.line) for d in fixed] == [('An argument named "bukket" is not expected here.', 3)]
    assert prbody.fixed_errors(None, first) == []


def test_failed_run_body_carries_diagnostics_and_redacts_secrets():
    result = make_result(ok=False, secret_in_detail=f"the key {SECRET} leaked into a diagnostic")
    result.prompt += f" using {SECRET}"
    env = {"AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "us-east-1", "SHORT_TOKEN": "abc"}
    body = prbody.render_pr_body(result, [("added", "main.tf")], env=env)
    message = prbody.commit_message(result, env=env)
    for text in (body, message):
        assert SECRET not in text
        assert "[redacted]" in text
    assert "**NOT verified**" in body
    assert "## Failing diagnostics" in body
    assert "- **validate: Missing required argument (main.tf:2)**" in body
    row2 = next(line for line in body.splitlines() if line.startswith("| 2 |"))
    assert row2.endswith('| validate: Unsupported argument — An argument named "bukket" is not expected here. (main.tf:3) |')
    assert "the key [redacted] leaked into a diagnostic" in body
    assert "| 2 | failed: validate | 2: " in body


def test_body_without_plan_has_no_plan_section():
    body = prbody.render_pr_body(make_result(ok=True), [], env={})
    assert "## Plan" not in body and "_No files._" in body


def test_unreadable_plan_is_reported_not_raised(tmp_path):
    bad = tmp_path / "plan.json"
    bad.write_text("{not json")
    summary = prbody.read_plan_summary(bad)
    assert "could not read plan output plan.json" in summary.error
    body = prbody.render_pr_body(make_result(ok=True), [], plan=summary, env={})
    assert "could not read plan output plan.json" in body
    assert "missing.json" in prbody.read_plan_summary(tmp_path / "missing.json").error


def test_fence_survives_backticks_in_details():
    assert prbody.fence("a ``` b").startswith("````\n")


def test_commit_message_and_title():
    result = make_result(ok=True)
    message = prbody.commit_message(result, env={})
    lines = message.splitlines()
    assert lines[0] == "tfagent: a private S3 bucket | with versioning"
    assert "  a private S3 bucket | with versioning" in lines
    assert "Endpoint: glm-1bit (model glm-4.5-air-IQ1_S, 1.56 bpw)" in lines
    assert "Attempt 1: failed: validate (2 error(s))" in lines
    assert "Attempt 2: verified (0 error(s))" in lines
    assert "Verdict: verified" in lines
    long = make_result()
    long.prompt = "word " * 40
    assert len(prbody.pr_title(long, env={})) <= 72 and prbody.pr_title(long, env={}).endswith("…")


def test_huge_body_is_truncated_below_githubs_limit():
    result = make_result(ok=False, secret_in_detail="x" * 100)
    result.attempts[-1].verdicts[-1].diagnostics.extend(
        error(f"problem {i}", "d" * 1400, file="main.tf", line=i, source="validate") for i in range(200))
    body = prbody.render_pr_body(result, [], env={})
    assert len(body) < 65_536 and body.endswith("(truncated)\n")


def test_body_names_autofix_renames_and_candidates():
    result = make_result(ok=True)
    result.attempts[0].candidates = [{"index": 0, "chosen": False, "ok": False}, {"index": 1, "chosen": True, "ok": False},
                                     {"index": 2, "chosen": False, "ok": False}]
    result.attempts[1].autofix = [{"file": "main.tf", "line": 3, "from": "bukket", "to": "bucket",
                                   "why": 'Terraform: Did you mean "bucket"?', "kind": "argument"}]
    body = prbody.render_pr_body(result, [("A", "main.tf")])
    assert "| 2 | verified with autofix |" in body
    assert "## Autofix" in body and '- attempt 2: `main.tf:3` `bukket` → `bucket` (Terraform: Did you mean "bucket"?)' in body
    assert "Attempt 1 sampled 3 candidates (0 verified); candidate 2 was chosen." in body
    plain = prbody.render_pr_body(make_result(ok=True), [("A", "main.tf")])
    assert "## Autofix" not in plain and "candidates" not in plain
