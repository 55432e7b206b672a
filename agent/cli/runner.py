"""What the CLI commands do, as plain functions returning exit codes (the CLI only parses flags)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from tfagent.verifiers.registry import UnknownVerifier, VerifierUnavailable

from tfagent.agent.cli.console import err_console, fail, out_console
from tfagent.agent.core.defaults import READY_TIMEOUT
from tfagent.agent.core.exits import EXIT_CONTEXT, EXIT_FORGE, EXIT_OK, EXIT_UNREACHABLE, EXIT_UNVERIFIED, EXIT_USAGE
from tfagent.agent.core.config import Config, ConfigError, load_config, resolve_endpoint
from tfagent.agent.core.secrets import redact_obj
from tfagent.agent.loop.graph import run_agent
from tfagent.agent.loop.environment import EnvironmentFailure
from tfagent.agent.core.exits import EXIT_ENVIRONMENT
from tfagent.agent.model.client import ModelError, ServerUnreachable
from tfagent.agent.model.context import ContextOverflow
from tfagent.agent.core.output import OutputError, write_files
from tfagent.agent.cli.render import LiveStatus, print_result
from tfagent.agent.cli.folder_run import deliver_change, folder_for, folder_record, resumed_folder
from tfagent.agent.loop.request import RunSettings, build_run_request, check_inputs
from tfagent.agent.loop.runs import RunStore
from tfagent.agent.loop.state import RunRequest
from tfagent.agent.core.defaults import BASELINE_STRATEGY
from tfagent.agent.core.types import Endpoint, RunResult


def _request_record(req: RunRequest, out: Path) -> dict[str, Any]:
    """What --resume needs, without secrets (the API key is re-read from the environment)."""
    return {
        "prompt": req.prompt, "mode": req.mode, "lang": req.lang, "chain": req.chain, "requested": sorted(req.requested),
        "max_attempts": req.max_attempts, "endpoint": req.endpoint.public_dict(), "out": str(out),
        "provider_mirror": str(req.options.provider_mirror or ""), "offline_aws": req.options.offline_aws,
        "policies": [str(p) for p in req.options.policies], "test_cmd": req.options.test_cmd,
        "tests_path": str(req.options.tests or ""), "fail_fast": req.fail_fast,
        "feedback": req.feedback, "constrain": req.constrain, **folder_record(req),
        "candidates": req.candidates, "autofix": req.autofix, "grounding": req.grounding,
    }


def _build_request(prompt: str | None, mode: str, lang: str | None, settings: RunSettings) -> tuple[RunRequest, Path]:
    """The run's request (``build_run_request``) and where its files go: a new run, or ``--resume``."""
    config = load_config()
    if settings.resume_id:
        return _resumed_request(settings, config)
    req = build_run_request(prompt, settings, mode=mode, lang=lang, config=config)
    out = Path(settings.out or config.defaults.get("out") or ("infra" if mode == "terraform" else "src"))
    if settings.in_dir:  # change an existing folder; --out defaults to it
        req.folder, out = folder_for(settings.in_dir, settings.out, mode)
    check_inputs(req.chain, req.options)
    return req, out


def _resumed_request(settings: RunSettings, config: Config) -> tuple[RunRequest, Path]:
    """A stored run's request (``_request_record``) under its own id, with its stored settings; the API
    key is read again, and a provider mirror given now wins (a run stopped by an unreachable registry
    continues with one: exit 6)."""
    row = RunStore().get(settings.resume_id)
    if row is None:
        raise ConfigError(f"--resume: no run {settings.resume_id!r} (see `tfagent runs`)")
    r = row.request
    ep = r["endpoint"]
    endpoint = resolve_endpoint(config, None, ep["base_url"], ep["model"], settings.api_key)
    endpoint = Endpoint(ep["name"], endpoint.base_url, endpoint.model, endpoint.api_key, ep.get("api_key_env"), ep.get("bpw"), ep.get("params", {}))
    endpoint.candidates, endpoint.autofix = ep.get("candidates"), ep.get("autofix")
    endpoint.feedback, endpoint.constrain, endpoint.grounding = ep.get("feedback"), ep.get("constrain"), ep.get("grounding")
    old = BASELINE_STRATEGY
    stored = replace(
        settings, provider_mirror=settings.provider_mirror or r["provider_mirror"] or None, offline_aws=r["offline_aws"],
        policies=tuple(r["policies"]), test_cmd=r["test_cmd"], tests_path=r["tests_path"] or None,
        max_attempts=r["max_attempts"], run_all=not r["fail_fast"], ready_timeout=READY_TIMEOUT,  # as a resumed run always waited
        # A setting the stored run lacks is older than the setting: that run ran with the default of its
        # time, before issue 19 changed them (BASELINE_STRATEGY), and continues so.
        feedback=r.get("feedback") or old["feedback"], constrain=r.get("constrain") or old["constrain"],
        candidates=int(r.get("candidates") or old["candidates"]), autofix=bool(r.get("autofix", old["autofix"])),
        grounding=r.get("grounding") or old["grounding"])
    req = build_run_request(r["prompt"], stored, mode=r["mode"], lang=r["lang"], config=config, endpoint=endpoint,
                            chain=r["chain"], requested=set(r["requested"]), run_id=row.run_id)
    if r.get("in"):  # --in: the same folder, unchanged since the run started
        req.folder = resumed_folder(r)
    return req, Path(settings.out or r["out"])


