"""--git end to end: a real bare repository as the remote, a clone as the user's repo, and a local
HTTP server answering like GitHub's / GitLab's APIs. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import OLD_STRATEGY_FLAGS  # one request per run (the loop before issue 19)
from forge_fake import GH_TOKEN, GL_TOKEN
from tfagent.agent.publish.forge import ForgeError
from tfagent.agent.publish.git import branch_name, publish
from tfagent.agent.publish.preflight import GitOptions, GitUsageError, preflight
from tfagent.agent.core.types import Attempt, RunResult
from tfagent.verifiers.base import Verdict, error

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB_URL = "https://github.com/octo/infra.git"
MAIN_TF = 'resource "aws_s3_bucket" "b" {\n  bucket = "demo"\n}\n'


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repos(tmp_path, monkeypatch, forge_server):
    """(bare remote, the user's clone). The clone's origin says github.com; git rewrites it to the
    bare repository (url.insteadOf), so the forge is derived from a real-looking URL."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GITLAB_TOKEN", "CI_API_V4_URL", "CI_JOB_TOKEN", "GITHUB_TOKEN", "GITHUB_API_URL"):
        monkeypatch.delenv(var, raising=False)
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Infra Bot")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "bot@example.com")
    monkeypatch.setenv("GITHUB_TOKEN", GH_TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", forge_server.url)
    (tmp_path / "gitconfig").write_text(f'[url "{tmp_path / "remote.git"}"]\n\tinsteadOf = {GITHUB_URL}\n')
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "-q", GITHUB_URL, str(seed))
    (seed / "README.md").write_text("# infra\n")
    git(seed, "add", "README.md")
    git(seed, "commit", "-q", "-m", "init")
    git(seed, "push", "-q", "origin", "HEAD:main")
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", GITHUB_URL, str(work))
    return bare, work


def make_result(ok: bool = True, files: dict | None = None, prompt: str = "A private S3 bucket!",
                detail: str = "needs bucket", plan_json: str | None = None) -> RunResult:
    files = {"main.tf": MAIN_TF} if files is None else files
    failing = Attempt(1, [], files=files, ok=False, verdicts=[
        Verdict("hcl", True), Verdict("validate", False, [error("Missing required argument", detail,
                                                                file="main.tf", line=1, source="validate")])])
    attempts = [failing]
    if ok:
        artifacts = {"plan_json": plan_json} if plan_json else {}
        attempts.append(Attempt(2, [], files=files, ok=True, verdicts=[
            Verdict("hcl", True), Verdict("validate", True), Verdict("plan", True, artifacts=artifacts)]))
    return RunResult("run-1", prompt, "terraform", {"name": "local", "base_url": "http://127.0.0.1:9/v1",
                                                    "model": "qwen-0.5b-q4", "bpw": 4.5},
                     ["hcl", "validate", "plan"], ok, attempts, files, 3)


def options(**flags) -> GitOptions:
    return GitOptions.from_params({"git": True, **flags})


def remote_branches(bare: Path) -> list[str]:
    return git(bare, "for-each-ref", "--format=%(refname)", "refs/heads").splitlines()


def snapshot(work: Path) -> tuple[str, str, str, str]:
    """Everything about the user's clone that publishing must leave alone."""
    return (git(work, "status", "--porcelain=v1", "--untracked-files=all"), git(work, "rev-parse", "HEAD"),
            git(work, "symbolic-ref", "HEAD"), git(work, "worktree", "list", "--porcelain"))


