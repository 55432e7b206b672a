"""The one way to build `VerifyOptions`: from typed settings (flags, a stored request, an eval plan), the
environment and `[defaults]`, for the CLI run, `--resume`, every eval cell and the judge alike (so an eval
cell verifies as the CLI would)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from tfagent.verifiers.base import VerifyOptions

SANDBOX_ENV = "TFAGENT_SANDBOX"


@dataclass
class VerifySettings:
    """What the command line (or a stored request, or an eval plan) says about verification. None or
    empty = not given: the environment, then the config's ``[defaults]``, then the built-in default.
    The names are the command line's (``--terraform`` → ``terraform_bin``, ``--tests`` → ``tests_path``)."""

    provider_mirror: Path | None = None
    offline_aws: bool | None = None
    terraform_bin: str | None = None  # a binary path, `tofu` or `embedded`
    policies: tuple[Path, ...] = ()  # --policy FILE|DIR
    no_builtin_policies: bool = False
    sandbox: str | None = None  # generated code's isolation level
    test_cmd: str | None = None  # code mode: the user's test command
    tests_path: Path | None = None  # code mode: the user's tests

    @classmethod
    def from_flags(cls, flags: Mapping[str, Any], **given: Any):
        """The settings among ``flags`` (a click command's keyword arguments: other keys are ignored,
        None is "not given"), then ``given``."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in {**flags, **given}.items() if k in known and v is not None})


def build_verify_options(prompt: str, mode: str, lang: str | None, settings: VerifySettings | None = None,
                         defaults: Mapping[str, Any] | None = None, *, offline_aws: bool | None = None) -> VerifyOptions:
    """``settings``: what the command line (or a stored request, or an eval plan) says; ``defaults``: the
    config's [defaults] table. ``offline_aws`` forces the offline plan (the eval's judge must plan
    without credentials whatever the user's config says)."""
    s, defaults = settings or VerifySettings(), defaults or {}
    mirror = s.provider_mirror or defaults.get("provider_mirror")
    policies = [Path(x) for x in (s.policies or ())] or [Path(x) for x in defaults.get("policy", [])]
    # flag > environment > config key; unset means "auto" (the best level, else refuse)
    sandbox = s.sandbox or os.environ.get(SANDBOX_ENV) or defaults.get("sandbox")
    if offline_aws is None:
        offline_aws = bool(defaults.get("offline_aws", False) if s.offline_aws is None else s.offline_aws)
    return VerifyOptions(
        prompt=prompt,
        mode=mode,
        provider_mirror=Path(mirror) if mirror else None,
        offline_aws=offline_aws,
        policies=policies,
        builtin_policies=not (s.no_builtin_policies or defaults.get("no_builtin_policies")),
        lang=lang,
        test_cmd=s.test_cmd,
        tests=Path(s.tests_path) if s.tests_path else None,
        terraform=s.terraform_bin or defaults.get("terraform") or None,
        sandbox=sandbox or None,
        # Offline, data sources that call the AWS API can only be planned as "read at apply time".
        defer_data_sources=offline_aws,
    )
