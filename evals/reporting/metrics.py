"""Pure statistics of an eval run: no I/O, no clock, no model. Every figure of the report comes from here,
computed from the cells the store hands over (``running/facts.py``: ``CellFacts``, ``AttemptFacts``).

Definitions (one *cell* = one endpoint × task × sample; the loop stops at the first attempt the in-loop
verifier accepts, or at the last allowed attempt; the judge then rules on that attempt):
- solved with a budget of k retries ⇔ the loop stopped at attempt ≤ k + 1, the in-loop verifier
  accepted that attempt and the judge said ok. (Requiring the verifier keeps the k-curve consistent:
  the judge never rules on an earlier, rejected attempt, so a rejected final attempt is not a solve
  either — it is what the user gets with "not verified".)
  k = 0 is "first try"; k = max_attempts − 1 is "with retry".
- intervals: Wilson score, 95 % (z = 1.96).
- retry uplift = pass@max − first try, paired over the same cells; interval by Newcombe (1998)
  method 10 (hybrid score for paired proportions, Wilson limits of each marginal combined with the
  continuity-corrected phi coefficient — as in Altman et al., "Statistics with confidence", ch. 6).
- versus the reference endpoint, pairs are (task, sample); McNemar's exact test: two-sided binomial
  test of the discordant pairs against p = ½.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Iterable

from tfagent.evals.running.facts import CellFacts

Z95 = 1.959963984540054


# ---------------------------------------------------------------- interval and test primitives


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; (0, 1) when there is no observation."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_difference(both: int, only_1: int, only_2: int, neither: int, z: float = Z95) -> dict[str, float]:
    """Newcombe's method 10 interval for p1 − p2 on paired binary data.

    ``only_1``: pairs where outcome 1 succeeded and outcome 2 failed; ``only_2`` the reverse."""
    n = both + only_1 + only_2 + neither
    if n == 0:
        return {"diff": 0.0, "lo": -1.0, "hi": 1.0}
    s1, s2 = both + only_1, both + only_2
    p1, p2 = s1 / n, s2 / n
    l1, u1 = wilson(s1, n, z)
    l2, u2 = wilson(s2, n, z)
    phi = _corrected_phi(both, only_1, only_2, neither)
    diff = p1 - p2
    lower = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    upper = math.sqrt(max(0.0, (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2))
    return {"diff": diff, "lo": max(-1.0, diff - lower), "hi": min(1.0, diff + upper)}


def _corrected_phi(a: int, b: int, c: int, d: int) -> float:
    """Phi coefficient of the 2×2 table with Newcombe's continuity correction (0 when a margin is 0)."""
    n = a + b + c + d
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    if margins == 0:
        return 0.0
    cross = a * d - b * c
    if cross > n / 2:
        cross -= n / 2
    elif cross >= 0:
        cross = 0
    return cross / math.sqrt(margins)


def mcnemar_exact(only_ref: int, only_here: int) -> float:
    """Two-sided exact McNemar p-value: binomial test of the discordant pairs against ½."""
    n = only_ref + only_here
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_ref, only_here) + 1)) / 2**n
    return min(1.0, 2 * tail)


def rate(successes: int, n: int) -> dict[str, Any]:
    lo, hi = wilson(successes, n)
    return {"passed": successes, "n": n, "rate": (successes / n) if n else None, "lo": lo, "hi": hi}


# ---------------------------------------------------------------- per-endpoint figures


def pass_curve(cells: list[CellFacts], max_attempts: int) -> list[dict[str, Any]]:
    """Pass rate with a budget of k retries, for k = 0 … max_attempts − 1."""
    return [{"k": k, **rate(sum(c.solved(k) for c in cells), len(cells))} for k in range(max_attempts)]


def retry_uplift(cells: list[CellFacts], max_attempts: int) -> dict[str, Any]:
    """pass@max − first try over the same cells (paired)."""
    top = max_attempts - 1
    both = sum(c.solved(0) and c.solved(top) for c in cells)
    only_max = sum(c.solved(top) and not c.solved(0) for c in cells)
    only_first = sum(c.solved(0) and not c.solved(top) for c in cells)  # 0 by construction; kept honest
    neither = len(cells) - both - only_max - only_first
    return {**paired_difference(both, only_max, only_first, neither), "method": "newcombe-10"}


