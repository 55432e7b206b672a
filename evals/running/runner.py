"""The eval matrix: endpoints × tasks × samples, run through the same agent loop users run, judged apart.

Where cells run is the executor's business (``running/executors/``): by default one thread pool of
``concurrency`` workers per model *server*; with ``--executor ray`` Ray tasks on a cluster.
Every attempt is written to the store the moment the loop reports it, and the judge's verdict after
the final one, so a killed eval resumes where it stopped: cells with a verdict are skipped, cells
with some attempts continue from them (passed to the loop as ``history``, never re-asked).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable

from tfagent.agent.core.defaults import (BASELINE_STRATEGY, DEFAULT_AUTOFIX, DEFAULT_CANDIDATES, DEFAULT_CONSTRAIN,
                                         DEFAULT_FEEDBACK, DEFAULT_GROUNDING, MAX_ATTEMPTS, READY_TIMEOUT)
from tfagent.agent.core.types import Attempt, Endpoint
from tfagent.agent.core.verify_options import VerifySettings, build_verify_options
from tfagent.agent.model.pool import ClientPool
from tfagent.evals.running.executors.base import CellJob, CellResult, compute_cell
from tfagent.evals.running.executors.local import LocalExecutor
from tfagent.evals.running.store import RUN_SCORING, CellKey, Store
from tfagent.evals.tasks.folder import judge_kwargs, resulting_files, task_folder
from tfagent.evals.tasks.suite import Suite, Task
from tfagent.verifiers.base import VerifyOptions


class EvalError(ValueError):
    """Bad eval parameters (exit 2); the message names the flag."""


@dataclass(frozen=True)
class Cell:
    task: Task
    endpoint: Endpoint
    sample: int

    @property
    def key(self) -> CellKey:
        return CellKey(self.task.id, self.endpoint.name, self.sample)


@dataclass
class EvalPlan:
    suite: Suite
    tasks: list[Task]
    endpoints: list[Endpoint]
    samples: int = 1
    max_attempts: int = MAX_ATTEMPTS
    concurrency: int = 4
    shard: tuple[int, int] | None = None  # (i, n), 1 ≤ i ≤ n
    provider_mirror: Path | None = None
    reference: str | None = None
    defaults: dict = field(default_factory=dict)  # the config's [defaults]: cells verify as the CLI would

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise EvalError(f"--samples must be at least 1, got {self.samples}")
        if self.max_attempts < 1:
            raise EvalError(f"--max-attempts must be at least 1, got {self.max_attempts}")
        if self.concurrency < 1:
            raise EvalError(f"--concurrency must be at least 1, got {self.concurrency}")
        if not self.tasks:
            raise EvalError(f"suite {self.suite.name!r}: no task selected (check --tasks / --tags)")
        names = [e.name for e in self.endpoints]
        if not names or len(set(names)) != len(names):
            raise EvalError(f"--endpoints must name distinct endpoints, got {names}")
        if self.reference is not None and self.reference not in names:
            raise EvalError(f"--reference {self.reference!r} is not one of --endpoints ({', '.join(names)})")


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` with 1 ≤ i ≤ n."""
    if not text:
        return None
    try:
        index, total = (int(part) for part in text.split("/"))
    except ValueError:
        raise EvalError(f"--shard must look like i/n (e.g. 1/4), got {text!r}") from None
    if not 1 <= index <= total:
        raise EvalError(f"--shard {text!r}: need 1 ≤ i ≤ n")
    return index, total


