"""Thin CLI: parse flags, call one function, render, exit code.

Exit codes: agent/core/exits.py is the one table (0 verified … 6 environment failure, each with when).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from tfagent.agent.cli.click_groups import DefaultLazyGroup
from tfagent.agent.cli.console import fail, out_console
from tfagent.agent.core.defaults import DEFAULT_CHAIN
from tfagent.agent.core.exits import EXIT_USAGE
from tfagent.agent.core.defaults import (CONSTRAIN_MODES, DEFAULT_AUTOFIX, DEFAULT_CANDIDATES, DEFAULT_FEEDBACK,
                                         DEFAULT_GROUNDING, FEEDBACK_STYLES, GROUNDING_MODES, MAX_CANDIDATES)

# `tfagent run --help`: what the default strategy does and how to get the loop before issue 19 back.
RUN_HELP = (
    "Write Terraform for PROMPT and verify it.\n\n"
    "By default (the rescue A/B's best arm, docs/results/rescue-ab-1.5b-40) the first request carries cards of "
    "the provider schema for the resource types the sentence needs (--grounding schema; from --provider-mirror, "
    f"else the registry), {DEFAULT_CANDIDATES} samples of it are verified and the first that verifies wins "
    f"(--candidates {DEFAULT_CANDIDATES}), retries get the schema's fixes (--feedback {DEFAULT_FEEDBACK}) and renames "
    "Terraform names are applied (--autofix). The loop before issue 19: --grounding none --feedback raw "
    "--candidates 1 --no-autofix (or the same keys in [defaults]).")


def _escape(text: str) -> str:
    """User- and config-derived text shown through rich: brackets are text, never markup."""
    from rich.markup import escape  # on use: `tfagent --help` must not pay for rich

    return escape(text)


# Commands that live in their own modules, imported only when used; the third field is the line
# `tfagent --help` shows, so listing them imports none of them (a test checks it matches).
LAZY_COMMANDS = {
    "eval": ("tfagent.agent.cli.eval_commands", "eval_group", "Measure endpoints (quants) on a suite: first try vs with retries, paired against a reference."),
    "serve": ("tfagent.agent.serving.serve", "serve_command",
              "Serve MODEL.gguf (or a --ladder of them) on 127.0.0.1 and register it as an endpoint."),
    "quantize": ("tfagent.agent.serving.quantize", "quantize_command",
                 "Write one GGUF per quantization type into --out and report each one's size and bits per weight."),
    "bench": ("tfagent.agent.cli.bench", "bench_command",
              "Measure ENDPOINT (a configured name or a base URL): tok/s, TTFT and latency percentiles, errors."),
    "model": ("tfagent.agent.serving.localmodel", "localmodel_group", "Demo models and an offline aws provider, from package registries."),
    "mcp": ("tfagent.agent.cli.mcp_server", "mcp_command",
            "Serve tfagent over the Model Context Protocol (stdio; --http for streamable HTTP on 127.0.0.1)."),
}


class DefaultGroup(DefaultLazyGroup):
    """`tfagent "PROMPT" …` runs the default command; `tfagent eval …` a subcommand."""

    lazy = LAZY_COMMANDS


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tfagent")
def main() -> None:
    """tfagent: a sentence in, verified infrastructure code out.

    \b
      tfagent "create a private S3 bucket" --base-url http://127.0.0.1:8080/v1
      tfagent code "parse a CSV of prices" --lang python --tests tests/
      tfagent verify infra/ --verify hcl,fmt,validate,plan
      tfagent eval terraform-aws --endpoints iq1_s,q4 --reference q4
    """
    from tfagent.agent.core.secrets import install_log_redaction

    install_log_redaction()  # no log line of any command may carry a secret's value


def model_options(f):
    for option in reversed([
        click.option("--base-url", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1 (env TFAGENT_BASE_URL)."),
        click.option("--model", help="Model name sent to the server (env TFAGENT_MODEL)."),
        click.option("--api-key", help="API key (prefer the TFAGENT_API_KEY environment variable: flags end up in shell history)."),
        click.option("--endpoint", "endpoint_name", help="A named endpoint from tfagent.toml / the user config."),
        click.option("--max-attempts", type=click.IntRange(1, 20), default=None, help="One try + retries (default 3)."),
        click.option("--verify", "verify_chain", help="Comma-separated verifier chain (default per mode)."),
        click.option("--feedback", type=click.Choice(FEEDBACK_STYLES), default=None,
                     help=("Retry feedback: Terraform's words (raw), + the provider schema's fix (schema), or schema and a "
                           f"byte-identical reply restated in a fresh turn (restate); default {DEFAULT_FEEDBACK} (before issue 19: raw).")),
        click.option("--constrain", type=click.Choice(CONSTRAIN_MODES), default=None,
                     help="Grammar-constrained replies where the server takes a GBNF grammar: the reply format, or + real resource types (default off)."),
        click.option("--seed", type=int, default=None, help="Sampling seed sent to the server (overrides the endpoint's)."),
        click.option("--temperature", type=click.FloatRange(0, 2), default=None,
                     help="Sampling temperature sent to the server (overrides the endpoint's)."),
        click.option("--grounding", type=click.Choice(GROUNDING_MODES), default=None,
                     help="What the first request carries: the sentence alone (none), or + cards of the provider schema "
                          f"for the resource types the sentence needs (schema; read from --provider-mirror, else the registry); "
                          f"default {DEFAULT_GROUNDING} (before issue 19: none)."),
        click.option("--candidates", type=click.IntRange(1, MAX_CANDIDATES), default=None,
                     help="Send the first request N times at once (the first as the endpoint asks it, the others at "
                          "temperature > 0 with a seed each); the first that verifies wins, else the one with the fewest "
                          f"errors gets the retries (default {DEFAULT_CANDIDATES}; 1 = one request, as before issue 19)."),
        click.option("--autofix/--no-autofix", default=None,
                     help="When Terraform or the schema names a single replacement (\"Did you mean\"), apply the "
                          "rename, re-verify once and record it (default "
                          f"{'on' if DEFAULT_AUTOFIX else 'off'}; --no-autofix turns it off, as before issue 19)."),
        click.option("--out", type=click.Path(path_type=Path), default=None, help="Output folder (default ./infra)."),
        click.option("--force", is_flag=True, help="Overwrite existing files in --out."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables."),
        click.option("--provider-mirror", type=click.Path(path_type=Path, file_okay=False), help="Terraform filesystem mirror (air-gapped providers)."),
        click.option("--offline-aws", is_flag=True, default=None, help="Plan the aws provider offline (dummy credentials, skip flags)."),
        click.option("--terraform", "terraform_bin", help="Terraform to use: a binary path, `tofu`, or `embedded` (default: terraform/tofu on PATH, else embedded)."),
        click.option("--policy", "policies", multiple=True, type=click.Path(path_type=Path, exists=True), help="Rego policy FILE|DIR (repeatable)."),
        click.option("--no-builtin-policies", is_flag=True, help="Use only --policy files, not the built-in intent pack."),
        click.option("--all", "run_all", is_flag=True, help="Run every verifier stage instead of stopping at the first failure."),
        click.option("--ready-timeout", type=float, default=None, help="Seconds to wait for the model server (default 10)."),
        click.option("--resume", "resume_id", help="Continue an interrupted run by its id (see `tfagent runs`)."),
    ]):
        f = option(f)
    return f


SANDBOX_LEVELS = ("auto", "bwrap", "landlock", "none")  # the sandbox module's REQUESTS, without importing it
sandbox_option = click.option(
    "--sandbox", type=click.Choice(SANDBOX_LEVELS), default=None,
    help="Isolation for generated code (env TFAGENT_SANDBOX, config key sandbox; default auto: bwrap, else "
         "Landlock, else refuse). `none` runs it unisolated, on purpose only.")


def git_option_decorator(f):
    """Git/PR flags come from agent/git.py (issue: CI bots)."""
    from tfagent.agent.cli.git_options import git_options

    return git_options(f)


@main.command("run", help=RUN_HELP)
@click.argument("prompt", required=False)
@click.option("--in", "in_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Change the Terraform folder DIR: its files go into the request, the whole of it is verified, "
                   "and the change is written back as a diff (--out defaults to DIR).")
@model_options
@git_option_decorator
def run_command(prompt: str | None, **params: Any) -> None:
    from tfagent.agent.cli.runner import execute  # the help: RUN_HELP

    sys.exit(execute(prompt, mode="terraform", lang=None, params=params))


@main.command("code")
@click.argument("prompt", required=False)
@click.option("--lang", type=click.Choice(["python", "go", "rust", "c", "cpp", "javascript", "typescript"]), default="python", show_default=True)
@click.option("--test-cmd", help="Command that runs your tests (inside the sandbox).")
@click.option("--tests", "tests_path", type=click.Path(path_type=Path, exists=True), help="Your test file or folder (never editable by the model).")
@sandbox_option
@model_options
@git_option_decorator
def code_command(prompt: str | None, lang: str, test_cmd: str | None, tests_path: Path | None, **params: Any) -> None:
    """Write code for PROMPT, checked by real compilers and your tests."""
    from tfagent.agent.cli.runner import execute

    params.update(test_cmd=test_cmd, tests_path=tests_path)
    sys.exit(execute(prompt, mode="code", lang=lang, params=params))


@main.command("verify")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option("--verify", "verify_chain", default=",".join(DEFAULT_CHAIN["terraform"]), show_default=True)
@click.option("--format", "output_format", type=click.Choice(["text", "json", "sarif", "junit"]), default="text",
              show_default=True, help="sarif: SARIF 2.1.0 for code scanning; junit: JUnit XML for CI dashboards.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the --format document here (atomically) instead of stdout.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--all", "run_all", is_flag=True, help="Report every stage instead of stopping at the first failure.")
@click.option("--policy", "policies", multiple=True, type=click.Path(path_type=Path, exists=True))
@click.option("--no-builtin-policies", is_flag=True)
@click.option("--provider-mirror", type=click.Path(path_type=Path, file_okay=False))
@click.option("--offline-aws", is_flag=True)
@click.option("--terraform", "terraform_bin", help="A binary path, `tofu`, or `embedded`.")
@click.option("--prompt", default="", help="The intent the files should meet (selects built-in policy rules).")
@click.option("--mode", type=click.Choice(["terraform", "code"]), default="terraform")
@click.option("--lang", default=None)
@sandbox_option
def verify_command(paths: tuple[Path, ...], **params: Any) -> None:
    """Run the verifier chain on existing files (no model): each named folder, and the folder of each
    named file (what pre-commit passes). Exit 0 only if every stage passes in every folder; 1 if a
    folder fails on its own files; 6 if this machine could not decide (undecided: a provider it cannot
    install, a file outside the folder, a data source needing the cloud API offline, a Rego builtin)."""
    from tfagent.agent.cli.verify_paths import verify_paths

    sys.exit(verify_paths(list(paths), params))


@main.command("verifiers")
@sandbox_option
def verifiers_command(sandbox: str | None) -> None:
    """List every verifier, where it comes from, and whether it can run here; and the sandbox level."""
    import os

    from rich.table import Table

    from tfagent.agent.core.config import ConfigError, load_config
    from tfagent.verifiers.code.sandbox import LEVEL_ENV, describe_isolation
    from tfagent.verifiers.registry import discover

    try:
        configured = load_config().defaults.get("sandbox")
    except ConfigError as exc:
        raise fail(str(exc))
    level = sandbox or os.environ.get(LEVEL_ENV) or configured

    table = Table(title="verifiers (entry-point group tfagent.verifiers)")
    for col in ("name", "from", "can run here", "description"):
        table.add_column(col)
    for name, info in sorted(discover().items()):
        if info.cls is None:
            table.add_row(name, info.origin, f"[red]no[/]: {_escape(str(info.load_error))}", "")
            continue
        ok, reason = info.cls().available()
        table.add_row(_escape(name), _escape(info.origin), "[green]yes[/]" if ok else f"[yellow]no[/]: {_escape(reason)}", _escape(info.cls.description))
    out_console().print(table)
    # soft_wrap: one line, whatever the terminal width, so scripts can grep it
    out_console().print(f"sandbox for generated code: {_escape(describe_isolation(level))}", soft_wrap=True,
                        highlight=False)


@main.command("endpoints")
@click.option("--timeout", type=float, default=3.0, show_default=True, help="Seconds to wait for each server.")
def endpoints_command(timeout: float) -> None:
    """List configured endpoints and whether each answers."""
    from rich.table import Table

    from tfagent.agent.core.config import ConfigError, load_config
    from tfagent.agent.model.client import ModelClient, ModelError, ServerUnreachable

    try:
        config = load_config()
    except ConfigError as exc:
        raise fail(str(exc), EXIT_USAGE)
    table = Table(title="endpoints")
    for col in ("name", "base_url", "model", "bpw", "answers"):
        table.add_column(col)
    for name, ep in sorted(config.endpoints.items()):
        try:
            with ModelClient(ep) as client:
                client.wait_ready(timeout)
            status = "[green]yes[/]"
        except ServerUnreachable as exc:
            status = f"[red]no[/]: {_escape(exc.reason)}"
        except ModelError as exc:
            status = f"[red]no[/]: {_escape(str(exc))}"
        marker = " (default)" if name == config.default_endpoint else ""
        table.add_row(_escape(name + marker), _escape(ep.base_url), _escape(ep.model), "-" if ep.bpw is None else f"{ep.bpw:g}", status)
    if not config.endpoints:
        out_console().print(_escape("no endpoints configured (add [endpoints.NAME] to tfagent.toml or run `tfagent serve`)"))
        return
    out_console().print(table)


@main.group("runs", invoke_without_command=True)
@click.pass_context
def runs_group(ctx: click.Context) -> None:
    """List past runs (id, prompt, attempts, verdict)."""
    if ctx.invoked_subcommand is None:
        from rich.table import Table

        from tfagent.agent.loop.runs import RunStore

        store = RunStore()
        table = Table(title=f"runs ({store.path})")
        for col in ("id", "prompt", "attempts", "verdict"):
            table.add_column(col)
        for row in store.list():
            table.add_row(row.run_id, _escape(row.prompt[:60]), str(row.attempts), row.status)
        out_console().print(table)


@runs_group.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True)
def runs_show(run_id: str, as_json: bool) -> None:
    """Print one run's attempts and diagnostics."""
    from tfagent.agent.cli.render import print_attempt
    from tfagent.agent.loop.runs import RunStore
    from tfagent.agent.core.secrets import redact_obj
    from tfagent.agent.core.types import Attempt

    row = RunStore().get(run_id)
    if row is None:
        raise fail(f"no run {run_id!r} (see `tfagent runs`)", EXIT_USAGE)
    if as_json:
        doc = {"run_id": row.run_id, "status": row.status, "request": row.request, "result": row.result}
        click.echo(json.dumps(redact_obj(doc), indent=2))  # also runs stored before a secret was known
        return
    console = out_console()
    console.print(f"run {row.run_id} · {row.status} · {row.prompt}", highlight=False)
    if row.result is None:
        console.print(f"not finished; continue it with: tfagent --resume {row.run_id}")
        return
    for a in row.result["attempts"]:
        attempt = Attempt.from_dict(a)
        print_attempt(console, attempt, row.result["max_attempts"])
        _print_reply_and_files(console, attempt, row.result.get("change"))
    if row.result.get("change") is not None:  # --in: what the run changes, as a diff
        from tfagent.agent.cli.folder_run import print_change

        print_change(console, row.result["change"], bool(row.result["ok"]))


