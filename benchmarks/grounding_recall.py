"""How well `--grounding schema` finds the resource types a sentence needs, and what its cards cost.

Retrieval reads the sentence and the provider schema only; the suite's tags (the resource types of
IaC-Eval's reference solution) are used here to score it, nothing else. Prints, over every task of a
suite: recall of the tagged resource/data types (micro, over all tags), how many retrieved types are not
tagged, the tasks with a miss, and the cards' token cost (chars / 4) at a context size.

    python benchmarks/grounding_recall.py --provider-mirror MIRROR [--suite terraform-aws] [--ctx 4096]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from tfagent.agent.core.verify_options import VerifySettings, build_verify_options
from tfagent.agent.loop.feedback import estimate_tokens
from tfagent.agent.loop.grounding import ground
from tfagent.evals.tasks.suite import load_suite
from tfagent.verifiers.terraform.schema_index import provider_index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider-mirror", required=True, type=Path)
    parser.add_argument("--suite", default="terraform-aws")
    parser.add_argument("--ctx", type=int, default=4096, help="the server's context size (the cards' budget)")
    args = parser.parse_args(argv)
    suite = load_suite(args.suite)
    started = time.perf_counter()
    index = provider_index(build_verify_options("", "terraform", None, VerifySettings(provider_mirror=args.provider_mirror)))
    if index is None:
        print(f"no provider schema in {args.provider_mirror}", file=sys.stderr)
        return 2
    index_seconds = time.perf_counter() - started
    known = set(index.types("resource")) | set(index.types("data"))
    hits = tags = extra = 0
    tokens, seconds, misses = [], [], []
    for task in suite.tasks:
        wanted = {t for t in task.tags if t in known}
        t0 = time.perf_counter()
        found = ground(index, task.prompt, args.ctx)
        seconds.append(time.perf_counter() - t0)
        got = set(found.types)
        hits += len(wanted & got)
        tags += len(wanted)
        extra += len(got - wanted)
        tokens.append(estimate_tokens(found.text))
        if wanted - got:
            misses.append((task.id, sorted(wanted - got), task.prompt))
    print(f"suite {suite.name}: {len(suite.tasks)} tasks, {tags} tagged types known to the provider "
          f"({len(index.types('resource'))} resource types in the index, built/loaded in {index_seconds:.1f} s)")
    print(f"recall: {hits}/{tags} = {hits / max(tags, 1):.1%} of tagged types retrieved")
    print(f"retrieved but not tagged: {extra} ({extra / len(suite.tasks):.2f} per task)")
    print(f"cards at ctx {args.ctx}: mean {statistics.mean(tokens):.0f} tokens, median {statistics.median(tokens):.0f}, "
          f"max {max(tokens)} (budget {args.ctx // 4}); retrieval + cards {1000 * statistics.mean(seconds):.1f} ms per task")
    for task_id, missed, prompt in misses:
        print(f"  miss {task_id}: {', '.join(missed)}  <- {prompt[:90]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
