"""Reading stored judge verdicts under either judge (no I/O, no Terraform: the store and reports use it).

A verdict dict (``JudgeVerdict.to_dict``) holds the strict verdict at the top (``ok``, ``checks``,
``undecided``) and the fair one under ``fair`` (absent in stores judged before the fair judge existed).
"""

from __future__ import annotations

from typing import Any

JUDGES = ("strict", "fair")
JUDGE_CHOICES = ("strict", "fair", "both")


class NoFairVerdict(LookupError):
    """A stored verdict was judged before the fair judge existed: rescore the run to add it."""


def stored_undecided(verdict: dict[str, Any]) -> str | None:
    """The undecided reason of a stored verdict (stores written before the rename call it ``unsupported``)."""
    return verdict.get("undecided") or verdict.get("unsupported")


def verdict_outcome(verdict: dict[str, Any], judge: str) -> tuple[bool, str | None]:
    """(ok, undecided reason) of a stored verdict dict under ``judge`` ("strict" or "fair")."""
    if judge not in JUDGES:
        raise ValueError(f"unknown judge {judge!r} (known: {', '.join(JUDGES)})")
    if judge == "strict":
        undecided = stored_undecided(verdict)
        return bool(verdict["ok"]) and not undecided, undecided
    fair = verdict.get("fair")
    if not isinstance(fair, dict):
        raise NoFairVerdict("this verdict has no fair judgment")
    undecided = fair.get("undecided")
    return bool(fair["ok"]) and not undecided, undecided




def judges_of(choice: str) -> tuple[str, ...]:
    """``--judge strict|fair|both`` → the judges to report, the first one primary."""
    if choice not in JUDGE_CHOICES:
        raise ValueError(f"--judge must be one of {', '.join(JUDGE_CHOICES)}, got {choice!r}")
    return JUDGES if choice == "both" else (choice,)
