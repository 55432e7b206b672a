"""``--candidates N``: the verifier chooses among N samples of the first request.

Olausson et al. (ICLR 2024): at equal budget, more independent first samples beat more repairs. On the
first attempt only, N requests of the same messages go to the server at once (threads over its parallel
slots; one shared ``ModelClient``, whose httpx pool is thread-safe): the first as a one-sample run would
send it, the others sampling at a temperature > 0 with a seed of its own. Every candidate is verified with the run's chain; the first (lowest index) that
verifies wins; otherwise the one with files and the fewest errors continues with the normal retries —
its reply and feedback become the conversation, so retries stay prefix-stable.

The attempt records every candidate (``Attempt.candidates``) and costs what all of them cost: its
``usage``, ``model_seconds`` and ``verify_seconds`` are the sums (the eval's cost columns read those),
``Attempt.chosen_usage`` the chosen reply's own. llama-server's ``n`` field is not used: N ordinary
requests work on every OpenAI-compatible server.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tfagent.agent.core.defaults import CANDIDATE_TEMPERATURE
from tfagent.agent.core.types import Attempt, Usage

MAX_REPLY_KEPT = 20_000  # characters of a losing candidate's reply kept in the record


def candidate_count(request, attempts: list[dict[str, Any]]) -> int:
    """How many samples this request takes: ``--candidates`` on the first attempt, else 1."""
    return request.candidate_count if not attempts and request.candidate_count > 1 else 1


def candidate_seed(seed: int, index: int, prompt: str) -> int:
    """A seed of its own per (endpoint seed, candidate, task), like ``nodes.escalation_seed`` but in its
    own namespace, so a candidate never draws what an escalated retry draws."""
    digest = hashlib.sha256(f"{seed}:candidate:{index}:{prompt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def candidate_sampling(request, index: int) -> dict[str, Any]:
    """Request parameters of candidate ``index``. Candidate 0 is the request a one-sample run sends
    (the endpoint's own sampling, greedy at temperature 0): on the real 1.5B the greedy reply was often
    the right one and hot samples were not (iac-001: greedy verified, three samples at 0.7 invented
    credential variables — docs/results/rescue-ab-1.5b-40), so N candidates never start worse than one.
    The others sample at the endpoint's temperature when it samples, else ``CANDIDATE_TEMPERATURE`` (N
    greedy samples would be N copies), each with a derived seed."""
    if index == 0:
        return {}
    params = request.endpoint.params
    temperature = float(params.get("temperature") or 0.0)
    return {"temperature": temperature if temperature > 0 else CANDIDATE_TEMPERATURE,
            "seed": candidate_seed(int(params.get("seed") or 0), index, request.prompt)}


def generate_candidates(runtime, number: int, messages: list[dict[str, str]], notes: list[str], count: int) -> dict[str, Any]:
    """The generate node's update for N candidates: all replies, sampled concurrently. When at least one
    has files, ``candidates`` holds them all for the verify node and ``pending`` one with files (the graph
    routes on it); when none has, ``pending`` is already the chosen attempt."""
    def ask(index: int) -> Attempt:
        def progress(tokens: int, elapsed: float) -> None:
            runtime.emit("candidate_progress", number=number, index=index, count=count, tokens=tokens, elapsed=elapsed)

        return runtime.ask(number, messages, candidate_sampling(runtime.request, index), list(notes), on_progress=progress)

    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="tfagent-candidate") as pool:
        futures = [pool.submit(ask, index) for index in range(count)]
        attempts = [f.result() for f in futures]  # the lowest-index failure propagates, after all finished
    with_files = [a for a in attempts if a.files and not a.reply_diagnostics]
    if not with_files:
        return {"pending": choose(runtime, attempts).to_dict()}
    return {"pending": with_files[0].to_dict(), "candidates": [a.to_dict() for a in attempts]}


def verify_candidates(runtime, candidates: list[dict[str, Any]], previous: Attempt | None) -> dict[str, Any]:
    """The verify node's update for N candidates: each with files is verified (and autofixed) in turn."""
    attempts = [Attempt.from_dict(c) for c in candidates]
    for index, attempt in enumerate(attempts):
        if attempt.files and not attempt.reply_diagnostics:
            runtime.emit("phase", phase=f"verifying candidate {index + 1}/{len(attempts)}", number=attempt.number)
            runtime.check(attempt, previous, artifacts_name=f"attempt-{attempt.number}-candidate-{index + 1}")
    return {"pending": choose(runtime, attempts).to_dict(), "candidates": None}


def error_count(attempt: Attempt) -> int:
    return sum(1 for d in attempt.diagnostics if d.severity == "error")


def choose(runtime, attempts: list[Attempt]) -> Attempt:
    """The first candidate that verified; else the one with files and the fewest errors (ties: the lower
    index). The result is that candidate's attempt, costing the sum of all, with every candidate recorded."""
    winner = next((i for i, a in enumerate(attempts) if a.ok), None)
    if winner is None:
        winner = min(range(len(attempts)), key=lambda i: (not attempts[i].files, error_count(attempts[i]), i))
    chosen = attempts[winner]
    chosen.candidates = [summary(i, a, i == winner) for i, a in enumerate(attempts)]
    chosen.usage = total_usage([a.usage for a in attempts])
    chosen.model_seconds = sum(a.model_seconds for a in attempts)
    chosen.verify_seconds = sum(a.verify_seconds for a in attempts)
    chosen.transport_retries = sum(a.transport_retries for a in attempts)
    for entry in chosen.candidates:
        runtime.emit("candidate_done", number=chosen.number, count=len(attempts), candidate=entry)
    return chosen


def summary(index: int, attempt: Attempt, chosen: bool) -> dict[str, Any]:
    """What the record keeps of one candidate (the chosen one's files and verdicts are the attempt's own)."""
    errors = [d for d in attempt.diagnostics if d.severity == "error"]
    return {
        "index": index,
        "chosen": chosen,
        "ok": attempt.ok,
        "errors": len(errors),
        "first_errors": [d.summary for d in errors[:3]],
        "files": sorted(attempt.files),
        "finish_reason": attempt.finish_reason,
        "sampling": dict(attempt.sampling),
        "usage": attempt.usage.to_dict(),
        "ttft": attempt.ttft,
        "model_seconds": round(attempt.model_seconds, 4),
        "verify_seconds": round(attempt.verify_seconds, 4),
        "autofix": [dict(f) for f in attempt.autofix],
        **({} if chosen else {"reply": attempt.reply[:MAX_REPLY_KEPT]}),  # the chosen reply is the attempt's
    }


def total_usage(usages: list[Usage]) -> Usage:
    """The sum of several requests' usage. Where the prompt count came from: the server's when every
    count was, 'not reported' when none was, else 'tokenize' (partly estimated)."""
    sources = {u.prompt_source for u in usages}
    source = "server" if sources == {"server"} else "not reported" if sources == {"not reported"} else "tokenize"
    cached = [u.cached_tokens for u in usages if u.cached_tokens is not None]
    timings = [u.timings for u in usages if u.timings]
    summed = None
    if timings and len(timings) == len(usages):
        keys = set.intersection(*(set(t) for t in timings))
        summed = {k: sum(t[k] for t in timings) for k in sorted(keys)}
    return Usage(prompt_tokens=sum(u.prompt_tokens for u in usages),
                 completion_tokens=sum(u.completion_tokens for u in usages),
                 cached_tokens=sum(cached) if cached else None, prompt_source=source, timings=summed)
