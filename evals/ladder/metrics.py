"""Pure figures of a quant ladder on top of ``metrics.summarize``: break-even and error fates.

Break-even: the research's question "how many retries buy back how many bits". For a quant Q and a
retry budget k, compare Q with k retries against the reference's *first try*, paired over the same
(task, sample):
- only_ref = pairs the reference solved on the first try and Q did not within k retries; only_here the
  reverse. diff = rate(Q@k) − rate(ref@0) with Newcombe's paired interval (metrics.paired_difference).
- p_worse = exact one-sided McNemar p of "Q@k is worse": P(X ≥ only_ref), X ~ Bin(only_ref + only_here, ½).
- "not worse" ⇔ p_worse ≥ alpha (0.05): the paired test does not show Q@k worse. With few tasks this is
  weak evidence, so the report also gives "at least as good" (diff ≥ 0) and the interval.
The break-even answer is the lowest-bpw quant that is not worse with some k, at its smallest such k,
with what those retries cost (tokens and seconds per solved task, from metrics.cost_per_solved).
Baseline arms (a rung run again with the old default strategy (before issue 19)) have rows but are never the answer.

What the strategy buys (``baseline_pairs``): each baseline arm against its own rung's strategy arm, paired
over (task, sample), on the first try and with retry: flips (lost = the baseline solved it and the strategy
did not; gained the reverse; exact McNemar p) and the uplift = rate(strategy) − rate(baseline) with
Newcombe's paired interval.

Where the time went (``time_split``): per arm, from each stored attempt, the server's prompt processing
(``usage.timings.prompt_ms``: prefill) and generation (``predicted_ms``: decode), the rest of the model
request (waiting for a slot, transport, streaming) and the verifiers' seconds. These are stream-seconds:
requests run in parallel, so they add up to more than the wall time. ``busy_wall`` gives the wall time
itself per server: the union of the stored attempts' intervals, which survives kills and leaves out the
gaps between sittings (the phase clock in ladder-state.json loses a phase a kill cuts short).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from tfagent.evals.reporting.metrics import cost_per_solved, mcnemar_exact, paired_difference, summarize
from tfagent.evals.running.facts import CellFacts

ALPHA = 0.05


def one_sided_worse_p(only_ref: int, only_here: int) -> float:
    """P(X ≥ only_ref) for X ~ Bin(only_ref + only_here, ½); 1 when there is no discordant pair."""
    n = only_ref + only_here
    if n == 0:
        return 1.0
    return sum(math.comb(n, i) for i in range(only_ref, n + 1)) / 2**n


def versus_reference_first_try(here: list[CellFacts], reference: list[CellFacts], k: int,
                               alpha: float = ALPHA) -> dict[str, Any]:
    ref_by_pair = {(c.task_id, c.sample): c for c in reference}
    both = only_here = only_ref = neither = 0
    for cell in here:
        ref = ref_by_pair.get((cell.task_id, cell.sample))
        if ref is None:
            continue
        h, r = cell.solved(k), ref.solved(0)
        both += h and r
        only_here += h and not r
        only_ref += r and not h
        neither += not h and not r
    p_worse = one_sided_worse_p(only_ref, only_here)
    interval = paired_difference(both, only_here, only_ref, neither)
    return {"k": k, "pairs": both + only_here + only_ref + neither, "both": both, "only_here": only_here,
            "only_ref": only_ref, "neither": neither, **interval, "p_worse": p_worse,
            "not_worse": p_worse >= alpha, "at_least_as_good": only_here >= only_ref}


def _cost(cells: list[CellFacts], k: int) -> dict[str, Any]:
    cost = cost_per_solved(cells, k)
    tokens = cost["prompt_tokens"] + cost["completion_tokens"]
    return {"solved": cost["solved"], "tokens": tokens, "seconds": cost["seconds"],
            "tokens_per_solved": tokens / cost["solved"] if cost["solved"] else None,
            "seconds_per_solved": cost["seconds_per_solved"]}


def break_even(by_endpoint: dict[str, list[CellFacts]], bpw: dict[str, float | None], reference: str,
               max_attempts: int, alpha: float = ALPHA, not_answers: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Per quant and budget k the comparison with the reference's first try, and the answer (never one of
    ``not_answers``: the baseline arms, which answer another question)."""
    ref_cells = by_endpoint[reference]
    rows = []
    for name, cells in by_endpoint.items():
        if name == reference:
            continue
        for k in range(max_attempts):
            row = versus_reference_first_try(cells, ref_cells, k, alpha)
            rows.append({"endpoint": name, "bpw": bpw.get(name), **row, "cost": _cost(cells, k)})

    def answer(flag: str) -> dict[str, Any] | None:
        usable = [r for r in rows if r[flag] and r["bpw"] is not None and r["pairs"] and r["endpoint"] not in not_answers]
        if not usable:
            return None
        best = min(usable, key=lambda r: (r["bpw"], r["k"]))
        return {key: best[key] for key in ("endpoint", "bpw", "k", "diff", "lo", "hi", "p_worse", "cost")}

    return {
        "reference": reference,
        "reference_bpw": bpw.get(reference),
        "reference_first_try_cost": _cost(ref_cells, 0),
        "alpha": alpha,
        "criterion": f"not worse than {reference} on the first try: one-sided exact McNemar p ≥ {alpha} (paired)",
        "rows": rows,
        "answer": answer("not_worse"),
        "answer_at_least_as_good": answer("at_least_as_good"),
    }


