"""What the store hands the metrics: one stored attempt's facts and one complete cell's.

``Store.cell_facts`` builds them from the stored attempts and verdicts; ``reporting/metrics.py`` and
``ladder/metrics.py`` compute every figure from them alone (no I/O).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AttemptFacts:
    """What the metrics need from one stored attempt."""

    number: int
    ok: bool  # the in-loop verifier chain accepted it
    well_formed: bool  # the reply had files and was not cut off
    categories: tuple[str, ...] = ()  # error categories of a failed attempt (each once)
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0  # model + verification time
    repeat: str | None = None  # "same_reply" / "same_errors": the retry repeated the previous attempt
    autofixed: bool = False  # verified only after tfagent applied a rename Terraform or the schema named (--autofix)


@dataclass(frozen=True)
class CellFacts:
    """One complete cell: its attempts in order (the last is where the loop stopped) and the judge's word."""

    endpoint: str
    task_id: str
    sample: int
    attempts: tuple[AttemptFacts, ...]
    judge_ok: bool
    undecided: bool = False  # the judge could not decide here: left out of every rate, counted apart

    @property
    def stop(self) -> int:
        return self.attempts[-1].number

    def solved(self, retries: int) -> bool:
        return self.judge_ok and self.attempts[-1].ok and self.stop <= retries + 1
