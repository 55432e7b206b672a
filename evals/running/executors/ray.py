"""Cells as Ray tasks: generate, verify and judge on the workers; the driver alone writes the store.

What travels how (docs/eval-on-ray.md):
- the suite travels inside each task's arguments (Ray's object store): a ``CellJob`` holds the task's
  prompt, given files and hidden judge checks, read into memory when the suite loaded;
- the Terraform provider mirror does NOT travel: ``--provider-mirror`` must be a path every node
  sees (a shared volume, or the same folder baked into the node image) — a worker that cannot see it
  fails the cell with an error naming its node instead of judging without it;
- tfagent itself must be importable on every node (the same image / virtualenv, with the extra
  ``tfagent[ray]``); model API keys come from the nodes' own environment, never through Ray.

A worker (or its node) that dies mid-cell loses nothing stored: attempts reach the driver only with
the finished cell, and Ray re-runs the task (``max_retries``) elsewhere; ``ray.get`` yields one
result per task, so no cell is stored twice. When retries run out the cell is recorded as an error
and a re-run of the same command resumes it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import replace
from typing import Any, Callable

from tfagent.evals.running.executors.base import AttemptSink, CellJob, CellResult, ErrorSink, ResultSink
from tfagent.evals.running.executors.ray_connect import RayUnavailable, connect

__all__ = ["RayExecutor", "RayUnavailable"]

# Each cell runs Terraform (one process at a time): one CPU per task keeps a node from oversubscribing.
CPUS_PER_CELL = 1
# Re-runs of a cell whose worker process or node died (Ray's system failures, not the cell's own errors).
MAX_RETRIES = 3


def _import_ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--executor ray needs Ray: pip install 'tfagent[ray]'") from None
    return ray


def _on_worker(job: CellJob, compute: Callable[..., CellResult]) -> CellResult:
    """The task body. Checks the one thing that does not travel (the mirror) before any work."""
    mirror = getattr(job.request.options, "provider_mirror", None)
    if mirror is not None and not os.path.isdir(mirror):
        raise FileNotFoundError(f"--provider-mirror {mirror} is not visible on Ray node {socket.gethostname()}: "
                                "it must be a path every node sees (shared volume or node image)")
    endpoint = job.request.endpoint
    if endpoint.api_key is None and endpoint.api_key_env:  # the key never travels: the node's own environment
        job = replace(job, request=replace(job.request, endpoint=replace(
            endpoint, api_key=os.environ.get(endpoint.api_key_env))))
    from tfagent.agent.model.pool import ClientPool

    with ClientPool() as clients:  # one per cell: a pool is its owner's and closed with it, never a global
        return compute(job, clients=clients)


def _without_secret(job: CellJob) -> CellJob:
    """The job as it is sent to Ray: the endpoint's resolved API key removed (Ray keeps task arguments
    in its object store and may log or spill them)."""
    endpoint = job.request.endpoint
    if endpoint.api_key is None:
        return job
    return replace(job, request=replace(job.request, endpoint=replace(endpoint, api_key=None)))


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None, *, cpus_per_cell: float = CPUS_PER_CELL,
                 max_retries: int = MAX_RETRIES):
        self.address = address
        self.cpus_per_cell = cpus_per_cell
        self.max_retries = max_retries

    def run(self, jobs: list[CellJob], compute: Callable[..., CellResult], *, on_attempt: AttemptSink,
            on_result: ResultSink, on_error: ErrorSink, clients: Any = None) -> None:
        """``clients`` (the driver's pool) is not used: model clients are built on the workers."""
        ray = _import_ray()
        owns_connection = not ray.is_initialized()
        if owns_connection:
            # address None: RAY_ADDRESS, else a running local cluster, else a new local instance
            # (on 127.0.0.1 only, no dashboard). Refusals name the address and what to set (ray_connect).
            connect(ray, self.address)
        try:
            self._run(ray, jobs, compute, on_attempt, on_result, on_error)
        finally:
            if owns_connection:
                ray.shutdown()

    def _run(self, ray, jobs, compute, on_attempt, on_result, on_error) -> None:
        task = ray.remote(_on_worker).options(num_cpus=self.cpus_per_cell, max_retries=self.max_retries,
                                              retry_exceptions=False, name="tfagent_eval_cell")
        compute_ref = ray.put(compute)
        pending: dict[Any, CellJob] = {task.remote(_without_secret(job), compute_ref): job for job in jobs}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                job = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:  # the cell's own error, raised on the worker
                    cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                    on_error(job, f"{type(cause).__name__}: {cause}")
                    continue
                except ray.exceptions.RayError as exc:  # the worker/node died more than max_retries times
                    on_error(job, f"ray: {type(exc).__name__}: {exc}")
                    continue
                try:
                    for attempt in result.attempts:
                        on_attempt(job, attempt)
                    on_result(job, result)
                except Exception as exc:  # a store error for one cell must not stop the others
                    on_error(job, f"{type(exc).__name__}: {exc}")
