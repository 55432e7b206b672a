"""`--git`: put the generated files on a branch, commit, push, and open or update a pull request.

The user's working tree is never touched: the branch is built in a temporary ``git worktree``
(removed afterwards), so uncommitted work, the index and the checked-out branch stay exactly as they
were — nothing is stashed, reset or checked out under the user's feet. Only when the user already
has the target branch checked out are the files committed in place, and then only those paths.

``preflight`` (agent/publish/preflight.py) runs before the model is asked (a dirty tree, a missing
token or a bad ``--out`` must not cost a generation); ``publish`` runs after, with the ``RunResult``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

import git

from tfagent.agent.core.output import OutputError, write_files
from tfagent.agent.core.types import RunResult
from tfagent.agent.publish import prbody
from tfagent.agent.publish.forge import ForgeError, make_forge
from tfagent.agent.publish.preflight import GitOptions, GitSession, GitUsageError, git_succeeds, one_line, ref_exists

BRANCH_PREFIX = "tfagent/"
MAX_SLUG = 48


@dataclass
class PublishOutcome:
    branch: str
    commit_sha: str | None = None  # None: nothing was committed
    pushed: bool = False
    pr_url: str | None = None
    pr_number: int | None = None
    dry_run_text: str | None = None
    committed: bool = False  # False when the files were already on the branch (or not committed)
    message: str = ""  # one line for the console: what happened


def branch_name(opts: GitOptions, prompt: str) -> str:
    if opts.branch:
        return opts.branch
    ascii_prompt = unicodedata.normalize("NFKD", prompt).encode("ascii", "ignore").decode()  # "für" → "fur"
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_prompt.lower()).strip("-")
    if len(slug) > MAX_SLUG:
        slug = slug[:MAX_SLUG].rsplit("-", 1)[0] or slug[:MAX_SLUG]
    return BRANCH_PREFIX + (slug or "run")


def publish(session: GitSession, result: RunResult, *, console=None) -> PublishOutcome:
    """Commit ``result.files`` under --out on the branch; push; open/update the PR (see module doc)."""
    opts = session.opts
    branch = branch_name(opts, result.prompt)
    commit_wanted = result.ok or opts.pr_on_failure
    if opts.dry_run:
        return dry_run(session, result, branch, commit_wanted, console)
    if not commit_wanted:
        return say(console, PublishOutcome(branch, message=f"not verified: nothing committed to {branch} "
                                                           "(--pr-on-failure opens a draft PR instead)"))
    if opts.push:
        fetch_branch(session, branch)
    deleted = prbody.deleted_paths(result)
    files_changed = changes_against(session.repo, session.start_ref, session.out_rel, result.files, deleted)
    with branch_checkout(session, branch) as workdir:
        check_base(session, workdir, result)
        write_into(session, workdir, result.files, deleted)
        sha, committed = commit(session, workdir, result, allow_empty=not result.ok)
    outcome = PublishOutcome(branch, commit_sha=sha, committed=committed)
    if opts.push:
        push(session, branch)
        outcome.pushed = True
    if opts.pr:
        open_pr(session, result, branch, files_changed, plan_summary(result), outcome)
    outcome.message = prbody.outcome_line(branch, sha, committed, opts.remote if outcome.pushed else None,
                                          outcome.pr_number, outcome.pr_url)
    return say(console, outcome)


def dry_run(session: GitSession, result: RunResult, branch: str, commit_wanted: bool, console) -> PublishOutcome:
    start = existing_branch_ref(session, branch) or session.start_ref
    files_changed = changes_against(session.repo, session.start_ref, session.out_rel, result.files,
                                    prbody.deleted_paths(result))
    pr_target = f"{session.forge_kind} {session.remote.path} {branch} → {session.base}" if session.opts.pr else None
    text = prbody.dry_run_text(result, branch, start, commit_wanted, pr_target,
                               prbody.render_pr_body(result, files_changed, plan=plan_summary(result)))
    if console is not None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    return PublishOutcome(branch, dry_run_text=text, message="dry run: nothing changed")


def say(console, outcome: PublishOutcome) -> PublishOutcome:
    if console is not None and outcome.message:
        console.print(outcome.message, markup=False, highlight=False, soft_wrap=True)
    return outcome


def plan_summary(result: RunResult) -> prbody.PlanSummary | None:
    path = prbody.plan_json_path(result)
    return prbody.read_plan_summary(path) if path else None


def run_git(repo_or_dir: git.Repo | Path, *args: str, what: str) -> str:
    """A git command whose failure after the model ran is a publish failure (exit 4)."""
    runner = repo_or_dir.git if isinstance(repo_or_dir, git.Repo) else git.Git(str(repo_or_dir))
    try:
        return runner.execute(["git", *args])
    except git.GitCommandError as exc:
        raise ForgeError(f"git {what} failed: {one_line(exc)}") from None


def push_rejection(exc: git.GitCommandError) -> str:
    """`push --porcelain` prints "!<TAB>src:dst<TAB>[rejected] (non-fast-forward)" on stdout."""
    for line in str(exc.stdout or "").splitlines():
        line = line.strip().removeprefix("stdout: ").strip("'")
        if line.startswith("!") and line.count("\t") >= 2:
            return line.split("\t", 2)[2]
    return one_line(exc)


def fetch_branch(session: GitSession, branch: str) -> None:
    """A re-run in a fresh CI clone must build on the branch already pushed, not beside it."""
    try:
        session.repo.git.fetch(session.opts.remote, f"+refs/heads/{branch}:refs/remotes/{session.opts.remote}/{branch}")
    except git.GitCommandError as exc:
        if "couldn't find remote ref" not in str(exc.stderr):
            raise ForgeError(f"git fetch {session.opts.remote} {branch} failed: {one_line(exc)}") from None


def existing_branch_ref(session: GitSession, branch: str) -> str | None:
    for ref in (f"refs/heads/{branch}", f"refs/remotes/{session.opts.remote}/{branch}"):
        if ref_exists(session.repo, ref):
            return ref
    return None


@contextmanager
def branch_checkout(session: GitSession, branch: str) -> Iterator[Path]:
    """A working directory with ``branch`` checked out: the user's own tree if they are on it,
    else a temporary worktree (created from the remote copy or the base when the branch is new)."""
    repo = session.repo
    if session.current_branch == branch:
        yield session.root
        return
    remote_copy = f"refs/remotes/{session.opts.remote}/{branch}"
    has_local, has_remote = ref_exists(repo, f"refs/heads/{branch}"), ref_exists(repo, remote_copy)
    if has_local and has_remote and git_succeeds(repo, "merge-base", "--is-ancestor", f"refs/heads/{branch}", remote_copy):
        run_git(repo, "branch", "-f", branch, remote_copy, what=f"fast-forward {branch}")
    tmp = Path(tempfile.mkdtemp(prefix="tfagent-worktree-"))
    workdir = tmp / "tree"
    if has_local:
        run_git(repo, "worktree", "add", "--quiet", str(workdir), branch, what=f"worktree for {branch}")
    else:
        start = remote_copy if has_remote else session.start_ref
        run_git(repo, "worktree", "add", "--quiet", "--no-track", "-b", branch, str(workdir), start,
                what=f"create branch {branch} from {start}")
    try:
        yield workdir
    finally:
        # Only our temporary checkout goes; the commit is already on the branch.
        run_git(repo, "worktree", "remove", "--force", str(workdir), what="remove the temporary worktree")
        shutil.rmtree(tmp, ignore_errors=True)


def changes_against(repo: git.Repo, start: str, out_rel: PurePosixPath, files: dict[str, str],
                    deleted: list[str] = ()) -> list[tuple[str, str]]:
    """[(added|modified|unchanged|deleted, repo path)] of the files compared with commit ``start``."""
    tree = repo.commit(start).tree
    changes = []
    for rel in sorted(set(files) | set(deleted)):
        if rel in deleted:
            changes.append(("deleted", (out_rel / rel).as_posix()))
            continue
        path = (out_rel / rel).as_posix()
        try:
            old = tree[path].data_stream.read().decode("utf-8", errors="replace")
        except KeyError:
            changes.append(("added", path))
            continue
        changes.append(("unchanged" if old == files[rel] else "modified", path))
    return changes


def write_into(session: GitSession, workdir: Path, files: dict[str, str], deleted: list[str] = ()) -> None:
    if workdir == session.root:
        refuse_uncommitted(session, {**files, **{rel: "" for rel in deleted}})
    try:
        write_files(workdir / session.out_rel, files, force=True)  # the branch is ours to update
        for rel in deleted:  # --in: files the change deletes (check_base saw them there)
            (workdir / session.out_rel / rel).unlink(missing_ok=True)
    except OutputError as exc:
        raise GitUsageError(f"--git: {exc}") from None
    except OSError as exc:
        raise GitUsageError(f"--git: cannot delete a file in {workdir / session.out_rel}: {exc}") from None


def check_base(session: GitSession, workdir: Path, result: RunResult) -> None:
    """--in: the change was made against the folder as tfagent read it. On the branch it is committed
    to, each file it modifies or deletes must still hold that text and each file it adds must not exist
    yet; otherwise the change would overwrite work it never saw."""
    record = result.change
    if not record:
        return
    folder = workdir / session.out_rel
    conflicts = []
    for rel, digest in sorted((record.get("read") or {}).items()):
        target = folder / rel
        if not target.is_file():
            conflicts.append(f"{rel} is missing")
        elif hashlib.sha256(target.read_bytes()).hexdigest() != digest:
            conflicts.append(f"{rel} differs")
    conflicts += [f"{rel} already exists" for rel in record.get("added") or [] if (folder / rel).exists()]
    if conflicts:
        raise GitUsageError(f"--git: the branch's {session.out_rel.as_posix() or '.'} is not the folder tfagent changed "
                            f"({'; '.join(conflicts)}); update your checkout to the base branch and run again")


def refuse_uncommitted(session: GitSession, files: dict[str, str]) -> None:
    """Writing in the user's own tree: overwriting a file they changed (or never committed) loses work."""
    paths = [(session.out_rel / rel).as_posix() for rel in sorted(files)]
    if not paths:
        return
    pending = run_git(session.repo, "status", "--porcelain", "--", *paths, what="status").splitlines()
    if pending:
        raise GitUsageError(f"--git: {session.current_branch} is checked out and these files have uncommitted "
                            f"changes that writing would overwrite: {', '.join(p[3:] for p in pending)}")


