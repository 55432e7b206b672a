"""`tfagent eval …`: run a suite over endpoints, list suites, merge shard databases, rescore, report.

Exit codes: 0 every cell of the matrix (or shard) is complete · 1 some cells failed with an error
(re-run the same command to resume them) · 2 bad flags / config / suite / database · 3 a model server
is unreachable.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tfagent.agent.cli.click_groups import DefaultLazyGroup
from tfagent.agent.cli.console import fail, make_console
from tfagent.agent.core.defaults import MAX_ATTEMPTS, READY_TIMEOUT
from tfagent.agent.core.exits import EXIT_INCOMPLETE, EXIT_OK, EXIT_UNREACHABLE

LAZY = {"import-iac-eval": ("tfagent.agent.cli.eval_import", "import_iac_eval_command"),
        "audit-intents": ("tfagent.agent.cli.eval_audit", "audit_intents_command",
                          "Check each task's judge on equivalent and wrong variants of its reference."),
        "ladder": ("tfagent.agent.cli.eval_ladder", "ladder_command",
                   "Quantize a ladder, serve each quant, run a suite with retries on all, report.")}


def _console(stderr: bool = False) -> Console:
    return make_console(stderr=stderr)


class EvalGroup(DefaultLazyGroup):
    """`tfagent eval SUITE …` runs a suite; `tfagent eval merge|rescore|report|…` are subcommands."""

    lazy = LAZY
    passthrough = ("--help", "-h")


@click.group("eval", cls=EvalGroup, context_settings={"help_option_names": ["-h", "--help"]})
def eval_group() -> None:
    """Measure endpoints (quants) on a suite: first try vs with retries, paired against a reference.

    \b
      tfagent eval terraform-aws --endpoints iq1_s,iq2_m,q4 --reference q4 --samples 3 --out report/
      tfagent eval --list
      tfagent eval merge all.db shard1.db shard2.db
      tfagent eval rescore RUN_ID --judge-suite suites/terraform-aws

    Every flag of a run: tfagent eval run --help. Results go to a SQLite store (--db); killing the
    eval and running the same command again resumes it.
    """


# ---------------------------------------------------------------- progress


class ProgressBoard:
    """One bar per endpoint (ETA, solved/failed, tokens/s) on a terminal; one line per cell otherwise."""

    def __init__(self, endpoints: list[str], totals: dict[str, int], console: Console,
                 resumed: dict[str, tuple[int, int]] | None = None):
        """``resumed``: endpoint → (solved, failed) cells already complete in the store; they start the
        bar filled without counting toward the speed (so the ETA is not fooled by them)."""
        self.console = console
        self.live = console.is_terminal
        self.start = time.perf_counter()
        self.lock = threading.Lock()
        resumed = resumed or {}
        self.stats = {}
        for e in endpoints:
            solved, failed = resumed.get(e, (0, 0))
            self.stats[e] = {"solved": solved, "failed": failed, "errors": 0, "tokens": 0, "done": solved + failed}
        self.totals = totals
        self.progress = Progress(
            TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            TextColumn("{task.fields[stats]}"), console=console, disable=not self.live,
        )
        self.bars = {e: self.progress.add_task(e, total=totals[e], completed=self.stats[e]["done"], stats="")
                     for e in endpoints}

    def __enter__(self) -> "ProgressBoard":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def cell_done(self, outcome) -> None:
        if outcome.skipped:  # already counted in ``resumed``
            return
        name = outcome.key.endpoint
        with self.lock:
            s = self.stats[name]
            s["done"] += 1
            if outcome.solved is None:
                s["errors"] += 1
            elif outcome.solved:
                s["solved"] += 1
            else:
                s["failed"] += 1
            s["tokens"] += outcome.completion_tokens
            elapsed = max(time.perf_counter() - self.start, 1e-6)
            text = f"solved {s['solved']} · failed {s['failed']}" + (f" · errors {s['errors']}" if s["errors"] else "")
            text += f" · {s['tokens'] / elapsed:.0f} tok/s"
        self.progress.update(self.bars[name], advance=1, stats=text)
        if not self.live:
            state = "error: " + outcome.error if outcome.solved is None else ("solved" if outcome.solved else "failed")
            key = outcome.key
            self.console.print(f"[{name}] {key.task_id}#{key.sample} {state} ({s['done']}/{self.totals[name]})",
                               highlight=False, markup=False)


# ---------------------------------------------------------------- tfagent eval SUITE


judge_option = click.option(
    "--judge", type=click.Choice(["strict", "fair", "both"]), default="both", show_default=True,
    help="Which verdicts the report shows: strict (each task's own intent, IaC-Eval's), fair (the suite's "
         "corrections.yaml + unknown-at-plan references resolved), or both side by side. Runs store both.")


@eval_group.command("run")
@click.argument("suite", required=False)
@click.option("--list", "list_only", is_flag=True, help="List the shipped suites and their task counts.")
@click.option("--endpoints", help="Comma-separated endpoint names from tfagent.toml / the user config.")
@click.option("--reference", help="Endpoint the others are paired against (flips, McNemar p).")
@click.option("--samples", type=click.IntRange(1, 100), default=1, show_default=True, help="Samples per task (seed + i).")
@click.option("--max-attempts", type=click.IntRange(1, 20), default=MAX_ATTEMPTS, show_default=True, help="One try + retries.")
@click.option("--concurrency", type=click.IntRange(1, 256), default=4, show_default=True, help="Requests in flight per model server.")
@click.option("--shard", help="Run only shard i of n (i/n, 1-based); merge the databases afterwards.")
@click.option("--db", type=click.Path(path_type=Path, dir_okay=False), help="SQLite store (default: the user state dir).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="Write report.json, report.md, report.html here.")
@click.option("--provider-mirror", type=click.Path(path_type=Path, file_okay=False, exists=True), help="Terraform filesystem mirror.")
@click.option("--tasks", "task_ids", help="Comma-separated task ids (default: all).")
@click.option("--tags", help="Comma-separated tags: tasks having any of them.")
@click.option("--ready-timeout", type=float, default=READY_TIMEOUT, show_default=True, help="Seconds to wait for each server.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where cells run: a thread pool here, or Ray tasks on a cluster (pip install 'tfagent[ray]').")
@click.option("--address", help="Ray cluster address (host:port) for --executor ray; default RAY_ADDRESS or a local Ray.")
@judge_option
def run_command(suite, list_only, endpoints, reference, samples, max_attempts, concurrency, shard, db, out,
                provider_mirror, task_ids, tags, ready_timeout, executor, address, judge) -> None:
    """Run SUITE (a shipped suite name, a folder or a YAML file) over every endpoint."""
    from tfagent.evals.tasks.suite import SuiteError, list_suites, load_suite

    if list_only:
        _print_suites(list_suites())
        return
    if not suite:
        raise fail("give a SUITE (see `tfagent eval --list`) or --list")
    if not endpoints:
        raise fail("--endpoints is required (names of endpoints in tfagent.toml or the user config)")
    from tfagent.evals.running.runner import EvalError, EvalPlan, parse_shard

    try:
        loaded = load_suite(suite)
        plan = EvalPlan(
            suite=loaded, tasks=loaded.select(_split(task_ids), _split(tags)), endpoints=_endpoints(_split(endpoints)),
            samples=samples, max_attempts=max_attempts, concurrency=concurrency, shard=parse_shard(shard),
            provider_mirror=provider_mirror, reference=reference, defaults=_config_defaults(),
        )
    except (SuiteError, EvalError) as exc:
        raise fail(str(exc)) from None
    from tfagent.evals.running.executors import make_executor

    try:
        chosen = make_executor(executor, concurrency=concurrency, address=address)
    except ValueError as exc:
        raise fail(str(exc)) from None
    _check_servers(plan.endpoints, ready_timeout)
    from tfagent.evals.running.hardware import shared_cpu_note

    note = shared_cpu_note(plan.endpoints)
    if note:
        click.echo(f"note: {note}", err=True)
    from tfagent.evals.running.store import default_db

    code = _run_plan(plan, db or default_db(), out, ready_timeout, chosen, judge)
    raise click.exceptions.Exit(code)


def _split(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def _print_suites(suites) -> None:
    from rich.table import Table

    table = Table("suite", "tasks", "description", header_style="bold")
    for name, count, description in suites:
        table.add_row(name, str(count), description)
    _console().print(table)


def _config_defaults() -> dict:
    """The config's [defaults]: eval cells verify with the same settings a CLI run would."""
    from tfagent.agent.core.config import ConfigError, load_config

    try:
        return dict(load_config().defaults)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def _endpoints(names: list[str]):
    from tfagent.agent.core.config import ConfigError, load_config

    try:
        config = load_config()
    except ConfigError as exc:
        raise fail(str(exc)) from None
    unknown = [n for n in names if n not in config.endpoints]
    if unknown:
        known = ", ".join(sorted(config.endpoints)) or "none configured"
        raise fail(f"--endpoints: unknown endpoint(s) {', '.join(unknown)} (known: {known})")
    return [config.endpoints[n] for n in names]