def execute(prompt: str | None, mode: str, lang: str | None, params: dict[str, Any]) -> int:
    console, errc = out_console(), err_console()
    settings = RunSettings.from_flags(params)
    try:
        request, out = _build_request(prompt, mode, lang, settings)
        if _request_preview_only(params):
            return _print_first_request(request, console, bool(params.get("as_json")))
        git = _git_preflight(params, out)
    except (ConfigError, UnknownVerifier, VerifierUnavailable, OutputError) as exc:
        raise fail(str(exc), EXIT_USAGE)
    store = RunStore()
    resume = bool(settings.resume_id)
    if not resume:
        store.start(request.run_id, request.prompt, redact_obj(_request_record(request, out)))
    as_json = params.get("as_json")
    try:
        with LiveStatus(errc, enabled=not as_json) as live:
            result = run_agent(request, on_event=live, checkpointer=store.checkpointer, resume=resume)
    except (UnknownVerifier, VerifierUnavailable) as exc:
        raise fail(str(exc), EXIT_USAGE)
    except EnvironmentFailure as exc:
        store.ended(request.run_id, "environment")
        raise fail(f"{exc} Once the machine is fixed, `tfagent --resume {request.run_id}` (with --provider-mirror DIR "
                   "when that was the problem) verifies the same reply again without asking the model.", EXIT_ENVIRONMENT)
    except ContextOverflow as exc:
        store.ended(request.run_id, "context_overflow")
        raise fail(f"{exc}. Nothing older was left to drop. Give the server a larger context (llama-server -c, "
                   f"tfagent serve --ctx, vLLM --max-model-len) or shorten the prompt; resuming would fail the same way.",
                   EXIT_CONTEXT)
    except ServerUnreachable as exc:
        if getattr(exc, "before_first_request", False):
            store.ended(request.run_id, "unreachable")
            raise fail(f"{exc}; nothing was sent. Start the server (or check --base-url), then run the command again.",
                       EXIT_UNREACHABLE)
        store.interrupted(request.run_id)
        raise fail(f"{exc} (continue later with: tfagent --resume {request.run_id})", EXIT_UNREACHABLE)
    except ModelError as exc:
        store.interrupted(request.run_id)
        raise fail(f"{exc} (continue later with: tfagent --resume {request.run_id})", EXIT_UNREACHABLE)
    except KeyboardInterrupt:
        store.interrupted(request.run_id)
        raise fail(f"interrupted; continue with: tfagent --resume {request.run_id}", 130)
    store.finish(request.run_id, redact_obj(result.to_dict()))
    if request.folder is not None and git is None:  # --in: the change as a diff, written back in place
        return deliver_change(request.folder, result, out, params, console, errc)
    return _deliver(result, out, params, git, console, errc)


def _request_preview_only(params: dict[str, Any]) -> bool:
    """``--dry-run`` without --git/--push/--pr: show the first request, ask no model."""
    return bool(params.get("git_dry_run")) and not any(params.get(k) for k in ("git", "push", "pr", "pr_on_failure"))


