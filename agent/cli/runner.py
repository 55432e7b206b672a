"""What the CLI commands do, as plain functions returning exit codes (the CLI only parses flags)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from tfagent.verifiers.base import VerifyOptions
from tfagent.verifiers.registry import UnknownVerifier, VerifierUnavailable, parse_chain

from tfagent.agent.core.console import err_console, fail, out_console
from tfagent.agent.core.defaults import MAX_ATTEMPTS, READY_TIMEOUT
from tfagent.agent.core.defaults import default_chain as mode_default_chain
from tfagent.agent.core.verify_options import build_verify_options
from tfagent.agent.core.exits import EXIT_CONTEXT, EXIT_FORGE, EXIT_OK, EXIT_UNREACHABLE, EXIT_UNVERIFIED, EXIT_USAGE
from tfagent.agent.core.config import ConfigError, check_choice, load_config, resolve_endpoint
from tfagent.agent.core.config import check_candidates, check_flag
from tfagent.agent.core.secrets import redact, redact_obj
from tfagent.agent.loop.graph import run_agent
from tfagent.agent.loop.environment import EnvironmentFailure
from tfagent.agent.core.exits import EXIT_ENVIRONMENT
from tfagent.agent.model.client import ModelError, ServerUnreachable
from tfagent.agent.model.context import ContextOverflow
from tfagent.agent.core.output import OutputError, write_files
from tfagent.agent.cli.render import LiveStatus, print_result
from tfagent.agent.cli.folder_run import deliver_change, folder_for, folder_record, resumed_folder
from tfagent.agent.loop.runs import RunStore, new_run_id
from tfagent.agent.loop.state import RunRequest
from tfagent.agent.core.defaults import CONSTRAIN_MODES, DEFAULT_CONSTRAIN, DEFAULT_FEEDBACK, FEEDBACK_STYLES
from tfagent.agent.core.defaults import DEFAULT_AUTOFIX, DEFAULT_CANDIDATES, DEFAULT_GROUNDING, GROUNDING_MODES, offline_chain
from tfagent.agent.core.types import Endpoint, RunResult


def _default_chain(mode: str, lang: str | None, has_tests: bool, offline: bool = False) -> list[str]:
    if mode == "code":
        from tfagent.verifiers.code.code_lang import default_chain

        return list(default_chain(lang or "python", has_tests))
    # plan needs cloud credentials, so it is opt-in (--verify) — except offline, where it needs none.
    return mode_default_chain(mode) if not offline else offline_chain(mode)


def _options(prompt: str, mode: str, lang: str | None, p: dict[str, Any], defaults: dict[str, Any]) -> VerifyOptions:
    return build_verify_options(prompt, mode, lang, p, defaults)


TERRAFORM_STAGES = {"fmt", "validate", "plan"}
CODE_RUNNING_STAGES = {"compile", "tests"}  # stages that execute generated code (in the sandbox)


def check_inputs(chain: list[str], options: VerifyOptions) -> None:
    """Fail before any model call on unusable inputs: a verifier of the other mode, a bad --policy,
    a bad mirror or --terraform."""
    from tfagent.verifiers.registry import WrongMode, check_modes

    try:
        check_modes(chain, options.mode)
    except WrongMode as exc:
        raise ConfigError(f"--verify: {exc}") from None
    if options.policies:
        from tfagent.verifiers.policy.rego import PolicyError, check_policies

        try:
            check_policies(options.policies)
        except PolicyError as exc:
            raise ConfigError(f"--policy: {exc}") from None
    if CODE_RUNNING_STAGES & set(chain):
        from tfagent.verifiers.code.sandbox import SandboxError, isolation_level

        try:  # refuse before any model call rather than after the first reply
            isolation_level(options.extra.get("sandbox"))
        except SandboxError as exc:
            raise ConfigError(str(exc)) from None
    if not TERRAFORM_STAGES & set(chain):
        return
    from tfagent.verifiers.terraform.engine import TerraformEngine, TerraformUnavailable

    try:
        TerraformEngine.for_options(options)
    except (TerraformUnavailable, ValueError) as exc:
        raise ConfigError(f"terraform: {exc}") from None


def _request_record(req: RunRequest, out: Path, params: dict[str, Any]) -> dict[str, Any]:
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


def _first_set(*values: Any) -> Any:
    """The first value that is not None (a flag, then the config, then the default)."""
    return next(v for v in values if v is not None)


def _build_request(prompt: str | None, mode: str, lang: str | None, p: dict[str, Any]) -> tuple[RunRequest, Path]:
    config = load_config()
    defaults = config.defaults
    if p.get("resume_id"):
        row = RunStore().get(p["resume_id"])
        if row is None:
            raise ConfigError(f"--resume: no run {p['resume_id']!r} (see `tfagent runs`)")
        r = row.request
        ep = r["endpoint"]
        endpoint = resolve_endpoint(config, None, ep["base_url"], ep["model"], p.get("api_key"))
        endpoint = Endpoint(ep["name"], endpoint.base_url, endpoint.model, endpoint.api_key, ep.get("api_key_env"), ep.get("bpw"), ep.get("params", {}))
        endpoint.candidates, endpoint.autofix = ep.get("candidates"), ep.get("autofix")
        endpoint.feedback, endpoint.constrain, endpoint.grounding = ep.get("feedback"), ep.get("constrain"), ep.get("grounding")
        # a mirror given now wins: a run stopped by an unreachable registry continues with one (exit 6)
        merged = {**p, "provider_mirror": p.get("provider_mirror") or r["provider_mirror"] or None, "offline_aws": r["offline_aws"], "policies": r["policies"],
                  "test_cmd": r["test_cmd"], "tests_path": r["tests_path"] or None}
        req = RunRequest(prompt=r["prompt"], endpoint=endpoint, mode=r["mode"], chain=r["chain"], requested=set(r["requested"]),
                         max_attempts=r["max_attempts"], options=_options(r["prompt"], r["mode"], r["lang"], merged, defaults),
                         lang=r["lang"], run_id=row.run_id, fail_fast=r["fail_fast"],
                         feedback=r.get("feedback") or DEFAULT_FEEDBACK, constrain=r.get("constrain") or DEFAULT_CONSTRAIN,
                         candidates=int(r.get("candidates") or DEFAULT_CANDIDATES),
                         autofix=bool(r.get("autofix", DEFAULT_AUTOFIX)),
                         grounding=r.get("grounding") or DEFAULT_GROUNDING)
        if r.get("in"):  # --in: the same folder, unchanged since the run started
            req.folder = resumed_folder(r)
        return req, Path(p.get("out") or r["out"])
    if not prompt or not prompt.strip():
        raise ConfigError('missing PROMPT: tfagent "create a private storage account" [options]')
    prompt = redact(prompt)  # a prompt that quotes a secret: the model, the store and the output never see it
    endpoint = resolve_endpoint(config, p.get("endpoint_name"), p.get("base_url"), p.get("model"), p.get("api_key"))
    endpoint.params.update({k: p[k] for k in ("seed", "temperature") if p.get(k) is not None})
    endpoint_chain = ",".join(endpoint.verify) if endpoint.verify and mode == "terraform" else None
    chain_text = p.get("verify_chain") or endpoint_chain or (defaults.get("verify") if mode == "terraform" else None)
    options = _options(prompt, mode, lang, p, defaults)
    chain = parse_chain(chain_text) if chain_text else _default_chain(mode, lang, bool(p.get("test_cmd") or p.get("tests_path")),
                                                                     offline=options.offline_aws)
    req = RunRequest(
        prompt=prompt.strip(), endpoint=endpoint, mode=mode, chain=chain,
        requested=set(parse_chain(p["verify_chain"])) if p.get("verify_chain") else set(),
        max_attempts=p.get("max_attempts") or int(defaults.get("max_attempts", MAX_ATTEMPTS)), options=options, lang=lang,
        run_id=new_run_id(), ready_timeout=p.get("ready_timeout") or float(defaults.get("ready_timeout", READY_TIMEOUT)),
        fail_fast=not p.get("run_all"),
        feedback=p.get("feedback") or check_choice("[defaults] feedback", defaults.get("feedback"), FEEDBACK_STYLES)
        or DEFAULT_FEEDBACK,
        constrain=p.get("constrain") or check_choice("[defaults] constrain", defaults.get("constrain"), CONSTRAIN_MODES)
        or DEFAULT_CONSTRAIN,
        candidates=p.get("candidates") or check_candidates("[defaults] candidates", defaults.get("candidates"))
        or DEFAULT_CANDIDATES,
        autofix=_first_set(p.get("autofix"), check_flag("[defaults] autofix", defaults.get("autofix")), DEFAULT_AUTOFIX),
        grounding=p.get("grounding") or check_choice("[defaults] grounding", defaults.get("grounding"), GROUNDING_MODES)
        or DEFAULT_GROUNDING,
    )
    out = Path(p.get("out") or defaults.get("out") or ("infra" if mode == "terraform" else "src"))
    if p.get("in_dir"):  # change an existing folder; --out defaults to it
        req.folder, out = folder_for(p["in_dir"], p.get("out"), mode)
    check_inputs(req.chain, req.options)
    return req, out


def execute(prompt: str | None, mode: str, lang: str | None, params: dict[str, Any]) -> int:
    console, errc = out_console(), err_console()
    try:
        request, out = _build_request(prompt, mode, lang, params)
        if _request_preview_only(params):
            return _print_first_request(request, console, bool(params.get("as_json")))
        git = _git_preflight(params, out)
    except (ConfigError, UnknownVerifier, VerifierUnavailable, OutputError) as exc:
        raise fail(str(exc), EXIT_USAGE)
    store = RunStore()
    resume = bool(params.get("resume_id"))
    if not resume:
        store.start(request.run_id, request.prompt, redact_obj(_request_record(request, out, params)))
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