def _check_servers(endpoints, timeout: float) -> None:
    """Fail fast (exit 3) before any cell runs when a server does not answer."""
    from tfagent.agent.model.client import ModelClient, ServerUnreachable

    for url in sorted({e.base_url for e in endpoints}):
        endpoint = next(e for e in endpoints if e.base_url == url)
        try:
            ModelClient(endpoint).wait_ready(timeout)
        except ServerUnreachable as exc:
            raise fail(f"model server of endpoint {endpoint.name!r} is unreachable: {exc}", EXIT_UNREACHABLE) from None


def _run_plan(plan, db: Path, out: Path | None, ready_timeout: float, executor=None, judge: str = "both") -> int:
    from tfagent.evals.running.runner import EvalRunner, cells_of
    from tfagent.evals.running.store import Store, StoreError

    err = _console(stderr=True)
    try:
        store = Store(db)
    except StoreError as exc:
        raise fail(str(exc)) from None
    with store:
        cells = cells_of(plan)
        totals = {e.name: sum(c.endpoint.name == e.name for c in cells) for e in plan.endpoints}
        runner = EvalRunner(plan, store, ready_timeout=ready_timeout, executor=executor)
        board = ProgressBoard([e.name for e in plan.endpoints], totals, err, _resumed(store, runner.run_id, cells))
        runner.on_cell = board.cell_done
        err.print(f"run {runner.run_id}: {len(cells)} cells → {db}", highlight=False, soft_wrap=True)
        from tfagent.evals.running.executors.ray import RayUnavailable

        try:
            with board:
                outcome = runner.run()
        except RayUnavailable as exc:
            raise fail(str(exc)) from None
        _show_report(store, runner.run_id, plan.reference, "run", out, judge)
    if outcome.errors:
        err.print(f"{len(outcome.errors)} cell(s) failed with an error (first: {outcome.errors[0].error}); "
                  "re-run the same command to resume them", highlight=False)
        return EXIT_INCOMPLETE
    return EXIT_OK


