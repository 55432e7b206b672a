"""`tfagent eval audit-intents [SUITE] --provider-mirror DIR --out DIR`: the intent audit as a command.

Exit codes: 0 the fair judge rejects no correct variant and accepts no wrong one the strict judge rejects (the
strict judge's flags are the benchmark's, reported) · 1 it does on some task · 2 bad flags or suite.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tfagent.agent.cli.console import fail
from tfagent.agent.core.exits import EXIT_OK, EXIT_UNVERIFIED


@click.command("audit-intents")
@click.argument("suite", required=False, default="terraform-aws")
@click.option("--provider-mirror", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Terraform filesystem mirror (the suite's tasks plan offline).")
@click.option("--tasks", "task_ids", help="Comma-separated task ids (default: every task with a reference and an intent).")
@click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True, help="Tasks audited at once.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="Write audit.json and audit.md here.")
@click.option("--update", is_flag=True, help="Keep the other tasks of --out's audit.json: re-audit only --tasks (after editing a correction).")
def audit_intents_command(suite, provider_mirror, task_ids, workers, out, update) -> None:
    """Check each task's judge: the reference and its equivalent variants must pass, wrong variants must fail.

    Equivalent: resources renamed, arguments reordered, literal ↔ reference (.id where the provider documents
    it equal). Wrong: a required resource dropped, a value the prompt states changed, a named setting flipped.
    Both judges rule on every variant: strict (each task's own intent) and fair (the suite's corrections.yaml)."""
    from tfagent.agent.core.output import atomic_write
    from tfagent.evals.judging.audit import TaskAudit, audit_suite, markdown, summarize
    from tfagent.evals.tasks.suite import SuiteError, load_suite
    from tfagent.verifiers.base import VerifyOptions

    try:
        loaded = load_suite(suite)
        tasks = loaded.select([t.strip() for t in task_ids.split(",") if t.strip()] if task_ids else None)
    except SuiteError as exc:
        raise fail(str(exc)) from None
    if any(t.judge.plan_required for t in tasks) and provider_mirror is None:
        click.echo("note: no --provider-mirror: Terraform installs providers from the public registry", err=True)
    options = VerifyOptions(provider_mirror=provider_mirror, offline_aws=True, timeout=300)

    def progress(audit) -> None:
        flags = {j: len(audit.flags(j)) for j in ("strict", "fair")}
        click.echo(f"{audit.task}: {len(audit.outcomes) - 1} variants, strict flags {flags['strict']}, "
                   f"fair flags {flags['fair']} ({audit.seconds:.0f} s)", err=True)

    if update and (out is None or not (out / "audit.json").is_file()):
        raise fail("--update needs --out naming a folder that holds an earlier audit.json")
    audits = audit_suite(loaded, options, tasks=tasks, workers=workers, on_task=progress)
    if update:
        try:
            earlier = [TaskAudit.from_dict(t) for t in json.loads((out / "audit.json").read_text(encoding="utf-8"))["tasks"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise fail(f"{out / 'audit.json'}: not an audit this command wrote ({exc})") from None
        fresh = {a.task: a for a in audits}
        audits = [fresh.pop(a.task, a) for a in earlier] + list(fresh.values())
    summary = summarize(audits)
    meta = {"suite": loaded.name, "provider_mirror": "given" if provider_mirror else "none (public registry)"}
    text = markdown(audits, meta)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(out / "audit.json", json.dumps({"meta": meta, "summary": summary,
                                                    "tasks": [a.to_dict() for a in audits]}, indent=2, sort_keys=True))
        atomic_write(out / "audit.md", text)
        click.echo(f"wrote {out / 'audit.json'}, {out / 'audit.md'}", err=True)
    click.echo(text.split("\n## Flagged tasks")[0])
    raise click.exceptions.Exit(EXIT_UNVERIFIED if summary["fair_problems"] else EXIT_OK)


if __name__ == "__main__":  # pragma: no cover - `python -m tfagent.agent.cli.eval_audit`
    sys.exit(audit_intents_command())