def test_verified_run_commits_pushes_and_opens_a_pr(repos, forge_server, tmp_path, monkeypatch):
    bare, work = repos
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"resource_changes": [{"address": "aws_s3_bucket.b", "change": {"actions": ["create"]}}]}))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    before = snapshot(work)
    session = preflight(options(pr=True), work, Path("infra"))
    outcome = publish(session, make_result(plan_json=str(plan), detail=f"key {SECRET} in a diagnostic",
                                           prompt=f"A private S3 bucket! key={SECRET}"))
    branch = outcome.branch
    assert branch.startswith("tfagent/a-private-s3-bucket-key-")
    assert (outcome.pushed, outcome.committed, outcome.pr_number) == (True, True, 1)
    assert outcome.pr_url == "https://github.com/octo/infra/pull/1"
    # the remote holds the branch, with our file under --out, on top of main
    assert f"refs/heads/{branch}" in remote_branches(bare)
    assert git(bare, "rev-parse", branch) == outcome.commit_sha
    assert git(bare, "show", f"{branch}:infra/main.tf") + "\n" == MAIN_TF
    assert git(bare, "rev-parse", f"{branch}~1") == git(bare, "rev-parse", "main")
    message = git(bare, "log", "-1", "--format=%B", branch)
    assert "Prompt:" in message and "Endpoint: local (model qwen-0.5b-q4, 4.5 bpw)" in message
    assert "Attempt 1: failed: validate (1 error(s))" in message and "Verdict: verified" in message
    assert SECRET not in message
    assert git(bare, "log", "-1", "--format=%an <%ae>|%cn", branch) == "Infra Bot <bot@example.com>|Infra Bot"
    # the PR
    (post,) = forge_server.calls("POST")
    assert post["json"]["head"] == branch and post["json"]["base"] == "main" and post["json"]["draft"] is False
    body = post["json"]["body"]
    assert "| attempt | verdict | errors | what it fixed |" in body
    assert "**1 to add, 0 to change, 0 to destroy**" in body and "- add `aws_s3_bucket.b`" in body
    assert "- added `infra/main.tf`" in body
    assert SECRET not in body and SECRET not in post["json"]["title"] and "[redacted]" in body
    # the user's clone: same branch, same HEAD, nothing written, no leftover worktree
    assert snapshot(work) == before
    assert not (work / "infra").exists()


def test_dirty_tree_is_refused_and_left_untouched(repos, forge_server):
    _, work = repos
    (work / "README.md").write_text("# my unsaved edit\n")
    (work / "notes.txt").write_text("draft\n")
    before = snapshot(work)
    with pytest.raises(GitUsageError, match=r"uncommitted changes \(README.md, notes.txt\).*--allow-dirty"):
        preflight(options(pr=True), work, Path("infra"))
    assert snapshot(work) == before
    assert (work / "README.md").read_text() == "# my unsaved edit\n"


def test_allow_dirty_keeps_the_users_work(repos, forge_server):
    bare, work = repos
    (work / "README.md").write_text("# my unsaved edit\n")
    (work / "staged.txt").write_text("staged\n")
    git(work, "add", "staged.txt")
    before = snapshot(work)
    outcome = publish(preflight(options(push=True, allow_dirty=True), work, Path(".")), make_result())
    assert snapshot(work) == before
    assert (work / "README.md").read_text() == "# my unsaved edit\n"
    # the commit has our file only: neither the edit nor the staged file went into it
    assert git(bare, "show", "--name-only", "--format=", outcome.branch) == "main.tf"
    assert git(bare, "show", f"{outcome.branch}:README.md") == "# infra"
    assert forge_server.requests == []  # --push without --pr: no API call


def test_git_alone_commits_locally_only(repos, forge_server):
    bare, work = repos
    before = snapshot(work)
    outcome = publish(preflight(options(), work, Path("infra")), make_result())
    assert outcome.committed and not outcome.pushed and outcome.pr_url is None
    assert git(work, "rev-parse", outcome.branch) == outcome.commit_sha
    assert git(work, "show", f"{outcome.branch}:infra/main.tf") + "\n" == MAIN_TF
    assert remote_branches(bare) == ["refs/heads/main"] and forge_server.requests == []
    assert snapshot(work) == before