def _resumed(store, run_id: str, cells) -> dict[str, tuple[int, int]]:
    """(solved, failed) per endpoint among this invocation's cells that are already judged."""
    judged = store.judgments(run_id)
    counts: dict[str, list[int]] = {}
    for cell in cells:
        verdict = judged.get(cell.key)
        if verdict is not None:
            pair = counts.setdefault(cell.endpoint.name, [0, 0])
            pair[0 if verdict["ok"] else 1] += 1
    return {name: (solved, failed) for name, (solved, failed) in counts.items()}


def _show_report(store, run_id: str, reference: str | None, scoring: str, out: Path | None, judge: str = "both") -> None:
    from tfagent.evals.reporting.report import render_table, summary_for_run, write_reports
    from tfagent.evals.running.store import StoreError

    try:
        summary, meta = summary_for_run(store, run_id, reference=reference, scoring=scoring, judge=judge)
    except (ValueError, StoreError) as exc:
        raise fail(str(exc)) from None
    render_table(summary, None, title=f"{meta['suite']} · {run_id} · {meta['complete']}/{meta['cells']} cells")
    if meta.get("judge_note"):
        _console(stderr=True).print(f"note: {meta['judge_note']}", highlight=False, markup=False, soft_wrap=True)
    ladder = store.run(run_id)["spec"].get("ladder")
    if out is not None and ladder is not None:  # a quant ladder's run: its own report, from the store alone
        paths = _ladder_report(store, run_id, out, ladder, judge, scoring)
        _console(stderr=True).print(f"wrote {', '.join(str(p) for p in paths.values())}", highlight=False, soft_wrap=True)
    elif out is not None:
        paths = write_reports(summary, out, meta)
        _console(stderr=True).print(f"wrote {', '.join(str(p) for p in paths.values())}", highlight=False, soft_wrap=True)


def _ladder_report(store, run_id: str, out: Path, ladder: dict, judge: str, scoring: str) -> dict[str, Path]:
    """The ladder report of a stored ladder run (`tfagent eval ladder` wrote it first): the notes stored with
    the run, the wall time from ``ladder-state.json`` in ``out`` when it is there."""
    from tfagent.evals.ladder.report import write_ladder_report
    from tfagent.evals.ladder.run import stored_phases

    try:
        phases = stored_phases(out)
        return write_ladder_report(store, run_id, out, notes=list(ladder.get("notes") or []), phases=phases,
                                   judge=judge, scoring=scoring)
    except ValueError as exc:
        raise fail(str(exc)) from None


# ---------------------------------------------------------------- merge, report, rescore


@eval_group.command("merge")
@click.argument("out_db", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("in_dbs", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True))
def merge_command(out_db: Path, in_dbs: tuple[Path, ...]) -> None:
    """Join shard databases into OUT_DB (identical rows once; differing rows reported, first kept)."""
    from tfagent.evals.running.store import Store, StoreError

    conflicts = 0
    try:
        with Store(out_db) as target:
            for path in in_dbs:
                if path.resolve() == out_db.resolve():
                    raise fail(f"{path}: an input database cannot also be the output")
                with Store(path) as source:
                    report = target.merge_from(source)
                _console().print(f"{path}: +{report.attempts_added} attempts, +{report.judgments_added} verdicts, "
                                 f"{report.duplicates} duplicates, {len(report.conflicts)} conflicts", highlight=False)
                for line in report.conflicts:
                    _console(stderr=True).print(f"  conflict: {line}", highlight=False, markup=False)
                conflicts += len(report.conflicts)
    except StoreError as exc:
        raise fail(str(exc)) from None
    raise click.exceptions.Exit(EXIT_INCOMPLETE if conflicts else EXIT_OK)


