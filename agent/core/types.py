"""Plain data shared by the agent, the eval runner and the git publisher.

Kept free of behaviour so every layer can import it without import cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tfagent.verifiers.base import Diagnostic, Verdict

# Request parameters an endpoint may set; passed to chat.completions.create (chat_template_kwargs via
# extra_body, since it is not part of the OpenAI schema).
REQUEST_PARAMS = ("temperature", "top_p", "seed", "max_tokens", "chat_template_kwargs")


@dataclass
class Endpoint:
    """A named OpenAI-compatible server + model ("a quant")."""

    name: str
    base_url: str  # e.g. http://127.0.0.1:8080/v1
    model: str
    api_key: str | None = None  # resolved secret; never logged, never put in a prompt
    api_key_env: str | None = None  # where the key came from
    bpw: float | None = None  # bits per weight
    params: dict[str, Any] = field(default_factory=dict)  # subset of REQUEST_PARAMS
    feedback: str | None = None  # FEEDBACK_STYLES; None: the run's setting
    constrain: str | None = None  # CONSTRAIN_MODES; None: the run's setting
    candidates: int | None = None  # samples of the first request (--candidates); None: the run's setting
    autofix: bool | None = None  # apply renames Terraform names (--autofix); None: the run's setting
    grounding: str | None = None  # GROUNDING_MODES; None: the run's setting
    verify: list[str] | None = None  # the in-loop verifier chain for this endpoint; None: the run's (task's) chain

    def public_dict(self) -> dict[str, Any]:
        """What may be shown or stored: never the key itself."""
        return {
            "name": self.name,
            "base_url": self.base_url,
            "model": self.model,
            "bpw": self.bpw,
            "params": dict(self.params),
            **({"feedback": self.feedback} if self.feedback else {}),
            **({"constrain": self.constrain} if self.constrain else {}),
            **({"candidates": self.candidates} if self.candidates is not None else {}),
            **({"autofix": self.autofix} if self.autofix is not None else {}),
            **({"grounding": self.grounding} if self.grounding else {}),
            **({"verify": list(self.verify)} if self.verify else {}),
            "api_key_env": self.api_key_env,
        }


# Where Usage.prompt_tokens came from: the server's own usage, a count through the server's tokenize
# endpoint (message text; vLLM's applies the chat template), or nowhere — shown as "not reported", never 0.
PROMPT_SOURCES = ("server", "tokenize", "not reported")
# The server's own timings kept per attempt (llama.cpp names): prompt and decode time, prefix-cache
# hit, and speculative drafts proposed / accepted.
TIMING_KEYS = ("prompt_n", "prompt_ms", "cache_n", "predicted_n", "predicted_ms", "draft_n", "draft_n_accepted")


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int | None = None  # usage.prompt_tokens_details.cached_tokens or llama.cpp timings.cache_n
    prompt_source: str = "server"  # one of PROMPT_SOURCES
    timings: dict[str, float] | None = None  # subset of TIMING_KEYS, as the server reported them

    @property
    def prompt_reported(self) -> bool:
        return self.prompt_source != "not reported"

    @property
    def draft_acceptance(self) -> float | None:
        """Accepted / proposed speculative draft tokens; None when nothing was drafted."""
        t = self.timings or {}
        return t["draft_n_accepted"] / t["draft_n"] if t.get("draft_n") else None

    @property
    def decode_tokens_per_second(self) -> float | None:
        t = self.timings or {}
        return t["predicted_n"] * 1000 / t["predicted_ms"] if t.get("predicted_ms") and t.get("predicted_n") else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens if self.prompt_reported else None,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "prompt_source": self.prompt_source,
            "timings": self.timings,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Usage":
        d = d or {}
        source = d.get("prompt_source") or ("server" if d.get("prompt_tokens") is not None else "not reported")
        return cls(int(d.get("prompt_tokens") or 0), int(d.get("completion_tokens") or 0), d.get("cached_tokens"),
                   source, d.get("timings"))


@dataclass
class Completion:
    """One model reply, as the model client returns it."""

    text: str  # content with nothing removed (reasoning in <think> is stripped later by replies.py)
    reasoning: str = ""  # reasoning_content, when the server separates it
    finish_reason: str | None = None  # "stop", "length", ...
    usage: Usage = field(default_factory=Usage)
    ttft: float | None = None  # seconds to the first streamed token
    seconds: float = 0.0  # wall time of the request (including transport retries)
    transport_retries: int = 0  # never counted as verify attempts


@dataclass
class Attempt:
    """One generate → verify round."""

    number: int  # 1-based
    messages: list[dict[str, str]]  # the exact request messages sent for this attempt
    reply: str = ""  # raw reply content
    reasoning: str = ""
    finish_reason: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # path -> content after verification (fmt'ed)
    verdicts: list[Verdict] = field(default_factory=list)
    reply_diagnostics: list[Diagnostic] = field(default_factory=list)  # reply contract violations
    ok: bool = False
    feedback: str = ""  # the user turn this attempt's failure produced (empty when ok / last)
    usage: Usage = field(default_factory=Usage)
    ttft: float | None = None
    model_seconds: float = 0.0
    verify_seconds: float = 0.0
    transport_retries: int = 0
    repeat: str | None = None  # "same_reply" / "same_errors": this attempt repeated the previous one
    sampling: dict[str, Any] = field(default_factory=dict)  # request parameters changed for this attempt
    notes: list[str] = field(default_factory=list)  # what the loop changed in the request (context fit, grammar fallback)
    deleted: list[str] = field(default_factory=list)  # --in: files the reply deletes (agent/loop/folder.py)
    # --candidates: one entry per sample of the first request (index, seed, temperature, ok, errors, usage,
    # model/verify seconds, chosen, reply); ``usage``/``model_seconds``/``verify_seconds`` above are the
    # sums over all of them (what the attempt cost), ``chosen_usage`` the chosen one's (its conversation).
    candidates: list[dict[str, Any]] = field(default_factory=list)
    autofix: list[dict[str, Any]] = field(default_factory=list)  # renames applied: {file, line, from, to, why}

    @property
    def chosen_usage(self) -> "Usage":
        """The usage of the reply that is in the conversation (the chosen candidate's, else the attempt's)."""
        for c in self.candidates:
            if c.get("chosen"):
                return Usage.from_dict(c.get("usage"))
        return self.usage

    @property
    def autofixed(self) -> bool:
        """Verified only after tfagent applied a rename Terraform or the schema named."""
        return self.ok and bool(self.autofix)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        out = list(self.reply_diagnostics)
        for v in self.verdicts:
            out.extend(v.diagnostics)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "ok": self.ok,
            "messages": self.messages,
            "reply": self.reply,
            "reasoning": self.reasoning,
            "finish_reason": self.finish_reason,
            "files": self.files,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "reply_diagnostics": [d.to_dict() for d in self.reply_diagnostics],
            "feedback": self.feedback,
            "usage": self.usage.to_dict(),
            "ttft": self.ttft,
            "model_seconds": round(self.model_seconds, 4),
            "verify_seconds": round(self.verify_seconds, 4),
            "transport_retries": self.transport_retries,
            "repeat": self.repeat,
            "sampling": dict(self.sampling),
            "notes": list(self.notes),
            **({"deleted": list(self.deleted)} if self.deleted else {}),
            **({"candidates": [dict(c) for c in self.candidates]} if self.candidates else {}),
            **({"autofix": [dict(f) for f in self.autofix]} if self.autofix else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Attempt":
        return cls(
            number=int(d["number"]),
            messages=list(d.get("messages", [])),
            reply=d.get("reply", ""),
            reasoning=d.get("reasoning", ""),
            finish_reason=d.get("finish_reason"),
            files=dict(d.get("files", {})),
            verdicts=[Verdict.from_dict(v) for v in d.get("verdicts", [])],
            reply_diagnostics=[Diagnostic.from_dict(x) for x in d.get("reply_diagnostics", [])],
            ok=bool(d.get("ok")),
            feedback=d.get("feedback", ""),
            usage=Usage.from_dict(d.get("usage")),
            ttft=d.get("ttft"),
            model_seconds=float(d.get("model_seconds", 0.0)),
            verify_seconds=float(d.get("verify_seconds", 0.0)),
            transport_retries=int(d.get("transport_retries", 0)),
            repeat=d.get("repeat"),
            sampling=dict(d.get("sampling") or {}),
            notes=list(d.get("notes") or []),
            deleted=list(d.get("deleted") or []),
            candidates=[dict(c) for c in d.get("candidates") or []],
            autofix=[dict(f) for f in d.get("autofix") or []],
        )


@dataclass
class RunResult:
    run_id: str
    prompt: str
    mode: str
    endpoint: dict[str, Any]  # Endpoint.public_dict()
    chain: list[str]
    ok: bool
    attempts: list[Attempt]
    files: dict[str, str]  # the final files (those of the last attempt that produced files)
    max_attempts: int
    skipped_verifiers: dict[str, str] = field(default_factory=dict)
    # --in: what the run changes in the folder (Folder.change_record: diff, added/modified/deleted, the
    # problems the folder had before); None for a run that writes new files
    change: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "prompt": self.prompt,
            "mode": self.mode,
            "endpoint": self.endpoint,
            "chain": self.chain,
            "ok": self.ok,
            "max_attempts": self.max_attempts,
            "skipped_verifiers": self.skipped_verifiers,
            "attempts": [a.to_dict() for a in self.attempts],
            "files": self.files,
            **({"change": self.change} if self.change is not None else {}),
        }


def fix_change(fix: dict[str, Any]) -> tuple[str, str]:
    """How an applied autofix reads to people (CLI, PR body, feedback): (before, after). A ``block_syntax``
    fix keeps the name and changes ``NAME = {`` into ``NAME {``, so showing the name twice would hide it."""
    if fix.get("kind") == "block_syntax":
        return f"{fix['from']} = {{", f"{fix['to']} {{"
    return str(fix["from"]), str(fix["to"])
