"""Undecided: when the machine, not the files, stopped a verifier from deciding (pure; no I/O).

The eval's judge (``evals/judging/judge.py``) and ``tfagent verify`` (exit code ``EXIT_ENVIRONMENT``) read the
same causes from a verdict's diagnostics:

- a provider that exists in the public registry but cannot be installed here (not in the provider
  mirror, or not in a version the configuration accepts) — validate/plan's "Provider … is not available";
  a hallucinated type's provider (``s3_bucket`` → hashicorp/s3) is an unknown resource type instead;
- ``file()`` and its kin reading a path outside the configuration (``~/.ssh/…``, an absolute path), which
  the files' author cannot ship and this machine lacks;
- a data source that needs the AWS API, offline (plan stops there; no plan JSON);
- a Rego builtin regopy does not implement (the policy was not evaluated).
"""

from __future__ import annotations

import re
from pathlib import Path

from tfagent.prompts import render_line
from tfagent.verifiers.base import Verdict

OFFLINE_DATA_SOURCE = "offline_data_source"  # the plan verifier's rule for data sources needing the AWS API
_NO_FILE = re.compile(r'no file exists at "?([^";\s]+)"?')
_ADDRESS = re.compile(r"\b(?:[\w.-]+/)?([\w-]+/[\w-]+)\b")


def undecided_reason(verdict: Verdict, workdir: Path | str) -> str | None:
    """Why ``verdict`` says nothing about the files but about this machine, or None.

    A failed verdict is undecided only through an error it names (a missing provider, a file outside the
    configuration); a passed one through a warning that says a check did not run (offline data source,
    unsupported Rego builtin)."""
    from tfagent.verifiers.terraform.validate import KNOWN_PROVIDERS

    for diag in verdict.errors:
        text = f"{diag.summary} {diag.detail or ''}"
        missing = _NO_FILE.search(text)
        if missing and outside(missing.group(1), Path(workdir)):
            return f"reads {missing.group(1)}, a file outside the configuration this machine does not have"
        if diag.category != "provider":
            continue
        address = _ADDRESS.search(diag.summary)
        source = address.group(1) if address else ""
        if source and diag.summary == render_line("diag_provider_unavailable", address=source) \
                and source.split("/")[-1] in KNOWN_PROVIDERS:
            return (f"provider {source} cannot be installed here (not in the provider mirror in a version the "
                    f"configuration accepts)")
    if verdict.errors:
        return None
    for diag in verdict.diagnostics:
        if diag.rule == OFFLINE_DATA_SOURCE and not verdict.artifacts.get("plan_json"):
            return f"plan needs the AWS API: {diag.summary}"
        if diag.rule and diag.summary == render_line("diag_rego_unsupported_builtin", builtin=diag.rule):
            return f"Rego builtin {diag.rule} is not supported by regopy: the policy was not evaluated"
    return None


def folder_undecided(verdicts: list[Verdict], workdir: Path | str) -> str | None:
    """Why the machine, not the files, left a folder's result open: every failed stage failed for an
    environment reason, or a passed stage could not run a check."""
    failed = [v for v in verdicts if not v.ok]
    reasons = [undecided_reason(v, workdir) for v in (failed or verdicts)]
    if failed:
        return reasons[0] if all(reasons) else None
    return next((r for r in reasons if r), None)


def outside(path: str, workdir: Path) -> bool:
    """Whether ``path`` (as ``file()`` got it) lies outside ``workdir``."""
    if path.startswith(("~", "/")):
        return not Path(path).expanduser().resolve().is_relative_to(workdir.resolve())
    return not (workdir / path).resolve().is_relative_to(workdir.resolve())