def _print_reply_and_files(console, attempt, change: dict | None = None) -> None:
    """What the model sent and the files taken from it: the record, not only its verdict. With
    ``--in`` (``change``), the attempt's change to the folder as a diff instead of whole files."""
    from rich.text import Text

    if change is not None:
        from tfagent.agent.cli.folder_run import diff_text

        console.print(Text(f"  reply ({attempt.finish_reason or 'no finish reason'}, {len(attempt.reply)} characters):", style="bold"))
        console.print(Text("    " + (attempt.reply.strip() or "(empty)").replace("\n", "\n    ")))
        diff = (change.get("attempt_diffs") or {}).get(str(attempt.number))
        if diff:
            console.print(Text(f"  diff of attempt {attempt.number}:", style="bold"))
            console.print(diff_text(diff), soft_wrap=True)
        return
    console.print(Text(f"  reply ({attempt.finish_reason or 'no finish reason'}, {len(attempt.reply)} characters):", style="bold"))
    console.print(Text("    " + (attempt.reply.strip() or "(empty)").replace("\n", "\n    ")))
    for path, body in sorted(attempt.files.items()):
        console.print(Text(f"  file {path}:", style="bold"))
        console.print(Text("    " + body.rstrip().replace("\n", "\n    ")))


if __name__ == "__main__":
    main()
