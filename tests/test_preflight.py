"""--git before the model runs (agent/publish/preflight.py): the flags, the repository, the token
and the git identity are checked on the real repositories of test_git's `repos` fixture."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from test_git import git, options, repos  # noqa: F401  (repos is a fixture)
from tfagent.agent.cli.git_options import git_options
from tfagent.agent.publish.preflight import GitOptions, GitUsageError, preflight


@pytest.mark.parametrize("flags, out, match", [
    ({}, Path("../elsewhere"), "outside the repository"),
    ({}, Path(".git/hooks"), "inside .git"),
    ({"branch": "bad..name"}, Path("infra"), "not a valid git branch name"),
    ({"push": True, "remote": "upstream"}, Path("infra"), "no remote named 'upstream'"),
    ({"base": "nope"}, Path("infra"), "--base 'nope': no commit at nope or origin/nope"),
])
def test_preflight_refuses_bad_flags(repos, flags, out, match):
    _, work = repos
    with pytest.raises(GitUsageError, match=match):
        preflight(options(**flags), work, out)


def test_preflight_needs_a_repository_a_token_and_an_identity(repos, tmp_path, monkeypatch):
    _, work = repos
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitUsageError, match="not inside a git repository"):
        preflight(options(), plain, Path("."))
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(GitUsageError, match="needs GITHUB_TOKEN"):
        preflight(options(pr=True), work, Path("infra"))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{role}_NAME")
        monkeypatch.delenv(f"GIT_{role}_EMAIL")
    git(work, "config", "user.useConfigOnly", "true")
    with pytest.raises(GitUsageError, match="git cannot tell who commits"):
        preflight(options(push=True), work, Path("infra"))


def test_git_options_decorator_and_from_params():
    seen = {}

    @click.command()
    @git_options
    def cmd(**params):
        seen.update(params)

    result = CliRunner().invoke(cmd, ["--pr-on-failure", "--branch", "b", "--base", "dev", "--allow-dirty",
                                      "--forge", "gitlab", "--dry-run"])
    assert result.exit_code == 0, result.output
    opts = GitOptions.from_params(seen)
    assert (opts.enabled, opts.push, opts.pr, opts.pr_on_failure, opts.dry_run) == (True, True, True, True, True)
    assert (opts.branch, opts.base, opts.remote, opts.forge, opts.allow_dirty) == ("b", "dev", "origin", "gitlab", True)
    assert GitOptions.from_params({"git": False, "remote": "origin"}).enabled is False
    assert CliRunner().invoke(cmd, ["--forge", "bitbucket"]).exit_code == 2