def test_rerun_adds_a_commit_and_updates_the_pr(repos, forge_server):
    bare, work = repos
    first = publish(preflight(options(pr=True), work, Path("infra")), make_result())
    second_files = {"main.tf": MAIN_TF.replace("demo", "demo-2"), "outputs.tf": 'output "id" {\n  value = 1\n}\n'}
    second = publish(preflight(options(pr=True), work, Path("infra")), make_result(files=second_files))
    assert second.branch == first.branch and second.pr_number == first.pr_number == 1
    assert git(bare, "rev-parse", f"{second.branch}~1") == first.commit_sha
    assert git(bare, "show", f"{second.branch}:infra/outputs.tf") + "\n" == second_files["outputs.tf"]
    assert [r["method"] for r in forge_server.requests] == ["GET", "POST", "GET", "PATCH"]
    patched = forge_server.calls("PATCH")[0]["json"]["body"]
    assert "- modified `infra/main.tf`" not in patched  # compared with main, both files are new
    assert "- added `infra/main.tf`" in patched and "- added `infra/outputs.tf`" in patched
    # identical files a third time: no empty commit, the PR is still updated
    third = publish(preflight(options(pr=True), work, Path("infra")), make_result(files=second_files))
    assert (third.committed, third.commit_sha) == (False, second.commit_sha)
    assert len(forge_server.calls("PATCH")) == 2


def test_rerun_from_a_fresh_clone_builds_on_the_pushed_branch(repos, forge_server, tmp_path):
    bare, work = repos
    first = publish(preflight(options(pr=True), work, Path("infra")), make_result())
    fresh = tmp_path / "ci-clone"
    git(tmp_path, "clone", "-q", "--single-branch", GITHUB_URL, str(fresh))  # what a CI checkout has
    files = {"main.tf": MAIN_TF.replace("demo", "ci")}
    second = publish(preflight(options(pr=True), fresh, Path("infra")), make_result(files=files))
    assert git(bare, "rev-parse", f"{second.branch}~1") == first.commit_sha
    assert len(forge_server.calls("POST")) == 1 and len(forge_server.calls("PATCH")) == 1


def test_push_rejected_when_the_remote_branch_diverged(repos, forge_server, tmp_path):
    bare, work = repos
    publish(preflight(options(push=True, branch="tf/x"), work, Path("infra")), make_result())
    other = tmp_path / "other"  # someone else rewrites the branch
    git(tmp_path, "clone", "-q", GITHUB_URL, str(other))
    git(other, "switch", "-q", "-c", "tf/x", "origin/main")
    git(other, "commit", "-q", "--allow-empty", "-m", "theirs")
    git(other, "push", "-q", "-f", "origin", "tf/x")
    theirs = git(other, "rev-parse", "HEAD")
    with pytest.raises(ForgeError, match=r"git push origin tf/x failed: \[rejected\] \(non-fast-forward\)") as info:
        publish(preflight(options(push=True, branch="tf/x"), work, Path("infra")), make_result(files={"a.tf": "x\n"}))
    assert info.value.pushed is False and info.value.branch == "tf/x"
    assert git(bare, "rev-parse", "tf/x") == theirs  # their work is intact


def test_failed_run_commits_nothing_by_default(repos, forge_server):
    bare, work = repos
    before = snapshot(work)
    outcome = publish(preflight(options(pr=True), work, Path("infra")), make_result(ok=False))
    assert outcome.commit_sha is None and not outcome.pushed and outcome.pr_url is None
    assert "nothing committed" in outcome.message
    assert remote_branches(bare) == ["refs/heads/main"]
    assert git(work, "branch", "--list", "tfagent/*") == ""
    assert forge_server.requests == [] and snapshot(work) == before


def test_failed_run_with_pr_on_failure_opens_a_draft(repos, forge_server):
    bare, work = repos
    outcome = publish(preflight(options(pr_on_failure=True), work, Path("infra")), make_result(ok=False))
    assert outcome.pushed and outcome.pr_number == 1
    assert f"refs/heads/{outcome.branch}" in remote_branches(bare)
    assert "Verdict: NOT verified" in git(bare, "log", "-1", "--format=%B", outcome.branch)
    (post,) = forge_server.calls("POST")
    assert post["json"]["draft"] is True
    assert "## Failing diagnostics" in post["json"]["body"] and "needs bucket" in post["json"]["body"]


