"""The graph's typed state and the request that starts a run.

State holds only plain JSON-able data (so the SQLite checkpointer can persist it and ``--resume``
can continue an interrupted run); live objects (the model client, verifier instances) live in
``nodes.Runtime`` and are rebuilt on resume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from tfagent.agent.core.defaults import MAX_ATTEMPTS, READY_TIMEOUT, default_chain
from tfagent.verifiers.base import VerifyOptions

from tfagent.agent.core.defaults import DEFAULT_AUTOFIX, DEFAULT_CANDIDATES, DEFAULT_CONSTRAIN, DEFAULT_FEEDBACK, DEFAULT_GROUNDING
from tfagent.agent.core.types import Attempt, Endpoint


class AgentState(TypedDict, total=False):
    messages: list[dict[str, str]]  # the conversation the next request sends, verbatim
    attempts: list[dict[str, Any]]  # Attempt.to_dict() of every finished attempt
    verified: bool
    pending: dict[str, Any] | None  # the attempt between generate and record
    candidates: list[dict[str, Any]] | None  # --candidates: every sample's attempt, between generate and verify


@dataclass
class RunRequest:
    prompt: str
    endpoint: Endpoint
    mode: str = "terraform"  # "terraform" | "code"
    chain: list[str] = field(default_factory=lambda: default_chain("terraform"))
    requested: set[str] = field(default_factory=set)  # verifiers the user named (cannot be skipped)
    max_attempts: int = MAX_ATTEMPTS
    options: VerifyOptions = field(default_factory=VerifyOptions)
    given_files: dict[str, str] = field(default_factory=dict)  # files the model starts from
    folder: Any = None  # --in: the folder.Folder the run changes (its files are shown, the whole of it verified)
    lang: str | None = None  # code mode
    run_id: str | None = None
    ready_timeout: float = READY_TIMEOUT
    fail_fast: bool = True
    feedback_budget_tokens: int = 1500
    feedback: str = DEFAULT_FEEDBACK  # FEEDBACK_STYLES (an endpoint's own setting wins)
    constrain: str = DEFAULT_CONSTRAIN  # CONSTRAIN_MODES (an endpoint's own setting wins)
    candidates: int = DEFAULT_CANDIDATES  # samples of the first request (an endpoint's own setting wins)
    autofix: bool = DEFAULT_AUTOFIX  # apply renames Terraform names, re-verify once (an endpoint's own setting wins)
    grounding: str = DEFAULT_GROUNDING  # GROUNDING_MODES (an endpoint's own setting wins)

    @property
    def feedback_style(self) -> str:
        return self.endpoint.feedback or self.feedback

    @property
    def schema_feedback(self) -> bool:
        """Feedback grounded in the provider schema (``schema``, and ``restate`` which builds on it)."""
        return self.feedback_style in ("schema", "restate")

    @property
    def constrain_mode(self) -> str:
        return self.endpoint.constrain or self.constrain

    @property
    def grounding_mode(self) -> str:
        return self.endpoint.grounding or self.grounding

    @property
    def candidate_count(self) -> int:
        return self.endpoint.candidates if self.endpoint.candidates is not None else self.candidates

    @property
    def autofix_enabled(self) -> bool:
        return self.endpoint.autofix if self.endpoint.autofix is not None else self.autofix
    artifacts_root: Path | None = None  # where attempt artifacts (plan.json) go; default: state dir/runs


def initial_state(messages: list[dict[str, str]], history: list[Attempt] | None) -> AgentState:
    """The state a run starts from; with ``history`` (stored attempts) the conversation is rebuilt
    exactly as it was sent, so a resumed run continues with a byte-identical prefix."""
    if not history:
        return {"messages": messages, "attempts": [], "verified": False}
    last = history[-1]
    convo = list(last.messages)
    if not last.ok:
        convo += [{"role": "assistant", "content": last.reply}, {"role": "user", "content": last.feedback}]
    return {"messages": convo, "attempts": [a.to_dict() for a in history], "verified": last.ok}


def is_done(state: AgentState, max_attempts: int) -> bool:
    return bool(state.get("verified")) or len(state.get("attempts", [])) >= max_attempts
