"""The eval judge: hidden checks with real Terraform + the real aws provider, real regopy, real pytest in
the sandbox. References pass their judges; broken variants fail with checks that say why."""

from __future__ import annotations

import concurrent.futures
import textwrap
from pathlib import Path

import pytest

from tfagent.evals.judging.hcl import attribute_check, parse_blocks
from tfagent.evals.judging.judge import JudgeVerdict, judge_task
from tfagent.evals.tasks.fields import HclCheck
from tfagent.evals.tasks.suite import load_suite
from tfagent.verifiers.base import VerifyOptions


def tiny_suite(tmp_path: Path, tasks_yaml: str):
    path = tmp_path / "tiny.yaml"
    path.write_text(textwrap.dedent(tasks_yaml).lstrip("\n"), encoding="utf-8")
    return load_suite(path)


def failed(verdict: JudgeVerdict) -> dict[str, str]:
    return {c["name"]: c["detail"] for c in verdict.checks if not c["ok"]}


# --- HCL structure checks (pure) -----------------------------------------------------------------------

CONFIG = {"main.tf": """
resource "azurerm_storage_account" "sa" {
  name            = "x"
  min_tls_version = "TLS1_2"
  resource_group_name = azurerm_resource_group.rg.name
  network_rules {
    default_action = "Deny"
    ip_rules       = ["203.0.113.10"]
  }
}
data "azurerm_client_config" "me" {}
"""}


@pytest.mark.parametrize("check,ok", [
    (HclCheck("azurerm_storage_account", "min_tls_version", equals="TLS1_2"), True),
    (HclCheck("azurerm_storage_account", "min_tls_version", equals="TLS1_0"), False),
    (HclCheck("azurerm_storage_account", "network_rules.default_action", one_of=("Allow", "Deny")), True),
    (HclCheck("azurerm_storage_account", "network_rules.ip_rules", equals=["203.0.113.10"]), True),
    (HclCheck("azurerm_storage_account", "public_network_access_enabled", present=False), True),
    (HclCheck("azurerm_storage_account", "resource_group_name", references="azurerm_resource_group"), True),
    (HclCheck("azurerm_storage_account", "name", references="azurerm_resource_group"), False),
    (HclCheck("data.azurerm_client_config", "tenant_id", present=True), False),
    (HclCheck("azurerm_key_vault", "sku_name", equals="standard"), False),
])
def test_attribute_checks(check, ok):
    result = attribute_check(parse_blocks(CONFIG), check)
    assert result["ok"] is ok, result
    assert result["name"].startswith("hcl:") and result["detail"]


# --- terraform-azure: every reference passes; broken answers fail ---------------------------------------


def test_every_azure_reference_passes_its_judge():
    suite = load_suite("terraform-azure")
    for task in suite.tasks:
        verdict = judge_task(task, task.reference, options=VerifyOptions())
        assert verdict.ok, (task.id, failed(verdict))
        assert any(c["name"].startswith("rego:") for c in verdict.checks)
        assert any(c["name"].startswith("hcl:") for c in verdict.checks)


def test_public_storage_account_fails_hcl_and_rego_checks():
    task = load_suite("terraform-azure").task("az-storage-private")
    broken = task.reference["main.tf"].replace("public_network_access_enabled   = false",
                                               "public_network_access_enabled   = true")
    verdict = judge_task(task, {"main.tf": broken}, options=VerifyOptions())
    assert not verdict.ok and verdict.undecided is None
    names = failed(verdict)
    assert "hcl:azurerm_storage_account.public_network_access_enabled == False" in names
    assert "private_storage" in names["rego:inline-0"]


def test_syntax_error_and_no_files_fail_the_judge():
    task = load_suite("terraform-azure").task("az-resource-group")
    verdict = judge_task(task, {"main.tf": 'resource "azurerm_resource_group" "x" {\n  name = \n'},
                         options=VerifyOptions())
    assert not verdict.ok and "hcl:parse" in failed(verdict)
    empty = judge_task(task, {}, options=VerifyOptions())
    assert not empty.ok and failed(empty) == {"files": "no files to judge"}


def test_unsupported_rego_builtin_is_its_own_verdict(tmp_path):
    suite = tiny_suite(tmp_path, """
        tasks:
          - id: t
            prompt: p
            judge:
              rego:
                - |
                  package terraform.validation
                  default ok = false
                  ok { http.send({"method": "get", "url": "http://127.0.0.1:9"}) }
    """)
    verdict = judge_task(suite.tasks[0], {"main.tf": 'resource "aws_s3_bucket" "b" {}\n'}, options=VerifyOptions())
    assert not verdict.ok
    assert "http.send" in verdict.undecided and verdict.status().startswith("undecided: Rego builtin http.send")


def test_checkov_check_when_checkov_is_missing_is_unsupported(tmp_path, monkeypatch):
    from tfagent.verifiers.scanners.checkov import Checkov

    if Checkov().available()[0]:
        pytest.skip("checkov is installed here; this test covers machines without it")
    suite = tiny_suite(tmp_path, """
        tasks:
          - {id: t, prompt: p, judge: {checkov_pass: [CKV_AZURE_59]}}
    """)
    verdict = judge_task(suite.tasks[0], {"main.tf": "# nothing\n"}, options=VerifyOptions())
    assert not verdict.ok and "checkov" in verdict.undecided


