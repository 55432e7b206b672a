"""`tfagent eval import-iac-eval CSV OUT_DIR`: an IaC-Eval CSV → a tfagent suite folder (``evals/importers/iac_eval.py``).

Exit codes: 0 the suite was written · 2 bad flags, an unreadable CSV, an OUT_DIR it must not replace, or a
mirror that cannot install the aws provider.
"""

from __future__ import annotations

from pathlib import Path

import click

from tfagent.evals.importers.iac_eval import IacEvalImportError, import_iac_eval


@click.command("import-iac-eval")
@click.argument("csv_path", metavar="CSV", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out_dir", metavar="OUT_DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("--check-references", is_flag=True, help="Plan + judge every reference offline; keep only passing tasks.")
@click.option("--provider-mirror", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Terraform filesystem mirror (folder holding registry.terraform.io).")
@click.option("--limit", type=click.IntRange(min=1), help="Import only the first N rows.")
@click.option("--force", is_flag=True, help="Replace OUT_DIR if it already holds a suite.")
def import_iac_eval_command(csv_path: Path, out_dir: Path, check_references: bool, provider_mirror: Path | None,
                            limit: int | None, force: bool) -> None:
    """Turn an IaC-Eval CSV into a tfagent suite folder (CC-BY-4.0 attribution included)."""
    def progress(tid: str, problem: str | None) -> None:
        if check_references:
            click.echo(f"{'kept' if problem is None else 'left out'}: {tid}" +
                       (f" — {problem[:160]}" if problem else ""), err=True)

    try:
        report = import_iac_eval(csv_path, out_dir, check_references=check_references, mirror=provider_mirror,
                                 limit=limit, force=force, on_task=progress)
    except IacEvalImportError as exc:
        click.echo(f"error: {exc}", err=True)
        click.get_current_context().exit(2)
    click.echo(f"{out_dir}: {len(report.kept)} of {report.total} tasks kept, {len(report.excluded)} left out "
               f"(reasons in excluded.yaml); {report.seconds:.1f} s")