def strategy_versus_baseline(strategy: list[CellFacts], baseline: list[CellFacts], k: int) -> dict[str, Any]:
    """The strategy arm against its rung's baseline arm with the same retry budget ``k``, paired."""
    base_by_pair = {(c.task_id, c.sample): c for c in baseline}
    both = neither = 0
    lost: list[dict[str, Any]] = []
    gained: list[dict[str, Any]] = []
    for cell in sorted(strategy, key=lambda c: (c.task_id, c.sample)):
        base = base_by_pair.get((cell.task_id, cell.sample))
        if base is None:
            continue
        here, there = cell.solved(k), base.solved(k)
        both += here and there
        neither += not here and not there
        if there and not here:
            lost.append({"task": cell.task_id, "sample": cell.sample})
        elif here and not there:
            gained.append({"task": cell.task_id, "sample": cell.sample})
    pairs = both + neither + len(lost) + len(gained)
    return {"k": k, "pairs": pairs, "strategy_solved": both + len(gained), "baseline_solved": both + len(lost),
            "lost": lost, "gained": gained, "p_value": mcnemar_exact(len(lost), len(gained)),
            "uplift": paired_difference(both, len(gained), len(lost), neither)}


def baseline_pairs(by_endpoint: dict[str, list[CellFacts]], baselines: dict[str, str], max_attempts: int) -> list[dict[str, Any]]:
    """Each baseline arm (name → its rung's strategy arm) against that arm, first try and with retry."""
    top = max_attempts - 1
    rows = []
    for baseline, arm in baselines.items():
        if baseline not in by_endpoint or arm not in by_endpoint:
            raise ValueError(f"baseline pair {baseline!r} → {arm!r}: both must be endpoints of the ladder "
                             f"(have {', '.join(by_endpoint)})")
        strategy, base = by_endpoint[arm], by_endpoint[baseline]
        rows.append({"baseline": baseline, "arm": arm,
                     "first_try": strategy_versus_baseline(strategy, base, 0),
                     "with_retry": strategy_versus_baseline(strategy, base, top)})
    return rows


def tokens_per_1k(cost: dict[str, Any]) -> dict[str, Any]:
    """Tokens spent (prompt + completion) within a budget and tasks solved per 1,000 of them."""
    spent = cost["prompt_tokens"] + cost["completion_tokens"]
    return {"tokens": spent, "completion_tokens": cost["completion_tokens"], "solved": cost["solved"],
            "solved_per_1k_tokens": 1000 * cost["solved"] / spent if spent else None}


TIME_PARTS = ("prefill", "decode", "other_model", "verify")