def test_verdict_round_trips_through_a_dict():
    verdict = JudgeVerdict(ok=False, checks=[{"name": "plan", "ok": False, "detail": "x"}], undecided="y",
                           seconds=1.23456, fair={"ok": False, "checks": [], "undecided": "y", "correction": None,
                                                  "resolved": []})
    again = JudgeVerdict.from_dict(verdict.to_dict())
    assert (again.ok, again.checks, again.undecided, again.seconds, again.fair) == (False, verdict.checks, "y", 1.2346,
                                                                                   verdict.fair)
    assert again.status("strict") == again.status("fair") == "undecided: y"
    # stores written before the rename call the reason "unsupported"
    assert JudgeVerdict.from_dict({"ok": False, "unsupported": "old"}).status() == "undecided: old"


# --- terraform-aws: real plan with the real aws 3.39.0 provider, IaC-Eval intents -----------------------


@pytest.fixture(scope="module")
def aws_options(aws_mirror) -> VerifyOptions:
    return VerifyOptions(provider_mirror=aws_mirror, offline_aws=True, timeout=300)


# iac-027's policy is `package main` (IaC-Eval's packages vary): the judge queries the policy's own package
@pytest.mark.parametrize("task_id", ["iac-001-aws-route53-record", "iac-027-aws-elasticache-cluster"])
def test_aws_reference_plans_and_passes_its_intent(aws_options, task_id):
    task = load_suite("terraform-aws").task(task_id)
    verdict = judge_task(task, task.reference, options=aws_options)
    assert verdict.ok, failed(verdict)
    assert [c["name"] for c in verdict.checks] == ["plan", f"rego:intents/{task.id}.rego"]


def test_aws_answer_violating_the_intent_fails_naming_the_rule(aws_options):
    task = load_suite("terraform-aws").task("iac-001-aws-route53-record")
    broken = task.reference["main.tf"].replace('type    = "A"', 'type    = "AAAA"').replace("192.0.2.1", "2001:db8::1")
    assert broken != task.reference["main.tf"]
    verdict = judge_task(task, {"main.tf": broken}, options=aws_options)
    assert not verdict.ok and verdict.undecided is None
    detail = failed(verdict)[f"rego:intents/{task.id}.rego"]
    assert "is_valid_r53_record" in detail and "is_configuration_valid" in detail


def test_aws_answer_that_does_not_plan_fails_before_the_intent(aws_options):
    task = load_suite("terraform-aws").task("iac-001-aws-route53-record")
    broken = task.reference["main.tf"].replace("zone_id =", "zone_idd =")
    verdict = judge_task(task, {"main.tf": broken}, options=aws_options)
    names = failed(verdict)
    assert not verdict.ok and "plan" in names and "zone_idd" in names["plan"]
    assert names[f"rego:intents/{task.id}.rego"] == "not evaluated: no plan"


# --- code-python: hidden tests in the sandbox ---------------------------------------------------------


def test_code_reference_passes_and_a_wrong_answer_fails():
    task = load_suite("code-python").task("py-slugify")
    assert judge_task(task, task.reference, options=VerifyOptions()).ok
    wrong = judge_task(task, {"solution.py": "def slugify(text):\n    return text.lower()\n"}, options=VerifyOptions())
    assert not wrong.ok and "test_basic" in failed(wrong)["tests"]


def test_models_own_tests_neither_fail_nor_rescue_an_answer():
    task = load_suite("code-python").task("py-fizzbuzz")
    own_failing_test = {"test_mine.py": "def test_mine():\n    assert False\n",
                        "conftest.py": "import pytest\n"}
    verdict = judge_task(task, {**task.reference, **own_failing_test}, options=VerifyOptions())
    assert verdict.ok, failed(verdict)
    missing = judge_task(task, {"test_solution.py": "def test_ok():\n    pass\n"}, options=VerifyOptions())
    assert not missing.ok


def test_every_code_reference_passes_its_hidden_tests():
    suite = load_suite("code-python")
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = dict(zip([t.id for t in suite.tasks],
                            pool.map(lambda t: judge_task(t, t.reference, options=VerifyOptions()), suite.tasks)))
    assert {tid: failed(v) for tid, v in verdicts.items() if not v.ok} == {}


def test_given_files_are_judged_with_the_answer_and_the_answer_wins(tmp_path):
    suite = tiny_suite(tmp_path, """
        tasks:
          - id: t
            prompt: add an encrypted bucket using the given key
            files: {kms.tf: "resource \\"aws_kms_key\\" \\"k\\" {}\\n", main.tf: "# fill me in\\n"}
            judge:
              hcl:
                resources: [aws_kms_key, aws_s3_bucket]
    """)
    task = suite.tasks[0]
    verdict = judge_task(task, {"main.tf": 'resource "aws_s3_bucket" "b" {}\n'}, options=VerifyOptions())
    assert verdict.ok, failed(verdict)
    assert not judge_task(task, {"other.tf": "# nothing\n"}, options=VerifyOptions()).ok
