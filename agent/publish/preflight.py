"""`--git` before the model runs: the options, the session, and every check that can fail early.

A dirty tree, a missing remote, a bad ``--branch`` or ``--out``, a missing forge token or git
identity must not cost a generation, so ``preflight`` checks them all and returns the ``GitSession``
that ``publish`` (agent/publish/git.py) uses after the run. The small yes/no git helpers live here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import git

from tfagent.agent.core.defaults import FORGE_TIMEOUT, GIT_REMOTE
from tfagent.agent.core.secrets import redact
from tfagent.agent.publish.forge import RemoteInfo, RemoteUrlError, check_credentials, choose_forge, parse_remote_url


class GitUsageError(Exception):
    """The repository or the flags do not allow publishing (CLI exit code 2)."""


@dataclass
class GitOptions:
    enabled: bool = False
    branch: str | None = None
    base: str | None = None
    remote: str = GIT_REMOTE
    push: bool = False
    pr: bool = False
    pr_on_failure: bool = False
    allow_dirty: bool = False
    forge: str | None = None
    dry_run: bool = False
    forge_timeout: float = FORGE_TIMEOUT  # not a flag; tests shorten it

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "GitOptions":
        """From click's params. A PR needs the branch pushed and a draft PR is a PR, so
        ``--pr-on-failure`` implies ``--pr`` implies ``--push``; each of them implies ``--git``."""
        pr_on_failure = bool(params.get("pr_on_failure"))
        pr = bool(params.get("pr")) or pr_on_failure
        push = bool(params.get("push")) or pr
        dry_run = bool(params.get("git_dry_run"))
        return cls(enabled=bool(params.get("git")) or push or dry_run, branch=params.get("branch") or None,
                   base=params.get("base") or None, remote=params.get("remote") or GIT_REMOTE, push=push, pr=pr,
                   pr_on_failure=pr_on_failure, allow_dirty=bool(params.get("allow_dirty")),
                   forge=params.get("forge") or None, dry_run=dry_run)


@dataclass
class GitSession:
    opts: GitOptions
    repo: git.Repo
    root: Path
    out_rel: PurePosixPath  # --out relative to the repository root
    base: str | None  # the base branch's name (PR target)
    start_ref: str  # what a new branch starts from: "<remote>/<base>", "<base>" or a commit
    current_branch: str | None  # None when HEAD is detached
    remote: RemoteInfo | None = None  # parsed remote URL (when a PR is wanted)
    forge_kind: str | None = None


def preflight(opts: GitOptions, cwd: Path, out: Path) -> GitSession:
    """Check everything that can be checked before the model runs; raise GitUsageError if not ok."""
    repo = open_repo(cwd)
    root = Path(repo.working_tree_dir).resolve()
    out_rel = out_relative_to(root, out)
    if not opts.allow_dirty and repo.is_dirty(untracked_files=True):
        changed = repo.git.status("--porcelain").splitlines()
        shown = ", ".join(line[3:] for line in changed[:5]) + (" …" if len(changed) > 5 else "")
        raise GitUsageError(f"the working tree of {root} has uncommitted changes ({shown}); commit them "
                            "or pass --allow-dirty (tfagent never stashes or resets your work)")
    if opts.branch:
        check_branch_name(repo, opts.branch)
    current = None if repo.head.is_detached else repo.active_branch.name
    if opts.push and opts.remote not in [r.name for r in repo.remotes]:
        raise GitUsageError(f"{root} has no remote named {opts.remote!r} (see `git remote -v`)")
    base, start_ref = resolve_base(repo, opts, current)
    session = GitSession(opts, repo, root, out_rel, base, start_ref, current)
    if opts.pr:
        check_pr_possible(session)
    if not opts.dry_run:
        check_identity(repo)
    return session


def open_repo(cwd: Path) -> git.Repo:
    try:
        repo = git.Repo(cwd, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitUsageError(f"--git: {cwd} is not inside a git repository") from None
    if repo.bare or repo.working_tree_dir is None:
        raise GitUsageError(f"--git: {repo.git_dir} is a bare repository; run tfagent in a clone")
    return repo


def out_relative_to(root: Path, out: Path) -> PurePosixPath:
    """--out relative to the repository root (a relative --out is taken from the root)."""
    target = (Path(out) if Path(out).is_absolute() else root / out).resolve()
    if target != root and root not in target.parents:
        raise GitUsageError(f"--out {out} is outside the repository {root}; with --git it must be inside it")
    rel = PurePosixPath(target.relative_to(root).as_posix())
    if ".git" in rel.parts:
        raise GitUsageError(f"--out {out} is inside .git")
    return rel


def check_branch_name(repo: git.Repo, name: str) -> None:
    if not git_succeeds(repo, "check-ref-format", "--branch", name):
        raise GitUsageError(f"--branch {name!r} is not a valid git branch name")


def resolve_base(repo: git.Repo, opts: GitOptions, current: str | None) -> tuple[str | None, str]:
    """(base branch name, start ref). Prefer the remote's copy so the PR holds only our commit."""
    base = opts.base or remote_default_branch(repo, opts.remote) or current
    if base is None:
        if opts.pr:
            raise GitUsageError("HEAD is detached and the remote has no default branch: pass --base BRANCH")
        return None, repo.head.commit.hexsha
    for ref in (f"{opts.remote}/{base}", base):
        if ref_exists(repo, ref):
            return base, ref
    origin = "--base" if opts.base else "base branch (pass --base to choose another)"
    raise GitUsageError(f"{origin} {base!r}: no commit at {base} or {opts.remote}/{base} in this repository")