def time_split(attempts: list[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per endpoint, stream-seconds of its stored attempts (``(endpoint, Attempt.to_dict())`` pairs) split
    into prefill, decode, the rest of the model time and verification, and how many attempts had the
    server's timings (a server that reports none leaves prefill/decode at 0 and all in other_model)."""
    out: dict[str, dict[str, Any]] = {}
    for endpoint, attempt in attempts:
        entry = out.setdefault(endpoint, {**{part: 0.0 for part in TIME_PARTS}, "model": 0.0, "attempts": 0, "timed": 0})
        timings = (attempt.get("usage") or {}).get("timings") or {}
        model = float(attempt.get("model_seconds") or 0.0)
        prefill = float(timings.get("prompt_ms") or 0.0) / 1000
        decode = float(timings.get("predicted_ms") or 0.0) / 1000
        entry["attempts"] += 1
        entry["timed"] += bool(timings.get("prompt_ms") is not None or timings.get("predicted_ms") is not None)
        entry["prefill"] += prefill
        entry["decode"] += decode
        entry["other_model"] += max(0.0, model - prefill - decode)
        entry["model"] += model
        entry["verify"] += float(attempt.get("verify_seconds") or 0.0)
    for entry in out.values():
        for key in (*TIME_PARTS, "model"):
            entry[key] = round(entry[key], 2)
    return out


def attempt_span(attempt: dict[str, Any]) -> float:
    """The wall seconds one stored attempt took: its candidates ran side by side, so the longest of them
    (model + verification), else the attempt's own model and verification seconds."""
    candidates = attempt.get("candidates") or []
    if candidates:
        return max(float(c.get("model_seconds") or 0.0) + float(c.get("verify_seconds") or 0.0) for c in candidates)
    return float(attempt.get("model_seconds") or 0.0) + float(attempt.get("verify_seconds") or 0.0)


def busy_wall(spans: list[tuple[str, float, float]]) -> dict[str, float]:
    """Per server, the seconds during which at least one of its attempts ran: the union of the intervals
    ``(server, end, seconds)`` = [end − seconds, end]. Time between sittings (a kill, a new session) is
    not counted; the judge's seconds after a cell's last attempt are not either."""
    by_server: dict[str, list[tuple[float, float]]] = {}
    for server, end, seconds in spans:
        if seconds < 0:
            raise ValueError(f"attempt of {server!r} ending at {end} has negative duration {seconds}")
        by_server.setdefault(server, []).append((end - seconds, end))
    out: dict[str, float] = {}
    for server, intervals in by_server.items():
        intervals.sort()
        total, (start, stop) = 0.0, intervals[0]
        for lo, hi in intervals[1:]:
            if lo > stop:
                total += stop - start
                start, stop = lo, hi
            else:
                stop = max(stop, hi)
        out[server] = round(total + stop - start, 2)
    return out


def wall_split(phases: dict[str, float]) -> dict[str, float]:
    """The ladder's wall-clock phases (ladder-state.json: quantize, imatrix, ``serve <rung>``, ``eval <rung>``,
    report) summed into quantize, imatrix, server start, eval and report."""
    out = {"quantize": 0.0, "imatrix": 0.0, "server start": 0.0, "eval": 0.0, "report": 0.0}
    for name, seconds in phases.items():
        kind = name.split(" ", 1)[0]
        key = {"serve": "server start", "quantize": "quantize", "imatrix": "imatrix", "eval": "eval", "report": "report"}.get(kind)
        if key is None:
            raise ValueError(f"unknown wall-time phase {name!r} in the ladder's state (known: quantize, imatrix, "
                             "serve <rung>, eval <rung>, report)")
        out[key] = round(out[key] + seconds, 2)
    return out


def categories_by_attempt(cells: list[CellFacts]) -> dict[str, dict[str, int]]:
    """attempt number → category → failed attempts showing it (each category once per attempt)."""
    table: dict[str, Counter[str]] = {}
    for cell in cells:
        for attempt in cell.attempts:
            if not attempt.ok:
                table.setdefault(str(attempt.number), Counter()).update(set(attempt.categories) or {"other"})
    return {n: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for n, c in sorted(table.items(), key=lambda kv: int(kv[0]))}


def category_fates(cells: list[CellFacts], max_attempts: int) -> dict[str, dict[str, int]]:
    """For each category seen on a failed first try: in how many cells the retries fixed it (solved within
    the budget) and in how many they never did."""
    fates: dict[str, dict[str, int]] = {}
    for cell in cells:
        first = cell.attempts[0]
        if first.ok and cell.judge_ok:
            continue
        fixed = cell.solved(max_attempts - 1)
        for category in set(first.categories) or {"other"}:
            entry = fates.setdefault(category, {"first_try": 0, "fixed": 0, "never": 0})
            entry["first_try"] += 1
            entry["fixed" if fixed else "never"] += 1
    return dict(sorted(fates.items(), key=lambda kv: (-kv[1]["first_try"], kv[0])))


def ladder_summary(cells: list[CellFacts], *, endpoints: dict[str, float | None], max_attempts: int,
                   reference: str | None = None, alpha: float = ALPHA, baselines: dict[str, str] | None = None) -> dict[str, Any]:
    """``metrics.summarize`` (reference: the highest-bpw quant unless given) plus break-even, error fates,
    tokens per solved task and solved per 1,000 tokens, and — with ``baselines`` (baseline arm → its
    rung's strategy arm) — what the strategy buys at each end. ``endpoints``: name → bpw, in report order."""
    baselines = dict(baselines or {})
    if reference is None:
        placed = [n for n, b in endpoints.items() if b is not None and n not in baselines]
        reference = max(placed, key=lambda n: endpoints[n]) if placed else next(iter(endpoints))
    summary = summarize(cells, endpoints=endpoints, max_attempts=max_attempts, reference=reference)
    by_endpoint: dict[str, list[CellFacts]] = {name: [] for name in endpoints}
    for cell in cells:
        if not cell.undecided:
            by_endpoint[cell.endpoint].append(cell)
    for fig in summary["endpoints"]:
        mine = by_endpoint[fig["endpoint"]]
        fig["categories_by_attempt"] = categories_by_attempt(mine)
        fig["category_fates"] = category_fates(mine, max_attempts)
        top = str(max_attempts - 1)
        fig["tokens_per_solved"] = {k: _cost(mine, int(k))["tokens_per_solved"] for k in ("0", top)}
        fig["per_1k_tokens"] = {"first_try": tokens_per_1k(fig["cost"]["0"]), "with_retry": tokens_per_1k(fig["cost"][top])}
        fig["baseline_of"] = baselines.get(fig["endpoint"])
    summary["break_even"] = break_even(by_endpoint, endpoints, reference, max_attempts, alpha, frozenset(baselines))
    summary["methods"]["break_even"] = summary["break_even"]["criterion"]
    summary["baselines"] = baselines
    summary["baseline_pairs"] = baseline_pairs(by_endpoint, baselines, max_attempts)
    if baselines:
        summary["methods"]["baseline_pairs"] = ("each baseline arm (the old default strategy (before issue 19)) vs its own rung's strategy arm, "
                                                "paired over (task, sample): flips with exact McNemar p, uplift "
                                                "(strategy − baseline) with Newcombe's paired interval")
    return summary
