"""Where eval cells run: the seam between the runner (what to run, what to store) and an engine.

``base.py`` holds the one unit of work (``CellJob`` → ``compute_cell`` → ``CellResult``, pure: no
store access, picklable) and the ``Executor`` protocol; ``local.py`` runs cells on a thread pool per
model server (the default), ``ray.py`` as Ray tasks on a cluster. The runner does not know which.
"""

from __future__ import annotations

from tfagent.evals.running.executors.base import EXECUTORS, CellJob, CellResult, Executor, compute_cell

__all__ = ["EXECUTORS", "CellJob", "CellResult", "Executor", "compute_cell", "make_executor"]


def make_executor(name: str, *, concurrency: int = 4, address: str | None = None) -> Executor:
    """The executor ``--executor NAME`` names (``address``: the Ray cluster, ``ray`` only)."""
    if name == "local":
        if address:
            raise ValueError("--address only applies to --executor ray")
        from tfagent.evals.running.executors.local import LocalExecutor

        return LocalExecutor(concurrency)
    if name == "ray":
        from tfagent.evals.running.executors.ray import RayExecutor

        return RayExecutor(address=address)
    raise ValueError(f"--executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
