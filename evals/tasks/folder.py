"""Eval tasks that start from a folder (a terraform task's ``files``): each cell runs as
`tfagent "…" --in DIR` does — the files shown in the first request, only changed files and
``DELETE FILE`` lines in the reply, the whole folder verified — and is judged on the whole resulting
folder (the task's files with the reply's changes and deletions applied)."""

from __future__ import annotations

from typing import Any

from tfagent.agent.core.change import Change
from tfagent.agent.core.types import Attempt
from tfagent.agent.loop.folder import Folder
from tfagent.evals.tasks.suite import Task


def task_folder(task: Task) -> Folder | None:
    """The folder a terraform task starts from; None for a task that starts empty (or code tasks,
    whose given files are the model's starting point, not a folder it edits)."""
    if task.mode != "terraform" or not task.files:
        return None
    return Folder.from_files(task.files)


def resulting_files(task: Task, attempt: Attempt) -> dict[str, str]:
    """The files an attempt leaves: for a task that starts from a folder, the whole folder with the
    reply's changes and deletions applied; otherwise the attempt's own files."""
    if task_folder(task) is None or not (attempt.files or attempt.deleted):
        return dict(attempt.files)
    return Change(task.files, dict(attempt.files), list(attempt.deleted)).result()


def judge_kwargs(attempt: Attempt) -> dict[str, Any]:
    """Extra judge arguments for an attempt: the files its reply deleted (the judge lays the task's
    files under the reply's, so a deletion must be said)."""
    return {"deleted": tuple(attempt.deleted)} if attempt.deleted else {}