def test_failed_run_without_files_still_gets_its_draft(repos, forge_server):
    bare, work = repos
    outcome = publish(preflight(options(pr_on_failure=True), work, Path("infra")), make_result(ok=False, files={}))
    assert outcome.committed and git(bare, "show", "--name-only", "--format=", outcome.branch) == ""
    assert forge_server.calls("POST")[0]["json"]["draft"] is True


def test_dry_run_touches_nothing(repos, forge_server):
    bare, work = repos
    before, remote_before = snapshot(work), remote_branches(bare)
    refs_before = git(work, "for-each-ref")
    outcome = publish(preflight(options(pr=True, git_dry_run=True), work, Path("infra")), make_result())
    assert snapshot(work) == before and git(work, "for-each-ref") == refs_before
    assert remote_branches(bare) == remote_before and forge_server.requests == []
    text = outcome.dry_run_text
    assert f"branch: {outcome.branch}" in text and "tfagent/a-private-s3-bucket" in text
    assert "pull request: github octo/infra tfagent/a-private-s3-bucket → main" in text
    assert "--- commit message ---" in text and "Verdict: verified" in text
    assert "| attempt | verdict | errors | what it fixed |" in text
    assert outcome.commit_sha is None and not outcome.pushed


def test_dry_run_prints_to_the_console(repos):
    from rich.console import Console

    _, work = repos
    console = Console(record=True, width=100)
    outcome = publish(preflight(options(git_dry_run=True), work, Path("infra")), make_result(ok=False), console=console)
    printed = console.export_text()
    assert "would NOT commit (not verified; --pr-on-failure to commit)" in printed
    assert "[redacted]" not in printed and "Failing diagnostics" in printed
    assert printed.strip().endswith(outcome.dry_run_text.strip().splitlines()[-1].strip())


def test_forge_error_leaves_the_pushed_branch_and_names_it(repos, forge_server, monkeypatch):
    bare, work = repos
    monkeypatch.setenv("GITHUB_TOKEN", "not-the-right-token")
    session = preflight(options(pr=True, branch="infra/bucket"), work, Path("infra"))
    with pytest.raises(ForgeError) as info:
        publish(session, make_result())
    message = str(info.value)
    assert "HTTP 401" in message and "infra/bucket was pushed to origin and left in place" in message
    assert (info.value.branch, info.value.pushed) == ("infra/bucket", True)
    assert "refs/heads/infra/bucket" in remote_branches(bare)


def test_gitlab_merge_request(repos, forge_server, monkeypatch, tmp_path):
    bare, work = repos
    gitlab_url = "https://gitlab.example.com/group/sub/proj.git"
    git(work, "config", f"url.{bare}.insteadOf", gitlab_url)
    git(work, "remote", "set-url", "origin", gitlab_url)
    monkeypatch.setenv("CI_API_V4_URL", f"{forge_server.url}/api/v4")
    monkeypatch.setenv("GITLAB_TOKEN", GL_TOKEN)
    outcome = publish(preflight(options(pr=True), work, Path("infra")), make_result())
    (post,) = forge_server.calls("POST")
    assert post["raw_path"] == "/api/v4/projects/group%2Fsub%2Fproj/merge_requests"
    assert post["json"]["source_branch"] == outcome.branch and post["json"]["target_branch"] == "main"
    assert "| attempt |" in post["json"]["description"]
    assert outcome.pr_url == "https://gitlab.example.com/group/sub/proj/-/merge_requests/1"


def test_on_the_target_branch_commits_in_place(repos, forge_server):
    bare, work = repos
    git(work, "switch", "-q", "-c", "feature/infra")
    outcome = publish(preflight(options(push=True, branch="feature/infra"), work, Path("infra")), make_result())
    assert git(work, "rev-parse", "HEAD") == outcome.commit_sha == git(bare, "rev-parse", "feature/infra")
    assert (work / "infra" / "main.tf").read_text() == MAIN_TF
    assert git(work, "status", "--porcelain") == ""


