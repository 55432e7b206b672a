"""The one way to build a run's request: `build_run_request`, used by the CLI (a new run and `--resume`),
the eval's cells and the MCP tool. Settings travel typed (`RunSettings`); each is taken from the caller,
else the config's ``[defaults]``, else ``agent/core/defaults.py``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfagent.verifiers.base import VerifyOptions
from tfagent.verifiers.registry import parse_chain

from tfagent.agent.core.config import Config, ConfigError, check_candidates, check_choice, check_flag, load_config
from tfagent.agent.core.config import resolve_endpoint
from tfagent.agent.core.defaults import (CONSTRAIN_MODES, DEFAULT_AUTOFIX, DEFAULT_CANDIDATES, DEFAULT_CONSTRAIN,
                                         DEFAULT_FEEDBACK, DEFAULT_GROUNDING, FEEDBACK_STYLES, GROUNDING_MODES,
                                         MAX_ATTEMPTS, READY_TIMEOUT, default_chain, offline_chain)
from tfagent.agent.core.secrets import redact
from tfagent.agent.core.types import Endpoint
from tfagent.agent.core.verify_options import VerifySettings, build_verify_options
from tfagent.agent.loop.state import RunRequest

MISSING_PROMPT = 'missing PROMPT: tfagent "create a private storage account" [options]'
TERRAFORM_STAGES = {"fmt", "validate", "plan"}
CODE_RUNNING_STAGES = {"compile", "tests"}  # stages that execute generated code (in the sandbox)


@dataclass
class RunSettings(VerifySettings):
    """A run's settings: how to verify (``VerifySettings``), the model server and the loop. None = not
    given (then the config's ``[defaults]``, then ``agent/core/defaults.py``). The names are the
    command line's (``--endpoint`` → ``endpoint_name``, ``--verify`` → ``verify_chain``, ``--all`` →
    ``run_all``), so ``RunSettings.from_flags(params)`` reads a click command's keyword arguments."""

    # the model server
    endpoint_name: str | None = None
    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    seed: int | None = None  # overrides the endpoint's
    temperature: float | None = None  # overrides the endpoint's
    ready_timeout: float | None = None
    # the loop
    verify_chain: str | None = None  # "hcl,fmt,validate"; the names in it cannot be skipped
    max_attempts: int | None = None
    run_all: bool = False  # every stage, not only up to the first failure
    feedback: str | None = None  # FEEDBACK_STYLES
    constrain: str | None = None  # CONSTRAIN_MODES
    candidates: int | None = None
    autofix: bool | None = None
    grounding: str | None = None  # GROUNDING_MODES
    # where the files come from and go (the CLI reads these; build_run_request does not)
    out: Path | None = None
    in_dir: Path | None = None
    resume_id: str | None = None


def _first_set(*values: Any) -> Any:
    """The first value that is not None (a flag, then the config, then the default)."""
    return next(v for v in values if v is not None)


def default_chain_for(mode: str, lang: str | None, has_tests: bool, offline: bool = False) -> list[str]:
    """The verify chain when neither the caller, the endpoint nor ``[defaults]`` names one."""
    if mode == "code":
        from tfagent.verifiers.code.code_lang import default_chain as code_chain

        return list(code_chain(lang or "python", has_tests))
    # plan needs cloud credentials, so it is opt-in (--verify) — except offline, where it needs none.
    return default_chain(mode) if not offline else offline_chain(mode)


def build_run_request(prompt: str | None, settings: RunSettings | None = None, *, mode: str = "terraform",
                      lang: str | None = None, config: Config | None = None, endpoint: Endpoint | None = None,
                      chain: list[str] | None = None, requested: set[str] | None = None,
                      options: VerifyOptions | None = None, given_files: dict[str, str] | None = None,
                      folder: Any = None, run_id: str | None = None) -> RunRequest:
    """The request a run starts from. ``config``: None reads the configuration (an eval passes an empty
    one: its endpoints carry their strategy). What a caller already knows it passes as is: a resolved
    ``endpoint`` (an eval cell's, a resumed run's — the seed and temperature settings are then not
    applied), the ``chain`` and ``requested`` names, built ``options`` (an eval cell's plan offline),
    ``given_files`` or a ``folder`` (``--in``), the ``run_id`` (default: a new one). Inputs are not
    checked here: a new run calls ``check_inputs`` before any model call."""
    s = settings or RunSettings()
    config = config if config is not None else load_config()
    defaults = config.defaults
    if not prompt or not prompt.strip():
        raise ConfigError(MISSING_PROMPT)
    prompt = redact(prompt)  # a prompt that quotes a secret: the model, the store and the output never see it
    if endpoint is None:
        endpoint = resolve_endpoint(config, s.endpoint_name, s.base_url, s.model, s.api_key)
        endpoint.params.update({k: v for k, v in (("seed", s.seed), ("temperature", s.temperature)) if v is not None})
    chain_text = None
    if chain is None:
        endpoint_chain = ",".join(endpoint.verify) if endpoint.verify and mode == "terraform" else None
        chain_text = s.verify_chain or endpoint_chain or (defaults.get("verify") if mode == "terraform" else None)
    if options is None:
        options = build_verify_options(prompt, mode, lang, s, defaults)
    if chain is None:
        chain = parse_chain(chain_text) if chain_text else default_chain_for(mode, lang, bool(s.test_cmd or s.tests_path),
                                                                             offline=options.offline_aws)
    if requested is None:
        requested = set(parse_chain(s.verify_chain)) if s.verify_chain else set()
    if run_id is None:
        from tfagent.agent.loop.runs import new_run_id  # on use: the run store's module imports langgraph

        run_id = new_run_id()
    return RunRequest(
        prompt=prompt.strip(), endpoint=endpoint, mode=mode, chain=list(chain), requested=set(requested),
        max_attempts=s.max_attempts or int(defaults.get("max_attempts", MAX_ATTEMPTS)), options=options,
        given_files=dict(given_files or {}), folder=folder, lang=lang, run_id=run_id,
        ready_timeout=s.ready_timeout or float(defaults.get("ready_timeout", READY_TIMEOUT)),
        fail_fast=not s.run_all,
        feedback=s.feedback or check_choice("[defaults] feedback", defaults.get("feedback"), FEEDBACK_STYLES)
        or DEFAULT_FEEDBACK,
        constrain=s.constrain or check_choice("[defaults] constrain", defaults.get("constrain"), CONSTRAIN_MODES)
        or DEFAULT_CONSTRAIN,
        candidates=s.candidates or check_candidates("[defaults] candidates", defaults.get("candidates"))
        or DEFAULT_CANDIDATES,
        autofix=_first_set(s.autofix, check_flag("[defaults] autofix", defaults.get("autofix")), DEFAULT_AUTOFIX),
        grounding=s.grounding or check_choice("[defaults] grounding", defaults.get("grounding"), GROUNDING_MODES)
        or DEFAULT_GROUNDING,
    )


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
            isolation_level(options.sandbox)
        except SandboxError as exc:
            raise ConfigError(str(exc)) from None
    if not TERRAFORM_STAGES & set(chain):
        return
    from tfagent.verifiers.terraform.engine import TerraformEngine, TerraformUnavailable

    try:
        TerraformEngine.for_options(options)
    except (TerraformUnavailable, ValueError) as exc:
        raise ConfigError(f"terraform: {exc}") from None