def shard_of(task_id: str, sample: int, total: int) -> int:
    """1-based shard of a (task, sample): every endpoint of a pair lands in the same shard."""
    digest = hashlib.sha256(f"{task_id}#{sample}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % total + 1


def cells_of(plan: EvalPlan) -> list[Cell]:
    """The matrix in run order: sample-major, so early results cover many tasks on every endpoint."""
    cells = [
        Cell(task, endpoint, sample)
        for sample in range(plan.samples)
        for task in plan.tasks
        for endpoint in plan.endpoints
        if plan.shard is None or shard_of(task.id, sample, plan.shard[1]) == plan.shard[0]
    ]
    return cells


def run_spec(plan: EvalPlan) -> dict[str, Any]:
    """What defines a run (its id is a hash of this, ``run_id_of``): the suite, the tasks' model-facing content, the
    endpoints and the matrix. Shards, concurrency and output paths are not part of it, so shards of
    one command share a run id and merge into one run."""
    return {
        "suite": plan.suite.name,
        "tasks": [
            {"id": t.id, "prompt": t.prompt, "mode": t.mode, "verify": t.verify, "files": t.files, "lang": t.lang}
            for t in plan.tasks
        ],
        # Not the base_url: a server restarted on another port still serves the same quant.
        "endpoints": [{"name": e.name, "model": e.model, "params": e.params, "bpw": e.bpw, **strategy_spec(e),
                       **({"verify": e.verify} if e.verify else {})} for e in plan.endpoints],
        "samples": plan.samples,
        "max_attempts": plan.max_attempts,
    }


def strategy_spec(endpoint: Endpoint) -> dict[str, Any]:
    """An endpoint's loop strategy as its run's spec holds it (and the report names it): a field set on
    the endpoint, as set; a field left unset, the default its cells get (``agent/core/defaults.py``) when
    that differs from the default before issue 19 (``BASELINE_STRATEGY``: what an unset field meant
    then). So a run started under the old defaults never resumes under the new ones (its id differs)."""
    spec: dict[str, Any] = {}
    for key, default in (("feedback", DEFAULT_FEEDBACK), ("constrain", DEFAULT_CONSTRAIN), ("grounding", DEFAULT_GROUNDING),
                         ("candidates", DEFAULT_CANDIDATES), ("autofix", DEFAULT_AUTOFIX)):
        value = getattr(endpoint, key)
        if value is not None and value != "":
            spec[key] = value
        elif default != BASELINE_STRATEGY[key]:
            spec[key] = default
    return spec


def run_id_of(plan: EvalPlan) -> str:
    spec = run_spec(plan)
    # candidates = 1 and autofix = false are what these fields meant unset before issue 19, when the spec
    # left them out: hashed the same way, a run that pins them now keeps the id of a run that left them
    # unset then (the rescue A/B's arms, docs/results/rescue-ab-1.5b-40, resume under their own id).
    for endpoint in spec["endpoints"]:
        for key in ("candidates", "autofix"):
            old = BASELINE_STRATEGY[key]
            if key in endpoint and type(endpoint[key]) is type(old) and endpoint[key] == old:
                del endpoint[key]
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    return f"{plan.suite.name}-{digest[:12]}"


def sample_endpoint(endpoint: Endpoint, sample: int) -> Endpoint:
    """Sample ``s`` asks with seed = the endpoint's seed (or 0) + s, so samples differ reproducibly."""
    base = endpoint.params.get("seed") or 0
    return replace(endpoint, params={**endpoint.params, "seed": int(base) + sample})


@dataclass
class CellOutcome:
    key: CellKey
    solved: bool | None  # None: the cell did not complete (error)
    attempts: int = 0
    completion_tokens: int = 0
    error: str = ""
    skipped: bool = False  # already complete in the store


@dataclass
class EvalOutcome:
    run_id: str
    cells: int
    completed: int = 0
    resumed: int = 0  # complete before this invocation
    errors: list[CellOutcome] = field(default_factory=list)
    seconds: float = 0.0


Agent = Callable[..., Any]
Judge = Callable[..., Any]
Listener = Callable[[CellOutcome], None]


class EvalRunner:
    """Runs one plan against one store. ``agent``/``judge`` default to the real loop and judge;
    ``executor`` (default: the local thread pool) decides where cells run — the runner decides what
    runs and alone writes the store."""

    def __init__(self, plan: EvalPlan, store: Store, *, agent: Agent | None = None, judge: Judge | None = None,
                 on_cell: Listener | None = None, ready_timeout: float = READY_TIMEOUT, executor: Any = None):
        self.plan = plan
        self.store = store
        self.run_id = run_id_of(plan)
        self.agent = agent or _real_agent()
        self.judge = judge or _real_judge()
        self.on_cell = on_cell
        self.ready_timeout = ready_timeout
        self.executor = executor or LocalExecutor(plan.concurrency)
        self._lock = threading.Lock()
        self._stored: dict[CellKey, set[int]] = {}
        # One model client per endpoint for the whole run (closed when it ends), not one per cell.
        self._clients = ClientPool()

    def run(self) -> EvalOutcome:
        start = time.perf_counter()
        plan = self.plan
        self.store.ensure_run(self.run_id, plan.suite.name, {
            **run_spec(plan), "suite_path": str(plan.suite.path), "attribution": plan.suite.attribution,
            "base_urls": {e.name: e.base_url for e in plan.endpoints},
        })
        cells = cells_of(plan)
        done = self.store.judged_cells(self.run_id)
        outcome = EvalOutcome(self.run_id, len(cells))
        jobs = []
        for cell in cells:
            if cell.key in done:
                outcome.resumed += 1
                outcome.completed += 1
                self._notify(CellOutcome(cell.key, None, skipped=True))
            else:
                jobs.append(self._job(cell))

        def on_result(job: CellJob, result: CellResult) -> None:
            cell_outcome = self._store_result(job, result)
            with self._lock:
                outcome.completed += 1
            self._notify(cell_outcome)

        def on_error(job: CellJob, message: str) -> None:
            self.store.add_cell_error(self.run_id, job.key, message)
            cell_outcome = CellOutcome(job.key, None, error=message)
            with self._lock:
                outcome.errors.append(cell_outcome)
            self._notify(cell_outcome)

        try:
            self.executor.run(jobs, partial(compute_cell, agent=self.agent, judge=self.judge),
                              on_attempt=self._store_attempt, on_result=on_result, on_error=on_error,
                              clients=self._clients)
        finally:
            self._clients.close()
        outcome.errors.sort(key=lambda e: e.key)
        outcome.seconds = time.perf_counter() - start
        return outcome

    def _notify(self, result: CellOutcome) -> None:
        if self.on_cell is not None:
            self.on_cell(result)

    def _job(self, cell: Cell) -> CellJob:
        history = self.store.attempts(self.run_id, cell.key)
        self._stored[cell.key] = {a.number for a in history}
        return CellJob(cell.key, cell.task, self._request(cell), cell.endpoint.base_url, self.plan.max_attempts,
                       self._judge_options(cell.task), history)

    def _store_attempt(self, job: CellJob, attempt: Attempt) -> None:
        """Stored once, the moment the driver hears of it: a kill after this line loses nothing."""
        stored = self._stored[job.key]
        if attempt.number not in stored:
            self.store.add_attempt(self.run_id, job.key, attempt)
            stored.add(attempt.number)

    def _store_result(self, job: CellJob, result: CellResult) -> CellOutcome:
        for attempt in result.attempts:  # a loop that did not report an attempt still gets it stored
            self._store_attempt(job, attempt)
        final = result.attempts[-1]
        self.store.add_judgment(self.run_id, job.key, final.number, result.ok, result.verdict, RUN_SCORING)
        new = [a for a in result.attempts if a.number > len(job.history)]
        return CellOutcome(job.key, result.ok, attempts=final.number,
                           completion_tokens=sum(a.usage.completion_tokens for a in new))

    def _options(self, task: Task, chain: list[str]) -> VerifyOptions:
        # In the loop, a cell verifies exactly as `tfagent` would with the same [defaults]; a chain that
        # plans Terraform plans it offline, as the judge does (the eval runs without cloud credentials).
        offline = True if task.mode == "terraform" and "plan" in chain else None
        return build_verify_options(task.prompt, task.mode, task.lang, VerifySettings(provider_mirror=self.plan.provider_mirror),
                                    self.plan.defaults, offline_aws=offline)

    def _judge_options(self, task: Task) -> VerifyOptions:
        return judge_options(task, self.plan.provider_mirror, self.plan.defaults)

    def _request(self, cell: Cell):
        from tfagent.agent.core.config import Config
        from tfagent.agent.loop.request import RunSettings, build_run_request

        task = cell.task
        chain = cell_chain(task, cell.endpoint)
        folder = task_folder(task)  # a task that starts from a folder runs as `tfagent --in` does
        # The endpoint carries the cell's strategy; the config's [defaults] reach only its verification
        # (``_options``), so an empty Config: a run's cells do not change with the user's config.
        return build_run_request(
            task.prompt, RunSettings(max_attempts=self.plan.max_attempts, ready_timeout=self.ready_timeout),
            mode=task.mode, lang=task.lang, config=Config(), endpoint=sample_endpoint(cell.endpoint, cell.sample),
            chain=chain, options=self._options(task, chain), given_files={} if folder is not None else dict(task.files),
            folder=folder, run_id=f"{self.run_id}-{cell.endpoint.name}-{task.id}-{cell.sample}",
        )


def cell_chain(task: Task, endpoint: Endpoint) -> list[str]:
    """The in-loop chain of a cell: the endpoint's own ``verify`` (an A/B arm's strategy) in the task's
    mode, else the task's (the suite's)."""
    if endpoint.verify and task.mode == "terraform":
        return list(endpoint.verify)
    return list(task.verify)


def judge_options(task: Task, provider_mirror: Path | None, defaults: dict | None = None) -> VerifyOptions:
    """The judge plans offline (it must run without cloud credentials), otherwise as the CLI would."""
    return build_verify_options(task.prompt, task.mode, task.lang, VerifySettings(provider_mirror=provider_mirror), defaults,
                                offline_aws=task.mode == "terraform")


def rescore_run(store: Store, run_id: str, suite: Suite, scoring: str, *, chain: list[str] | None = None,
                provider_mirror: Path | None = None, judge: Judge | None = None) -> int:
    """Judge every complete cell's final attempt again — no model is called — and store the verdicts
    (strict and fair) under ``scoring``. ``chain``: also run these verifiers on the stored files (all must pass).
    Returns the number of cells rescored."""
    judge = judge or _real_judge()
    store.clear_scoring(run_id, scoring)
    store.add_scoring(run_id, scoring, {"suite": str(suite.path), "chain": chain})
    built = _build_chain(chain) if chain else None
    count = 0
    for key, attempt in store.final_attempts(run_id):
        task = suite.task(key.task_id)
        options = judge_options(task, provider_mirror)
        verdict = judge(task, attempt.files, options=options, **judge_kwargs(attempt)).to_dict()
        if built is not None:
            verdict["rescore_chain"] = _verify_files(built, resulting_files(task, attempt), options)
            chain_ok = all(v["ok"] for v in verdict["rescore_chain"])
            verdict["ok"] = verdict["ok"] and chain_ok
            if isinstance(verdict.get("fair"), dict):
                verdict["fair"]["ok"] = verdict["fair"]["ok"] and chain_ok
        store.add_judgment(run_id, key, attempt.number, verdict["ok"], verdict, scoring)
        count += 1
    return count


def _build_chain(names: list[str]):
    from tfagent.verifiers.registry import build_chain

    return build_chain(names, set(names))


def _verify_files(chain, files: dict[str, str], options: VerifyOptions) -> list[dict[str, Any]]:
    """Run ``chain`` (not fail-fast: every verdict is kept) on a scratch copy of ``files``."""
    from tfagent.verifiers.scratch import verify_files

    from tfagent.evals.tasks.fields import safe_relative

    if not files:
        return [{"verifier": "files", "ok": False, "note": "the final attempt had no files"}]
    for name in files:
        safe_relative(name, "stored file")  # stored names were checked once; check again
    return [v.to_dict() for v in verify_files(chain, files, options, fail_fast=False).verdicts]


def _real_agent() -> Agent:
    from tfagent.agent.loop.graph import run_agent

    return run_agent


def _real_judge() -> Judge:
    from tfagent.evals.judging.judge import judge_task

    return judge_task