def _print_first_request(request: RunRequest, console: Console, as_json: bool) -> int:
    from tfagent.agent.loop.first_request import first_request
    from tfagent.verifiers.terraform.schema_index import SchemaIndexError

    try:
        doc = redact_obj(first_request(request))
    except SchemaIndexError as exc:
        raise fail(f"--dry-run: the provider schema could not be read: {exc}", EXIT_USAGE)
    if as_json:
        click.echo(json.dumps({"dry_run": True, **doc}, indent=2))
        return EXIT_OK
    console.print(f"[bold]first request to {escape(doc['endpoint']['base_url'])} (model {escape(doc['endpoint']['model'])}), "
                  f"not sent (--dry-run)[/]", highlight=False)
    for note in doc["notes"]:
        console.print(f"[yellow]note: {escape(note)}[/]", highlight=False)
    if len(doc["candidates"]) > 1:
        others = ", ".join(f"{c['candidate']}: temperature {c['temperature']}, seed {c['seed']}" for c in doc["candidates"][1:])
        console.print(f"[dim]sent {len(doc['candidates'])} times (--candidates): 1 as shown; {escape(others)}[/]", highlight=False)
    if doc["grounding"] is not None:
        found = ", ".join(f"{g['type']} ({g['why']})" for g in doc["grounding"]) or "no resource type found"
        console.print(f"[dim]grounding: {escape(found)}[/]", highlight=False)
    for message in doc["messages"]:
        console.print(f"\n[bold]── {message['role']} ──[/]", highlight=False)
        console.print(message["content"], markup=False, highlight=False)
    if doc["grammar"]:
        console.print("\n[bold]── grammar (GBNF) ──[/]", highlight=False)
        console.print(doc["grammar"], markup=False, highlight=False)
    return EXIT_OK


def _deliver(result: RunResult, out: Path, params: dict[str, Any], git, console: Console, errc: Console) -> int:
    written: list[str] = []
    code = EXIT_OK if result.ok else EXIT_UNVERIFIED
    if git is not None:
        return _publish(git, result, errc, code, params)
    if result.ok:
        try:
            written = [str(p) for p in write_files(out, result.files, force=bool(params.get("force")))]
        except OutputError as exc:
            raise fail(str(exc), EXIT_USAGE)
    if params.get("as_json"):
        doc = {"ok": result.ok, "out": str(out) if written else None, **result.to_dict()}
        click.echo(json.dumps(redact_obj(doc), indent=2))
    else:
        print_result(console, result, written, str(out))
        if not result.ok and result.files:
            errc.print(f"nothing written: the files did not verify (see `tfagent runs show {result.run_id}`)")
    return code


def _git_preflight(params: dict[str, Any], out: Path):
    from tfagent.agent.publish.preflight import GitOptions, GitUsageError, preflight

    options = GitOptions.from_params(params)
    if not options.enabled:
        return None
    try:
        return preflight(options, Path.cwd(), out.resolve())
    except GitUsageError as exc:
        raise ConfigError(str(exc)) from None


def _publish(session, result: RunResult, errc: Console, code: int, params: dict[str, Any]) -> int:
    from tfagent.agent.publish.forge import ForgeError
    from tfagent.agent.publish.git import publish
    from tfagent.agent.publish.preflight import GitUsageError

    try:
        outcome = publish(session, result, console=errc)
    except ForgeError as exc:
        raise fail(str(exc), EXIT_FORGE)
    except GitUsageError as exc:
        raise fail(str(exc), EXIT_USAGE)
    if params.get("as_json"):
        click.echo(json.dumps({"ok": result.ok, **result.to_dict(), "git": outcome.__dict__}, indent=2, default=str))
    return code


def _print_verdicts(console: Console, verdicts, ok: bool) -> None:
    for v in verdicts:
        state = "[green]ok[/]" if v.ok else "[red]FAIL[/]"
        console.print(f"{v.verifier}: {state} ({v.seconds:.2f}s) {v.note}", highlight=False)
        for d in v.diagnostics:
            where = f"{d.file}:{d.line}" if d.file and d.line else (d.file or "")
            console.print(f"  {d.severity} {where} {d.summary}", highlight=False)
            if d.detail:
                console.print(f"    {d.detail.strip().splitlines()[0][:200]}", highlight=False, style="dim")
    console.print("[green]all stages passed[/]" if ok else "[red]verification failed[/]")
