"""One eval cell as a unit of work any engine can run, and the protocol engines implement.

A ``CellJob`` carries everything a cell needs — the task's content (prompt, given files, the judge's
hidden checks, all read into memory when the suite loaded), the ready-built ``RunRequest``, the
attempts already stored (resume) and the judge's options — so a worker needs no suite folder and no
store. ``compute_cell`` runs the loop and the judge and returns every attempt plus the verdict; only
the caller (the driver) writes the store, which keeps resume, merge and rescore unchanged.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Protocol

from tfagent.agent.core.types import Attempt
from tfagent.evals.running.store import CellKey
from tfagent.evals.tasks.folder import judge_kwargs
from tfagent.verifiers.base import VerifyOptions

EXECUTORS = ("local", "ray")  # --executor choices; "local" is the default

AttemptSink = Callable[["CellJob", Attempt], None]
ResultSink = Callable[["CellJob", "CellResult"], None]
ErrorSink = Callable[["CellJob", str], None]


@dataclass
class CellJob:
    key: CellKey
    task: Any  # tfagent.evals.tasks.suite.Task (kept Any: this module must not import the suite loader)
    request: Any  # tfagent.agent.loop.state.RunRequest, artifacts_root left to the worker
    base_url: str  # the model server: the local pool groups cells by it
    max_attempts: int
    judge_options: VerifyOptions
    history: list[Attempt] = field(default_factory=list)


@dataclass
class CellResult:
    key: CellKey
    attempts: list[Attempt]  # history first, then the new ones, in order
    verdict: dict[str, Any]
    ok: bool


def is_final(attempt: Attempt, max_attempts: int) -> bool:
    return attempt.ok or attempt.number >= max_attempts


def compute_cell(job: CellJob, agent: Callable[..., Any], judge: Callable[..., Any],
                 on_attempt: Callable[[Attempt], None] | None = None, clients: Any = None) -> CellResult:
    """Run one cell to its judge verdict. ``on_attempt`` sees each new attempt the moment the loop
    finishes it (the local executor stores it right then); ``clients``: the executor's ClientPool
    (one model client per endpoint, reused across cells); exceptions propagate to the executor."""
    history = list(job.history)
    attempts = history
    if not history or not is_final(history[-1], job.max_attempts):
        seen = {a.number for a in history}

        def on_event(kind: str, data: dict[str, Any]) -> None:
            if kind == "attempt_done" and data["attempt"].number not in seen:
                seen.add(data["attempt"].number)
                if on_attempt is not None:
                    on_attempt(data["attempt"])

        # Per-attempt artifacts (plan.json) are scratch on whichever machine runs the cell: the
        # store keeps what the report needs.
        with tempfile.TemporaryDirectory(prefix="tfagent-eval-cell-") as scratch:
            request = replace(job.request, artifacts_root=Path(scratch))
            client = clients.get(request.endpoint) if clients is not None else None
            result = agent(request, on_event=on_event, history=history or None, client=client)
            attempts = list(result.attempts)
            final = attempts[-1] if attempts else None
            verdict = judge(job.task, final.files, options=job.judge_options, **judge_kwargs(final)) if final else None
    else:
        final = history[-1]
        verdict = judge(job.task, final.files, options=job.judge_options, **judge_kwargs(final))
    if not attempts or verdict is None:
        raise RuntimeError(f"the agent returned no attempt for {job.key}")
    return CellResult(job.key, attempts, verdict.to_dict(), bool(verdict.ok))


class Executor(Protocol):
    """Runs jobs; calls ``on_result`` (or ``on_error``) exactly once per job, on the driver."""

    name: str

    def run(self, jobs: list[CellJob], compute: Callable[..., CellResult], *, on_attempt: AttemptSink,
            on_result: ResultSink, on_error: ErrorSink, clients: Any = None) -> None: ...
