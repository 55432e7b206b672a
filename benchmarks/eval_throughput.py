"""Eval throughput: does the runner keep a model server busy?

A scripted server serves a fixed total throughput (``capacity`` tokens/s shared by all open streams,
like one GPU). The best possible wall time of an eval is then total completion tokens / capacity;
this prints the measured wall time against it for each concurrency (goal at 8: ≤ 1.1×).

    .venv/bin/python benchmarks/eval_throughput.py [--tasks 48] [--capacity 500] [--concurrency 1,8]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from tfagent.agent.core.types import Endpoint
from tfagent.agent.fake.server import ScriptedReply, ScriptedServer
from tfagent.evals.running.runner import EvalPlan, EvalRunner
from tfagent.evals.running.store import Store
from tfagent.evals.tasks.suite import load_suite
from tfagent.verifiers.registry import discover

# ~150 streamed tokens (4 characters each): a realistic small Terraform answer.
REPLY = '```hcl title="main.tf"\n' + "".join(f"# line {i:02d} of a scripted answer\n" for i in range(14)) + (
    'resource "aws_s3_bucket" "b" {\n  bucket = "bench-bucket"\n}\n```\n'
)


def write_suite(folder: Path, tasks: int) -> Path:
    lines = [f"  - id: b{i:03d}\n    prompt: Benchmark bucket number {i}." for i in range(tasks)]
    path = folder / "bench.yaml"
    path.write_text("name: bench\ndefaults:\n  mode: terraform\n  verify: [hcl]\n  judge:\n    hcl:\n"
                    "      resources: [aws_s3_bucket]\ntasks:\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def measure(tasks: int, capacity: float, concurrency: int, workdir: Path) -> dict[str, float]:
    suite = load_suite(write_suite(workdir, tasks))
    asked: list[float] = []  # when each request reached the server

    def respond(body: dict) -> ScriptedReply:
        asked.append(time.perf_counter())
        return ScriptedReply(REPLY)

    with ScriptedServer(capacity_tokens_per_second=capacity, responder=respond) as server:
        # one request per cell (the strategy before issue 19): the eval's throughput, not the strategy's cost
        endpoint = Endpoint(name="bench", base_url=server.base_url, model="bench", candidates=1, grounding="none",
                            feedback="raw", autofix=False)
        plan = EvalPlan(suite=suite, tasks=suite.tasks, endpoints=[endpoint], samples=1, max_attempts=1,
                        concurrency=concurrency)
        with Store(workdir / f"bench-{concurrency}.db") as store:
            runner = EvalRunner(plan, store)  # imports the loop and the judge: a one-off, not throughput
            discover()  # loads every verifier plugin once per process: also a one-off
            start = time.perf_counter()
            outcome = runner.run()
            wall = time.perf_counter() - start
            cells = store.cell_facts(outcome.run_id)
    if outcome.errors:
        raise SystemExit(f"{len(outcome.errors)} cells failed: {outcome.errors[0].error}")
    tokens = sum(a.completion_tokens for c in cells for a in c.attempts)
    ideal = tokens / capacity
    return {"concurrency": concurrency, "cells": len(cells), "tokens": tokens, "ideal_s": ideal, "wall_s": wall,
            "ratio": wall / ideal, "first_request_s": min(asked) - start,
            "steady_ratio": (wall - (min(asked) - start)) / ideal}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=48)
    parser.add_argument("--capacity", type=float, default=500.0, help="total tokens/s the server streams")
    parser.add_argument("--concurrency", default="8", help="comma-separated values to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tfagent-bench-") as tmp:
        # The loop keeps per-run state under the user state dir: keep the benchmark's out of the user's.
        os.environ["XDG_STATE_HOME"] = str(Path(tmp) / "state")
        print(f"{'concurrency':>11} {'cells':>5} {'tokens':>7} {'ideal s':>8} {'wall s':>7} {'wall/ideal':>10} "
              f"{'1st request after s':>19} {'from 1st request/ideal':>22}")
        for value in (int(v) for v in args.concurrency.split(",")):
            r = measure(args.tasks, args.capacity, value, Path(tmp))
            print(f"{r['concurrency']:>11} {r['cells']:>5} {r['tokens']:>7} {r['ideal_s']:>8.2f} {r['wall_s']:>7.2f} "
                  f"{r['ratio']:>9.2f}× {r['first_request_s']:>19.2f} {r['steady_ratio']:>21.2f}×")


if __name__ == "__main__":
    main()