def _report_options(f):
    for option in reversed([
        click.option("--db", type=click.Path(path_type=Path, dir_okay=False, exists=True), help="SQLite store (default: the user state dir)."),
        click.option("--reference", help="Endpoint the others are paired against."),
        click.option("--out", type=click.Path(path_type=Path, file_okay=False), help="Write report.json/.md/.html here."),
    ]):
        f = option(f)
    return f


@eval_group.command("report")
@click.argument("run_id", required=False)
@_report_options
@click.option("--scoring", default="run", show_default=True, help="Which verdicts: 'run' or a rescore name.")
@click.option("--format", "output_format", type=click.Choice(["table", "junit"]), default="table", show_default=True,
              help="junit: JUnit XML, one test case per task × endpoint (× sample), for CI dashboards.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the --format junit document here (atomically).")
@judge_option
def report_command(run_id, db, reference, out, scoring, output_format, output, judge) -> None:
    """Show (and write) the report of a stored run; without RUN_ID, list the stored runs."""
    from tfagent.evals.running.store import Store, StoreError, default_db

    try:
        with Store(db or default_db()) as store:
            if not run_id:
                for run in store.runs():
                    _console().print(f"{run['run_id']}  {run['suite']}  {time.strftime('%Y-%m-%d %H:%M', time.gmtime(run['created']))}",
                                     highlight=False)
                return
            store.run(run_id)
            if output_format == "junit":
                _write_junit(store, run_id, scoring, output)
                return
            _show_report(store, run_id, reference, scoring, out, judge)
    except StoreError as exc:
        raise fail(str(exc)) from None


def _write_junit(store, run_id: str, scoring: str, output: Path | None) -> None:
    from tfagent.agent.core.output import OutputError, write_text_atomic
    from tfagent.evals.reporting.junit_report import run_junit

    document = run_junit(store, run_id, scoring)
    if output is None:
        click.echo(document, nl=False)
        return
    try:
        write_text_atomic(output, document)
    except OutputError as exc:
        raise fail(str(exc)) from None
    _console(stderr=True).print(f"wrote {output}", highlight=False, soft_wrap=True)


@eval_group.command("rescore")
@click.argument("run_id")
@_report_options
@click.option("--verify", "verify_chain", help="Also run this verifier chain on each stored final reply.")
@click.option("--judge-suite", type=click.Path(path_type=Path, exists=True), help="Judge with this suite's checks instead of the run's.")
@click.option("--provider-mirror", type=click.Path(path_type=Path, file_okay=False, exists=True), help="Terraform filesystem mirror.")
@click.option("--scoring", "scoring_name", help="Name of the new scoring (default: rescore-<hash of suite, chain, mirror>).")
@judge_option
def rescore_command(run_id, db, reference, out, verify_chain, judge_suite, provider_mirror, scoring_name, judge) -> None:
    """Judge a run's stored final replies again (no model is called) and report under a new scoring.

    Both judges rule (strict and fair); --judge picks what the report shows."""
    from tfagent.evals.running.runner import rescore_run
    from tfagent.evals.running.store import Store, StoreError, default_db
    from tfagent.evals.tasks.suite import SuiteError, load_suite
    from tfagent.verifiers.registry import UnknownVerifier, VerifierUnavailable, parse_chain

    try:
        with Store(db or default_db()) as store:
            spec = store.run(run_id)["spec"]
            suite = load_suite(judge_suite or spec["suite_path"])
            chain = parse_chain(verify_chain) if verify_chain else None
            label = f"{suite.path}|{','.join(chain or [])}|{provider_mirror or ''}"
            scoring = scoring_name or "rescore-" + hashlib.sha256(label.encode()).hexdigest()[:8]
            count = rescore_run(store, run_id, suite, scoring, chain=chain, provider_mirror=provider_mirror)
            _console(stderr=True).print(f"rescored {count} cells as {scoring!r} (show again: tfagent eval report {run_id} "
                                        f"--scoring {scoring})", highlight=False)
            _show_report(store, run_id, reference, scoring, out, judge)
    except (StoreError, SuiteError, UnknownVerifier, VerifierUnavailable) as exc:
        raise fail(str(exc)) from None


if __name__ == "__main__":  # pragma: no cover - `python -m tfagent.agent.cli.eval_commands`
    sys.exit(eval_group())
