"""The agent's own overhead per attempt: wall time of an attempt minus the model's seconds minus the
verifiers' seconds, against the scripted server (zero-latency replies) with the cheapest verifier.

Goal: ≤ 20 ms per attempt.   Run: .venv/bin/python benchmarks/agent_overhead.py [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from tfagent.agent.loop.graph import run_agent
from tfagent.agent.model.client import ModelClient
from tfagent.agent.loop.state import RunRequest
from tfagent.agent.fake.server import ScriptedServer
from tfagent.agent.core.types import Endpoint

BAD = '```hcl title="main.tf"\nvariable "x" {\n```\n'
GOOD = '```hcl title="main.tf"\nvariable "x" {}\n```\n'


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    import os

    os.environ.setdefault("XDG_STATE_HOME", tempfile.mkdtemp(prefix="tfagent-bench-state-"))
    per_attempt: list[float] = []
    with ScriptedServer() as server:
        endpoint = Endpoint("bench", server.base_url, "scripted")
        client = ModelClient(endpoint)  # one client for all runs, as the eval's ClientPool does
        for i in range(args.runs + 1):  # the first run warms imports and the HCL grammar
            server.enqueue(BAD)
            server.enqueue(BAD)
            server.enqueue(GOOD)
            t0 = time.perf_counter()
            # the loop's own cost per attempt: one request each (the strategy before issue 19 — no cards, one sample)
            result = run_agent(RunRequest(prompt="x", endpoint=endpoint, chain=["hcl"], max_attempts=3, candidates=1,
                                          grounding="none", feedback="raw", autofix=False), client=client)
            wall = time.perf_counter() - t0
            assert result.ok and len(result.attempts) == 3
            inner = sum(a.model_seconds + a.verify_seconds for a in result.attempts)
            if i:
                per_attempt.append((wall - inner) / len(result.attempts))
    ms = sorted(x * 1000 for x in per_attempt)
    print(f"agent overhead per attempt over {len(ms)} runs × 3 attempts (scripted server, chain=hcl):")
    print(f"  median {statistics.median(ms):.2f} ms   p90 {ms[int(0.9 * (len(ms) - 1))]:.2f} ms   max {ms[-1]:.2f} ms   (goal ≤ 20 ms)")
    print("  includes: graph steps, checkpoint-free state updates, reply parsing, feedback building, scratch-folder I/O")


if __name__ == "__main__":
    main()