@pytest.mark.parametrize("prompt, branch", [
    ("A private S3 bucket!", "tfagent/a-private-s3-bucket"),
    ("Ein privater S3-Bucket für Logs", "tfagent/ein-privater-s3-bucket-fur-logs"),
    ("   ???   ", "tfagent/run"),
    ("create " + "very " * 20 + "long", "tfagent/create-very-very-very-very-very-very-very-very"),
])
def test_branch_names_from_prompts(prompt, branch):
    name = branch_name(GitOptions(enabled=True), prompt)
    assert name == branch and len(name) <= len("tfagent/") + 48
    assert branch_name(GitOptions(enabled=True, branch="mine"), prompt) == "mine"


HCL_REPLY = '```hcl\nresource "aws_s3_bucket" "b" {\n  bucket = "demo"\n}\n```\n'


def run_cli(server, *flags: str):
    from tfagent.agent.cli.main import main

    server.enqueue(HCL_REPLY)
    args = ["a private bucket", "--base-url", server.base_url, "--model", "scripted", "--verify", "hcl,fmt",
            *OLD_STRATEGY_FLAGS, *flags]
    return CliRunner().invoke(main, args)


def test_cli_end_to_end_exit_codes(repos, forge_server, scripted_server, monkeypatch):
    """The real `tfagent` command: 0 with a PR; 2 for a dirty tree before the model is asked; 4 when the
    API refuses, naming the branch it left pushed."""
    bare, work = repos
    monkeypatch.chdir(work)
    done = run_cli(scripted_server, "--git", "--pr")
    assert done.exit_code == 0, done.output
    assert "PR #1: https://github.com/octo/infra/pull/1" in done.output
    assert git(bare, "show", "tfagent/a-private-bucket:infra/main.tf").startswith('resource "aws_s3_bucket" "b"')

    (work / "README.md").write_text("edited\n")
    asked = len(scripted_server.chat_requests())
    dirty = run_cli(scripted_server, "--git", "--pr")
    assert dirty.exit_code == 2 and "uncommitted changes (README.md)" in dirty.output
    assert len(scripted_server.chat_requests()) == asked  # refused before the model ran

    git(work, "checkout", "--", "README.md")
    monkeypatch.setenv("GITHUB_TOKEN", "revoked-token")
    refused = run_cli(scripted_server, "--git", "--pr", "--branch", "bot/bucket")
    assert refused.exit_code == 4
    assert "HTTP 401" in refused.output and "bot/bucket was pushed to origin and left in place" in refused.output
    assert "refs/heads/bot/bucket" in remote_branches(bare)


PLANNABLE_REPLY = """```hcl
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "3.39.0"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

resource "aws_s3_bucket" "b" {
  bucket = "demo"
}
```
"""


@pytest.mark.slow  # real terraform init/validate/plan with the aws provider: ~20-30 s on 2 shared cores
def test_cli_pr_body_summarises_the_real_plan(repos, forge_server, scripted_server, aws_mirror, monkeypatch):
    from tfagent.agent.cli.main import main

    _, work = repos
    monkeypatch.chdir(work)
    scripted_server.enqueue(PLANNABLE_REPLY)
    done = CliRunner().invoke(main, ["a private bucket", "--base-url", scripted_server.base_url, "--model", "scripted",
                                     "--verify", "hcl,fmt,validate,plan", "--provider-mirror", str(aws_mirror),
                                     "--offline-aws", "--git", "--pr", *OLD_STRATEGY_FLAGS])
    assert done.exit_code == 0, done.output
    body = forge_server.calls("POST")[0]["json"]["body"]
    assert "**1 to add, 0 to change, 0 to destroy**" in body and "- add `aws_s3_bucket.b`" in body
    assert "| plan | yes |" in body