def commit(session: GitSession, workdir: Path, result: RunResult, *, allow_empty: bool) -> tuple[str, bool]:
    """Commit only our paths (the user's own staged changes stay staged). Returns (HEAD sha, committed)."""
    paths = [(session.out_rel / rel).as_posix() for rel in sorted({*result.files, *prbody.deleted_paths(result)})]
    if paths:
        run_git(workdir, "add", "--", *paths, what="add")
    staged = run_git(workdir, "diff", "--cached", "--name-only", "--", *paths, what="diff") if paths else ""
    if not staged.strip() and not allow_empty:
        return run_git(workdir, "rev-parse", "HEAD", what="rev-parse").strip(), False
    message = prbody.commit_message(result)
    args = ["commit", "--quiet", "--cleanup=whitespace", "-m", message]
    if not staged.strip():
        args.append("--allow-empty")  # a failing run with no files still gets its draft PR
    run_git(workdir, *args, *(["--", *paths] if staged.strip() else []), what="commit")
    return run_git(workdir, "rev-parse", "HEAD", what="rev-parse").strip(), True


def push(session: GitSession, branch: str) -> None:
    remote = session.opts.remote
    try:
        session.repo.git.push("--porcelain", remote, f"refs/heads/{branch}:refs/heads/{branch}")
    except git.GitCommandError as exc:
        raise ForgeError(f"git push {remote} {branch} failed: {push_rejection(exc)} (committed locally on {branch}; "
                         "if someone else pushed to it, merge their work or choose another --branch)",
                         branch=branch) from None


def open_pr(session: GitSession, result: RunResult, branch: str, files_changed, plan, outcome: PublishOutcome) -> None:
    title, body = prbody.pr_title(result), prbody.render_pr_body(result, files_changed, plan=plan)
    try:
        forge = make_forge(session.remote, session.forge_kind, timeout=session.opts.forge_timeout)
        try:
            pull = forge.open_or_update(head=branch, base=session.base, title=title, body=body, draft=not result.ok)
        finally:
            forge.close()
    except ForgeError as exc:
        raise ForgeError(f"{exc} — branch {branch} was pushed to {session.opts.remote} and left in place",
                         branch=branch, pushed=True) from None
    outcome.pr_url, outcome.pr_number = pull.url, pull.number
