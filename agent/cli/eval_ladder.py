"""`tfagent eval ladder MODEL.gguf --types Q4_K_M,Q3_K_M,Q2_K,IQ2_M --suite terraform-aws`.

Every rung runs the ladder's strategy (agent/core/defaults.py LADDER_STRATEGY; --grounding, --feedback,
--constrain, --verify, --candidates, --autofix/--no-autofix override a key: by default the rescue A/B's best
arm); --baseline-on-ends adds the default strategy before issue 19 beside the top and the bottom rung.

Exit codes: 0 every cell done and the report written · 1 some cells failed with an error (re-run the
same command to resume) · 2 bad flags / suite / model · 3 a model server is unreachable.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tfagent.agent.cli.console import fail
from tfagent.agent.core.defaults import (BASELINE_STRATEGY, CONSTRAIN_MODES, FEEDBACK_STYLES, GROUNDING_MODES,
                                        LADDER_STRATEGY, MAX_ATTEMPTS, MAX_CANDIDATES, SERVE_CTX, SERVE_READY_TIMEOUT,
                                        SERVE_SPEC)
from tfagent.agent.core.exits import EXIT_INCOMPLETE, EXIT_OK, EXIT_UNREACHABLE
from tfagent.agent.serving.backends.llama_server import SPEC_CHOICES

DEFAULT_TYPES = "Q4_K_M,Q3_K_M,Q2_K,IQ2_M"


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _shown(strategy: dict) -> str:
    return ", ".join(f"{k} {','.join(v) if isinstance(v, (list, tuple)) else str(v).lower()}" for k, v in strategy.items())


def verify_chain_flag(text: str | None) -> list[str] | None:
    """``--verify`` as a chain of known verifiers; None when not given."""
    if text is None:
        return None
    from tfagent.evals.tasks.suite import known_verifiers

    chain = _split(text)
    if not chain:
        raise fail(f"--verify {text!r}: the verifier chain is empty (e.g. --verify hcl,fmt,validate,plan)")
    known = known_verifiers()
    unknown = [name for name in chain if name not in known]
    if unknown:
        raise fail(f"--verify {text!r}: unknown verifier(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return chain


@click.command("ladder")
@click.argument("model", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--types", "types_", default=DEFAULT_TYPES, show_default=True, help="Quantization types of the ladder.")
@click.option("--suite", default="terraform-aws", show_default=True, help="Suite name, folder or YAML file.")
@click.option("--endpoints", help="Instead of MODEL: comma-separated endpoints (tfagent.toml / user config) that already run.")
@click.option("--tasks", "task_ids", help="Comma-separated task ids (default: all).")
@click.option("--limit", type=click.IntRange(1), help="Only the first N tasks of the selection.")
@click.option("--max-attempts", type=click.IntRange(1, 20), default=MAX_ATTEMPTS, show_default=True, help="One try + retries.")
@click.option("--samples", type=click.IntRange(1, 100), default=1, show_default=True)
@click.option("--parallel", type=click.IntRange(1, 64), default=2, show_default=True, help="Slots per server = requests in flight.")
@click.option("--ctx", type=click.IntRange(256), default=SERVE_CTX, show_default=True, help="Context tokens per slot.")
@click.option("--max-tokens", type=click.IntRange(16), help="Reply cap (default: a quarter of --ctx).")
@click.option("--threads", type=click.IntRange(1), help="Inference threads (default: all usable cores, divided side by side).")
@click.option("--gpu-layers", type=int, help="Layers to offload to the GPU (then servers run side by side).")
@click.option("--layout", type=click.Choice(["auto", "sequential", "side-by-side"]), default="auto", show_default=True,
              help="sequential: one server at a time (CPU); side-by-side: all at once (GPU, or cores divided).")
@click.option("--spec", type=click.Choice(SPEC_CHOICES), default=SERVE_SPEC, show_default=True, help="n-gram speculation (llama-server).")
@click.option("--backend", type=click.Choice(["auto", "llama-server", "llama-cpp-python"]), default="auto", show_default=True)
@click.option("--provider-mirror", type=click.Path(path_type=Path, file_okay=False, exists=True), help="Terraform filesystem mirror.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("ladder"), show_default=True,
              help="Report, store (ladder.db) and wall-time accounting go here; re-run with the same --out to resume.")
@click.option("--quant-dir", type=click.Path(path_type=Path, file_okay=False), help="Where the quants go (default: the cache).")
@click.option("--ready-timeout", type=float, default=SERVE_READY_TIMEOUT, show_default=True)
@click.option("--judge", type=click.Choice(["strict", "fair", "both"]), default="both", show_default=True,
              help="Which verdicts the report shows: strict (each task's own intent), fair (corrected intents), or both.")
@click.option("--grounding", type=click.Choice(GROUNDING_MODES), default=None,
              help=f"Every rung's first request: the sentence alone or + provider schema cards (default {LADDER_STRATEGY['grounding']}).")
@click.option("--feedback", type=click.Choice(FEEDBACK_STYLES), default=None,
              help=f"Every rung's retry feedback (default {LADDER_STRATEGY['feedback']}).")
@click.option("--constrain", type=click.Choice(CONSTRAIN_MODES), default=None,
              help=f"Every rung's grammar constraint (default {LADDER_STRATEGY['constrain']}).")
@click.option("--verify", "verify_chain", default=None,
              help=f"Every rung's in-loop verifier chain (default {','.join(LADDER_STRATEGY['verify'])}).")
@click.option("--candidates", type=click.IntRange(1, MAX_CANDIDATES), default=None,
              help=f"Samples of every rung's first request, the verifier picks (default {LADDER_STRATEGY['candidates']}).")
@click.option("--autofix/--no-autofix", default=None,
              help=f"Apply the renames Terraform or the schema names, re-verify once (default {'on' if LADDER_STRATEGY['autofix'] else 'off'}).")
@click.option("--baseline-on-ends", is_flag=True,
              help=f"Also run the top and the bottom rung with the default strategy before issue 19 ({_shown(BASELINE_STRATEGY)}) "
                   "as '<rung>-baseline', on the same server: what the strategy buys at each end.")
def ladder_command(model, types_, suite, endpoints, task_ids, limit, max_attempts, samples, parallel, ctx, max_tokens,
                   threads, gpu_layers, layout, spec, backend, provider_mirror, out, quant_dir, ready_timeout, judge,
                   grounding, feedback, constrain, verify_chain, candidates, autofix, baseline_on_ends) -> None:
    """Quantize a ladder, serve each quant, run a suite with retries on all, report.

    MODEL is quantized to --types (the highest bpw is the reference) and the ladder report is written
    to --out. Kill it at any point; the same command (same strategy flags) resumes. With --endpoints each
    endpoint keeps its own strategy from the config; the strategy flags given override it."""
    from tfagent.agent.cli.eval_commands import _config_defaults
    from tfagent.evals.ladder.quant import LadderError
    from tfagent.evals.ladder.run import LadderOptions, run_ladder
    from tfagent.evals.tasks.suite import SuiteError, load_suite

    if bool(model) == bool(endpoints):
        raise fail("give either MODEL.gguf or --endpoints NAME,NAME,… (servers that already run)")
    try:
        loaded = load_suite(suite)
        tasks = loaded.select(_split(task_ids) or None, None)
    except SuiteError as exc:
        raise fail(str(exc)) from None
    tasks = tasks[:limit] if limit else tasks
    strategy = {"grounding": grounding, "feedback": feedback, "constrain": constrain,
                "verify": verify_chain_flag(verify_chain), "candidates": candidates, "autofix": autofix}
    opts = LadderOptions(suite=loaded, tasks=tasks, out=out, max_attempts=max_attempts, samples=samples, parallel=parallel,
                         ctx=ctx, threads=threads, gpu_layers=gpu_layers, layout=layout, spec=spec, backend=backend,
                         provider_mirror=provider_mirror, ready_timeout=ready_timeout, max_tokens=max_tokens,
                         quant_dir=quant_dir, defaults=_config_defaults(), judge=judge,
                         strategy={k: v for k, v in strategy.items() if v is not None}, baseline_on_ends=baseline_on_ends)
    chosen = None
    if endpoints:
        from tfagent.agent.cli.eval_commands import _check_servers, _endpoints

        chosen = _endpoints(_split(endpoints))
        _check_servers(chosen, min(ready_timeout, 30.0))
    log = lambda message: click.echo(message, err=True)  # noqa: E731
    try:
        result = run_ladder(model, [t.upper() for t in _split(types_)], opts, endpoints=chosen, log=log,
                            on_cell=lambda o: o.skipped or log(_cell_line(o)))
    except (LadderError, ValueError) as exc:
        raise fail(str(exc)) from None
    except click.ClickException as exc:  # a server that would not start
        raise fail(exc.format_message(), EXIT_UNREACHABLE) from None
    for note in result["notes"]:
        click.echo(f"note: {note}", err=True)
    click.echo((Path(result["paths"]["md"])).read_text().split("\n## ")[0])
    click.echo(f"wrote {', '.join(str(p) for p in result['paths'].values())}", err=True)
    if result["errors"]:
        click.echo(f"{len(result['errors'])} cell(s) failed with an error (first: {result['errors'][0].error}); "
                   "re-run the same command to resume them", err=True)
        raise click.exceptions.Exit(EXIT_INCOMPLETE)
    raise click.exceptions.Exit(EXIT_OK)


def _cell_line(outcome) -> str:
    key = outcome.key
    state = "error: " + outcome.error if outcome.solved is None else ("solved" if outcome.solved else "failed")
    return f"[{key.endpoint}] {key.task_id}#{key.sample} {state} (attempts {outcome.attempts})"


if __name__ == "__main__":  # pragma: no cover - `python -m tfagent.agent.cli.eval_ladder`
    sys.exit(ladder_command())