def recovery(cells: list[CellFacts], max_attempts: int) -> dict[str, Any]:
    """Of the cells that failed the first try, how many were solved within the budget."""
    failed_first = [c for c in cells if not c.solved(0)]
    recovered = sum(c.solved(max_attempts - 1) for c in failed_first)
    return rate(recovered, len(failed_first))


def mean_attempts_to_success(cells: list[CellFacts], max_attempts: int) -> float | None:
    stops = [c.stop for c in cells if c.solved(max_attempts - 1)]
    return sum(stops) / len(stops) if stops else None


def well_formed(cells: list[CellFacts]) -> dict[str, Any]:
    attempts = [a for c in cells for a in c.attempts]
    return rate(sum(a.well_formed for a in attempts), len(attempts))


def cost_per_solved(cells: list[CellFacts], retries: int) -> dict[str, Any]:
    """Tokens and seconds spent on attempts within the budget, divided by the tasks solved with it."""
    spent = [a for c in cells for a in c.attempts if a.number <= retries + 1]
    solved = sum(c.solved(retries) for c in cells)
    totals = {
        "prompt_tokens": sum(a.prompt_tokens for a in spent),
        "cached_tokens": sum(a.cached_tokens for a in spent),
        "completion_tokens": sum(a.completion_tokens for a in spent),
        "seconds": sum(a.seconds for a in spent),
    }
    per = {f"{key}_per_solved": (value / solved if solved else None) for key, value in totals.items()}
    return {"solved": solved, **totals, **per}


def error_categories(cells: list[CellFacts]) -> dict[str, int]:
    """How many failed attempts showed each error category (an attempt counts once per category)."""
    counts: Counter[str] = Counter()
    for attempt in (a for c in cells for a in c.attempts if not a.ok):
        counts.update(set(attempt.categories) or {"other"})
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def repeats(cells: list[CellFacts]) -> dict[str, int]:
    """Retries (attempts after the first) and how many repeated the previous reply or its errors."""
    retries = [a for cell in cells for a in cell.attempts if a.number > 1]
    return {"retries": len(retries), "same_reply": sum(a.repeat == "same_reply" for a in retries),
            "same_errors": sum(a.repeat == "same_errors" for a in retries)}


def autofix_solved(cells: list[CellFacts], retries: int) -> dict[str, int]:
    """Of the cells solved with ``retries``, how many only after tfagent's own renames (--autofix): the
    model's answer alone would not have verified."""
    solved = [c for c in cells if c.solved(retries)]
    return {"solved": len(solved), "with_autofix": sum(c.attempts[-1].autofixed for c in solved)}


def judge_rejections(cells: list[CellFacts]) -> int:
    """Cells the in-loop verifier accepted but the separate judge did not."""
    return sum(c.attempts[-1].ok and not c.judge_ok for c in cells)


def versus_reference(here: list[CellFacts], reference: list[CellFacts], retries: int) -> dict[str, Any]:
    """Paired comparison over the (task, sample) pairs both endpoints completed."""
    ref_by_pair = {(c.task_id, c.sample): c for c in reference}
    lost, gained, pairs = [], [], 0
    for cell in sorted(here, key=lambda c: (c.task_id, c.sample)):
        ref = ref_by_pair.get((cell.task_id, cell.sample))
        if ref is None:
            continue
        pairs += 1
        ref_ok, here_ok = ref.solved(retries), cell.solved(retries)
        if ref_ok and not here_ok:
            lost.append({"task": cell.task_id, "sample": cell.sample})
        elif here_ok and not ref_ok:
            gained.append({"task": cell.task_id, "sample": cell.sample})
    return {"pairs": pairs, "lost": lost, "gained": gained, "p_value": mcnemar_exact(len(lost), len(gained))}


