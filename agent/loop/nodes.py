"""The graph's nodes: small functions over ``AgentState`` plus a ``Runtime`` of live objects."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from tfagent.prompts import render
from tfagent.verifiers.base import error
from tfagent.verifiers.registry import Chain
from tfagent.verifiers.scratch import verify_files

from tfagent.agent.loop import feedback as fb
from tfagent.agent.loop.autofix import apply_autofix, autofix_preamble
from tfagent.agent.loop.candidates import candidate_count, generate_candidates, verify_candidates
from tfagent.agent.loop.environment import check_environment
from tfagent.agent.loop.context_fit import estimated_tokens, shrink
from tfagent.agent.loop.feedback import estimate_tokens
from tfagent.agent.loop.grounding import Grounding, grounded_request, grounding_for, wants_grounding
from tfagent.agent.loop.grammar import GRAMMAR_FIELDS, build_grammar, grammar_params, is_grammar_rejection
from tfagent.agent.loop.schema_feedback import SAME_REPLY, build_schema_feedback, repeat_kind
from tfagent.verifiers.terraform.schema_index import SchemaIndex, SchemaIndexError, index_in, provider_index
from tfagent.agent.model.client import ModelClient, ModelError
from tfagent.agent.model.context import ContextOverflow
from tfagent.agent.loop.replies import MAX_FILES, MAX_TOTAL_BYTES, parse_reply
from tfagent.agent.core.secrets import hardcoded_in, redact
from tfagent.agent.loop.state import AgentState, RunRequest
from tfagent.agent.core.defaults import ESCALATION_TEMPERATURE
from tfagent.agent.core.types import Attempt, Completion

EventSink = Callable[[str, dict[str, Any]], None]


@dataclass
class ReplyFormat:
    default_name: str
    accept_langs: tuple[str, ...]
    join_unlabeled: bool
    fence: str


def reply_format(mode: str, lang: str | None) -> ReplyFormat:
    if mode == "code":
        from tfagent.verifiers.code.code_lang import language

        spec = language(lang or "python")
        return ReplyFormat(spec.default_file, tuple(spec.fence_tags) + ("",), False, spec.fence_tags[0])
    return ReplyFormat("main.tf", ("hcl", "terraform", "tf", ""), True, "hcl")


def first_messages(request: RunRequest, grounding: Grounding | None = None) -> list[dict[str, str]]:
    """System + first user turn. The system prompt is a fixed template — nothing in it changes
    between attempts or runs, so the server's prefix cache keeps working; ``grounding`` (the schema
    cards of ``--grounding schema``) goes into the user turn, after the task."""
    if request.mode == "code":
        from tfagent.verifiers.code.code_lang import code_request_vars

        system = render("code_system")
        user = render("code_request", **code_request_vars(request.prompt, request.lang or "python", request.options))
    else:
        system = render("terraform_system")
        user = render("terraform_request", prompt=request.prompt)
        if grounding is not None:
            user = grounded_request(user, grounding)
    if request.given_files:
        listing = "\n\n".join(render("file_block", fence=Path(p).suffix.lstrip(".") or "text", path=p, body=body.rstrip())
                                for p, body in sorted(request.given_files.items()))
        user = render("given_files", prompt=user.strip(), files=listing)
    if request.folder is not None:  # --in: the folder's files and how to change them (agent/loop/folder.py)
        user = request.folder.first_turn(user)
    return [{"role": "system", "content": system.strip()}, {"role": "user", "content": redact(user.strip())}]


@dataclass
class Runtime:
    request: RunRequest
    client: ModelClient
    chain: Chain
    run_dir: Path
    on_event: EventSink | None = None
    grammar_rejected: bool = False
    schema_index: SchemaIndex | None = None  # for --constrain schema before any verification built one

    def emit(self, kind: str, **data: Any) -> None:
        if self.on_event is not None:
            self.on_event(kind, data)

    def first_messages(self) -> list[dict[str, str]]:
        """The first request, with the schema cards when ``--grounding schema`` asks for them (their
        budget from the server's context; the catalogue is the provider schema index)."""
        return first_messages(self.request, self.grounding())

    def grounding(self) -> Grounding | None:
        if wants_grounding(self.request) and self.schema_index is None:
            try:
                self.schema_index = provider_index(self.request.options)
            except SchemaIndexError as exc:
                self.emit("note", text=f"--grounding schema: the provider schema could not be read ({exc}); "
                                       "the first request carries the sentence alone")
                return None
        found, note = grounding_for(self.request, self.schema_index, self.client.context_size())
        if note:
            self.emit("note", text=note)
        if found is not None:
            self.emit("grounding", types=found.types, tokens=estimate_tokens(found.text))
        return found

    def _grammar(self) -> str | None:
        mode = self.request.constrain_mode
        if mode == "off" or self.grammar_rejected or self.request.mode != "terraform":
            return None
        if mode == "schema" and self.schema_index is None:
            self.schema_index = provider_index(self.request.options)
        return build_grammar(mode, self.schema_index, self.request.prompt)

    # -- nodes -------------------------------------------------------------------------------
    def generate(self, state: AgentState) -> dict[str, Any]:
        number = len(state.get("attempts", [])) + 1
        self.emit("attempt_start", number=number, max_attempts=self.request.max_attempts)
        self.emit("phase", phase="generating", number=number)
        messages, notes = self._fitted(list(state["messages"]), state.get("attempts") or [])
        if restating(self.request, state.get("attempts", [])):
            messages = fb.restated(messages)
            notes.append("the previous reply repeated the one before it: this retry restates it in one fresh turn")
            self.emit("note", text=notes[-1])
        count = candidate_count(self.request, state.get("attempts", []))
        if count > 1:
            return generate_candidates(self, number, messages, notes, count)
        sampling = escalated_sampling(self.request, state.get("attempts", []), number)
        attempt = self.ask(number, messages, sampling, notes)
        return {"pending": attempt.to_dict()}

    def ask(self, number: int, messages: list[dict[str, str]], sampling: dict[str, Any], notes: list[str],
            on_progress: Callable[[int, float], None] | None = None) -> Attempt:
        """One request (grammar fallback and context trimming included) and the attempt its reply makes.
        Safe to call from several threads at once (``--candidates``): the client is shared."""
        grammar = self._grammar()
        progress = on_progress or (lambda tokens, elapsed: self.emit("progress", tokens=tokens, elapsed=elapsed))
        while True:
            params = {**sampling, **(grammar_params(GRAMMAR_FIELDS["llama.cpp"], grammar) if grammar else {})}
            try:
                completion = self.client.complete(messages, on_progress=progress, params=params or None)
                break
            except ContextOverflow:
                smaller = shrink(messages)
                if smaller is None:
                    raise  # nothing left to drop: the run ends with its own outcome (cli/runner.py)
                messages, note = smaller
                notes.append(note)
                self.emit("context_trimmed", number=number, note=note)
            except ModelError as exc:
                if not grammar or not is_grammar_rejection(exc.status, str(exc)):
                    raise
                self.grammar_rejected = True  # once per run: the server does not take grammars
                grammar = None
                notes.append(f"the server rejected the grammar ({str(exc)[:160]}); continuing without --constrain")
                self.emit("note", text=notes[-1])
        attempt = self._attempt_from(number, messages, completion)
        attempt.sampling = sampling
        attempt.notes = notes
        return attempt

    def _fitted(self, messages: list[dict[str, str]], attempts: list[dict[str, Any]]) -> tuple[list[dict[str, str]], list[str]]:
        """Check the retry against the server's context before sending it (its size from the server,
        the request's from the server's own count of the previous one); shrink what cannot fit."""
        notes: list[str] = []
        size = self.client.context_size() if attempts else None
        if not size:
            return messages, notes
        last = Attempt.from_dict(attempts[-1])
        used = last.chosen_usage  # the reply in the conversation (with --candidates, not the sum of all samples)
        needed = estimated_tokens(used.prompt_tokens, used.completion_tokens, last.feedback)
        if needed < size:
            return messages, notes
        smaller = shrink(messages)
        if smaller is not None:
            messages, note = smaller
            notes.append(f"{note} (about {needed} tokens, the server's context is {size})")
            self.emit("context_trimmed", number=len(attempts) + 1, note=notes[-1])
        return messages, notes

    def _attempt_from(self, number: int, messages: list[dict[str, str]], c: Completion) -> Attempt:
        fmt = reply_format(self.request.mode, self.request.lang)
        # The reply is kept redacted (state, run store, --json, the next request): a model may echo a
        # secret. Files that hard-code a secret's value fail the attempt, and are never kept.
        attempt = Attempt(
            number=number, messages=messages, reply=redact(c.text), reasoning=c.reasoning, finish_reason=c.finish_reason,
            usage=c.usage, ttft=c.ttft, model_seconds=c.seconds, transport_retries=c.transport_retries,
        )
        parsed = parse_reply(c.text, c.reasoning, default_name=fmt.default_name, accept_langs=fmt.accept_langs, join_unlabeled=fmt.join_unlabeled)
        deleted: list[str] = []
        if self.request.folder is not None:  # --in: only shown or new files, DELETE FILE lines
            parsed, deleted = self.request.folder.check_reply(parsed, c.text)
        attempt.reasoning = redact(parsed.reasoning) if parsed.reasoning else parsed.reasoning
        leaked = hardcoded_in([*parsed.files.keys(), *parsed.files.values()])
        if leaked:
            attempt.reply_diagnostics = [error(f"the reply hard-codes the value of {', '.join(leaked)}", source="reply",
                                               category="secret")]
            attempt.feedback = fb.hardcoded_secret_feedback(leaked)
        elif c.finish_reason == "length":
            tokens = c.usage.completion_tokens
            attempt.reply_diagnostics = [error(f"reply cut off after {tokens} tokens", source="reply", category="cutoff")]
            attempt.feedback = fb.cutoff_feedback(tokens)
        elif parsed.diagnostics:
            attempt.reply_diagnostics = parsed.diagnostics
            attempt.feedback = fb.rejected_files_feedback(parsed.diagnostics, MAX_FILES, MAX_TOTAL_BYTES)
        elif not parsed.files and not deleted:
            attempt.reply_diagnostics = [error("the reply contained no file", source="reply", category="no_code")]
            attempt.feedback = fb.no_files_feedback(fmt.fence, fmt.default_name)
        else:
            attempt.files = parsed.files
            attempt.deleted = deleted
        if self.request.folder is not None:
            self.request.folder.reply_feedback(attempt)
        return attempt

    def verify(self, state: AgentState) -> dict[str, Any]:
        previous = Attempt.from_dict(state["attempts"][-1]) if state.get("attempts") else None
        if state.get("candidates"):
            return verify_candidates(self, state["candidates"], previous)
        attempt = Attempt.from_dict(state["pending"])
        self.emit("phase", phase="verifying", number=attempt.number)
        self.check(attempt, previous)
        return {"pending": attempt.to_dict()}

    def check(self, attempt: Attempt, previous: Attempt | None, artifacts_name: str | None = None) -> Attempt:
        """Run the chain on the attempt's files (then ``--autofix``) and write its feedback, in place."""
        files = {**self.request.given_files, **attempt.files}
        artifacts_dir = self.run_dir / (artifacts_name or f"attempt-{attempt.number}")
        artifacts_dir.mkdir(parents=True, exist_ok=True)
        options = replace(self.request.options, artifacts_dir=artifacts_dir)  # kept: the run's record
        if self.request.schema_feedback or self.request.autofix_enabled:
            options = replace(options, schema_index=True)
        attempt.verdicts, attempt.files = self.run_chain(files, options, attempt.deleted)
        check_environment(attempt, self.request.options.provider_mirror)  # the machine's failure ends the run
        attempt.verify_seconds = sum(v.seconds for v in attempt.verdicts)
        attempt.ok = all(v.ok for v in attempt.verdicts)
        if self.request.folder is not None:  # --in: problems the folder had before do not count
            attempt.ok = self.request.folder.passes(attempt.verdicts)
        if not attempt.ok and self.request.autofix_enabled and self.request.mode == "terraform":
            apply_autofix(self, attempt, options)
        if not attempt.ok:
            failed = [v.verifier for v in attempt.verdicts if not v.ok]
            diags = [d for v in attempt.verdicts for d in v.diagnostics]
            excerpts, before = attempt.files, []
            if self.request.folder is not None:  # --in: "you broke" apart from "was already broken"
                diags, before = self.request.folder.split(diags)
                excerpts = self.request.folder.excerpt_files(attempt.files, attempt.deleted)
            attempt.repeat = repeat_of(previous, attempt)
            budget = self.request.feedback_budget_tokens
            if self.request.schema_feedback:
                index = index_in(attempt.verdicts)
                self.schema_index = index or self.schema_index
                text = build_schema_feedback(diags, excerpts, index, stage=", ".join(failed),
                                             budget_tokens=budget, repeat=attempt.repeat)
            else:
                text = fb.build_feedback(diags, excerpts, stage=", ".join(failed), budget_tokens=budget)
            if self.request.folder is not None:
                text = self.request.folder.feedback(text, before)
            attempt.feedback = redact(autofix_preamble(attempt) + text)
        return attempt

    def run_chain(self, files: dict[str, str], options, deleted: list[str] | tuple = ()) -> tuple[list, dict[str, str]]:
        """The chain on a scratch copy of ``files`` (``verify_files``): its verdicts and the files as
        verified (fmt'ed). With ``--in``: the whole folder with ``files`` written and ``deleted`` removed."""
        folder = self.request.folder
        checked = verify_files(self.chain, files, options, source=folder.lay_out if folder is not None else None,
                               deleted=deleted if folder is not None else (), fail_fast=self.request.fail_fast)
        return checked.verdicts, checked.files

    def record(self, state: AgentState) -> dict[str, Any]:
        """Close the attempt: append it, and extend the conversation for the next one. The next
        request is exactly the previous one + the model's reply + one feedback turn."""
        attempt = Attempt.from_dict(state["pending"])
        update: dict[str, Any] = {"attempts": [*state.get("attempts", []), attempt.to_dict()], "pending": None,
                                  "candidates": None}
        if attempt.ok:
            update["verified"] = True
        else:
            update["messages"] = [
                *state["messages"],
                {"role": "assistant", "content": attempt.reply},
                {"role": "user", "content": attempt.feedback},
            ]
        self.emit("attempt_done", attempt=attempt)
        return update


def repeat_of(previous: Attempt | None, attempt: Attempt) -> str | None:
    """Did this attempt repeat the previous one (same reply, or the same errors again)?"""
    if previous is None:
        return None
    if previous.reply.strip() == attempt.reply.strip():
        return SAME_REPLY
    errors = [d for d in attempt.diagnostics if d.severity == "error"]
    return repeat_kind(previous.files, attempt.files, [d for d in previous.diagnostics if d.severity == "error"], errors)


def restating(request: RunRequest, attempts: list[dict[str, Any]]) -> bool:
    """``--feedback restate``: the previous reply was byte for byte the one before it."""
    return request.feedback_style == "restate" and bool(attempts) and attempts[-1].get("repeat") == SAME_REPLY


def escalated_sampling(request: RunRequest, attempts: list[dict[str, Any]], number: int) -> dict[str, Any]:
    """After a repeated reply or unchanged errors (schema feedback), sample hotter with another seed:
    request parameters only, so the conversation — and the server's prefix cache — stays the same."""
    if not request.schema_feedback or not attempts or not attempts[-1].get("repeat"):
        return {}
    params = request.endpoint.params
    return {"temperature": max(float(params.get("temperature") or 0.0), ESCALATION_TEMPERATURE),
            "seed": escalation_seed(int(params.get("seed") or 0), number, request.prompt)}


def escalation_seed(seed: int, number: int, prompt: str) -> int:
    """A seed of its own per (endpoint seed, attempt, task): reproducible, but not one shared sequence
    of random draws for every task of an eval. With ``seed + 1000 * number`` every third attempt drew
    the same numbers, and seed 3000 happened to pick the top token almost always on llama.cpp: 5 of 5
    restated retries copied the failed reply with it, 7 of 20 with seeds 1-4
    (docs/results/repair-ab-0.5b-40/restate-seed3000/seed_replay.txt)."""
    digest = hashlib.sha256(f"{seed}:{number}:{prompt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


