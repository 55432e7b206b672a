"""The default executor: one thread pool of ``concurrency`` workers per model server.

Endpoints that share a base_url share a pool (they share the hardware); different servers run in
parallel. Attempts reach ``on_attempt`` as the loop finishes them, so a killed eval loses at most
the attempt in flight.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Callable

from tfagent.evals.running.executors.base import AttemptSink, CellJob, CellResult, ErrorSink, ResultSink


class LocalExecutor:
    name = "local"

    def __init__(self, concurrency: int = 4):
        self.concurrency = concurrency

    def run(self, jobs: list[CellJob], compute: Callable[..., CellResult], *, on_attempt: AttemptSink,
            on_result: ResultSink, on_error: ErrorSink, clients: Any = None) -> None:
        pools = {url: ThreadPoolExecutor(self.concurrency, thread_name_prefix="eval")
                 for url in {job.base_url for job in jobs}}

        def one(job: CellJob) -> None:
            try:
                on_result(job, compute(job, on_attempt=lambda attempt: on_attempt(job, attempt),
                                          clients=clients))
            except Exception as exc:  # one broken cell must not stop the matrix; it is stored and reported
                on_error(job, f"{type(exc).__name__}: {exc}")

        try:
            wait([pools[job.base_url].submit(one, job) for job in jobs])
        finally:
            for pool in pools.values():
                pool.shutdown(wait=True, cancel_futures=True)