def endpoint_figures(
    name: str, bpw: float | None, cells: list[CellFacts], max_attempts: int, reference: list[CellFacts] | None,
    undecided: int = 0,
) -> dict[str, Any]:
    top = max_attempts - 1
    curve = pass_curve(cells, max_attempts)
    figures: dict[str, Any] = {
        "endpoint": name,
        "bpw": bpw,
        "cells": len(cells),
        "undecided": undecided,
        "first_try": curve[0],
        "with_retry": curve[top],
        "pass_at_k": curve,
        "uplift": retry_uplift(cells, max_attempts),
        "recovery": recovery(cells, max_attempts),
        "mean_attempts_to_success": mean_attempts_to_success(cells, max_attempts),
        "well_formed": well_formed(cells),
        "cost": {str(k): cost_per_solved(cells, k) for k in range(max_attempts)},
        "error_categories": error_categories(cells),
        "judge_rejections": judge_rejections(cells),
        "repeats": repeats(cells),
        "autofix": {"first_try": autofix_solved(cells, 0), "with_retry": autofix_solved(cells, top)},
    }
    if reference is not None:
        figures["vs_reference"] = {
            "first_try": versus_reference(cells, reference, 0),
            "with_retry": versus_reference(cells, reference, top),
        }
    return figures


# ---------------------------------------------------------------- bits for retries


def pareto_frontier(points: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Points not dominated on (fewer bits per weight, higher success, fewer seconds per solved task).

    Points without bpw or without any solved task cannot be placed and are left out."""
    usable = [p for p in points if p.get("bpw") is not None and p.get("seconds_per_solved") is not None]

    def dominates(a: dict[str, Any], b: dict[str, Any]) -> bool:
        no_worse = a["bpw"] <= b["bpw"] and a["success"] >= b["success"] and a["seconds_per_solved"] <= b["seconds_per_solved"]
        better = a["bpw"] < b["bpw"] or a["success"] > b["success"] or a["seconds_per_solved"] < b["seconds_per_solved"]
        return no_worse and better

    front = [p for p in usable if not any(dominates(q, p) for q in usable if q is not p)]
    return sorted(front, key=lambda p: (p["bpw"], p["k"], p["endpoint"]))


def budget_points(figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One (bpw, success@k, seconds per solved) point per endpoint and retry budget."""
    points = []
    for fig in figures:
        for entry in fig["pass_at_k"]:
            cost = fig["cost"][str(entry["k"])]
            points.append(
                {
                    "endpoint": fig["endpoint"],
                    "bpw": fig["bpw"],
                    "k": entry["k"],
                    "success": entry["rate"] or 0.0,
                    "seconds_per_solved": cost["seconds_per_solved"],
                }
            )
    return points


# ---------------------------------------------------------------- the whole report


def summarize(
    cells: list[CellFacts],
    *,
    endpoints: dict[str, float | None],
    max_attempts: int,
    reference: str | None = None,
) -> dict[str, Any]:
    """Every figure of the report. ``endpoints`` maps endpoint name → bits per weight (None if unknown),
    in the order to report them."""
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    if reference is not None and reference not in endpoints:
        raise ValueError(f"reference endpoint {reference!r} is not one of {sorted(endpoints)}")
    by_endpoint: dict[str, list[CellFacts]] = {name: [] for name in endpoints}
    undecided: Counter[str] = Counter()
    for cell in cells:
        if cell.endpoint not in by_endpoint:
            raise ValueError(f"cell of unknown endpoint {cell.endpoint!r} (task {cell.task_id})")
        if cell.undecided:
            undecided[cell.endpoint] += 1
        else:
            by_endpoint[cell.endpoint].append(cell)
    ref_cells = by_endpoint[reference] if reference else None
    figures = [
        endpoint_figures(name, bpw, by_endpoint[name], max_attempts, ref_cells if name != reference else None,
                         undecided[name])
        for name, bpw in endpoints.items()
    ]
    points = budget_points(figures)
    return {
        "max_attempts": max_attempts,
        "reference": reference,
        "confidence": 0.95,
        "methods": {
            "rate_interval": "wilson",
            "uplift_interval": "newcombe-10 (paired, continuity-corrected phi)",
            "reference_test": "mcnemar-exact (two-sided)",
        },
        "endpoints": figures,
        "budget_points": points,
        "frontier": pareto_frontier(points),
    }
