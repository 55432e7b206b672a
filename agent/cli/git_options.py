"""The --git/--pr flags of `tfagent run` and `tfagent code`, apart from agent/publish/ so that defining
the CLI (and `tfagent --help`) does not import GitPython and the forge clients."""

from __future__ import annotations

import click

from tfagent.agent.core.defaults import GIT_REMOTE


def git_options(func):
    """Click decorator adding the --git flags to a command."""
    options = [
        click.option("--git", "git", is_flag=True, help="Commit the files on a new branch of the repository here."),
        click.option("--branch", help="Branch to commit to (default tfagent/<slug-of-prompt>)."),
        click.option("--base", help="Branch to start from and target the PR at (default: the remote's default branch, else the current one)."),
        click.option("--remote", default=GIT_REMOTE, show_default=True, help="Remote to push to."),
        click.option("--push", is_flag=True, help="Push the branch (implies --git)."),
        click.option("--pr", is_flag=True, help="Open or update a pull/merge request (implies --push)."),
        click.option("--pr-on-failure", is_flag=True, help="When the code did not verify, still commit and open a DRAFT PR with the diagnostics."),
        click.option("--allow-dirty", is_flag=True, help="Run even if the working tree has changes (they are left untouched either way)."),
        click.option("--forge", type=click.Choice(["github", "gitlab"]), help="Forge API (default: guessed from the environment and remote URL)."),
        click.option("--dry-run", "git_dry_run", is_flag=True, help="Alone: print the exact first request (messages, schema cards, grammar) and ask no model. "
                          "With --git/--push/--pr: also print the branch, commit message and PR body; change nothing."),
    ]
    for option in reversed(options):
        func = option(func)
    return func
