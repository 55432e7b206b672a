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
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from tfagent.evals.metrics import CellFacts, cost_per_solved, paired_difference, summarize

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
               max_attempts: int, alpha: float = ALPHA) -> dict[str, Any]:
    """Per quant and budget k the comparison with the reference's first try, and the answer."""
    ref_cells = by_endpoint[reference]
    rows = []
    for name, cells in by_endpoint.items():
        if name == reference:
            continue
        for k in range(max_attempts):
            row = versus_reference_first_try(cells, ref_cells, k, alpha)
            rows.append({"endpoint": name, "bpw": bpw.get(name), **row, "cost": _cost(cells, k)})

    def answer(flag: str) -> dict[str, Any] | None:
        usable = [r for r in rows if r[flag] and r["bpw"] is not None and r["pairs"]]
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
                   reference: str | None = None, alpha: float = ALPHA) -> dict[str, Any]:
    """``metrics.summarize`` (reference: the highest-bpw quant unless given) plus break-even and error
    fates. ``endpoints``: name → bpw, reported in that order."""
    if reference is None:
        placed = [n for n, b in endpoints.items() if b is not None]
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
    summary["break_even"] = break_even(by_endpoint, endpoints, reference, max_attempts, alpha)
    summary["methods"]["break_even"] = summary["break_even"]["criterion"]
    return summary
