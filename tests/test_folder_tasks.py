"""The terraform-aws tasks that start from a folder (edit-tasks.yaml): each reference — the whole
folder after a correct change — plans with the real hashicorp/aws 3.39.0 provider offline and passes
its Rego intent; the folder as given plans too and does not (the task asks for a real change); and
the eval judges a reply on the whole resulting folder, deletions included."""

from __future__ import annotations

import pytest

from tfagent.agent.core.types import Attempt
from tfagent.evals.judging.judge import judge_task
from tfagent.evals.tasks.folder import judge_kwargs, resulting_files, task_folder
from tfagent.evals.tasks.suite import load_suite
from tfagent.verifiers.base import VerifyOptions

EDIT_TASKS = [t.id for t in load_suite("terraform-aws").select(tags=["edit"])]


@pytest.fixture(scope="module")
def aws_options(aws_mirror) -> VerifyOptions:
    return VerifyOptions(provider_mirror=aws_mirror, offline_aws=True, timeout=300)


def failed(verdict) -> str:
    return "; ".join(f"{c['name']}: {c.get('detail', '')}" for c in verdict.checks if not c["ok"])


def test_the_suite_has_folder_tasks_with_whole_folder_references():
    assert len(EDIT_TASKS) >= 3
    for task in load_suite("terraform-aws").select(ids=EDIT_TASKS):
        assert task.files and task_folder(task) is not None and task.judge.plan_required and task.judge.rego
        assert set(task.files) <= set(task.reference), f"{task.id}: the reference is the whole folder after the change"
        assert task.reference != task.files


@pytest.mark.slow  # real init + plan with the aws provider per folder, twice
@pytest.mark.parametrize("task_id", EDIT_TASKS)
def test_reference_passes_and_the_folder_as_given_does_not(aws_options, task_id):
    task = load_suite("terraform-aws").task(task_id)
    verdict = judge_task(task, task.reference, options=aws_options)
    assert verdict.ok, failed(verdict)
    untouched = judge_task(task, dict(task.files), options=aws_options)
    checks = {c["name"]: c["ok"] for c in untouched.checks}
    assert checks["plan"] is True and not untouched.ok, untouched.checks


@pytest.mark.slow
def test_a_reply_is_judged_on_the_whole_folder_with_its_deletions(aws_options):
    task = load_suite("terraform-aws").task("edit-001-vpc-private-subnet-nat")
    added = {p: t for p, t in task.reference.items() if p not in task.files}
    kept = Attempt(1, [], files=added)
    assert resulting_files(task, kept) == task.reference
    assert judge_task(task, kept.files, options=aws_options, **judge_kwargs(kept)).ok
    # deleting the file that holds the VPC breaks the rest of the folder: the judge sees that
    dropped = Attempt(1, [], files=added, deleted=["vpc.tf"])
    assert "vpc.tf" not in resulting_files(task, dropped)
    verdict = judge_task(task, dropped.files, options=aws_options, **judge_kwargs(dropped))
    assert not verdict.ok and not {c["name"]: c["ok"] for c in verdict.checks}["plan"]


@pytest.mark.slow
def test_ssh_opened_to_the_world_fails_the_security_group_task(aws_options):
    task = load_suite("terraform-aws").task("edit-003-security-group-office-ssh")
    wide = {**task.reference, "network.tf": task.reference["network.tf"].replace('"203.0.113.0/24"', '"0.0.0.0/0"')}
    assert wide != task.reference
    verdict = judge_task(task, wide, options=aws_options)
    assert not verdict.ok and "office_ssh" in failed(verdict)
