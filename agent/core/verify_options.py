"""The one way to build `VerifyOptions`: from flags, the environment and `[defaults]`, for the CLI
run, `--resume`, every eval cell and the judge alike (so an eval cell verifies as the CLI would)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tfagent.verifiers.base import VerifyOptions

SANDBOX_ENV = "TFAGENT_SANDBOX"


def build_verify_options(prompt: str, mode: str, lang: str | None, settings: dict[str, Any] | None = None,
                         defaults: dict[str, Any] | None = None, *, offline_aws: bool | None = None) -> VerifyOptions:
    """``settings``: what the command line (or a stored request, or an eval plan) says — keys
    provider_mirror, policies, offline_aws, terraform_bin, sandbox, test_cmd, tests_path,
    no_builtin_policies; ``defaults``: the config's [defaults] table. ``offline_aws`` forces the
    offline plan (the eval's judge must plan without credentials whatever the user's config says)."""
    p, defaults = settings or {}, defaults or {}
    mirror = p.get("provider_mirror") or defaults.get("provider_mirror")
    policies = [Path(x) for x in (p.get("policies") or ())] or [Path(x) for x in defaults.get("policy", [])]
    extra: dict[str, Any] = {}
    terraform_bin = p.get("terraform_bin") or defaults.get("terraform")
    if terraform_bin:
        extra["terraform"] = terraform_bin
    sandbox = p.get("sandbox") or os.environ.get(SANDBOX_ENV) or defaults.get("sandbox")
    if sandbox:  # flag > environment > config key; unset means "auto" (the best level, else refuse)
        extra["sandbox"] = sandbox
    if offline_aws is None:
        flag = p.get("offline_aws")
        offline_aws = bool(defaults.get("offline_aws", False) if flag is None else flag)
    if offline_aws:
        # Offline, data sources that call the AWS API can only be planned as "read at apply time".
        extra["defer_data_sources"] = True
    return VerifyOptions(
        prompt=prompt,
        mode=mode,
        provider_mirror=Path(mirror) if mirror else None,
        offline_aws=offline_aws,
        policies=policies,
        builtin_policies=not (p.get("no_builtin_policies") or defaults.get("no_builtin_policies")),
        lang=lang,
        test_cmd=p.get("test_cmd"),
        tests=Path(p["tests_path"]) if p.get("tests_path") else None,
        extra=extra,
    )
