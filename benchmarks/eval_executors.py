"""Cells per second, local thread pool vs Ray, with verification as the bottleneck, and the Ray
path's per-cell overhead — measured in one run on this machine.

    python benchmarks/eval_executors.py [--cells 8]

Model: the scripted zero-latency server (always a correct bucket); verify and judge: real
`terraform validate` + `plan` with the aws 3.39.0 mirror. Ray: a local instance (`ray.init`, 2 CPUs,
no dashboard, usage stats off). Overhead: the same executors with a cell that does nothing, so what
is left is Ray's submit → schedule → run → return per cell.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("CHECKPOINT_DISABLE", "1")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--noop-cells", type=int, default=200)
    args = parser.parse_args()
    import ray

    from tfagent.agent.core.types import Endpoint
    from tfagent.agent.fake.server import ScriptedServer
    from tfagent.agent.serving.localmodel import mirror_aws
    from tfagent.evals.running.executors.local import LocalExecutor
    from tfagent.evals.running.executors.ray import RayExecutor
    from tfagent.evals.running.runner import EvalPlan, EvalRunner
    from tfagent.evals.running.store import Store
    from tfagent.evals.tasks.suite import load_suite

    work = Path(tempfile.mkdtemp(prefix="tfagent-bench-exec-"))
    mirror = mirror_aws(work / "mirror")
    tasks = "\n".join(f"  - id: t{i}\n    prompt: Create an S3 bucket for task t{i}." for i in range(args.cells))
    (work / "suite.yaml").write_text(
        "name: bench\ndescription: plan-bound\nattribution: benchmark\n"
        "defaults:\n  mode: terraform\n  verify: [hcl, validate, plan]\n  judge:\n    plan_required: true\n"
        f"tasks:\n{tasks}\n", encoding="utf-8")
    reply = ('```hcl title="main.tf"\nterraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", '
             'version = "3.39.0" }\n  }\n}\nprovider "aws" {\n  region = "us-east-1"\n}\n'
             'resource "aws_s3_bucket" "b" {\n  bucket = "bench-bucket"\n}\n```\n')
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    results = {}
    with ScriptedServer(responder=lambda body: reply) as server:
        # one request per cell (the strategy before issue 19): the executors' cost, not the strategy's
        endpoint = Endpoint(name="q", base_url=server.base_url, model="m", candidates=1, grounding="none", feedback="raw",
                            autofix=False)
        suite = load_suite(work / "suite.yaml")
        for name, executor in (("local", LocalExecutor(2)), ("ray", RayExecutor())):
            plan = EvalPlan(suite=suite, tasks=suite.tasks, endpoints=[endpoint], max_attempts=1, concurrency=2,
                            provider_mirror=mirror)
            with Store(work / f"{name}.db") as store:
                start = time.perf_counter()
                outcome = EvalRunner(plan, store, executor=executor).run()
                seconds = time.perf_counter() - start
            results[name] = (outcome.completed, len(outcome.errors), seconds)
            print(f"{name:>5}: {outcome.completed} cells ({len(outcome.errors)} errors) in {seconds:.2f} s = "
                  f"{outcome.completed / seconds:.2f} cells/s", flush=True)
    ratio = (results["ray"][0] / results["ray"][2]) / (results["local"][0] / results["local"][2])
    print(f"ray / local cells per second: {ratio:.2f}")
    # Per-cell overhead: a do-nothing cell through each executor.
    from tfagent.evals.running.executors.base import CellJob, CellResult
    from tfagent.evals.running.store import CellKey

    from tfagent.agent.loop.state import RunRequest

    request = RunRequest(prompt="", endpoint=Endpoint(name="q", base_url="http://127.0.0.1:9/v1", model="m"))
    jobs = [CellJob(CellKey(f"n{i}", "q", 0), None, request, "x", 1, None) for i in range(args.noop_cells)]
    noop = _noop
    timings = {}
    for name, executor in (("local", LocalExecutor(2)), ("ray", RayExecutor())):
        got = []
        start = time.perf_counter()
        executor.run(jobs, noop, on_attempt=lambda j, a: None, on_result=lambda j, r: got.append(r),
                     on_error=lambda j, m: got.append(m))
        timings[name] = (time.perf_counter() - start) / len(jobs)
        assert len(got) == len(jobs) and all(isinstance(g, CellResult) for g in got), got[:3]
    print(f"per-cell overhead (do-nothing cell, 2 CPUs): local {timings['local'] * 1000:.2f} ms, "
          f"ray {timings['ray'] * 1000:.2f} ms; ray - local = {(timings['ray'] - timings['local']) * 1000:.2f} ms "
          f"(goal ≤ 50 ms)")
    ray.shutdown()
    return 0


def _noop(job, on_attempt=None, clients=None):
    from tfagent.evals.running.executors.base import CellResult

    return CellResult(job.key, [], {}, True)


if __name__ == "__main__":
    sys.exit(main())