def remote_default_branch(repo: git.Repo, remote: str) -> str | None:
    try:
        target = repo.git.symbolic_ref("--quiet", f"refs/remotes/{remote}/HEAD")
    except git.GitCommandError:
        return None  # the clone did not record the remote's HEAD
    return target.removeprefix(f"refs/remotes/{remote}/") or None


def ref_exists(repo: git.Repo, ref: str) -> bool:
    return git_succeeds(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")


def git_succeeds(repo: git.Repo, *args: str) -> bool:
    """For git commands that answer yes/no by their exit status."""
    try:
        repo.git.execute(["git", *args])
        return True
    except git.GitCommandError:
        return False


def check_pr_possible(session: GitSession) -> None:
    opts = session.opts  # the remote exists: --pr implies --push, checked before
    url = session.repo.remotes[opts.remote].url  # as configured (insteadOf rewriting applies to push only)
    try:
        session.remote = parse_remote_url(url)
        session.forge_kind = choose_forge(session.remote, opts.forge)
    except (RemoteUrlError, ValueError) as exc:
        raise GitUsageError(f"--pr: {exc}") from None
    problem = None if opts.dry_run else check_credentials(session.forge_kind)
    if problem:
        raise GitUsageError(problem)


def check_identity(repo: git.Repo) -> None:
    """git's own rule for author/committer (config or GIT_AUTHOR_*/GIT_COMMITTER_*)."""
    for var in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        try:
            repo.git.var(var)
        except git.GitCommandError as exc:
            raise GitUsageError(f"git cannot tell who commits ({one_line(exc)}); set user.name/user.email "
                                "or GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL") from None


def one_line(exc: git.GitCommandError) -> str:
    """git's own reason, without credentials that remote URLs sometimes carry."""
    lines = [ln.strip() for ln in str(exc.stderr or exc).splitlines() if ln.strip()]
    lines = [ln.removeprefix("stderr: ").strip("' ") for ln in lines]
    line = next((ln for ln in reversed(lines) if ln.startswith(("fatal", "error"))), lines[-1] if lines else "?")
    return redact(re.sub(r"://[^/@\s]+@", "://", line))
